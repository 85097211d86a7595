"""A ResNet encoder whose every residual block is set from YAML (channels, kernel size, stride)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass
class ResNetConfig:
    """One entry per residual block: block ``i`` maps ``in_channels[i]`` to ``out_channels[i]``
    channels with ``kernel_sizes[i]`` convolutions, the first of stride ``strides[i]``."""

    in_channels: list[int] = field(default_factory=lambda: [1, 16, 32, 32, 64, 64])
    out_channels: list[int] = field(default_factory=lambda: [16, 32, 32, 64, 64, 96])
    kernel_sizes: list[int] = field(default_factory=lambda: [3, 3, 3, 3, 3, 3])
    strides: list[int] = field(default_factory=lambda: [2, 2, 1, 2, 1, 1])  # total stride 8

    def __post_init__(self):
        lengths = {len(self.in_channels), len(self.out_channels), len(self.kernel_sizes), len(self.strides)}
        if len(lengths) != 1 or not self.in_channels:
            raise ValueError(
                "resnet: in_channels, out_channels, kernel_sizes and strides need one entry per block, "
                f"got lengths {len(self.in_channels)}, {len(self.out_channels)}, {len(self.kernel_sizes)}, {len(self.strides)}"
            )
        for i in range(1, len(self.in_channels)):
            if self.in_channels[i] != self.out_channels[i - 1]:
                raise ValueError(
                    f"resnet: block {i} takes in_channels={self.in_channels[i]} but block {i - 1} "
                    f"gives out_channels={self.out_channels[i - 1]}"
                )
        bad = [k for k in self.kernel_sizes if k < 1 or k % 2 == 0]
        if bad:
            raise ValueError(f"resnet: kernel sizes must be odd and positive, got {bad}")
        if any(s < 1 for s in self.strides):
            raise ValueError(f"resnet: strides must be positive, got {self.strides}")


class ResidualBlock(nn.Module):
    """conv(k, stride) -> BN -> ReLU -> conv(k) -> BN, plus a shortcut (1x1 conv + BN when the shape changes), -> ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int):
        super().__init__()
        pad = kernel_size // 2
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, pad, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, kernel_size, 1, pad, bias=False),
            nn.BatchNorm2d(out_channels),
        )
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(out_channels)
            )
        else:
            self.shortcut = nn.Identity()
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (B, C_in, H, W) -> (B, C_out, ceil(H / stride), ceil(W / stride))
        return self.relu(self.body(x) + self.shortcut(x))


class ResNet(nn.Module):
    """Residual blocks in sequence: (B, in_channels[0], H, W) -> (B, out_channels[-1], H', W')."""

    __jit_unused_properties__ = ["out_channels"]  # python-side only: TorchScript compiles forward

    def __init__(self, config: ResNetConfig):
        super().__init__()
        self.config = config
        self.blocks = nn.Sequential(
            *[
                ResidualBlock(cin, cout, k, s)
                for cin, cout, k, s in zip(config.in_channels, config.out_channels, config.kernel_sizes, config.strides)
            ]
        )

    @property
    def out_channels(self) -> int:
        return self.config.out_channels[-1]

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """(H', W') of the feature map for a (height, width) input."""
        for s in self.config.strides:
            height, width = (height + s - 1) // s, (width + s - 1) // s  # conv with padding k // 2
        return height, width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)
