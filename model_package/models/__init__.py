"""Plain nn.Modules: no Lightning, no data set."""

from model_package.models.resnet import ResNet, ResNetConfig
from model_package.models.resnet_transformer import ResNetTransformer
from model_package.models.transformer import TransformerDecoder

__all__ = ["ResNet", "ResNetConfig", "ResNetTransformer", "TransformerDecoder"]
