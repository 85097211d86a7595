"""Plain nn.Modules: no Lightning, no data set.

Character classifiers (``LitClassifier``): :class:`MLP`, :class:`CNN`. Line models trained with
CTC (``LitCTC``): :class:`LineCNNSimple`, :class:`LineCNN`. Encoder-decoders (``LitTransformer``):
:class:`ResNetTransformer` (custom ResNet or resnet18 encoder) and :class:`LineCNNTransformer`.
"""

from model_package.models.cnn import CNN
from model_package.models.line_cnn import LineCNN
from model_package.models.line_cnn_simple import LineCNNSimple
from model_package.models.line_cnn_transformer import LineCNNTransformer
from model_package.models.mlp import MLP
from model_package.models.resnet import ResNet, ResNetConfig
from model_package.models.resnet_transformer import ResNetTransformer
from model_package.models.transformer import TransformerDecoder

__all__ = [
    "CNN",
    "LineCNN",
    "LineCNNSimple",
    "LineCNNTransformer",
    "MLP",
    "ResNet",
    "ResNetConfig",
    "ResNetTransformer",
    "TransformerDecoder",
]
