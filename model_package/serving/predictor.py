"""Predictor: a staged model (TorchScript) and the shared preprocessing, nothing else.

    python -m model_package.predict line.png page.jpg https://example.com/note.jpg [--model PATH]

With no ``--model``, the default model shipped in ``model_package/artifacts/`` is used.

A picture may hold one line or several (a page, a note, a paragraph). A line model reads a page
line by line: :func:`~model_package.data.page.find_lines` finds the lines, each is placed as
training places a line, all are read in one batch, and the answer has ``\n`` between them. A
picture with one line is read whole, as it always was. A paragraph model (its artifact says
``input_kind: page``) is given the whole page instead.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from model_package.data.page import find_lines
from model_package.data.preprocess import crop_to_ink, fit_to_canvas, ink_high, place_line, to_model_input
from model_package.serving.images import MAX_PIXELS, BadImage, fetch_url, is_public_address, open_image

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "artifacts" / "text_recognizer.pt"
BATCH = 32  # line crops read at once


@dataclass(frozen=True)
class LineReading:
    text: str
    polygon: tuple[tuple[float, float], ...]  # (x, y) corners on the picture, clockwise from top left


@dataclass(frozen=True)
class Reading:
    """What a picture says: ``text`` (lines joined by ``\n``) and each line with where it is."""

    text: str
    lines: list[LineReading]


class Predictor:
    """Reads text from images with a staged model."""

    def __init__(self, model_path: str | Path | None = None):
        path = Path(model_path or DEFAULT_MODEL)
        if not path.is_file():
            raise FileNotFoundError(f"no model at {path}; stage one with training/stage_model.py")
        extra = {"metadata.json": ""}
        with warnings.catch_warnings():  # PyTorch flags TorchScript as deprecated; it is what the artifact is
            warnings.filterwarnings("ignore", message=r".*torch\.jit\.load. is deprecated", category=FutureWarning)
            self.module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
        self.module.eval()
        self.metadata = json.loads(extra["metadata.json"] or "{}")
        self.path = path
        self.height, self.width = int(self.module.input_height), int(self.module.input_width)
        # artifacts staged before input_kind was recorded: a vocabulary with a newline reads pages
        self.input_kind = self.metadata.get("input_kind") or ("page" if "\n" in list(self.module.idx_to_char) else "line")

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        """PIL image -> (1, H, W) float in [0, 1], ink high, the model's input size."""
        return torch.from_numpy(to_model_input(image, self.height, self.width))[None]

    def predict_batch(self, images: Sequence[Image.Image]) -> list[str]:
        """Pictures of ONE line each, read in batches (no line finding)."""
        return self.recognise([to_model_input(image, self.height, self.width) for image in images])

    @torch.no_grad()
    def recognise(self, inputs: Sequence[np.ndarray]) -> list[str]:
        """Model inputs (each (H, W) float, ink high, placed) -> their texts, ``BATCH`` at a time."""
        texts: list[str] = []
        for start in range(0, len(inputs), BATCH):
            batch = torch.from_numpy(np.stack(inputs[start : start + BATCH]))[:, None]  # (B, 1, H, W)
            texts += list(self.module.predict_text(batch))
        return texts

    def read(self, image: Image.Image) -> Reading:
        """The text of a picture of one line or several, and where each line is. A picture over
        ``MAX_PIXELS`` is refused (:class:`BadImage`) before any work."""
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise BadImage(f"image of {width} x {height} pixels exceeds {MAX_PIXELS} pixels", status=413)
        ink = ink_high(image)  # (H, W), ink high
        if self.input_kind == "page":
            return self._read_whole(ink)
        lines = find_lines(ink)
        if len(lines) <= 1:  # one line (or none): the whole picture, as a line always was read
            texts = self.recognise([place_line(ink, self.height, self.width)]) if lines else []
        else:
            texts = self.recognise([place_line(line.ink, self.height, self.width) for line in lines])
        return Reading("\n".join(texts), [LineReading(t, line.polygon) for t, line in zip(texts, lines)])

    def _read_whole(self, ink: np.ndarray) -> Reading:
        """A paragraph model: the page's ink, cropped, scaled so its line pitch is the one the model
        was trained at (``line_pitch`` in the artifact; else as large as fits), top left."""
        lines = find_lines(ink)
        if not lines:
            return Reading("", [])
        crop = crop_to_ink(ink)
        pitch = self.metadata.get("line_pitch")
        if pitch and len(lines) > 1:
            centres = [sum(y for _, y in line.polygon) / 4 for line in lines]
            scale = float(pitch) / float(np.median(np.diff(centres)))
            size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
            crop = np.asarray(Image.fromarray(crop, mode="F").resize(size, Image.Resampling.LANCZOS))
            # padded with paper to at least the canvas, so fit_to_canvas only shrinks what is too large
            crop = np.pad(crop, ((0, max(0, self.height - crop.shape[0])), (0, max(0, self.width - crop.shape[1]))))
        text = self.recognise([fit_to_canvas(crop, self.height, self.width)])[0]
        return Reading(text, [LineReading(t, line.polygon) for t, line in zip(text.split("\n"), lines)])

    def predict(self, image: Image.Image | str | Path, allow_private: bool = False) -> str:
        """Text of one image (one line or a page: ``\\n`` between lines): a PIL image, a file
        path, or an http(s) URL.

        URLs are fetched from public hosts only: a service that passes on a URL from a request
        must not let it reach loopback, private or cloud-metadata addresses (server-side request
        forgery). ``allow_private=True`` lifts that for a trusted caller (the command line)."""
        if not isinstance(image, Image.Image):
            image = load_image(str(image), allow_private=allow_private)
        return self.read(image).text


def load_image(source: str, allow_private: bool = False) -> Image.Image:
    """An image from a file path or an http(s) URL (only public hosts unless ``allow_private``)."""
    if source.startswith(("http://", "https://")):
        data = fetch_url(source, allow=(lambda address: True) if allow_private else is_public_address)
    else:
        path = Path(source)
        if not path.is_file():
            raise BadImage(f"no such file: {source}")
        data = path.read_bytes()
    return open_image(data)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files or http(s) URLs")
    parser.add_argument("--model", default=None, help=f"staged model (default: {DEFAULT_MODEL})")
    args = parser.parse_args(argv)
    try:
        predictor = Predictor(args.model)
    except (FileNotFoundError, RuntimeError) as err:
        sys.exit(f"error: {err}")
    failed = False
    for source in args.images:
        try:
            text = predictor.predict(source, allow_private=True)  # the user's own hosts are theirs to read
        except BadImage as err:
            print(f"{source}\terror: {err}", file=sys.stderr)
            failed = True
            continue
        print(f"{source}\t{text}" if len(args.images) > 1 else text)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
