"""The one vocabulary every data set and model shares (FSDL's 83 symbols, 84 for paragraphs).

Layout: 4 special tokens, then ``0-9``, ``A-Z``, ``a-z``, then `` !"#&'()*+,-./:;?``.
EMNIST class ``c`` is token ``c + 4``. Paragraph data sets append the newline.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Sequence

BLANK, START, END, PAD = "<B>", "<S>", "<E>", "<P>"
SPECIAL_TOKENS = [BLANK, START, END, PAD]
PUNCTUATION = " !\"#&'()*+,-./:;?"
CHARACTERS = list(string.digits + string.ascii_uppercase + string.ascii_lowercase + PUNCTUATION)
NEWLINE = "\n"

LINE_VOCABULARY: list[str] = SPECIAL_TOKENS + CHARACTERS  # 83 symbols
PARAGRAPH_VOCABULARY: list[str] = LINE_VOCABULARY + [NEWLINE]  # 84 symbols


class Vocabulary:
    """Maps text to token ids and back for one ``idx_to_char`` list.

    Labels have the form ``<S> t e x t <E> <P> <P> ...``, ``max_length`` tokens long.
    """

    def __init__(self, idx_to_char: Sequence[str]):
        self.idx_to_char = list(idx_to_char)
        self.char_to_idx = {c: i for i, c in enumerate(self.idx_to_char)}
        if len(self.char_to_idx) != len(self.idx_to_char):
            raise ValueError("idx_to_char has repeated symbols")
        missing = [t for t in SPECIAL_TOKENS if t not in self.char_to_idx]
        if missing:
            raise ValueError(f"idx_to_char lacks the special tokens {missing}")
        self.blank_index = self.char_to_idx[BLANK]
        self.start_index = self.char_to_idx[START]
        self.end_index = self.char_to_idx[END]
        self.pad_index = self.char_to_idx[PAD]
        self.special_indices = {self.blank_index, self.start_index, self.end_index, self.pad_index}

    def __len__(self) -> int:
        return len(self.idx_to_char)

    @property
    def characters(self) -> set[str]:
        """The printable symbols (everything but the special tokens)."""
        return {c for c in self.idx_to_char if c not in SPECIAL_TOKENS}

    def unknown_characters(self, text: str) -> set[str]:
        return {c for c in text if c not in self.char_to_idx or c in SPECIAL_TOKENS}

    def encode(self, text: str, max_length: int) -> list[int]:
        """``text`` as ``[<S>, ..., <E>, <P>, ...]`` of exactly ``max_length`` ids."""
        unknown = self.unknown_characters(text)
        if unknown:
            raise ValueError(f"text {text!r} has characters outside the vocabulary: {sorted(unknown)}")
        if len(text) + 2 > max_length:
            raise ValueError(f"text of {len(text)} characters does not fit max_length={max_length} with <S> and <E>")
        ids = [self.start_index] + [self.char_to_idx[c] for c in text] + [self.end_index]
        return ids + [self.pad_index] * (max_length - len(ids))

    def decode(self, ids: Iterable[int]) -> str:
        """Text of one token sequence: stops at the first <E> or <P>, skips <S> and <B>."""
        chars = []
        for i in ids:
            i = int(i)
            if i in (self.end_index, self.pad_index):
                break
            if i in (self.start_index, self.blank_index):
                continue
            chars.append(self.idx_to_char[i])
        return "".join(chars)

    def decode_batch(self, batch_ids: Iterable[Iterable[int]]) -> list[str]:
        return [self.decode(ids) for ids in batch_ids]
