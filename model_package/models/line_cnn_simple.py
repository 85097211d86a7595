"""LineCNNSimple: FSDL's first line model, the character CNN applied to fixed windows of the line."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from model_package.models.cnn import CNN


class LineCNNSimple(nn.Module):
    """(B, C, H, W) -> logits (B, num_classes, S): the line cut into S windows ``window_width`` wide
    every ``window_stride`` pixels, each classified by one shared :class:`CNN`."""

    def __init__(
        self, input_dims: Sequence[int], num_classes: int, window_width: int = 28, window_stride: int = 28, conv_dim: int = 64, fc_dim: int = 128
    ):
        super().__init__()
        channels, height, width = input_dims
        if not 0 < window_width <= width or window_stride < 1:
            raise ValueError(f"window_width must be in 1..{width} and window_stride positive, got {window_width}, {window_stride}")
        self.window_width, self.window_stride = window_width, window_stride
        self.num_windows = (width - window_width) // window_stride + 1
        self.cnn = CNN((channels, height, window_width), num_classes, conv_dim=conv_dim, fc_dim=fc_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        windows = x.unfold(3, self.window_width, self.window_stride)  # (B, C, H, S, window_width)
        b, c, h, s, w = windows.shape
        windows = windows.permute(0, 3, 1, 2, 4).reshape(b * s, c, h, w)  # every window a batch item
        return self.cnn(windows).view(b, s, -1).transpose(1, 2)  # (B, num_classes, S)
