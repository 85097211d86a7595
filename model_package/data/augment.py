"""Train-time augmentation of real scans (IAM): applied per sample to (1, H, W) float tensors in
[0, 1], ink high, paper 0. Randomness comes from torch's generator, so ``seed_everything`` (and
Lightning's per-worker seeding) makes it reproducible. FSDL's ranges; the affine is centred on the
ink rather than on the padded canvas, so a small rotation does not push a left-aligned line out
of its rows.
"""

from __future__ import annotations

import torch
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

_INK = 0.1  # a pixel above this counts as ink when finding the centre


def _uniform(low: float, high: float) -> float:
    return float(torch.empty(()).uniform_(low, high)) if high > low else float(low)


class InkAffine(torch.nn.Module):
    """Random rotation (+-``degrees``), horizontal shear (``shear`` degrees, a range) and scale
    about the centre of the ink; uncovered pixels become paper."""

    def __init__(self, degrees: float, shear: tuple[float, float], scale: tuple[float, float] = (1.0, 1.0)):
        super().__init__()
        self.degrees, self.shear, self.scale = degrees, tuple(shear), tuple(scale)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        # image: (1, H, W)
        mask = image[0] > _INK
        rows, cols = mask.any(dim=1).nonzero(), mask.any(dim=0).nonzero()
        if not len(rows):
            return image
        centre = [float(cols[0] + cols[-1]) / 2, float(rows[0] + rows[-1]) / 2]  # (x, y)
        return F.affine(
            image,
            angle=_uniform(-self.degrees, self.degrees),
            translate=[0, 0],
            scale=_uniform(*self.scale),
            shear=[_uniform(*self.shear), 0.0],
            interpolation=v2.InterpolationMode.BILINEAR,
            fill=0.0,
            center=centre,
        )


class InkContrast(torch.nn.Module):
    """Ink darker or lighter: multiply by a factor in ``[low, high]``, clip to [0, 1] (FSDL's brightness jitter)."""

    def __init__(self, low: float = 0.8, high: float = 1.6):
        super().__init__()
        self.low, self.high = low, high

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return (image * _uniform(self.low, self.high)).clamp_(0.0, 1.0)


def line_augmentation() -> v2.Compose:
    """IAM lines: FSDL's RandomAffine(degrees=1, shear=(-30, 20)) and brightness (0.8, 1.6)."""
    return v2.Compose([InkAffine(degrees=1, shear=(-30, 20)), InkContrast(0.8, 1.6)])


def paragraph_augmentation() -> v2.Compose:
    """IAM paragraphs: FSDL's RandomAffine(degrees=1, shear=(-10, 10), scale=(0.95, 1)) and brightness."""
    return v2.Compose([InkAffine(degrees=1, shear=(-10, 10), scale=(0.95, 1.0)), InkContrast(0.8, 1.6)])
