"""A picture of any data module: a grid of samples with their labels.

    python -m model_package.data.preview HandwritingFontLines --out lines.png
    python -m model_package.data.preview HandwritingFontParagraphs --split test --num 6 --out paras.png
    python -m model_package.data.preview HandwritingFontLines --init num_train=200 --out small.png
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import yaml
from PIL import Image, ImageDraw, ImageFont

import model_package.data as data_modules
from model_package.data.base_data_module import BaseDataModule
from model_package.data.io import atomic_path


def data_module_class(name: str) -> type[BaseDataModule]:
    cls = getattr(data_modules, name, None)
    if not (isinstance(cls, type) and issubclass(cls, BaseDataModule)) or cls is BaseDataModule:
        known = [n for n in data_modules.__all__ if n != "BaseDataModule"]
        raise SystemExit(f"error: unknown data module {name!r}; known: {', '.join(known)}")
    return cls


def preview_image(dm: BaseDataModule, split: str = "train", num: int = 8) -> Image.Image:
    """Samples of ``split`` stacked vertically, each under its label, dark ink on light paper."""
    dataset = {"train": dm.data_train, "val": dm.data_val, "test": dm.data_test}[split]
    vocab = dm.vocabulary
    font = ImageFont.load_default(size=14)
    tiles = []
    for i in range(min(num, len(dataset))):
        image, label = dataset[i]
        pixels = (255 - image.squeeze(0).numpy() * 255).round().astype(np.uint8)  # ink high -> dark ink
        text = vocab.decode(label.reshape(-1).tolist())  # a line's tokens, or one character's
        lines = text.split("\n")
        caption = Image.new("L", (pixels.shape[1], 18 * len(lines) + 4), 255)
        draw = ImageDraw.Draw(caption)
        for k, line in enumerate(lines):
            draw.text((2, 2 + 18 * k), f"{i}: {line}" if k == 0 else f"   {line}", font=font, fill=0)
        tiles += [np.asarray(caption), pixels, np.full((6, pixels.shape[1]), 180, np.uint8)]
    return Image.fromarray(np.concatenate(tiles, axis=0))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", help="data module class, e.g. HandwritingFontLines")
    parser.add_argument("--out", default=None, help="PNG to write (default: <name>-<split>.png)")
    parser.add_argument("--split", choices=["train", "val", "test"], default="train")
    parser.add_argument("--num", type=int, default=8, help="number of samples")
    parser.add_argument("--init", action="append", default=[], metavar="KEY=VALUE", help="data module argument (repeatable)")
    args = parser.parse_args(argv)
    kwargs = {}
    for item in args.init:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--init {item!r}: expected KEY=VALUE")
        kwargs[key] = yaml.safe_load(value)
    dm = data_module_class(args.name)(**kwargs)
    if hasattr(dm, "sized_for"):  # rendered data: render what is shown, not whole splits
        dm.sized_for(args.num)
    dm.prepare_data()
    dm.setup()
    out = args.out or f"{args.name}-{args.split}.png"
    with atomic_path(out) as tmp:
        preview_image(dm, args.split, args.num).save(tmp, format="PNG")
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
