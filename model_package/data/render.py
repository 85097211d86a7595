"""Renders text in a handwriting font as a grayscale line image, with handwriting-like augmentation.

Pipeline for one line (all randomness from the ``rng`` passed in, so a seed fixes the image):

1. glyphs drawn one by one at 2x resolution, each with its own jitter of position and spacing,
   words with their own size and spacing, and at times the descenders of the line above and the
   ascenders of the line below, cut off where a line crop would cut them;
2. pen width changed (dilate, or erode where the strokes survive it), pen pressure varied;
3. slant (shear), rotation (skew) and perspective, one warp;
4. baseline wobble and elastic distortion, one smooth displacement field;
5. placed as serving places a line (``preprocess.place_line``: cropped to the ink, scaled to the
   line height between the margins, left-aligned) after a random width stretch, shifted a little;
6. ruled lines, blur, paper tone and texture, uneven lighting, ink contrast, noise, JPEG.

Images are uint8 with INK HIGH (255 = ink, 0 = paper), the convention of every data set here.
"""

from __future__ import annotations

import dataclasses
import io
import math
from dataclasses import dataclass, fields

import numpy as np
import torch
from PIL import Image, ImageDraw
from scipy import ndimage
from torch.nn import functional as F

from model_package.data.fonts import load_font
from model_package.data.preprocess import INK_THRESHOLD, crop_to_ink, line_margin, place_line

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
    word_spacing: float = 0.4  # each space's width changed by up to this fraction, +-
    word_size: float = 0.08  # each word's size changed by up to this fraction, +-
    pressure: float = 0.3  # pen pressure: ink lightened along the line by up to this fraction
    perspective: float = 0.03  # keystone: width changes by up to this fraction from top to bottom
    neighbours: float = 0.5  # probability of the line above / below intruding into the crop
    ruled: float = 0.1  # probability of a ruled line under the text
    paper_tone: float = 0.25  # coloured paper: its darkness up to this fraction of full ink
    texture: float = 0.06  # paper texture (smooth noise), up to this fraction of full ink
    lighting: float = 0.2  # uneven lighting across the image, up to this fraction of full ink
    jpeg: float = 0.3  # probability of JPEG compression (quality 30-90)

    @classmethod
    def none(cls) -> "Augmentation":
        return cls(**{f.name: type(f.default)() for f in fields(cls)} | {"min_contrast": 1.0})

    @classmethod
    def fonts_only(cls) -> "Augmentation":
        """Variation of the hand only (size, spacing, pen, slant, wobble): no scan effects."""
        scan = ("blur", "noise", "neighbours", "ruled", "paper_tone", "texture", "lighting", "jpeg", "perspective")
        return cls(**{name: type(getattr(cls, name))() for name in scan} | {"min_contrast": 1.0})


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
    spaces = np.array([c.isspace() for c in text])
    advances[spaces] *= 1 + rng.uniform(-aug.word_spacing, aug.word_spacing, int(spaces.sum()))
    offsets = rng.uniform(-aug.glyph_offset, aug.glyph_offset, (len(text), 2)) * size
    # One size per word: a glyph of a word drawn with the font at that word's size.
    word_index = np.cumsum(spaces)
    word_scale = 1 + rng.uniform(-aug.word_size, aug.word_size, int(word_index[-1]) + 1 if len(text) else 1)
    word_scale = np.round(word_scale * 25) / 25  # in steps of 4%: a few font sizes, each loaded once
    margin = int(size / 2)
    width = int(advances.sum() * (1 + aug.word_size) + 2 * margin)
    canvas = Image.new("L", (max(width, 1), ascent + descent + 2 * margin), 0)
    draw = ImageDraw.Draw(canvas)
    x = float(margin)
    # each word's font and baseline shift (keeping the baseline where it is), looked up once a word
    word_fonts = [font if abs(scale - 1) < 0.02 else load_font(font_name, max(8, int(round(size * scale)))) for scale in word_scale]
    shifts = [ascent - f.getmetrics()[0] for f in word_fonts]
    for char, advance, (dx, dy), w in zip(text, advances, offsets, word_index):
        if not char.isspace():
            draw.text((x + dx, margin + dy + shifts[w]), char, font=word_fonts[w], fill=255)
        x += advance * float(word_scale[w])
    if aug.stroke:
        k = int(rng.integers(-aug.stroke if aug.thinning else 0, aug.stroke + 1))
        # scipy's separable max / min filters: the same pixels as PIL's MaxFilter / MinFilter, 3-9x faster
        if k > 0:  # a broader pen
            canvas = Image.fromarray(ndimage.maximum_filter(np.asarray(canvas), size=2 * k + 1, mode="nearest"))
        elif k < 0:  # a finer pen, unless that would erase the strokes of a light hand
            thinned = Image.fromarray(ndimage.minimum_filter(np.asarray(canvas), size=3, mode="nearest"))
            if _ink(thinned) > 0.5 * _ink(canvas):
                canvas = thinned
    if aug.pressure:  # pen pressure: lighter and darker stretches along the line
        knots = 1 - rng.uniform(0, aug.pressure, max(2, canvas.width // int(4 * size) + 2)).astype(np.float32)
        profile = np.interp(np.arange(canvas.width), np.linspace(0, canvas.width - 1, len(knots)), knots)
        canvas = Image.fromarray((np.asarray(canvas) * profile[None, :]).astype(np.uint8))
    ink = np.asarray(canvas)
    _, top, _, bottom = font.getbbox("Hg")  # rows of the font's line box: top of 'H', bottom of 'g'
    line_box = (margin + top, margin + bottom)
    if aug.neighbours:
        ink = _with_neighbours(ink, line_box, text, font, aug, rng)
    return ink, line_box


def _with_neighbours(ink: np.ndarray, line_box: tuple[int, int], text: str, font, aug: Augmentation,
                     rng: np.random.Generator) -> np.ndarray:  # fmt: skip
    """``ink`` with, each with probability ``aug.neighbours``, the bottom of a line written above
    and the top of one below, as far into this line's band as a line crop would reach: the band
    is the line box plus 10-35% of its height each side, and each neighbour sits one line pitch
    (1.1-1.5 line boxes) away."""
    h, w = ink.shape
    box_h = line_box[1] - line_box[0]
    out = ink.copy()
    for direction in (-1, 1):
        if rng.random() >= aug.neighbours:
            continue
        # a neighbour line: the same hand, other words (this line's letters shuffled into words)
        letters = [c for c in text if not c.isspace()] or ["x"]
        words = ["".join(rng.choice(letters, int(rng.integers(2, 8)))) for _ in range(max(1, len(text) // 5))]
        other = Image.new("L", (w, h), 0)
        ImageDraw.Draw(other).text((float(rng.uniform(0, font.size)), 0), " ".join(words), font=font, fill=255)
        pitch = int(box_h * rng.uniform(1.1, 1.5))
        reach = int(box_h * rng.uniform(0.1, 0.35))  # how far beyond the line box the crop reaches
        shifted = np.zeros_like(ink)
        src = np.asarray(other)
        dy = line_box[0] + direction * pitch - int(font.getbbox("Hg")[1])  # its line box's top there
        if abs(dy) >= h:
            continue
        if dy >= 0:
            shifted[dy:] = src[: h - dy]
        else:
            shifted[: h + dy] = src[-dy:]
        band = np.zeros((h, 1), bool)  # rows a crop of this line keeps
        band[max(0, line_box[0] - reach) : line_box[1] + reach + 1] = True
        out = np.maximum(out, np.where(band, shifted, 0))
    return out


def _warp(ink: np.ndarray, font_size: float, aug: Augmentation, rng: np.random.Generator) -> np.ndarray:
    """Slant, rotation, baseline wobble and elastic distortion as one backward coordinate map."""
    h, w = ink.shape
    if not (aug.slant_degrees or aug.rotation_degrees or aug.wobble or aug.elastic or aug.perspective):
        return ink
    shear = math.tan(math.radians(rng.uniform(-aug.slant_degrees, aug.slant_degrees)))
    theta = math.radians(rng.uniform(-aug.rotation_degrees, aug.rotation_degrees))
    yy, xx = np.arange(h, dtype=np.float32)[:, None], np.arange(w, dtype=np.float32)[None, :]  # (h, 1), (1, w)
    cy, cx = h / 2, w / 2
    # Inverse rotation about the centre, then inverse shear (x shifted in proportion to height).
    ry = (yy - cy) * math.cos(theta) - (xx - cx) * math.sin(theta)
    rx = (yy - cy) * math.sin(theta) + (xx - cx) * math.cos(theta)
    src_x = rx + shear * ry + cx
    src_y = ry + cy
    if aug.perspective:  # keystone: the line's scale changes from one end to the other
        k = rng.uniform(-aug.perspective, aug.perspective)
        src_y = (src_y - cy) * (1 + k * (xx - cx) / max(w, 1) * 2) + cy
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
    return sample_bilinear(ink, src_y, src_x)


def sample_bilinear(image: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """``image`` (h, w) uint8 read at the pixel coordinates (``ys``, ``xs``), (h', w') float32 each,
    interpolated bilinearly, paper (0) outside: (h', w') uint8. ``scipy.ndimage.map_coordinates``
    at order 1 gives the same pixels (within one grey level) in 5-8x the time (a rendered line took
    ~19.5 ms with it, ~14.8 with this and the broadcast grid, one AMD EPYC core)."""
    h, w = image.shape
    # grid_sample's coordinates: -1 and 1 are the centres of the first and last pixel (align_corners)
    grid = np.stack([xs * (2 / max(w - 1, 1)) - 1, ys * (2 / max(h - 1, 1)) - 1], axis=-1)  # (h', w', 2): x, y
    source = torch.from_numpy(image.astype(np.float32))[None, None]  # (1, 1, h, w)
    out = F.grid_sample(source, torch.from_numpy(grid)[None], mode="bilinear", padding_mode="zeros", align_corners=True)
    return out[0, 0].round_().clamp_(0, 255).to(torch.uint8).numpy()  # (h', w')


def _fit(ink: np.ndarray, height: int, width: int, aug: Augmentation, rng: np.random.Generator) -> np.ndarray:
    """Place the ink as serving places a line (:func:`~model_package.data.preprocess.place_line`:
    cropped to the ink, scaled to the line height between the margins, left-aligned), after a
    random width stretch; then, as augmentation, a smaller text (``scale_margin``) and a shift of
    up to the margin up or down and a few pixels right. (height, width) uint8, ink high."""
    crop = crop_to_ink(ink.astype(np.float32) / 255.0)  # (h', w') in [0, 1]
    if crop.max() <= INK_THRESHOLD:  # all spaces
        return np.zeros((height, width), np.uint8)
    stretch = 1 + rng.uniform(-aug.width_stretch, aug.width_stretch) if aug.width_stretch else 1.0
    if stretch != 1.0:
        new_w = max(1, round(crop.shape[1] * stretch))
        crop = np.asarray(Image.fromarray(crop, mode="F").resize((new_w, crop.shape[0]), Image.Resampling.BILINEAR))
    extra = int(rng.integers(0, int(aug.scale_margin * height) + 1)) if aug.scale_margin else 0
    placed = np.zeros((height, width), np.float32)
    placed[extra : height - extra] = place_line(crop, height - 2 * extra, width)
    if aug != Augmentation.none():
        margin = line_margin(height)
        dy, dx = int(rng.integers(-margin, margin + 1)), int(rng.integers(0, 5))
        placed = ndimage.shift(placed, (dy, dx), order=0, cval=0.0)
    return (np.clip(placed, 0, 1) * 255).round().astype(np.uint8)


def _rule(image: np.ndarray, aug: Augmentation, rng: np.random.Generator) -> np.ndarray:
    """At times a ruled line under the text (the bottom margin's row), faint, full width."""
    if not aug.ruled or rng.random() >= aug.ruled:
        return image
    out = image.copy()
    row = image.shape[0] - 1 - int(rng.integers(0, line_margin(image.shape[0]) + 1))
    out[row] = np.maximum(out[row], int(rng.uniform(0.25, 0.6) * 255))
    return out


def _smooth_field(shape: tuple[int, int], cell: int, rng: np.random.Generator) -> np.ndarray:
    """A smooth random field in [-1, 1] of ``shape``, varying over about ``cell`` pixels."""
    h, w = shape
    coarse = rng.uniform(-1, 1, (h // cell + 2, w // cell + 2)).astype(np.float32)
    return np.asarray(Image.fromarray(coarse, mode="F").resize((w, h), Image.Resampling.BICUBIC)).clip(-1, 1)


def degrade(ink: np.ndarray, aug: Augmentation, rng: np.random.Generator) -> np.ndarray:
    """Blur, paper, contrast and sensor noise of a whole image (a line or a page), keeping ink high."""
    img = ink.astype(np.float32)
    if aug.blur:
        sigma = rng.uniform(0, aug.blur)
        if sigma > 0.1:
            img = ndimage.gaussian_filter(img, sigma)
    h, w = img.shape
    # coloured paper: most sheets near white (the square of a uniform draw), a few tinted
    paper = np.full((h, w), rng.uniform(0, 1) ** 2 * aug.paper_tone * 255, np.float32)
    if aug.texture:  # fibres and grain of the paper
        paper += rng.uniform(0, aug.texture) * 255 * np.abs(_smooth_field((h, w), 4, rng))
    if aug.lighting:  # a shadow or a lamp across the sheet: a smooth gradient
        gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
        angle = rng.uniform(0, 2 * math.pi)
        ramp = (gx * math.cos(angle) + gy * math.sin(angle)) / max(h, w)
        paper += rng.uniform(0, 1) ** 2 * aug.lighting * 255 * (ramp - ramp.min())
    ink_level = rng.uniform(aug.min_contrast, 1.0) * 255
    img = paper + (np.maximum(ink_level - paper, 0)) * img / 255.0
    if aug.noise:
        img += rng.normal(0, rng.uniform(0, aug.noise), img.shape)
    out = np.clip(img, 0, 255).round().astype(np.uint8)
    if aug.jpeg and rng.random() < aug.jpeg:  # compressed as a photo is: dark ink on light paper
        buffer = io.BytesIO()
        Image.fromarray(255 - out).save(buffer, format="JPEG", quality=int(rng.integers(30, 91)))
        out = 255 - np.asarray(Image.open(buffer).convert("L"))
    return out


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
    ink, _ = _draw_glyphs(text, font_name, height, aug, rng)
    ink = _warp(ink, font_size=height * SCALE, aug=aug, rng=rng)
    line = _rule(_fit(ink, height, width, aug, rng), aug, rng)
    return degrade(line, aug, rng) if degraded else line


STROKE = 64  # a drawn pixel at least this dark (of 255) is a stroke when lines are kept from crossing


def _baseline(ink: np.ndarray) -> int:
    """The row a line of ``ink`` (h, w) is written on: the lowest row above which 92% of its ink
    lies (below it: descenders, a few percent of a line's ink)."""
    rows = np.cumsum(ink.sum(axis=1, dtype=np.float64))  # (h,)
    return int(np.searchsorted(rows, 0.92 * rows[-1]))


def _stroke_height(columns: tuple[np.ndarray, np.ndarray, np.ndarray]) -> int:
    """Rows from a line's top stroke to its bottom one, from its :func:`_stroke_columns` (0 without strokes)."""
    _, first, last = columns
    return int(last.max() - first.min()) if len(first) else 0


def _stroke_columns(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The columns of ``ink`` (h, w) that hold a stroke, with each one's top and bottom stroke row: (n,) each."""
    rows = ink >= STROKE  # (h, w)
    cols = np.flatnonzero(rows.any(axis=0))  # (n,)
    first = rows.argmax(axis=0)[cols]  # (n,) each column's top stroke row
    last = ink.shape[0] - 1 - rows[::-1].argmax(axis=0)[cols]  # (n,) each column's bottom stroke row
    return cols, first, last


def _clear_of(columns: tuple[np.ndarray, np.ndarray, np.ndarray], ox: int, floor: np.ndarray) -> int:
    """The least row offset at which a line (its :func:`_stroke_columns`), placed at column ``ox``, has
    every stroke below ``floor`` (per sheet column, the first free row under the strokes placed so far)."""
    cols, first, _ = columns
    cols = cols + ox
    under = cols < len(floor)
    if not under.any():
        return 0
    return int((floor[cols[under]] - first[under]).max())


def _lower_floor(floor: np.ndarray, columns: tuple[np.ndarray, np.ndarray, np.ndarray], oy: int, ox: int, width: int) -> np.ndarray:
    """``floor`` with a line (its :func:`_stroke_columns`, ``width`` wide) placed at (oy, ox) under it:
    per column, the row below its lowest stroke."""
    cols, _, last = columns
    floor = np.pad(floor, (0, max(0, ox + width - len(floor))))
    floor[cols + ox] = np.maximum(floor[cols + ox], oy + last + 1)
    return floor


def render_page(
    texts: list[str],
    font_name: str,
    rng: np.random.Generator,
    aug: Augmentation = Augmentation(),
    size: int = 32,
    pitch: tuple[float, float] = (1.0, 1.5),
    skew_degrees: float = 0.0,
    margin: int = 24,
    ruled: bool = False,
) -> np.ndarray:
    """``texts`` written one under another in one hand, as on a sheet: (H, W) uint8, ink high.

    Each line is drawn at ``size`` pixels a line box (as by :func:`render_line`, before placing),
    left-aligned with a small random indent, the next one a random pitch (``pitch`` x the line box,
    so at 1.0 descenders reach into the next line's ascenders) lower, or lower still where its
    strokes would cross those above (a line's own drift and tilt can bring it up to them: a writer
    goes round them; strokes may touch and interleave, never overlap); the whole sheet is then
    turned by ``skew_degrees`` and degraded once (paper, lighting, noise, JPEG). ``ruled``: a sheet
    of lined paper, faint rules one pitch apart from top to bottom (one pitch drawn for the sheet,
    at least 0.8 of the hand's line height: a writer fits the rules), each line written on its
    rule (its descenders cross it), unless its strokes would cross those above. A page, not a model input: :func:`model_package.data.page.find_lines` takes it apart again."""
    lines = []
    line_aug = dataclasses.replace(aug, neighbours=0.0)  # a page has real neighbours
    if ruled:  # a writer keeps to the rules
        line_aug = dataclasses.replace(line_aug, rotation_degrees=min(aug.rotation_degrees, 0.5))
    for text in texts:
        ink, (top, _) = _draw_glyphs(text, font_name, size, line_aug, rng)
        lines.append((_warp(ink, font_size=size * SCALE, aug=line_aug, rng=rng), top))
    box = SCALE * size  # a line box at 2x resolution, about
    offsets, y = [], SCALE * margin
    strokes = [_stroke_columns(ink) for ink, _ in lines]  # per line: its stroke columns, tops, bottoms
    rule_pitch = 0
    if ruled:
        tall = float(np.median([_stroke_height(columns) for columns in strokes]))
        rule_pitch = max(int(box * rng.uniform(*pitch)), int(0.8 * tall))
    floor = np.zeros(0, np.int64)  # (columns,) per sheet column: the row below the lowest stroke so far
    for (ink, top), columns in zip(lines, strokes):
        x = SCALE * margin + int(rng.integers(0, box // 2 + 1))  # a small indent
        oy, ox = y - top, max(x - box // 2, 0)  # the line box's top at y; the glyph canvas has ~box / 2 of margin
        if ruled:  # the line's baseline on the next rule
            base = _baseline(ink)
            y = SCALE * margin + rule_pitch * (1 + (y - SCALE * margin) // rule_pitch)
            oy = y - base
        oy = max(oy, 0, _clear_of(columns, ox, floor))  # a writer goes round the strokes above, never through them
        offsets.append((oy, ox))
        y = oy + base if ruled else oy + top + int(box * rng.uniform(*pitch))
        floor = _lower_floor(floor, columns, oy, ox, ink.shape[1])
    height = max(oy + ink.shape[0] for (oy, _), (ink, _) in zip(offsets, lines)) + SCALE * margin
    width = max(ox + ink.shape[1] for (_, ox), (ink, _) in zip(offsets, lines)) + SCALE * margin
    sheet = np.zeros((height, width), np.uint8)
    for (oy, ox), (ink, _) in zip(offsets, lines):
        region = sheet[oy : oy + ink.shape[0], ox : ox + ink.shape[1]]
        np.maximum(region, ink[: region.shape[0], : region.shape[1]], out=region)
    if ruled:  # faint rules across the whole sheet, under the ink, one (output) pixel thick or two
        level, thickness = int(rng.uniform(0.25, 0.5) * 255), SCALE * int(rng.integers(1, 3))
        for row in range(SCALE * margin + rule_pitch, height, rule_pitch):
            band = sheet[row : row + thickness]
            np.maximum(band, level, out=band)
    page = Image.fromarray(sheet).resize((width // SCALE, height // SCALE), Image.Resampling.LANCZOS)
    if skew_degrees:
        page = page.rotate(skew_degrees, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=0)
    return degrade(np.asarray(page), aug, rng)
