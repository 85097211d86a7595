"""A small ``matlab.zip`` in EMNIST's real layout, built by the tests.

``matlab/emnist-byclass.mat`` (MATLAB 5, via scipy.io.savemat) holds ``dataset``: a struct with
``train`` / ``test`` structs of ``images`` (N x 784 uint8, each row a 28x28 image stored
COLUMN-major), ``labels`` (N x 1) and ``writers`` (N x 1), and ``mapping`` (62 x 2: class, ASCII).
Each image is its character drawn upright with a small per-sample shift, so a test can tell
upright from transposed and check that the right class comes out.
"""

from __future__ import annotations

import io
import string
import zipfile

import numpy as np
import scipy.io
from PIL import Image, ImageDraw, ImageFont

CLASSES = string.digits + string.ascii_uppercase + string.ascii_lowercase  # EMNIST byclass order


def upright_character(char: str, shift: int = 0) -> np.ndarray:
    """(28, 28) uint8, ink high: ``char`` drawn upright, moved right by ``shift`` pixels."""
    image = Image.new("L", (28, 28), 0)
    ImageDraw.Draw(image).text((6 + shift, 2), char, fill=255, font=ImageFont.load_default(size=20))
    return np.asarray(image)


def emnist_split(per_class: int, writers: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(CLASSES)), per_class)
    upright = np.stack([upright_character(CLASSES[c], int(rng.integers(0, 3))) for c in labels])
    rows = upright.transpose(0, 2, 1).reshape(len(labels), 784)  # column-major, as EMNIST stores them
    return {
        "images": rows,
        "labels": labels.reshape(-1, 1).astype(np.uint8),
        # round robin within each class: every writer wrote every character (when per_class >= writers)
        "writers": (np.tile(np.arange(per_class), len(CLASSES)) % writers).reshape(-1, 1).astype(np.uint16),
        "upright": upright,
    }


def build_matlab_zip(per_class_train: int = 6, per_class_test: int = 2, writers: int = 6, seed: int = 0) -> tuple[bytes, dict]:
    """(zip bytes, {"train": split, "test": split}) with the upright images kept for checking."""
    train = emnist_split(per_class_train, writers, seed)
    test = emnist_split(per_class_test, writers, seed + 1)
    mapping = np.array([[c, ord(ch)] for c, ch in enumerate(CLASSES)], dtype=np.uint8)
    dataset = {
        "train": {k: v for k, v in train.items() if k != "upright"},
        "test": {k: v for k, v in test.items() if k != "upright"},
        "mapping": mapping,
    }
    mat = io.BytesIO()
    scipy.io.savemat(mat, {"dataset": dataset}, do_compression=True)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("matlab/emnist-byclass.mat", mat.getvalue())
        zf.writestr("matlab/emnist-digits.mat", b"")  # a sibling, as in the real archive
    return archive.getvalue(), {"train": train, "test": test}
