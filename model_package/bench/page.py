"""Reading pages: all lines of a page in one batch vs one line at a time, same model, same lines.

    python -m model_package.bench page [--pages 4] [--lines 6] [--model PATH]

Renders ``--pages`` pages of ``--lines`` lines of held-out text in held-out hands, finds their
lines once (timed on its own), then reads the found lines batched (what the predictor does) and
one by one. Prints lines/s and seconds per page for both, and checks they give the same text.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from PIL import Image

from model_package.data.font_download import default_font_splits
from model_package.data.page import find_lines
from model_package.data.preprocess import ink_high, place_line
from model_package.data.render import Augmentation, render_page
from model_package.data.text import SnippetSampler, text_splits
from model_package.metadata.vocabulary import CHARACTERS


def main(argv: list[str] | None = None) -> None:
    from model_package.serving.predictor import Predictor

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=4)
    parser.add_argument("--lines", type=int, default=6, help="lines per page")
    parser.add_argument("--model", default=None, help="staged model (default: the shipped one)")
    args = parser.parse_args(argv)
    if args.pages < 1 or args.lines < 1:
        parser.error("--pages and --lines must be positive")
    predictor = Predictor(args.model)
    source, sentences = text_splits("brown", frozenset(CHARACTERS))
    sampler = SnippetSampler(sentences["test"], max_length=min(60, predictor.width // 12))
    hands = default_font_splits()["test"]
    rng = np.random.default_rng(0)
    pictures = [
        Image.fromarray(255 - render_page(sampler.sample_lines(rng, args.lines), hands[k % len(hands)], rng,
                                          Augmentation(neighbours=0.0), size=40, pitch=(1.3, 1.6), skew_degrees=1.0))
        for k in range(args.pages)
    ]
    print(f"{args.pages} pages of {args.lines} lines ({source} text, test hands), model {predictor.path.name} "
          f"({predictor.height} x {predictor.width})")
    start = time.perf_counter()
    inputs = [[place_line(line.ink, predictor.height, predictor.width) for line in find_lines(ink_high(p))] for p in pictures]
    finding = time.perf_counter() - start
    found = sum(map(len, inputs))
    predictor.recognise(inputs[0][:1])  # warm-up
    results = {}
    for name, read in [("one line at a time", lambda xs: [predictor.recognise([x])[0] for x in xs]),
                       ("batched (the predictor)", predictor.recognise)]:
        start = time.perf_counter()
        texts = [read(page) for page in inputs]
        results[name] = (time.perf_counter() - start, texts)
    print(f"finding lines: {finding / args.pages:.3f} s a page ({found} lines found, {args.pages * args.lines} written)")
    print(f"{'reading':<26} {'lines/s':>8} {'s/page':>8} {'vs one at a time':>17}")
    reference = results["one line at a time"][0]
    for name, (seconds, _) in results.items():
        print(f"{name:<26} {found / seconds:>8.1f} {seconds / args.pages:>8.2f} {reference / seconds:>16.2f}x")
    same = results["one line at a time"][1] == results["batched (the predictor)"][1]
    print(f"same text both ways: {'yes' if same else 'NO'}")
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
