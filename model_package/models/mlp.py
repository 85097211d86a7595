"""MLP: FSDL's first character classifier, a flattened image through three linear layers."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


class MLP(nn.Module):
    """(B, C, H, W) -> logits (B, num_classes): fc1 -> ReLU -> dropout -> fc2 -> ReLU -> dropout -> fc3."""

    def __init__(self, input_dims: Sequence[int], num_classes: int, fc1_dim: int = 1024, fc2_dim: int = 128, dropout: float = 0.5):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(math.prod(input_dims), fc1_dim),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(fc1_dim, fc2_dim),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(fc2_dim, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
