"""Turn a Lightning checkpoint into one self-contained, deployable artifact (TorchScript).

    python training/stage_model.py runs/quickstart/<run>/checkpoints/last.ckpt   # -> runs/quickstart/<run>/text_recognizer.pt
    python training/stage_model.py CKPT --out my_model.pt
    python training/stage_model.py CKPT --as-default     # replace the shipped model_package/artifacts/text_recognizer.pt

The artifact holds the weights, the vocabulary and the preprocessing parameters (input height,
width, ink convention) and loads with ``torch.jit.load`` alone. The checkpoint is read with
``weights_only=True`` (no arbitrary code from a pickle). Before writing, the artifact's
predictions are checked against the checkpoint's on rendered validation-font lines and random
images: they must be the same token ids. The file is written atomically.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
import yaml

from model_package.data.io import atomic_path
from model_package.data.render import Augmentation, render_line
from model_package.lit_models import LitTransformer
from model_package.metadata import handwriting_fonts
from model_package.metadata.vocabulary import NEWLINE
from model_package.models.resnet import ResNetConfig
from model_package.models.staged import script

SHIPPED = Path(__file__).resolve().parents[1] / "model_package" / "artifacts" / "text_recognizer.pt"
ARTIFACT_NAME = "text_recognizer.pt"


def run_folder(checkpoint: str | Path) -> Path:
    """The run a checkpoint belongs to: ``<run>/checkpoints/x.ckpt`` -> ``<run>`` (else its folder)."""
    folder = Path(checkpoint).resolve().parent
    return folder.parent if folder.name == "checkpoints" else folder


def default_out(checkpoint: str | Path) -> Path:
    """Beside the run, not over the shipped model: ``<run>/checkpoints/x.ckpt`` -> ``<run>/text_recognizer.pt``."""
    return run_folder(checkpoint) / ARTIFACT_NAME


def load_checkpoint(path: str | Path) -> LitTransformer:
    """The LitTransformer of a checkpoint, loaded without unpickling arbitrary objects."""
    with torch.serialization.safe_globals([ResNetConfig]):
        lit = LitTransformer.load_from_checkpoint(path, map_location="cpu", weights_only=True)
    return lit.eval()


def check_images(lit: LitTransformer, num: int = 8) -> torch.Tensor:
    """(num, C, H, W): lines rendered in a validation font (the model's own input shape), and noise."""
    channels, height, width = lit.model.input_dims
    rng = np.random.default_rng(0)
    font = handwriting_fonts.VAL_FONTS[0]
    words = ["Staging checks", "the same tokens", "come out of both", "models 0123 ?!"]
    lines = [render_line(w, font, min(height, 64), width, rng, Augmentation.none()) for w in words]
    images = np.zeros((num, channels, height, width), np.float32)
    for i, line in enumerate(lines[: num // 2]):
        images[i, 0, : line.shape[0]] = line / 255.0
    images[num // 2 :] = rng.random((num - num // 2, channels, height, width), dtype=np.float32)
    return torch.from_numpy(images)


def run_line_pitch(checkpoint: str | Path) -> int | None:
    """The line pitch a paragraph model trained at, from its run's config.yaml (beside the
    ``checkpoints/`` folder): ``line_pitch`` (IAM paragraphs) or ``line_height`` (rendered
    paragraphs, one line a band). None when there is no such file or value."""
    config = run_folder(checkpoint) / "config.yaml"
    if not config.is_file():
        return None
    data = (yaml.safe_load(config.read_text()) or {}).get("data") or {}
    args = data.get("init_args") or {}
    pitch = args.get("line_pitch") or args.get("line_height")
    return int(pitch) if pitch else None


def stage(checkpoint: str | Path, out: str | Path, card: dict | None = None, line_pitch: int | None = None) -> Path:
    """``line_pitch`` (pages only): the pixels a line of text takes in the model's input, so the
    predictor scales a page to it; default: from the run's config.yaml."""
    lit = load_checkpoint(checkpoint)
    vocabulary = lit.vocabulary
    module = script(lit.model, vocabulary.idx_to_char, vocabulary.blank_index)
    images = check_images(lit)
    expected = lit.model.predict(images)
    got = module(images)
    if not torch.equal(expected, got):
        rows = (expected != got).any(dim=1).nonzero().flatten().tolist()
        raise RuntimeError(f"the TorchScript artifact disagrees with the checkpoint on images {rows}")
    page = NEWLINE in vocabulary.idx_to_char
    metadata = {
        "checkpoint": str(checkpoint),
        "input_kind": "page" if page else "line",  # a page model reads whole pages, a line model line crops
        "line_pitch": (line_pitch or run_line_pitch(checkpoint)) if page else None,
        "input_dims": list(lit.model.input_dims),
        "idx_to_char": vocabulary.idx_to_char,
        "hparams": {k: v for k, v in lit.hparams.items() if k not in ("idx_to_char", "resnet")},
        "ctc_decode_weight": lit.model.ctc_decode_weight,  # 0 without a CTC head: the decoder reads alone
        "resnet": vars(lit.hparams["resnet"]) if "resnet" in lit.hparams else None,
        **(card or {}),
    }
    out = Path(out)
    with atomic_path(out) as tmp, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit\.save. is deprecated", category=FutureWarning)
        torch.jit.save(module, str(tmp), _extra_files={"metadata.json": json.dumps(metadata, default=str)})
    print(f"staged {checkpoint} -> {out} ({out.stat().st_size / 1e6:.1f} MB); predictions identical on {len(images)} images")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="a Lightning checkpoint of LitTransformer")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--out", help=f"artifact to write (default: {ARTIFACT_NAME} in the checkpoint's run folder)")
    where.add_argument("--as-default", action="store_true", help=f"overwrite the shipped default model ({SHIPPED})")
    parser.add_argument("--line-pitch", type=int, default=None,
                        help="paragraph models: pixels a line takes in the model's input (default: from the run's config.yaml)")
    args = parser.parse_args(argv)
    if not Path(args.checkpoint).is_file():
        sys.exit(f"error: no such checkpoint: {args.checkpoint}")
    stage(args.checkpoint, SHIPPED if args.as_default else args.out or default_out(args.checkpoint), line_pitch=args.line_pitch)


if __name__ == "__main__":
    main()
