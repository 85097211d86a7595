"""IAMParagraphs: the handwritten part of each IAM form as one image (FSDL's IAMParagraphs).

The paragraph region (the union of the cleaned line regions, :mod:`.iam`) is cropped from the form
made ink high and scaled so its line pitch (median distance between line tops) is ``line_pitch``
pixels: every hand gets about 28 px per line of text whatever its size (FSDL halved every form
instead, which gives 28 px only for an average hand). The crop is placed at the top left of a (paragraph_height,
paragraph_width) canvas; paragraphs that do not fit, or whose text is longer than ``max_length``
tokens, are left out with a count printed. Labels have ``\\n`` between the lines (84 symbols).

The same pass keeps every training line cropped at its paragraph's scale, for the synthetic
paragraphs of :mod:`.iam_synthetic_paragraphs`. Cached to HDF5 under ``processed/iam_paragraphs/``.
"""

from __future__ import annotations

import functools
from pathlib import Path

import h5py
import numpy as np

from model_package.data.augment import paragraph_augmentation
from model_package.data.cached_splits import SPLITS, CachedSplitsDataModule, write_split
from model_package.data.iam import IAM, Form, load_form_ink
from model_package.data.iam_crops import cache_key, crop, encode_fitting, map_forms, paragraph_scale, resize
from model_package.data.paths import processed_dir
from model_package.metadata import iam as metadata
from model_package.metadata.vocabulary import PARAGRAPH_VOCABULARY

_FORMAT_VERSION = 1


def _form_paragraph(form: Form, forms_dir: Path, height: int, width: int, line_pitch: int, slot: int):
    """(paragraph (height, width) uint8 or None if it does not fit, its text, line pieces, their texts).

    A line piece is the line's region at the paragraph's scale, top-aligned in a (slot, width)
    array, with its height and width (a piece wider than ``width`` is left out)."""
    ink = load_form_ink(forms_dir / f"{form.id}.jpg")
    scale = paragraph_scale(form, line_pitch)
    paragraph = None
    if form.paragraph_complete:
        scaled = resize(crop(ink, form.paragraph_region), scale)
        if scaled.shape[0] <= height and scaled.shape[1] <= width:
            paragraph = np.zeros((height, width), np.uint8)
            paragraph[: scaled.shape[0], : scaled.shape[1]] = scaled
    pieces = []
    for line in form.lines:
        piece = resize(crop(ink, line.region), scale)[:slot]
        if piece.shape[1] <= width:
            slot_image = np.zeros((slot, width), np.uint8)
            slot_image[: piece.shape[0], : piece.shape[1]] = piece
            pieces.append((slot_image, piece.shape, line.text))
    return paragraph, form.paragraph_text, pieces


class IAMParagraphs(CachedSplitsDataModule):
    """IAM paragraphs: images (1, paragraph_height, paragraph_width), ink high; labels
    ``<S> line\\nline... <E> <P>...`` of ``max_length`` tokens over the 84-symbol vocabulary."""

    def __init__(
        self,
        batch_size: int = 16,
        num_workers: int = 0,
        augment: bool = True,
        line_pitch: int = metadata.LINE_PITCH,
        paragraph_height: int = metadata.PARAGRAPH_HEIGHT,
        paragraph_width: int = metadata.PARAGRAPH_WIDTH,
        max_length: int = metadata.MAX_PARAGRAPH_TOKENS,
    ):
        """``max_length`` counts <S> and <E>; FSDL's 682 is the longest paragraph of the real data
        (``prepare_data`` prints the longest it finds)."""
        super().__init__(batch_size=batch_size, num_workers=num_workers)
        if line_pitch < 8 or paragraph_height < 2 * line_pitch or paragraph_width < line_pitch or max_length < 3:
            raise ValueError(
                f"bad shape: line_pitch={line_pitch}, paragraph_height={paragraph_height}, "
                f"paragraph_width={paragraph_width}, max_length={max_length}"
            )
        self.augment = augment
        self.line_pitch = line_pitch
        self.input_dims = (1, paragraph_height, paragraph_width)
        self.output_dims = (max_length,)
        self.idx_to_char = list(PARAGRAPH_VOCABULARY)
        self.iam = IAM()

    @property
    def line_slot(self) -> int:
        """Rows kept of a line at paragraph scale: two line pitches (a line's ascenders and descenders)."""
        return 2 * self.line_pitch

    def _key(self) -> str:
        return cache_key(
            self.iam, version=_FORMAT_VERSION, shape=self.input_dims, pitch=self.line_pitch, max_length=self.max_seq_length
        )

    def split_path(self, split: str) -> Path:
        return processed_dir("iam_paragraphs") / f"{split}-{self._key()}.h5"

    def lines_path(self) -> Path:
        """Training lines at paragraph scale (for synthetic paragraphs)."""
        return processed_dir("iam_paragraphs") / f"train-lines-{self._key()}.h5"

    def prepare_data(self) -> None:
        """Download, extract and crop every split not cached yet (rank 0 of each node)."""
        missing = [split for split in SPLITS if not self.split_path(split).exists()]
        if "train" not in missing and not self.lines_path().exists():
            missing.append("train")
        if not missing:
            return
        self.iam.prepare_data()
        _, height, width = self.input_dims
        fn = functools.partial(
            _form_paragraph,
            forms_dir=self.iam.root / metadata.FORMS_DIRNAME,
            height=height,
            width=width,
            line_pitch=self.line_pitch,
            slot=self.line_slot,
        )
        for split in missing:
            forms = self.iam.forms_of(split)
            results = map_forms(fn, forms, desc=f"IAM paragraphs ({split})")
            fitting = [(p, t) for p, t, _ in results if p is not None]
            incomplete = sum(not form.paragraph_complete for form in forms)
            if incomplete:
                print(f"IAMParagraphs {split}: left out {incomplete} of {len(results)} paragraphs with an unboxed line inside")
            if len(fitting) + incomplete < len(results):
                print(
                    f"IAMParagraphs {split}: left out {len(results) - len(fitting) - incomplete} of {len(results)}"
                    f" paragraphs larger than {height} x {width} at {self.line_pitch} px a line"
                )
            texts = [t for _, t in fitting]
            if texts:
                print(f"IAMParagraphs {split}: longest paragraph {max(map(len, texts)) + 2} tokens with <S> and <E> (max_length={self.max_seq_length})")
            labels, keep = encode_fitting(self.vocabulary, texts, self.max_seq_length, f"IAMParagraphs {split}")
            images = np.stack([p for (p, _), k in zip(fitting, keep) if k]) if keep.any() else np.zeros((0, height, width), np.uint8)
            kept = [t for t, k in zip(texts, keep) if k]
            write_split(self.split_path(split), images, labels, kept, {"forms": len(forms)})
            print(f"IAMParagraphs {split}: {len(kept)} paragraphs -> {self.split_path(split)}")
            if split == "train":
                self._write_lines(forms, results)

    def _write_lines(self, forms: list[Form], results: list) -> None:
        pieces = [(k, piece) for k, (_, _, form_pieces) in enumerate(results) for piece in form_pieces]
        _, _, width = self.input_dims
        images = np.stack([p[0] for _, p in pieces]) if pieces else np.zeros((0, self.line_slot, width), np.uint8)
        write_split(
            self.lines_path(),
            images,
            None,
            [p[2] for _, p in pieces],
            {"forms": [f.id for f in forms]},
            extra={
                "shapes": np.array([p[1] for _, p in pieces], dtype=np.int32).reshape(-1, 2),  # (height, width)
                "forms": np.array([k for k, _ in pieces], dtype=np.int32),  # index into attrs["forms"]
            },
        )

    def load_lines(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
        """Training lines at paragraph scale: (images (N, slot, W) uint8, shapes (N, 2), form indices (N,), texts)."""
        if not self.lines_path().exists():
            self.prepare_data()
        with h5py.File(self.lines_path(), "r") as f:
            return f["images"][:], f["shapes"][:], f["forms"][:], [t.decode() for t in f["texts"][:]]

    def train_transform(self):
        return paragraph_augmentation() if self.augment else None
