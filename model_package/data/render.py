"""Renders text in a handwriting font as a grayscale line image, with handwriting-like augmentation.

Pipeline for one line (all randomness from the ``rng`` passed in, so a seed fixes the image):

1. glyphs drawn one by one at 2x resolution, each with its own jitter of position and spacing;
2. pen width changed (dilate, or erode where the strokes survive it);
3. slant (shear) and rotation, one affine warp;
4. baseline wobble and elastic distortion, one smooth displacement field;
5. cropped to the ink, resized into the line height with random paper above and below and a
   random width stretch, padded;
6. blur, contrast and noise.

Images are uint8 with INK HIGH (255 = ink, 0 = paper), the convention of every data set here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from scipy import ndimage

from model_package.data.fonts import load_font
from model_package.data.preprocess import INK_THRESHOLD, line_margin

SCALE = 2  # glyphs are drawn at SCALE x the output resolution, then downsampled


@dataclass(frozen=True)
class Augmentation:
    """Ranges of the random handwriting variations; :meth:`none` switches them all off."""

    size_jitter: float = 0.12  # relative font size change, +-
    spacing_jitter: float = 0.05  # relative change of each glyph's advance, +-
    glyph_offset: float = 0.03  # per-glyph x/y jitter, fraction of the font size, +-
    stroke: int = 1  # dilate by up to this many pixels (2x resolution)
    thinning: bool = False  # also erode by 1 pixel at times (where the strokes survive it)
    slant_degrees: float = 12.0  # shear angle, +-
    rotation_degrees: float = 2.0  # +-
    wobble: float = 0.06  # baseline wobble amplitude, fraction of the font size
    elastic: float = 1.5  # elastic displacement, pixels at 2x resolution
    width_stretch: float = 0.15  # horizontal stretch after resizing to the line height, +-
    scale_margin: float = 0.0  # extra paper above and below the text, up to, fraction of the height
    blur: float = 0.6  # Gaussian blur radius, up to, output pixels
    noise: float = 10.0  # Gaussian noise standard deviation, up to, grey levels
    min_contrast: float = 0.6  # ink darkness, lowest fraction of full contrast

    @classmethod
    def none(cls) -> "Augmentation":
        return cls(**{f.name: type(f.default)() for f in fields(cls)} | {"min_contrast": 1.0})


def _ink(image: Image.Image) -> int:
    return int(np.count_nonzero(np.asarray(image) > 127))


def _draw_glyphs(
    text: str, font_name: str, height: int, aug: Augmentation, rng: np.random.Generator
) -> tuple[np.ndarray, tuple[int, int]]:
    """Ink mask (uint8, ink high) of ``text`` drawn glyph by glyph at SCALE x resolution, and the
    rows (top, bottom) of the font's line box in it."""
    size = height * SCALE * (1 + rng.uniform(-aug.size_jitter, aug.size_jitter))
    font = load_font(font_name, max(8, int(round(size))))
    ascent, descent = font.getmetrics()
    # Natural glyph positions (kerning included) from the cumulative advance of each prefix.
    advances = np.diff([0.0] + [font.getlength(text[: i + 1]) for i in range(len(text))])
    advances *= 1 + rng.uniform(-aug.spacing_jitter, aug.spacing_jitter, len(text))
    offsets = rng.uniform(-aug.glyph_offset, aug.glyph_offset, (len(text), 2)) * size
    margin = int(size / 2)
    width = int(advances.sum() + 2 * margin)
    canvas = Image.new("L", (max(width, 1), ascent + descent + 2 * margin), 0)
    draw = ImageDraw.Draw(canvas)
    x = float(margin)
    for char, advance, (dx, dy) in zip(text, advances, offsets):
        if not char.isspace():
            draw.text((x + dx, margin + dy), char, font=font, fill=255)
        x += advance
    if aug.stroke:
        k = int(rng.integers(-aug.stroke if aug.thinning else 0, aug.stroke + 1))
        if k > 0:  # a broader pen
            canvas = canvas.filter(ImageFilter.MaxFilter(2 * k + 1))
        elif k < 0:  # a finer pen, unless that would erase the strokes of a light hand
            thinned = canvas.filter(ImageFilter.MinFilter(3))
            if _ink(thinned) > 0.5 * _ink(canvas):
                canvas = thinned
    # Rows of the font's line box (top of 'H' to bottom of 'g'): cropping to them rather than to
    # the ink keeps the letter size the same whether or not a line has ascenders and descenders.
    _, top, _, bottom = font.getbbox("Hg")
    line_box = (margin + top, margin + bottom)
    return np.asarray(canvas), line_box


def _warp(ink: np.ndarray, font_size: float, aug: Augmentation, rng: np.random.Generator) -> np.ndarray:
    """Slant, rotation, baseline wobble and elastic distortion as one backward coordinate map."""
    h, w = ink.shape
    if not (aug.slant_degrees or aug.rotation_degrees or aug.wobble or aug.elastic):
        return ink
    shear = math.tan(math.radians(rng.uniform(-aug.slant_degrees, aug.slant_degrees)))
    theta = math.radians(rng.uniform(-aug.rotation_degrees, aug.rotation_degrees))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)  # output pixel grid, (h, w) each
    cy, cx = h / 2, w / 2
    # Inverse rotation about the centre, then inverse shear (x shifted in proportion to height).
    ry = (yy - cy) * math.cos(theta) - (xx - cx) * math.sin(theta)
    rx = (yy - cy) * math.sin(theta) + (xx - cx) * math.cos(theta)
    src_x = rx + shear * ry + cx
    src_y = ry + cy
    if aug.wobble:
        amplitude = rng.uniform(0, aug.wobble) * font_size
        wavelength = rng.uniform(3, 8) * font_size
        src_y += amplitude * np.sin(2 * math.pi * xx / wavelength + rng.uniform(0, 2 * math.pi))
    if aug.elastic:
        # Smooth random field, drawn coarse (every 8 px) and upsampled: cheap and smooth.
        coarse = rng.normal(size=(2, h // 8 + 2, w // 8 + 2)).astype(np.float32)
        field = np.stack([np.asarray(Image.fromarray(c).resize((w, h), Image.Resampling.BICUBIC)) for c in coarse])
        field *= rng.uniform(0, aug.elastic) / max(float(np.abs(field).max()), 1e-6)
        src_y += field[0]
        src_x += field[1]
    return ndimage.map_coordinates(ink, [src_y, src_x], order=1, cval=0).astype(np.uint8)


def _fit(
    ink: np.ndarray, line_box: tuple[int, int], height: int, width: int, aug: Augmentation, rng: np.random.Generator
) -> np.ndarray:
    """Crop to the ink's columns and the line box's rows (widened to any ink outside it), resize
    to ``height`` rows with a random width stretch, left-align in ``width`` columns."""
    rows = np.flatnonzero(ink.max(axis=1) > INK_THRESHOLD * 255)
    cols = np.flatnonzero(ink.max(axis=0) > INK_THRESHOLD * 255)
    out = np.zeros((height, width), np.uint8)
    if len(rows) == 0:  # all spaces
        return out
    top, bottom = min(rows[0], line_box[0]), max(rows[-1], line_box[1])
    crop = ink[top : bottom + 1, cols[0] : cols[-1] + 1]
    # Paper above and below: the margin serving uses too (model_package.data.preprocess), plus up
    # to aug.scale_margin of the height, so the text's size within the line can vary as between writers.
    margin = line_margin(height) + int(rng.integers(0, int(aug.scale_margin * height) + 1))
    target_h = height - 2 * margin
    scale = target_h / crop.shape[0]
    new_w = crop.shape[1] * scale * (1 + rng.uniform(-aug.width_stretch, aug.width_stretch))
    new_w = int(min(max(1, round(new_w)), width - 2))  # squash lines that would not fit
    resized = np.asarray(Image.fromarray(crop).resize((new_w, target_h), Image.Resampling.BILINEAR))
    x0 = int(rng.integers(0, min(8, width - new_w) + 1))
    y0 = int(rng.integers(max(1, height // 32), height - target_h - max(1, height // 32) + 1))
    out[y0 : y0 + target_h, x0 : x0 + new_w] = resized
    return out


def degrade(ink: np.ndarray, aug: Augmentation, rng: np.random.Generator) -> np.ndarray:
    """Blur, paper, contrast and sensor noise of a whole image (a line or a page), keeping ink high."""
    img = ink.astype(np.float32)
    if aug.blur:
        sigma = rng.uniform(0, aug.blur)
        if sigma > 0.1:
            img = ndimage.gaussian_filter(img, sigma)
    paper = rng.uniform(0, 30) if aug.noise else 0.0  # paper that is not perfectly white
    ink_level = rng.uniform(aug.min_contrast, 1.0) * 255
    img = paper + (ink_level - paper) * img / 255.0
    if aug.noise:
        img += rng.normal(0, rng.uniform(0, aug.noise), img.shape)
    return np.clip(img, 0, 255).round().astype(np.uint8)


def render_line(
    text: str,
    font_name: str,
    height: int,
    width: int,
    rng: np.random.Generator,
    aug: Augmentation = Augmentation(),
    degraded: bool = True,
) -> np.ndarray:
    """``text`` in ``font_name`` as a (height, width) uint8 image, ink high, left-aligned.

    ``degraded=False`` leaves out blur, paper and noise, for a caller that degrades a whole page.
    """
    ink, line_box = _draw_glyphs(text, font_name, height, aug, rng)
    ink = _warp(ink, font_size=height * SCALE, aug=aug, rng=rng)
    line = _fit(ink, line_box, height, width, aug, rng)
    return degrade(line, aug, rng) if degraded else line
