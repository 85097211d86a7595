"""EMNIST handwritten characters (the byclass split: digits, upper and lower case letters).

``prepare_data`` downloads ``matlab.zip`` (mirrors, checksum, resume: :mod:`.download`), reads
``matlab/emnist-byclass.mat`` with scipy, turns each 784-byte column-major row into an upright
28x28 image and class ``c`` into token ``c + 4``, and writes them unchanged, every sample kept, to
``processed/emnist/byclass.h5``. ``setup`` then splits and balances in memory, so changing the seed
or the balancing never reprocesses:

- validation is split from EMNIST's train part BY WRITER (FSDL split at random, so validation
  writers were also training writers); test is EMNIST's test part;
- ``balance=True`` gives every class of a split the mean class count, like FSDL, but draws WITHOUT
  replacement from classes that have enough samples and tops up only the rare ones with repeats
  (FSDL sampled every class with replacement, repeating samples of common classes for no reason
  and leaving about a third of each unused).
"""

from __future__ import annotations

import io
import zipfile

import h5py
import numpy as np
import scipy.io

from model_package.data.base_data_module import BaseDataModule
from model_package.data.dataset import ImageTextDataset
from model_package.data.download import fetch
from model_package.data.io import atomic_path
from model_package.data.paths import downloaded_dir, processed_dir
from model_package.metadata import emnist as metadata
from model_package.metadata import sources

_FORMAT_VERSION = 1


class EMNIST(BaseDataModule):
    """Characters: images (1, 28, 28), ink high; labels () token ids over the 83-symbol vocabulary."""

    def __init__(
        self,
        batch_size: int = 128,
        num_workers: int = 0,
        val_fraction: float = 0.1,
        balance: bool = True,
        seed: int = 0,
    ):
        super().__init__(batch_size=batch_size, num_workers=num_workers)
        if not 0 < val_fraction < 1:
            raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
        essentials = metadata.essentials()  # known without the data, so a model can be built first
        self.idx_to_char = essentials["idx_to_char"]
        self.input_dims = tuple(essentials["input_shape"])
        self.output_dims = (1,)
        self.val_fraction = val_fraction
        self.balance = balance
        self.seed = seed

    @staticmethod
    def processed_path():
        return processed_dir("emnist") / f"byclass-v{_FORMAT_VERSION}.h5"

    def prepare_data(self) -> None:
        """Download and convert, unless the processed file is there (rank 0 of each node)."""
        if self.processed_path().exists():
            return
        archive = fetch(sources.EMNIST, downloaded_dir("emnist"))
        print(f"reading {metadata.MAT_MEMBER} from {archive}")
        arrays = read_emnist_mat(archive, self.idx_to_char)
        with atomic_path(self.processed_path()) as tmp, h5py.File(tmp, "w") as f:
            for name, array in arrays.items():
                f.create_dataset(name, data=array, compression="lzf" if array.ndim == 3 else None)
        print(f"wrote {self.processed_path()}")

    def split_arrays(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``{"train" | "val" | "test": (images (N, 28, 28) uint8, tokens (N,) int64)}``, unbalanced."""
        self.prepare_data()
        with h5py.File(self.processed_path(), "r") as f:
            x, y, writers = f["x_train"][:], f["y_train"][:].astype(np.int64), f["writers_train"][:]
            x_test, y_test = f["x_test"][:], f["y_test"][:].astype(np.int64)
        is_val = writer_split(writers, self.val_fraction, np.random.default_rng([self.seed, 0]))
        return {"train": (x[~is_val], y[~is_val]), "val": (x[is_val], y[is_val]), "test": (x_test, y_test)}

    def setup(self, stage: str | None = None) -> None:
        if self.data_train is not None:
            return
        for k, (split, (x, y)) in enumerate(self.split_arrays().items()):
            if self.balance:
                keep = balanced_indices(y, np.random.default_rng([self.seed, 1, k]))
                x, y = x[keep], y[keep]
            setattr(self, {"train": "data_train", "val": "data_val", "test": "data_test"}[split], ImageTextDataset(x, y))


def read_emnist_mat(archive, idx_to_char: list[str]) -> dict[str, np.ndarray]:
    """Upright images and tokens of ``emnist-byclass.mat`` in ``archive`` (a path to matlab.zip)."""
    with zipfile.ZipFile(archive) as zf:
        if metadata.MAT_MEMBER not in zf.namelist():
            raise ValueError(f"{archive} has no {metadata.MAT_MEMBER}; members: {zf.namelist()[:10]}")
        mat = scipy.io.loadmat(io.BytesIO(zf.read(metadata.MAT_MEMBER)))
    try:
        dataset = mat["dataset"]
        train, test = dataset["train"][0, 0], dataset["test"][0, 0]
        mapping = dataset["mapping"][0, 0]
        parts = {
            "x_train": train["images"][0, 0],
            "y_train": train["labels"][0, 0],
            "writers_train": train["writers"][0, 0],
            "x_test": test["images"][0, 0],
            "y_test": test["labels"][0, 0],
        }
    except (KeyError, ValueError, IndexError) as err:
        raise ValueError(f"{archive}:{metadata.MAT_MEMBER} is not in the EMNIST layout ({err})") from None
    for class_index, code in np.asarray(mapping).reshape(-1, 2):  # rows of (class, ASCII code)
        token = int(class_index) + metadata.CLASS_OFFSET
        if token >= len(idx_to_char) or idx_to_char[token] != chr(int(code)):
            have = idx_to_char[token] if token < len(idx_to_char) else None
            raise ValueError(f"EMNIST class {class_index} is {chr(int(code))!r}, but vocabulary token {token} is {have!r}")
    side = metadata.CHAR_SIZE
    out = {}
    for name in ("x_train", "x_test"):
        images = np.asarray(parts[name], dtype=np.uint8)
        if images.ndim != 2 or images.shape[1] != side * side:
            raise ValueError(f"{metadata.MAT_MEMBER}: {name} has shape {images.shape}, expected (N, {side * side})")
        out[name] = np.ascontiguousarray(images.reshape(-1, side, side).swapaxes(1, 2))  # column-major rows -> upright
    for name in ("y_train", "y_test"):
        labels = np.asarray(parts[name]).ravel().astype(np.int64)
        if labels.min(initial=0) < 0 or labels.max(initial=0) >= metadata.NUM_CLASSES:
            raise ValueError(f"{metadata.MAT_MEMBER}: {name} has classes outside 0..{metadata.NUM_CLASSES - 1}")
        out[name] = (labels + metadata.CLASS_OFFSET).astype(np.uint8)
    out["writers_train"] = np.asarray(parts["writers_train"]).ravel().astype(np.int32)
    if not len(out["x_train"]) == len(out["y_train"]) == len(out["writers_train"]) or len(out["x_test"]) != len(out["y_test"]):
        raise ValueError(f"{metadata.MAT_MEMBER}: images, labels and writers differ in number")
    return out


def writer_split(writers: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask of about ``fraction`` of the samples, taking whole writers in random order."""
    ids, counts = np.unique(writers, return_counts=True)
    order = rng.permutation(len(ids))
    taken = np.cumsum(counts[order]) <= fraction * len(writers)
    taken[0] = True  # at least one writer
    if taken.all():
        raise ValueError(f"cannot split {len(ids)} writer(s) into train and validation")
    return np.isin(writers, ids[order][taken])


def balanced_indices(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Indices giving every present class the mean class count: without replacement where a class
    has enough samples, all of them plus repeats where it has fewer."""
    classes, counts = np.unique(labels, return_counts=True)
    target = int(counts.mean())
    picks = []
    for c, n in zip(classes, counts):
        members = np.flatnonzero(labels == c)
        if n >= target:
            picks.append(rng.choice(members, target, replace=False))
        else:
            picks.append(np.concatenate([members, rng.choice(members, target - n, replace=True)]))
    return np.sort(np.concatenate(picks))
