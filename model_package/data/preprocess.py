"""The one image preprocessing of the project: any picture of a line of text -> the model's input.

Shared by serving (predictor, Lambda handler, Gradio app) and by the renderer of the training
data, which places its lines with the same policy: grayscale, ink high (1 = ink, 0 = paper), cropped
to the ink, scaled so the text is ``height - 2 * margin`` rows tall (``LINE_MARGIN_FRACTION`` of
the height above and below, as in training) without changing its aspect ratio (squeezed only if
too wide), placed at the left, padded with paper.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageOps
from scipy import ndimage

LINE_MARGIN_FRACTION = 1 / 16  # paper above and below the text, as a fraction of the line height
INK_THRESHOLD = 32 / 255  # a pixel darker than this above the paper is ink
LEFT_MARGIN = 4  # pixels of paper before the first stroke
MIN_CONTRAST = 24 / 255  # ink must differ from the paper by this much somewhere, or the picture is blank
SURROUND_DARKNESS = 0.6  # around a photographed sheet: darker than this fraction of the paper's brightness ...
SURROUND_SIDE = 0.25  # ... along at least this fraction of a side of the picture
SURROUND_SHEET = 0.2  # ... leaving a sheet of at least this fraction of the picture


def line_margin(height: int) -> int:
    return max(1, int(height * LINE_MARGIN_FRACTION))


def ink_high(image: Image.Image) -> np.ndarray:
    """(H, W) float32 in [0, 1] with ink high and the paper at 0. Dark-on-light pictures (most
    photos and scans) are inverted; light-on-dark ones (the training data's convention) are kept.

    The paper is measured around every pixel (:func:`paper_level`), so a shadow or a lamp's
    gradient across a photo stays paper instead of turning into ink. The darkest ink becomes 1,
    unless nothing differs from the paper by ``MIN_CONTRAST``: a blank sheet stays blank (all 0)
    instead of having its grain stretched into strokes. In a photo of a sheet lying on a darker
    desk (:func:`around_the_sheet`) the desk is paper, and the sheet alone decides the polarity."""
    gray = np.asarray(ImageOps.exif_transpose(image).convert("L"), dtype=np.float32) / 255.0
    outside = around_the_sheet(gray)
    dark_ink = float(np.median(gray if outside is None else gray[~outside])) > 0.5  # the sheet's own brightness
    if not dark_ink:
        outside = None  # light ink on dark paper: that dark is the paper
    if outside is not None:  # the sheet's own paper carried out over the desk: no false ink at its edge
        nearest = ndimage.distance_transform_edt(outside, return_distances=False, return_indices=True)
        gray = gray[nearest[0], nearest[1]]
    paper = paper_level(gray, dark_ink)
    ink = paper - gray if dark_ink else gray - paper  # >= 0: the window's brightest pixel is above the grain
    sheet = ink if outside is None else ink[~outside]
    ink = np.clip(ink - float(np.median(sheet)), 0.0, None)  # the typical paper pixel at 0 again
    if outside is not None:
        ink[outside] = 0.0
    darkest = float(ink.max())
    if darkest < MIN_CONTRAST:
        return np.zeros_like(ink)
    return np.clip(ink / darkest, 0.0, 1.0)


def around_the_sheet(gray: np.ndarray) -> np.ndarray | None:
    """(H, W) bool, True around the sheet in a photo of one lying on a desk or a table; None when
    the picture is all sheet (a scan, a crop). Around the sheet: regions darker than
    ``SURROUND_DARKNESS`` of the paper's brightness, far thicker than a pen stroke, along at least
    ``SURROUND_SIDE`` of a side of the picture, around a sheet of at least ``SURROUND_SHEET`` of
    it (else the dark is the paper, written on in light ink). Left in, the band of desk beside the
    sheet passes for ink, one stroke around the whole page, and the page's lines merge into it. A
    desk lighter than ``SURROUND_DARKNESS`` of the paper is not found (a shadow on the sheet must
    not be taken for it)."""
    h, w = gray.shape
    step = max(1, min(h, w) // 200)  # a coarse view, about 200 px on its short side
    hc, wc = h // step, w // step
    coarse = gray[: hc * step, : wc * step].reshape(hc, step, wc, step).mean(axis=(1, 3))  # (hc, wc)
    dark = coarse < SURROUND_DARKNESS * float(np.percentile(coarse, 90))
    dark = ndimage.binary_opening(dark, np.ones((5, 5), bool))  # strokes go, a desk stays
    labels, count = ndimage.label(dark)
    if count == 0:
        return None
    sides = [(labels[0], wc), (labels[-1], wc), (labels[:, 0], hc), (labels[:, -1], hc)]
    along = np.zeros(count + 1, bool)  # per region: along a side of the picture
    for side, length in sides:
        along |= np.bincount(side, minlength=count + 1) >= SURROUND_SIDE * length
    along[0] = False
    if not along.any():
        return None
    outside = np.repeat(np.repeat(along[labels], step, axis=0), step, axis=1)  # (hc * step, wc * step)
    outside = np.pad(outside, ((0, h - hc * step), (0, w - wc * step)), mode="edge")  # (H, W)
    if step > 1:
        outside = ndimage.binary_dilation(outside, iterations=step)  # the coarse edge, and a little more
    return outside if (~outside).mean() >= SURROUND_SHEET else None  # else the dark is the paper (light ink on it)


def paper_level(gray: np.ndarray, dark_ink: bool) -> np.ndarray:
    """(H, W) brightness of the paper under each pixel: the brightest (for dark ink) pixel within a
    window wider than a pen stroke, smoothed over the same window. Strokes vanish from it; slow
    changes of the light across the sheet stay."""
    size = int(np.clip(min(gray.shape) // 3, 15, 51))
    level = ndimage.maximum_filter(gray, size) if dark_ink else ndimage.minimum_filter(gray, size)
    return ndimage.uniform_filter(level, size)


def crop_to_ink(ink: np.ndarray, threshold: float = INK_THRESHOLD) -> np.ndarray:
    """The smallest box holding the ink (pixels above ``threshold`` whose 3 x 3 neighbourhood is
    too, on average: a stroke, even one pixel wide, is kept, a lone speck of paper grain is not);
    the image itself when it has none."""
    mask = (ink > threshold) & (ndimage.uniform_filter(ink.astype(np.float32), 3) > threshold)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return ink
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def fit_to_canvas(ink: np.ndarray, height: int, width: int, margin: int = 0, left: int = 0) -> np.ndarray:
    """Scale ``ink`` (h, w) float to ``height - 2 * margin`` rows (fewer if it would not fit the
    width), place it at (margin, left) of a (height, width) float32 canvas of paper."""
    h, w = ink.shape
    if h < 1 or w < 1:
        raise ValueError(f"empty image of {w} x {h} pixels")
    rows, cols = height - 2 * margin, width - left
    scale = min(rows / h, cols / w)
    new_h, new_w = max(1, min(rows, round(h * scale))), max(1, min(cols, round(w * scale)))
    resized = Image.fromarray(ink.astype(np.float32), mode="F").resize((new_w, new_h), Image.Resampling.LANCZOS)
    canvas = np.zeros((height, width), np.float32)
    canvas[margin : margin + new_h, left : left + new_w] = np.clip(np.asarray(resized), 0.0, 1.0)
    return canvas


def place_line(ink: np.ndarray, height: int, width: int) -> np.ndarray:
    """A line's ink (h, w) float, ink high -> cropped to the ink and placed as training lines are:
    (height, width) float32, text between the margins, ``LEFT_MARGIN`` from the left."""
    return fit_to_canvas(crop_to_ink(ink), height, width, margin=line_margin(height), left=LEFT_MARGIN)


def to_model_input(image: Image.Image, height: int, width: int) -> np.ndarray:
    """Any PIL image of one line -> (height, width) float32 in [0, 1], ink high, ready for the model."""
    return place_line(ink_high(image), height, width)


def as_served(line: np.ndarray) -> np.ndarray:
    """A rendered line (h, w) uint8, ink high -> the image the predictor makes of a picture of it
    (dark ink on light paper, through :func:`to_model_input`), (h, w) uint8, ink high. Training
    lines go through this so the model learns from what serving gives it: the paper levelled to 0
    and the darkest ink to 1, as in a user's photo, not the renderer's tinted, textured paper."""
    h, w = line.shape
    served = to_model_input(Image.fromarray(255 - line), h, w)
    return (served * 255).round().astype(np.uint8)


def ink_levelled(image: np.ndarray) -> np.ndarray:
    """:func:`ink_high`'s photometry alone for a rendered page (h, w) uint8, ink high -> uint8: the
    paper levelled, the darkest ink at 255, the geometry kept (a paragraph model reads the page whole)."""
    return (ink_high(Image.fromarray(255 - image)) * 255).round().astype(np.uint8)
