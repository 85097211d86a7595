"""Predictor: a staged model (TorchScript) and the shared preprocessing, nothing else.

    python -m model_package.predict line.png https://example.com/note.jpg [--model PATH]

With no ``--model``, the default model shipped in ``model_package/artifacts/`` is used.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import Image

from model_package.data.preprocess import to_model_input
from model_package.serving.images import BadImage, fetch_url, is_public_address, open_image

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "artifacts" / "text_recognizer.pt"


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

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        """PIL image -> (1, H, W) float in [0, 1], ink high, the model's input size."""
        return torch.from_numpy(to_model_input(image, self.height, self.width))[None]

    @torch.no_grad()
    def predict_batch(self, images: Sequence[Image.Image]) -> list[str]:
        batch = torch.stack([self.preprocess(image) for image in images])  # (B, 1, H, W)
        return list(self.module.predict_text(batch))

    def predict(self, image: Image.Image | str | Path, allow_private: bool = False) -> str:
        """Text of one image: a PIL image, a file path, or an http(s) URL.

        URLs are fetched from public hosts only: a service that passes on a URL from a request
        must not let it reach loopback, private or cloud-metadata addresses (server-side request
        forgery). ``allow_private=True`` lifts that for a trusted caller (the command line)."""
        if not isinstance(image, Image.Image):
            image = load_image(str(image), allow_private=allow_private)
        return self.predict_batch([image])[0]


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
