"""Renderer speed and geometry: lines/s of the handwriting-font renderer, one process and all
cores, for the quickstart's short lines and the long-line setting, augmented and clean; and how
many pixels a character takes at each line height (what a line width must hold).

    python -m model_package.bench render [--num 400]

Uses the default hands and text (npm's fonts and Brown when npm can fetch them, else the packaged
ones: the line says which).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from model_package.data.font_download import default_font_splits
from model_package.data.handwriting_fonts import _RenderSpec, _text_digest, render_split
from model_package.data.preprocess import INK_THRESHOLD
from model_package.data.render import Augmentation, render_line
from model_package.data.text import SnippetSampler, text_splits
from model_package.metadata.vocabulary import CHARACTERS

GEOMETRIES = {  # name: (line height, line width, max characters)
    "quickstart (32 x 320, <= 32 chars)": (32, 320, 32),
    "long lines (48 x 1600, <= 100 chars)": (48, 1600, 100),
}


def _spec(fonts, text, digest, height, width, length, num, augmentation) -> _RenderSpec:
    return _RenderSpec(kind="lines", split="train", fonts=fonts, num=num, seed=0, max_length=length, line_height=height,
                       line_width=width, max_lines=1, augmentation=augmentation, text=text, text_digest=digest)  # fmt: skip


def _pixels_per_character(fonts, sentences, height: int, length: int, num: int) -> np.ndarray:
    """Ink width / characters of ``num`` clean full lines placed at ``height`` without a width
    limit: the natural width a line of text takes."""
    sampler = SnippetSampler(sentences, length, min_length=length * 3 // 4)
    ratios = []
    for i in range(num):
        rng = np.random.default_rng([7, i])
        text = sampler.sample(rng)
        image = render_line(text, fonts[i % len(fonts)], height, 40 * height * 8, rng, Augmentation.none(), degraded=False)
        cols = np.flatnonzero(image.max(axis=0) > INK_THRESHOLD * 255)
        ratios.append((cols[-1] - cols[0] + 1) / len(text))
    return np.array(ratios)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num", type=int, default=400, help="lines per measurement")
    args = parser.parse_args(argv)
    fonts = default_font_splits()["train"]
    source, splits = text_splits("brown", frozenset(CHARACTERS))
    digest = _text_digest(source, splits)
    cores = os.cpu_count() or 1
    print(f"{len(fonts)} training hands, {source} text, {cores} cores, {args.num} lines a measurement\n")
    print(f"{'geometry':40s} {'augmentation':>12s} {'1 process':>12s} {f'{cores} processes':>12s}")
    for name, (height, width, length) in GEOMETRIES.items():
        for label, augmentation in [("full", Augmentation()), ("none", None)]:
            spec = _spec(fonts, source, digest, height, width, length, args.num, augmentation)
            rates = []
            for processes in (1, cores):
                render_split(spec, processes=1, chunk=10)  # warm: fonts loaded, text indexed
                start = time.perf_counter()
                render_split(spec, processes=processes, chunk=max(10, args.num // (4 * processes)))
                rates.append(args.num / (time.perf_counter() - start))
            print(f"{name:40s} {label:>12s} {rates[0]:>9.0f}/s {rates[1]:>9.0f}/s")
    print("\npixels per character of full lines at their natural width (clean, all training hands):")
    for name, (height, width, length) in GEOMETRIES.items():
        ratios = _pixels_per_character(fonts, splits["train"], height, length, min(args.num, 4 * len(fonts)))
        fits = np.mean(ratios * length <= width - 8)
        print(f"  {name}: median {np.median(ratios):.1f}, 95th percentile {np.percentile(ratios, 95):.1f} px "
              f"({np.median(ratios) / height:.2f} x the height); a {length}-character line fits unsqueezed in "
              f"{width} px for {fits:.0%} of them")  # fmt: skip


if __name__ == "__main__":
    main()
