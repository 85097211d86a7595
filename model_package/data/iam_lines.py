"""IAMLines: the handwritten lines of the IAM forms, one image a line (FSDL's IAMLines).

Each cleaned line region (:mod:`.iam`) is cropped from its form made ink high, cropped to the ink
and scaled to ``line_height`` rows (text between the 1/16 margins, as in every line data set here
and in serving), squeezed only when wider than ``line_width``, and padded to ``line_width``.
FSDL's shapes: (1, 56, 1536), labels of up to 89 tokens; lines that do not fit are left out with
a count printed. Processed splits are cached to HDF5 under ``processed/iam_lines/``, keyed by the
archive, the corrections and the shapes, so a second run starts at once. Training images get
FSDL's augmentation (slight rotation, shear, ink contrast) unless ``augment=False``.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from model_package.data.augment import line_augmentation
from model_package.data.cached_splits import SPLITS, CachedSplitsDataModule, write_split
from model_package.data.iam import IAM, Form, load_form_ink
from model_package.data.iam_crops import cache_key, encode_fitting, line_image, map_forms
from model_package.data.paths import processed_dir
from model_package.metadata import iam as metadata
from model_package.metadata.vocabulary import LINE_VOCABULARY

_FORMAT_VERSION = 1


def _form_lines(form: Form, forms_dir: Path, height: int, width: int) -> tuple[list[np.ndarray], list[str]]:
    ink = load_form_ink(forms_dir / f"{form.id}.jpg")
    return [line_image(ink, line.region, height, width) for line in form.lines], [line.text for line in form.lines]


class IAMLines(CachedSplitsDataModule):
    """IAM lines: images (1, line_height, line_width), ink high; labels ``<S> text <E> <P>...`` of
    ``max_length`` tokens over the 83-symbol vocabulary. Splits: IAM's (validation 1 + 2, test)."""

    def __init__(
        self,
        batch_size: int = 16,
        num_workers: int = 0,
        augment: bool = True,
        line_height: int = metadata.LINE_HEIGHT,
        line_width: int = metadata.LINE_WIDTH,
        max_length: int = metadata.MAX_LINE_TOKENS,
    ):
        """``max_length`` counts <S> and <E>."""
        super().__init__(batch_size=batch_size, num_workers=num_workers)
        if line_height < 8 or line_width < line_height or max_length < 3:
            raise ValueError(f"bad shape: line_height={line_height}, line_width={line_width}, max_length={max_length}")
        self.augment = augment
        self.line_height, self.line_width = line_height, line_width
        self.input_dims = (1, line_height, line_width)
        self.output_dims = (max_length,)
        self.idx_to_char = list(LINE_VOCABULARY)
        self.iam = IAM()

    def split_path(self, split: str) -> Path:
        key = cache_key(self.iam, version=_FORMAT_VERSION, shape=self.input_dims, max_length=self.max_seq_length)
        return processed_dir("iam_lines") / f"{split}-{key}.h5"

    def prepare_data(self) -> None:
        """Download, extract and crop every split not cached yet (rank 0 of each node)."""
        missing = [split for split in SPLITS if not self.split_path(split).exists()]
        if not missing:
            return
        self.iam.prepare_data()
        forms_dir = self.iam.root / metadata.FORMS_DIRNAME
        for split in missing:
            forms = self.iam.forms_of(split)
            fn = functools.partial(_form_lines, forms_dir=forms_dir, height=self.line_height, width=self.line_width)
            results = map_forms(fn, forms, desc=f"IAM lines ({split})")
            images = [image for images, _ in results for image in images]
            texts = [text for _, texts in results for text in texts]
            labels, keep = encode_fitting(self.vocabulary, texts, self.max_seq_length, f"IAMLines {split}")
            kept = [t for t, k in zip(texts, keep) if k]
            stacked = np.stack([im for im, k in zip(images, keep) if k]) if kept else np.zeros((0, *self.input_dims[1:]), np.uint8)
            write_split(self.split_path(split), stacked, labels, kept, {"forms": len(forms), "lines": len(texts)})
            print(f"IAMLines {split}: {len(kept)} lines from {len(forms)} forms -> {self.split_path(split)}")

    def train_transform(self):
        return line_augmentation() if self.augment else None
