"""EMNISTLines synthesis speed: the vectorised generator beside the per-character reference.

    python -m model_package.bench emnist_lines [--num 5000] [--repeats 3]

Same parameters as the EMNISTLines defaults (max_length 32, overlap 0-0.33, 28 x 896 lines), the
same texts and random draws for both; the outputs are checked to be identical. Uses the processed
EMNIST characters when they are there, else random 28x28 images (speed does not depend on them).
"""

from __future__ import annotations

import argparse
import os
import time

import h5py
import numpy as np

from model_package.data.emnist import EMNIST
from model_package.data.line_synthesis import CharacterPools, LineDraws, synthesize_lines, synthesize_lines_reference
from model_package.data.text import SnippetSampler, offline_sentences, strip_punctuation
from model_package.metadata.vocabulary import CHARACTERS, LINE_VOCABULARY, Vocabulary


def _pools(vocabulary: Vocabulary, rng: np.random.Generator) -> tuple[CharacterPools, str]:
    path = EMNIST.processed_path()
    if path.exists():
        with h5py.File(path, "r") as f:
            images, tokens = f["x_train"][:], f["y_train"][:].astype(np.int64)
        return CharacterPools.from_labelled(images, tokens, len(vocabulary)), f"EMNIST train characters ({len(images)})"
    tokens = np.repeat(np.arange(4, 66), 500)
    images = rng.integers(0, 256, (len(tokens), 28, 28), dtype=np.uint8)
    return CharacterPools.from_labelled(images, tokens, len(vocabulary)), "random 28x28 characters (EMNIST not processed here)"


def _best_time(fn, repeats: int) -> tuple[float, np.ndarray]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num", type=int, default=5000, help="lines per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each; the best is reported")
    parser.add_argument("--max-length", type=int, default=32)
    parser.add_argument("--max-overlap", type=float, default=0.33)
    args = parser.parse_args(argv)

    vocabulary = Vocabulary(LINE_VOCABULARY)
    rng = np.random.default_rng(0)
    pools, pool_source = _pools(vocabulary, rng)
    max_chars, width = args.max_length - 2, 28 * args.max_length
    sentences = [s for s in map(strip_punctuation, offline_sentences(frozenset(CHARACTERS))) if s]
    sampler = SnippetSampler(sentences, max_chars)
    texts = [sampler.sample(rng) for _ in range(args.num)]
    draws = LineDraws.draw(args.num, max_chars, 0.0, args.max_overlap, rng)
    char_to_idx = vocabulary.char_to_idx

    cores = os.cpu_count() or 1
    runs = {
        "reference (per character)": lambda: synthesize_lines_reference(texts, pools, draws, char_to_idx, width),
        "vectorised, 1 thread": lambda: synthesize_lines(texts, pools, draws, char_to_idx, width, threads=1),
        f"vectorised, {cores} threads (default)": lambda: synthesize_lines(texts, pools, draws, char_to_idx, width),
    }
    print(f"EMNISTLines synthesis: {args.num} lines of up to {max_chars} characters, 28 x {width}, overlap 0-{args.max_overlap}")
    print(f"characters: {pool_source}; best of {args.repeats} runs; {cores} CPU cores")
    results = {}
    for name, fn in runs.items():
        seconds, images = _best_time(fn, args.repeats)
        results[name] = (seconds, images)
    reference_seconds, reference_images = results["reference (per character)"]
    print(f"{'implementation':<36} {'lines/s':>10} {'us/line':>9} {'speedup':>8}  identical")
    for name, (seconds, images) in results.items():
        same = "yes" if np.array_equal(images, reference_images) else "NO"
        print(f"{name:<36} {args.num / seconds:>10.0f} {seconds / args.num * 1e6:>9.1f} {reference_seconds / seconds:>7.1f}x  {same}")
    best = min(s for n, (s, _) in results.items() if n.startswith("vectorised"))
    print(f"emnist_lines speedup over the per-character reference: {reference_seconds / best:.1f}x")


if __name__ == "__main__":
    main()
