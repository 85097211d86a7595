"""LineCNN: FSDL's sliding-window line model, written as one fully convolutional network."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from model_package.models.cnn import conv_block


class LineCNNFeatures(nn.Module):
    """(B, C, H, W) -> features (B, fc_dim, S): 3x3 conv blocks down by 8, then one convolution
    that covers the whole height and ``window_width`` columns and moves ``window_stride`` columns
    at a time: a CNN over sliding windows, sharing all computation between overlapping windows."""

    def __init__(self, input_dims: Sequence[int], conv_dim: int = 32, fc_dim: int = 512, window_width: int = 16, window_stride: int = 8):
        super().__init__()
        channels, height, width = input_dims
        if window_width % 8 or window_stride % 8 or not 8 <= window_width <= width:
            raise ValueError(
                f"LineCNN needs window_width and window_stride in multiples of 8 (the convolutions reduce by 8), "
                f"the window within the width; got window_width={window_width}, window_stride={window_stride}, width={width}"
            )
        feature_height, feature_width = height, width
        for _ in range(3):  # three stride-2 convolutions with padding 1
            feature_height, feature_width = (feature_height + 1) // 2, (feature_width + 1) // 2
        self.convs = nn.Sequential(
            conv_block(channels, conv_dim),
            conv_block(conv_dim, conv_dim),
            conv_block(conv_dim, conv_dim, stride=2),  # /2
            conv_block(conv_dim, conv_dim),
            conv_block(conv_dim, 2 * conv_dim, stride=2),  # /4
            conv_block(2 * conv_dim, 2 * conv_dim),
            conv_block(2 * conv_dim, 4 * conv_dim, stride=2),  # /8
            conv_block(4 * conv_dim, 4 * conv_dim),
            # the whole remaining height, window_width / 8 columns: one output per window
            conv_block(4 * conv_dim, fc_dim, kernel_size=(feature_height, window_width // 8), stride=(1, window_stride // 8), padding=0),
        )
        self.out_channels = fc_dim
        self.num_windows = (feature_width - window_width // 8) // (window_stride // 8) + 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.convs(x).squeeze(2)  # (B, fc_dim, 1, S) -> (B, fc_dim, S)


class LineCNN(nn.Module):
    """(B, C, H, W) -> logits (B, num_classes, S), S = (ceil(W/8) - window_width/8) / (window_stride/8) + 1."""

    def __init__(
        self,
        input_dims: Sequence[int],
        num_classes: int,
        conv_dim: int = 32,
        fc_dim: int = 512,
        window_width: int = 16,
        window_stride: int = 8,
        dropout: float = 0.2,
    ):
        super().__init__()
        self.features = LineCNNFeatures(input_dims, conv_dim, fc_dim, window_width, window_stride)
        self.num_windows = self.features.num_windows
        self.head = nn.Sequential(nn.Linear(fc_dim, fc_dim), nn.ReLU(), nn.Dropout(dropout), nn.Linear(fc_dim, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.features(x).transpose(1, 2)  # (B, S, fc_dim)
        return self.head(features).transpose(1, 2)  # (B, num_classes, S)


class LineCNNEncoder(nn.Module):
    """:class:`LineCNNFeatures` as an encoder of :class:`~.resnet_transformer.ResNetTransformer`:
    (B, C, H, W) -> (B, fc_dim, 1, S), a one-row grid (LineCNNTransformer).

    Nine plain conv + ReLU layers with PyTorch's default initialisation shrink the image's signal
    to features of std ~0.01, below the decoder's positional embeddings: the decoder then learns
    to predict text from the text alone, the encoder's ReLUs die, and every image gets the same
    prediction (measured: validation CER 1.09 after the quickstart's 2,500 steps). So the
    convolutions get He initialisation and the features are batch-normalised, as the ResNet's are."""

    __jit_unused_properties__ = ["out_channels"]

    def __init__(self, input_dims: Sequence[int], conv_dim: int = 32, fc_dim: int = 256, window_width: int = 16, window_stride: int = 8):
        super().__init__()
        self.features = LineCNNFeatures(input_dims, conv_dim, fc_dim, window_width, window_stride)
        for module in self.features.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                nn.init.zeros_(module.bias)
        self.norm = nn.BatchNorm1d(fc_dim)

    @property
    def out_channels(self) -> int:
        return self.features.out_channels

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        return 1, self.features.num_windows

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.features(x)).unsqueeze(2)  # (B, fc_dim, S) -> (B, fc_dim, 1, S)
