"""Lines of text made of character images placed side by side (FSDL's EMNISTLines algorithm).

For each line: one overlap ``o ~ U(min_overlap, max_overlap)``; each character's image is drawn
at random from the samples of its class (a blank for a character without images, like the space)
and placed ``step = W - int(o * W)`` pixels after the previous one; overlapping ink adds up,
saturating at 255; the line is padded with zeros to a fixed width.

:func:`synthesize_lines` does this for a whole batch in a handful of NumPy operations;
:func:`synthesize_lines_reference` does the same one character at a time (FSDL's way), for the
benchmark and as the test's ground truth. Both take the same random draws and return the same bytes.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CharacterPools:
    """Character images grouped by token: ``glyphs[starts[t] : starts[t] + counts[t]]`` are token t's;
    the last image, all zeros, is the glyph of tokens without samples (``blank``)."""

    glyphs: np.ndarray  # (M + 1, H, W) uint8, sorted by token, blank last
    starts: np.ndarray  # (V,) int64
    counts: np.ndarray  # (V,) int64

    @classmethod
    def from_labelled(cls, images: np.ndarray, tokens: np.ndarray, vocab_size: int) -> CharacterPools:
        """Pools from images (N, H, W) uint8 and their tokens (N,)."""
        order = np.argsort(tokens, kind="stable")
        blank = np.zeros((1, *images.shape[1:]), np.uint8)
        counts = np.bincount(tokens, minlength=vocab_size).astype(np.int64)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        return cls(np.concatenate([images[order], blank]), starts, counts)

    @property
    def blank(self) -> int:
        return len(self.glyphs) - 1

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of one character image."""
        return self.glyphs.shape[1], self.glyphs.shape[2]

    def pick(self, tokens: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
        """Row of ``glyphs`` for each token, chosen by uniforms in [0, 1); the blank for tokens without images."""
        counts = self.counts[tokens]
        chosen = self.starts[tokens] + (uniforms * counts).astype(np.int64)
        return np.where(counts > 0, chosen, self.blank)


@dataclass(frozen=True)
class LineDraws:
    """The random choices behind a batch of lines (shared by both implementations)."""

    overlaps: np.ndarray  # (N,) in [min_overlap, max_overlap)
    uniforms: np.ndarray  # (N, max_chars) in [0, 1): which sample of its class each character gets

    @classmethod
    def draw(cls, num: int, max_chars: int, min_overlap: float, max_overlap: float, rng: np.random.Generator) -> LineDraws:
        return cls(rng.uniform(min_overlap, max_overlap, num), rng.random((num, max_chars)))


def _tokens(texts: Sequence[str], char_to_idx: dict[str, int], max_chars: int) -> np.ndarray:
    """(N, max_chars) token ids, -1 after each text's end, via a byte lookup table (no per-character Python)."""
    unknown = set("".join(texts)) - {c for c in char_to_idx if len(c) == 1 and c.isascii() and c != "\0"}
    if unknown:
        raise ValueError(f"characters outside the vocabulary: {sorted(unknown)}")
    lut = np.full(128, -1, np.int64)  # byte 0 pads the fixed-width byte strings: -1
    for char, index in char_to_idx.items():
        if len(char) == 1 and char.isascii() and char != "\0":
            lut[ord(char)] = index
    raw = np.array([t.encode("ascii") for t in texts], dtype=f"S{max_chars}")
    return lut[raw.view(np.uint8).reshape(len(texts), max_chars)]


def _check(texts: Sequence[str], draws: LineDraws, width: int, char_width: int) -> int:
    max_chars = draws.uniforms.shape[1]
    longest = max((len(t) for t in texts), default=0)
    if longest > max_chars:
        raise ValueError(f"a text of {longest} characters is longer than max_chars={max_chars}")
    if longest * char_width > width:
        raise ValueError(f"{longest} characters of width {char_width} may not fit a line {width} wide")
    if len(draws.overlaps) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(draws.overlaps)} draws")
    return max_chars


def synthesize_lines(
    texts: Sequence[str],
    pools: CharacterPools,
    draws: LineDraws,
    char_to_idx: dict[str, int],
    width: int,
    chunk: int = 64,
    threads: int | None = None,
) -> np.ndarray:
    """Line images (N, H, width) uint8, vectorised over lines and characters.

    Lines are grouped by their step. In a group, character j of every line starts at column
    j * step, so the line, column-major, is a sequence of ``step``-wide slots: character j fills
    slot j with its first ``step`` columns and spills its k-th next ``step`` columns into slot j + k.
    Each spill is one saturating add over the whole group.
    """
    height, char_width = pools.shape
    max_chars = _check(texts, draws, width, char_width)
    tokens = _tokens(texts, char_to_idx, max_chars)  # (N, L), -1 past each text's end
    steps = char_width - (draws.overlaps * char_width).astype(np.int64)  # (N,)
    out = np.empty((len(texts), height, width), np.uint8)
    if not len(texts):
        return out
    num_layers = -(-char_width // int(steps.min()))
    buffer_shape = (num_layers, min(chunk, len(texts)), height, (max_chars + 2 * num_layers) * char_width)
    order = np.argsort(steps, kind="stable")  # lines grouped by step: few groups per chunk
    chunks = [order[begin : begin + chunk] for begin in range(0, len(texts), chunk)]
    local = threading.local()

    def compose(members: np.ndarray) -> None:
        if not hasattr(local, "layers"):  # work buffers, reused by each thread: no page faults
            local.layers = np.empty(buffer_shape, np.uint8)  # (K, n, H, columns)
            local.headroom = np.empty(buffer_shape[1:], np.uint8)
        layers, headroom = local.layers, local.headroom
        member_steps, n = steps[members], len(members)
        rows = pools.pick(np.maximum(tokens[members], 0), draws.uniforms[members])  # (n, L) rows of pools.glyphs
        rows[tokens[members] < 0] = pools.blank  # past the end of the text: blank
        used = -(-char_width // int(member_steps.min()))  # layers this chunk needs
        layers[:used].fill(0)
        for step in np.unique(member_steps):
            a, b = np.searchsorted(member_steps, [step, step + 1])
            _place(layers[:, a:b], pools.glyphs, rows[a:b], int(step))
        lines = layers[0, :n]  # (n, H, columns)
        for layer in layers[1:used, :n]:  # saturating add, no overflow
            np.subtract(255, lines, out=headroom[:n])
            lines += np.minimum(layer, headroom[:n], out=layer)
        out[members] = lines[:, :, :width]

    threads = max(1, min(threads or os.cpu_count() or 1, len(chunks)))
    if threads == 1:
        for members in chunks:
            compose(members)
    else:  # NumPy releases the GIL in these copies and ufuncs
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(compose, chunks))
    return out


def _place(layers: np.ndarray, glyphs: np.ndarray, rows: np.ndarray, step: int) -> None:
    """Copy the characters ``glyphs[rows]`` (rows (n, L)) into ``layers`` (K', n, H, columns),
    character j at column j * step.

    Characters j = r, r + K, r + 2K, ... with K = ceil(W / step) never overlap one another, so
    layer r gets them all in one strided copy through a view of it cut into ``K * step``-wide
    slots, starting at column r * step. Summing the layers gives the line.
    """
    n, max_chars = rows.shape
    height, char_width = glyphs.shape[1:]
    num_layers = -(-char_width // step)
    for r in range(min(num_layers, max_chars)):
        chars = glyphs[rows[:, r::num_layers]]  # (n, M, H, W)
        span = chars.shape[1] * num_layers * step
        slots = layers[r, :, :, r * step : r * step + span].reshape(n, height, chars.shape[1], num_layers * step)
        assert np.may_share_memory(slots, layers), "slots must be a view"
        slots[..., :char_width] = chars.transpose(0, 2, 1, 3)


def synthesize_lines_reference(
    texts: Sequence[str], pools: CharacterPools, draws: LineDraws, char_to_idx: dict[str, int], width: int
) -> np.ndarray:
    """The same lines, one character at a time (the straightforward implementation)."""
    height, char_width = pools.shape
    _check(texts, draws, width, char_width)
    out = np.zeros((len(texts), height, width), np.uint8)
    for n, text in enumerate(texts):
        step = char_width - int(draws.overlaps[n] * char_width)
        line = np.zeros((height, width), np.uint16)
        for j, char in enumerate(text):
            token = char_to_idx[char]
            count = pools.counts[token]
            if count == 0:
                continue  # no image for this character (the space): leave a gap
            image = pools.glyphs[pools.starts[token] + int(draws.uniforms[n, j] * count)]
            line[:, j * step : j * step + char_width] += image
        out[n] = np.minimum(line, 255)
    return out
