"""In-memory image/label dataset shared by the data modules."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch.utils.data import Dataset


class ImageTextDataset(Dataset):
    """Images (N, H, W) uint8, ink high, and token ids (N, L); yields ((1, H, W) float in [0, 1], (L,) int64).

    ``transform``, if given, maps each (1, H, W) image to another (train-time augmentation).
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform: Callable | None = None):
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        if images.dtype != np.uint8 or images.ndim != 3:
            raise ValueError(f"images must be uint8 (N, H, W), got {images.dtype} {images.shape}")
        self.images = torch.from_numpy(np.ascontiguousarray(images))
        self.labels = torch.from_numpy(np.ascontiguousarray(labels)).long()
        self.transform = transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = self.images[index].unsqueeze(0).float().div_(255)  # (1, H, W)
        if self.transform is not None:
            image = self.transform(image)
        return image, self.labels[index]
