"""English text for synthetic lines, and a sampler of word-aligned snippets from it.

Offline source: the prose of Python's own documentation (``pydoc_data.topics``), which every
CPython ships. Paragraphs that look like code are dropped, typographic quotes are folded to
ASCII, and only sentences written entirely in the vocabulary are kept.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable

import numpy as np

_TYPOGRAPHIC = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"})
# A sentence ends at . ? or ! followed by whitespace and a capital letter or a quote.
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+(?=[A-Z\"'(])")
_CODE_HINTS = re.compile(r"(>>>|\*\*|\.\.\. |[=_{}\[\]<>@%$\\|`~^]|\w\(\)|::)")
_UNDERLINE = re.compile(r"^\s*([*=~^-])\1{2,}\s*$")  # reST heading underline
_EMPHASIS = re.compile(r"\*+([^*\s][^*]*?)\*+")  # *emphasis* and **strong**


def _prose_paragraphs(document: str) -> Iterable[str]:
    """Paragraphs of running text: blank-line separated, not indented like code, joined onto one line."""
    for block in re.split(r"\n\s*\n", document):
        lines = block.splitlines()
        # drop reST headings: an underline and the title line above it
        for i in reversed([i for i, line in enumerate(lines) if _UNDERLINE.match(line)]):
            del lines[max(i - 1, 0) : i + 1]
        if not lines:
            continue
        indents = {len(line) - len(line.lstrip()) for line in lines if line.strip()}
        if len(indents) > 2 or min(indents, default=0) > 4:  # code listings and tables
            continue
        yield _EMPHASIS.sub(r"\1", " ".join(line.strip() for line in lines))


def clean_sentences(document: str, characters: set[str], min_words: int = 3) -> list[str]:
    """Sentences of ``document`` that read as English prose and use only ``characters``."""
    sentences = []
    for paragraph in _prose_paragraphs(document.translate(_TYPOGRAPHIC)):
        for sentence in _SENTENCE_END.split(paragraph):
            sentence = " ".join(sentence.split())
            if len(sentence.split()) < min_words or _CODE_HINTS.search(sentence):
                continue
            if set(sentence) <= characters:
                sentences.append(sentence)
    return sentences


@functools.lru_cache(maxsize=4)
def offline_sentences(characters: frozenset[str]) -> tuple[str, ...]:
    """English sentences from the documentation CPython ships (no download)."""
    from pydoc_data.topics import topics  # part of the standard library

    document = "\n\n".join(topics[key] for key in sorted(topics))
    sentences = list(dict.fromkeys(clean_sentences(document, set(characters))))  # unique, in order
    if not sentences:
        raise RuntimeError("pydoc_data.topics yielded no usable English sentences")
    return tuple(sentences)


@functools.lru_cache(maxsize=4)
def offline_text_digest(characters: frozenset[str]) -> str:
    """A short hash of :func:`offline_sentences` (it changes with Python's version): part of cache keys."""
    return hashlib.sha256("\n".join(offline_sentences(characters)).encode()).hexdigest()[:16]


class SnippetSampler:
    """Draws word-aligned snippets of at most ``max_length`` characters from a list of sentences.

    The sentences are joined into one running text; a snippet starts at a word start and ends at
    a word end, so it never cuts a word (FSDL's SentenceGenerator does the same).
    """

    def __init__(self, sentences: Iterable[str], max_length: int, min_length: int = 1):
        self.text = " ".join(sentences)
        if max_length < 1 or min_length > max_length:
            raise ValueError(f"need 1 <= min_length <= max_length, got {min_length}, {max_length}")
        self.max_length = max_length
        self.min_length = min_length
        words = list(re.finditer(r"\S+", self.text))
        self._starts = np.array([w.start() for w in words])
        self._ends = np.array([w.end() for w in words])
        fits = (self._ends - self._starts) <= max_length
        if not fits.any():
            raise ValueError(f"no word of the text is at most {max_length} characters long")

    def sample(self, rng: np.random.Generator) -> str:
        """One snippet; its length is uniform over the word ends that fit after a random start."""
        while True:
            i = int(rng.integers(len(self._starts)))
            start = self._starts[i]
            # word ends j >= i with end - start within [min_length, max_length]
            hi = np.searchsorted(self._ends, start + self.max_length, side="right")
            candidates = self._ends[i:hi]
            candidates = candidates[candidates - start >= self.min_length]
            if len(candidates):
                end = int(candidates[rng.integers(len(candidates))])
                return self.text[start:end]

    def sample_lines(self, rng: np.random.Generator, num_lines: int) -> list[str]:
        """``num_lines`` consecutive lines of running text from a random word on, each wrapped at a
        random width between half of and the full ``max_length`` (a hand's line width varies)."""
        i = int(rng.integers(len(self._starts)))
        lines = []
        while len(lines) < num_lines:
            width = int(rng.integers(self.max_length // 2, self.max_length + 1))
            i %= len(self._starts)
            if self._ends[i] - self._starts[i] > width:  # a word too long for this line: skip it
                i += 1
                continue
            j = i  # last word on this line
            while j + 1 < len(self._starts) and self._ends[j + 1] - self._starts[i] <= width:
                j += 1
            lines.append(self.text[self._starts[i] : self._ends[j]])
            i = j + 1
        return lines


_PUNCTUATION = re.compile(r"[!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]")


def strip_punctuation(sentence: str) -> str:
    """FSDL's text for EMNIST lines: punctuation removed (EMNIST has no images of it), spaces collapsed."""
    return " ".join(_PUNCTUATION.sub("", sentence).split())


def brown_root(nltk_dir):
    """nltk's path pointer to the Brown corpus under ``nltk_dir`` (unzipped or zipped), or None."""
    import nltk

    try:
        return nltk.data.find("corpora/brown", paths=[str(nltk_dir)])
    except LookupError:
        return None


def brown_sentences(nltk_dir, download: bool = True, timeout_s: float = 30) -> list[str] | None:
    """Sentences of NLTK's Brown corpus (words joined by spaces) kept under ``nltk_dir``.

    Fetched with ``nltk.download`` when missing and ``download`` is true (from nltk's index, or the
    index at ``$MODEL_PACKAGE_NLTK_INDEX_URL``, a mirror); ``None`` when it is not there and cannot
    be fetched (no network).
    """
    import os
    import socket

    import nltk
    from nltk.corpus.reader import CategorizedTaggedCorpusReader

    root = brown_root(nltk_dir)
    if root is None and download:
        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(timeout_s)  # nltk's urlopen has no time-out of its own
        try:
            downloader = nltk.downloader.Downloader(server_index_url=os.environ.get("MODEL_PACKAGE_NLTK_INDEX_URL") or None)
            downloader.download("brown", download_dir=str(nltk_dir), quiet=True, raise_on_error=True)
        except Exception:  # noqa: BLE001 - any failure means: no Brown corpus here
            pass
        finally:
            socket.setdefaulttimeout(previous)
        root = brown_root(nltk_dir)
    if root is None:
        return None
    if str(nltk_dir) not in nltk.data.path:
        nltk.data.path.append(str(nltk_dir))  # nltk only reads corpora under its data path
    # the reader nltk.corpus.brown uses, pointed at our copy
    reader = CategorizedTaggedCorpusReader(root, r"c[a-z]\d\d", cat_file="cats.txt", tagset="brown", encoding="ascii")
    return [" ".join(words) for words in reader.sents()]
