"""CNN: FSDL's convolutional character classifier, also the window classifier of LineCNNSimple."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def conv_block(in_channels: int, out_channels: int, kernel_size=3, stride=1, padding=1) -> nn.Sequential:
    """conv -> ReLU."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding), nn.ReLU())


class CNN(nn.Module):
    """(B, C, H, W) -> logits (B, num_classes): two 3x3 conv blocks, 2x2 max pool, dropout, two
    linear layers."""

    def __init__(self, input_dims: Sequence[int], num_classes: int, conv_dim: int = 64, fc_dim: int = 128, dropout: float = 0.25):
        super().__init__()
        channels, height, width = input_dims
        self.features = nn.Sequential(
            conv_block(channels, conv_dim),
            conv_block(conv_dim, conv_dim),
            nn.MaxPool2d(2),  # (B, conv_dim, H/2, W/2)
            nn.Dropout(dropout),
            nn.Flatten(),
        )
        self.classifier = nn.Sequential(
            nn.Linear(conv_dim * (height // 2) * (width // 2), fc_dim),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(fc_dim, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
