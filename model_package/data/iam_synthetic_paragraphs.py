"""Synthetic IAM paragraphs: real training lines from different forms stacked into one page.

FSDL trained its paragraph model on real paragraphs plus paragraphs stacked from IAM lines,
which multiplies the paragraph layouts the model sees. Lines come at their own paragraph's scale
(``line_pitch`` px a line, :mod:`.iam_paragraphs`), 1 to ``max_lines`` of them, each from a
different form, stacked ``line_pitch`` apart; the label is their texts joined with ``\\n``.

``precompute=False`` (the default) draws new paragraphs every epoch, the k-th draw of index i
from a generator seeded by ``(seed, i, k)`` (distinct on every DDP rank, fixed by the seed);
``precompute=True`` draws ``num_synthetic`` once, each from its own generator seeded by
``(seed, index)``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch.utils.data import ConcatDataset, Dataset

from model_package.data.dataset import ImageTextDataset
from model_package.data.iam_paragraphs import IAMParagraphs
from model_package.metadata.vocabulary import NEWLINE, Vocabulary


class LinePieces:
    """Training lines at paragraph scale: images (N, slot, W) uint8 top-aligned, shapes (N, 2) of
    the ink each holds, form index (N,) and text of each."""

    def __init__(self, images: np.ndarray, shapes: np.ndarray, forms: np.ndarray, texts: list[str]):
        if not len(images) == len(shapes) == len(forms) == len(texts):
            raise ValueError("line pieces: images, shapes, forms and texts differ in number")
        self.images, self.shapes, self.forms, self.texts = images, shapes, forms, texts
        self.by_form = [np.flatnonzero(forms == f) for f in np.unique(forms)]

    def __len__(self) -> int:
        return len(self.texts)


def synthesize_paragraph(
    pieces: LinePieces, rng: np.random.Generator, height: int, width: int, line_pitch: int, max_lines: int, max_chars: int
) -> tuple[np.ndarray, str, list[int]]:
    """(image (height, width) uint8, text, indices of the lines used): 1..max_lines lines of
    different forms, one below the other; fewer if the text would exceed ``max_chars`` or the
    page ``height``."""
    slot = pieces.images.shape[1]
    fit = min(max_lines, len(pieces.by_form), (height - slot) // line_pitch + 1)
    k = int(rng.integers(1, fit + 1))
    forms = rng.choice(len(pieces.by_form), size=k, replace=False)
    chosen = [int(rng.choice(pieces.by_form[f])) for f in forms]
    while len(chosen) > 1 and len(NEWLINE.join(pieces.texts[i] for i in chosen)) > max_chars:
        chosen.pop()
    page = np.zeros((height, width), np.uint8)
    for row, i in enumerate(chosen):
        y = row * line_pitch
        top = page[y : y + slot]
        np.maximum(top, pieces.images[i][: len(top)], out=top)  # overlapping ascenders/descenders: ink wins
    return page, NEWLINE.join(pieces.texts[i] for i in chosen), chosen


class SyntheticParagraphs(Dataset):
    """``num`` synthetic paragraphs, a new one at every access: the k-th access of index i draws
    from a generator seeded by ``(seed, i, k)``. So the same seed gives the same paragraphs, each
    epoch gets new ones, and DDP ranks (which read different indices) never get the same ones,
    whatever the number of processes or DataLoader workers (the access counts live in shared
    memory, so workers see and advance the same ones)."""

    def __init__(self, pieces: LinePieces, num: int, vocabulary: Vocabulary, max_tokens: int, page: tuple[int, int],
                 line_pitch: int, max_lines: int, transform: Callable | None = None, seed: int = 0):  # fmt: skip
        self.pieces, self.num, self.vocabulary, self.max_tokens = pieces, num, vocabulary, max_tokens
        self.page, self.line_pitch, self.max_lines, self.transform = page, line_pitch, max_lines, transform
        self.seed = seed
        self.accesses = torch.zeros(num, dtype=torch.int64).share_memory_()  # (num,) draws so far per index

    def __len__(self) -> int:
        return self.num

    def draw(self, rng: np.random.Generator) -> tuple[np.ndarray, str]:
        image, text, _ = synthesize_paragraph(self.pieces, rng, *self.page, self.line_pitch, self.max_lines, self.max_tokens - 2)
        return image, text

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= index < self.num:
            raise IndexError(index)
        visit = int(self.accesses[index])
        self.accesses[index] += 1
        image, text = self.draw(np.random.default_rng([self.seed, index, visit]))
        x = torch.from_numpy(image).unsqueeze(0).float().div_(255)  # (1, H, W)
        if self.transform is not None:
            x = self.transform(x)
        return x, torch.tensor(self.vocabulary.encode(text, self.max_tokens))


class IAMSyntheticParagraphs(IAMParagraphs):
    """Training: ``num_synthetic`` paragraphs stacked from IAM training lines; validation and test:
    IAM's real paragraphs. Shapes and vocabulary of :class:`IAMParagraphs`."""

    def __init__(self, num_synthetic: int = 5000, max_lines: int = 12, precompute: bool = False, seed: int = 0, **kwargs):
        """``kwargs``: the arguments of :class:`IAMParagraphs`."""
        super().__init__(**kwargs)
        if num_synthetic < 1 or max_lines < 1:
            raise ValueError(f"num_synthetic and max_lines must be positive, got {num_synthetic} and {max_lines}")
        self.num_synthetic, self.max_lines, self.precompute, self.seed = num_synthetic, max_lines, precompute, seed

    def synthetic_dataset(self) -> Dataset:
        pieces = LinePieces(*self.load_lines())
        if not len(pieces):
            raise ValueError(f"{self.lines_path()} holds no training lines to stack")
        _, height, width = self.input_dims
        dataset = SyntheticParagraphs(
            pieces, self.num_synthetic, self.vocabulary, self.max_seq_length, (height, width), self.line_pitch,
            self.max_lines, self.train_transform(), seed=self.seed,
        )  # fmt: skip
        if not self.precompute:
            return dataset
        drawn = [dataset.draw(np.random.default_rng([self.seed, i])) for i in range(self.num_synthetic)]
        labels = np.array([self.vocabulary.encode(t, self.max_seq_length) for _, t in drawn], dtype=np.int16)
        return ImageTextDataset(np.stack([im for im, _ in drawn]), labels, self.train_transform())

    def setup(self, stage: str | None = None) -> None:
        if self.data_train is None:
            self.data_train = self.synthetic_dataset()
        super().setup(stage)  # validation and test: real paragraphs


class IAMOriginalAndSyntheticParagraphs(IAMSyntheticParagraphs):
    """Training: IAM's real training paragraphs plus ``num_synthetic`` synthetic ones (FSDL's
    paragraph training set); validation and test: real paragraphs only."""

    def setup(self, stage: str | None = None) -> None:
        if self.data_train is None:
            real = ImageTextDataset(*self.load_split("train")[:2], self.train_transform())
            self.data_train = ConcatDataset([real, self.synthetic_dataset()])
        super().setup(stage)
