"""Score a staged model per hand, on lines and on pages, as users compare recognisers.

    python -m model_package.evaluate                       # the shipped model, validation and test hands
    python -m model_package.evaluate --model my.pt --splits test --lines 60 --pages 4 --out results.json
    python -m model_package.evaluate --ctc-decode-weight 0   # the same model, its decoder alone

For each hand of each split (the npm manifest's 10 validation and 10 test hands, or the packaged
ones without npm) it renders ``--lines`` lines of that split's held-out Brown documents (never in
training) and ``--pages`` pages of 3-8 consecutive wrapped lines, and reads them through the
predictor, exactly as a user's pictures are read (lines whole, pages through the line finder):

- lines, ``augmented``: with the training data's writer and scan variation (its default ranges);
- lines, ``clean``: the hand alone, as a font draws it;
- pages: the hand's variation, a skew of up to 2 degrees, one paper and pen a page; scored on the
  page's whole text (lines joined by ``\\n``), so a line missed or split counts against it.

CER is torchmetrics' (edit distance over the reference's characters, summed over all samples of a
hand); "all" averages the hands' CERs, weighted by their reference characters for lines (so it
is the CER of every line of the split pooled) and equally for pages. Seeded: the same model gives
the same figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image
from torchmetrics.functional.text import char_error_rate
from tqdm import tqdm

from model_package.data.font_download import default_font_splits
from model_package.data.render import Augmentation, render_line, render_page
from model_package.data.text import SnippetSampler, text_splits
from model_package.metadata.vocabulary import CHARACTERS

SPLIT_SEEDS = {"val": 1, "test": 2}


def _picture(ink: np.ndarray) -> Image.Image:
    """A rendering (ink high) as a user's picture: dark ink on light paper."""
    return Image.fromarray(255 - ink)


def evaluate_hand(predictor, font: str, sampler: SnippetSampler, lines: int, pages: int, seed: int,
                  ruled: bool = False) -> dict:
    """CERs of one hand: augmented lines, clean lines, pages (on lined paper if ``ruled``); with a
    few examples of each."""
    rng = np.random.default_rng(seed)
    height, width = predictor.height, predictor.width
    result: dict = {}
    for kind, aug in [("augmented", Augmentation()), ("clean", Augmentation.none())]:
        texts = [sampler.sample(rng) for _ in range(lines)]
        images = [_picture(render_line(t, font, height, width, rng, aug)) for t in texts]
        preds = predictor.predict_batch(images)
        result[kind] = {"cer": float(char_error_rate(preds, texts)), "n": lines, "chars": sum(map(len, texts)),
                        "examples": [[t, p] for t, p in list(zip(texts, preds))[:3]]}
    page_preds, page_texts = [], []
    for _ in range(pages):
        texts = sampler.sample_lines(rng, int(rng.integers(3, 9)))
        page = render_page(texts, font, rng, Augmentation(neighbours=0.0), size=int(rng.integers(32, 56)),
                           pitch=(1.25, 1.7), skew_degrees=float(rng.uniform(-2, 2)), ruled=ruled)
        page_preds.append(predictor.read(_picture(page)).text)
        page_texts.append("\n".join(texts))
    if pages:
        found = [p.count("\n") + 1 if p else 0 for p in page_preds]
        written = [t.count("\n") + 1 for t in page_texts]
        result["pages"] = {"cer": float(char_error_rate(page_preds, page_texts)), "n": pages,
                           "lines_found_right": int(sum(f == w for f, w in zip(found, written))),
                           "examples": [[page_texts[0], page_preds[0]]]}
    return result


def evaluate(predictor, splits: list[str], lines: int, pages: int, max_length: int = 100, ruled: bool = False) -> dict:
    """{split: {hand: result, "all": pooled CERs}} for the model behind ``predictor``."""
    source, sentences = text_splits("brown", frozenset(CHARACTERS))
    hands = default_font_splits()
    report: dict = {"text": source, "lines_per_hand": lines, "pages_per_hand": pages, "ruled_pages": ruled}
    for split in splits:
        sampler = SnippetSampler(sentences[split], max_length)
        per_hand = {}
        for k, font in enumerate(tqdm(hands[split], desc=f"reading the {split} hands", unit="hand")):
            per_hand[font] = evaluate_hand(predictor, font, sampler, lines, pages, seed=SPLIT_SEEDS[split] * 1000 + k, ruled=ruled)
        pooled = {}
        for kind in ("augmented", "clean", "pages"):
            rows = [r[kind] for r in per_hand.values() if kind in r]
            if rows:  # pooled over the hands, weighted by characters where known
                weights = [r.get("chars", 1) for r in rows]
                pooled[kind] = float(np.average([r["cer"] for r in rows], weights=weights))
        report[split] = {"hands": per_hand, "all": pooled}
    return report


def table(report: dict) -> str:
    """The report as Markdown: one row a hand, the pooled figures last."""
    out = []
    for split in ("val", "test"):
        if split not in report:
            continue
        out += [f"\n{split} hands | lines, augmented | lines, clean | pages", "--- | ---: | ---: | ---:"]
        rows = list(report[split]["hands"].items()) + [("**all**", {k: {"cer": v} for k, v in report[split]["all"].items()})]
        for hand, r in rows:
            cells = [f"{r[k]['cer']:.3f}" if k in r else "-" for k in ("augmented", "clean", "pages")]
            out.append(" | ".join([hand] + cells))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    from model_package.serving.predictor import Predictor

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="staged model (default: the shipped one)")
    parser.add_argument("--splits", nargs="+", default=["val", "test"], choices=["val", "test"])
    # 40 and 3: the setting of the model card's tables, so the bare command gives its figures
    parser.add_argument("--lines", type=int, default=40, help="lines per hand, each of augmented and clean")
    parser.add_argument("--pages", type=int, default=3, help="pages per hand")
    parser.add_argument("--ruled", action="store_true", help="pages on lined paper (each line written on a rule)")
    parser.add_argument("--out", default=None, help="write the whole report (examples included) as JSON here")
    parser.add_argument("--ctc-decode-weight", type=float, default=None,
                        help="share of the CTC head in decoding, 0..1 (0: the decoder alone); default: the model's")
    args = parser.parse_args(argv)
    if args.lines < 1 or args.pages < 0:
        parser.error("--lines must be positive and --pages non-negative")
    predictor = Predictor(args.model)
    weight = float(predictor.metadata.get("ctc_decode_weight") or 0.0)
    if args.ctc_decode_weight is not None:
        if not weight:
            parser.error(f"--ctc-decode-weight: {predictor.path} decodes without a CTC head (none, or staged before joint decoding)")
        if not 0 <= args.ctc_decode_weight <= 1:
            parser.error(f"--ctc-decode-weight must be in [0, 1], got {args.ctc_decode_weight}")
        weight = predictor.module.model.ctc_decode_weight = args.ctc_decode_weight
    start = time.perf_counter()
    report = evaluate(predictor, args.splits, args.lines, args.pages, max_length=_max_length(predictor), ruled=args.ruled)
    report["model"] = str(predictor.path)
    report["ctc_decode_weight"] = weight
    report["seconds"] = round(time.perf_counter() - start, 1)
    print(table(report))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1))
        print(f"report written to {args.out}", file=sys.stderr)


def _max_length(predictor) -> int:
    """The longest line the model reads: its sequence length less <S> and <E>."""
    hparams = predictor.metadata.get("hparams", {})
    return int(hparams.get("max_seq_length", 102)) - 2


if __name__ == "__main__":
    main()
