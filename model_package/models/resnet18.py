"""torchvision's resnet18 as an encoder trunk (FSDL's choice for its paragraph model).

The stem convolution takes the images' channel count (FSDL repeated a grayscale channel three
times for ImageNet weights; untrained, a 1-channel stem is the same network with fewer inputs);
the average pool and classifier are dropped, so (B, C, H, W) -> (B, 512, ceil(H/32), ceil(W/32)).
"""

from __future__ import annotations

import torch
import torchvision
from torch import nn


class ResNet18Trunk(nn.Module):
    __jit_unused_properties__ = ["out_channels"]

    def __init__(self, in_channels: int = 1):
        super().__init__()
        net = torchvision.models.resnet18(weights=None)
        net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.body = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3, net.layer4)

    @property
    def out_channels(self) -> int:
        return 512

    @staticmethod
    def output_size(height: int, width: int) -> tuple[int, int]:
        """(H', W'): five halvings (stem, max pool, layers 2-4), each rounding up."""
        for _ in range(5):
            height, width = (height + 1) // 2, (width + 1) // 2
        return height, width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)  # (B, C, H, W) -> (B, 512, H', W')
