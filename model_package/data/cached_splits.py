"""Data modules whose splits are made once (rendered, synthesised) and cached to HDF5."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from model_package.data.base_data_module import BaseDataModule
from model_package.data.dataset import ImageTextDataset
from model_package.data.io import atomic_path

SPLITS = ("train", "val", "test")


def write_split(
    path: Path,
    images: np.ndarray,
    labels: np.ndarray | None,
    texts: list[str],
    attrs: dict,
    extra: dict[str, np.ndarray] | None = None,
) -> None:
    """One split as HDF5 (images lzf-compressed, labels, texts, ``extra`` arrays, attrs as JSON), written atomically."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("images", data=images, compression="lzf")
        if labels is not None:
            f.create_dataset("labels", data=labels)
        f.create_dataset("texts", data=texts, dtype=h5py.string_dtype())
        for key, value in (extra or {}).items():
            f.create_dataset(key, data=value)
        for key, value in attrs.items():
            f.attrs[key] = json.dumps(value)


class CachedSplitsDataModule(BaseDataModule):
    """Subclasses say where each split is cached (``split_path``) and make the missing ones in
    ``prepare_data``; loading and ``setup`` are shared."""

    def split_path(self, split: str) -> Path:
        raise NotImplementedError

    def load_split(self, split: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """(images (N, H, W) uint8, labels (N, L), texts) of a split, from the cache."""
        path = self.split_path(split)
        if not path.exists():
            self.prepare_data()
        with h5py.File(path, "r") as f:
            return f["images"][:], f["labels"][:], [t.decode() for t in f["texts"][:]]

    def train_transform(self):
        """Train-time augmentation of each (1, H, W) image, or None (the default: none)."""
        return None

    def setup(self, stage: str | None = None) -> None:
        for split, attr in [("train", "data_train"), ("val", "data_val"), ("test", "data_test")]:
            if getattr(self, attr) is None:
                images, labels, _ = self.load_split(split)
                setattr(self, attr, ImageTextDataset(images, labels, self.train_transform() if split == "train" else None))
