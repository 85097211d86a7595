"""LineCNNTransformer: FSDL's sliding-window CNN features as the memory of the Transformer decoder."""

from __future__ import annotations

from collections.abc import Sequence

from model_package.models.resnet_transformer import ResNetTransformer


class LineCNNTransformer(ResNetTransformer):
    """A :class:`ResNetTransformer` whose encoder is the LineCNN (``encoder="line_cnn"``): images
    (B, C, H, W) -> one feature per window (B, S, D) -> decoder. Trained by ``LitTransformer``
    with ``encoder: line_cnn`` in YAML (``configs/line_cnn_transformer.yaml``)."""

    def __init__(
        self, input_dims: Sequence[int], num_classes: int, max_seq_length: int, start_index: int, end_index: int, pad_index: int, **kwargs
    ):
        super().__init__(tuple(input_dims), num_classes, max_seq_length, start_index, end_index, pad_index, encoder="line_cnn", **kwargs)
