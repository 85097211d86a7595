"""The one image preprocessing of the project: any picture of text -> the model's input canvas.

Used when serving (predictor, Lambda handler, Gradio app) and by data modules that crop real
images (IAM), so a model sees at inference what it saw in training: grayscale, ink high
(1 = ink, 0 = paper), the text scaled to fit the canvas without changing its aspect ratio,
placed at the top left, padded with paper.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageOps


def ink_high(image: Image.Image) -> np.ndarray:
    """(H, W) float32 in [0, 1] with ink high. Dark-on-light pictures (most photos and scans)
    are inverted; light-on-dark ones (the training data's convention) are kept."""
    gray = np.asarray(ImageOps.exif_transpose(image).convert("L"), dtype=np.float32) / 255.0
    return 1.0 - gray if float(np.median(gray)) > 0.5 else gray


def fit_to_canvas(ink: np.ndarray, height: int, width: int) -> np.ndarray:
    """Scale ``ink`` (h, w) float by min(height / h, width / w) with antialiasing and pad it to
    (height, width) at the top left: (height, width) float32 in [0, 1]."""
    h, w = ink.shape
    if h < 1 or w < 1:
        raise ValueError(f"empty image of {w} x {h} pixels")
    scale = min(height / h, width / w)
    new_h, new_w = max(1, min(height, round(h * scale))), max(1, min(width, round(w * scale)))
    resized = Image.fromarray(ink.astype(np.float32), mode="F").resize((new_w, new_h), Image.Resampling.LANCZOS)
    canvas = np.zeros((height, width), np.float32)
    canvas[:new_h, :new_w] = np.clip(np.asarray(resized), 0.0, 1.0)
    return canvas


def to_model_input(image: Image.Image, height: int, width: int) -> np.ndarray:
    """Any PIL image -> (height, width) float32 in [0, 1], ink high, ready for the model."""
    return fit_to_canvas(ink_high(image), height, width)
