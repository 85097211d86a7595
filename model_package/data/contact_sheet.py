"""A contact sheet of the hands: each font of the default splits writing the same sentence,
labelled with its name, split and style, clean (no augmentation).

    python -m model_package.data.contact_sheet --out docs/hands.png [--columns 2]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from model_package.data.font_download import default_font_splits, read_manifest
from model_package.data.io import atomic_path
from model_package.data.render import Augmentation, render_line

SENTENCE = 'The quick brown fox jumps over the lazy dog, said "Mary" (1-2-3)?'


def contact_sheet(columns: int = 2, height: int = 32, width: int = 760, text: str = SENTENCE) -> Image.Image:
    styles = {f.family: f.style for f in read_manifest()}
    hands = [(family, split) for split, families in default_font_splits().items() for family in families]
    label = ImageFont.load_default(size=13)
    label_w = 230
    rows = -(-len(hands) // columns)
    sheet = Image.new("L", (columns * (label_w + width), rows * (height + 6)), 255)
    draw = ImageDraw.Draw(sheet)
    for i, (family, split) in enumerate(hands):
        x, y = (i // rows) * (label_w + width), (i % rows) * (height + 6)
        line = render_line(text, family, height, width, np.random.default_rng(0), Augmentation.none())
        sheet.paste(Image.fromarray(255 - line), (x + label_w, y + 3))
        draw.text((x + 4, y + height // 2 - 6), f"{family} ({split}, {styles.get(family, 'packaged')})", font=label, fill=0)
    return sheet


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="hands.png")
    parser.add_argument("--columns", type=int, default=2)
    args = parser.parse_args(argv)
    with atomic_path(args.out) as tmp:
        contact_sheet(args.columns).save(tmp, format="PNG", optimize=True)
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
