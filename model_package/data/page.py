"""A picture of several lines of handwriting (a page, a note, a paragraph) -> its lines.

    lines = find_lines(ink_high(image))     # top to bottom
    line.ink                                # (h, w) float32, ink high: that line's strokes only
    line.polygon                            # its outline on the page, for drawing boxes
    place_line(line.ink, height, width)     # each placed exactly as training places a line

How, on the ink-high page (1 = ink):

1. Strokes: the ink above ``INK_THRESHOLD`` in connected components, without the rules of lined
   paper (thin rows of ink across the page, along its skew; where a rule touches a letter, the
   letter keeps it: :func:`_rules`); specks far smaller than a letter and free-standing rules
   (long, thin, flat strokes) are dropped.
2. Skew: every angle within +-``MAX_SKEW_DEGREES`` is tried; the one whose row profile of the ink
   is sharpest (largest sum of squares) is the page's. Rows are then counted along that slope
   (``v = y - x tan(angle)``), so nothing is resampled to find the lines.
3. Lines: the ink's profile over ``v``, smoothed over a sixth of a letter's height (a letter
   at most 0.8 of the line pitch that the profile's autocorrelation shows: in joined-up hands
   whose lines touch, strokes span lines and would pass for one tall "letter"); each peak
   that stands out from the valleys beside it (half its own height, so a short last line counts)
   is a line, and the deepest point between two peaks is the border between them.
4. Ink to lines: each ink pixel goes to the band between the borders it lies in, so a stroke
   that crosses a border is cut there. Keeping a stroke whole with the line of its ink centre
   (so a descender stays with its word) read worse: in joined-up hands a word's descenders touch
   the next line's ascenders, and the merged stroke took a word of one line into the other's
   crop. On 60 rendered pages of the validation hands, page CER 0.182 whole, 0.120 cut (strokes
   cut only when 20% / 5% of their ink lay across a border: 0.138 / 0.122); the model is trained
   on crops with its neighbours' descenders cut in, and reads a descender cut at the border.
5. Lines of their own tilts: a writer's lines wander (each its own slant of a degree or two, on
   top of the page's skew), so on one global slope two lines can overlap in the profile and pass
   for one. A band ``SPLIT_PITCHES`` pitches tall is taken alone as a page (its own skew, its
   own profile), once; if it comes apart, its lines replace it. Then each line's centre line is
   fitted (ink-weighted least squares, again without the ink far from it), bands whose centre
   lines meet are one line cut by the page's straight borders and are joined, and every pixel
   goes to the line whose centre is nearest at its column (the border is midway between two
   centres). Measured on 60 rendered pages each of the validation / test hands: lines found
   right 55 -> 59 / 50 -> 59 and page CER 0.120 -> 0.107 / 0.126 -> 0.089 with the split (at
   1.8 or 2.0 pitches: 58 / 60 right, 0.108 / 0.085; 2.2 chosen on validation); 0.087 / 0.078
   with the centre lines too; 0.086 / 0.075 with each centre level beyond its line's ends (a
   short line's tilt, fitted on a few words and carried across the page, cut into its neighbours).
6. Each line's strokes are cropped and turned level (by its own fitted tilt), ready for
   :func:`~model_package.data.preprocess.place_line`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage, signal

from model_package.data.preprocess import INK_THRESHOLD

MAX_SKEW_DEGREES = 6.0
SKEW_STEP_DEGREES = 0.25
SMOOTHING = 6  # the profile is smoothed over a letter's height / SMOOTHING
MIN_PEAK_PROMINENCE = 0.25  # a line's profile peak must rise this fraction of its height above its valleys
FRAGMENT = 0.35  # a band at the image's edge with less ink than this fraction of the fullest line is dropped
SMUDGE = 0.02  # a band with less ink than this fraction of the fullest line is dropped anywhere
MAX_SKEW_POINTS = 60_000  # ink pixels sampled to measure the skew
LETTER_PER_PITCH = 0.8  # a letter is at most this fraction of the line pitch (lines 1.25 letters apart)
SPLIT_PITCHES = 2.2  # a band this many line pitches tall holds lines of their own tilts: it is split
PITCH_PROMINENCE = 0.1  # the autocorrelation peak that gives the pitch must stand out this much
RULE_COVERAGE = 0.3  # a thin row of ink across this fraction of the ink's width is a rule (lined paper)
RULE_THICKNESS = 5  # rows a rule may be thick
RULE_TOUCH = 4  # pixels of a rule beside a letter's stroke are the letter's
RULE_NOISE = 3  # strokes of fewer pixels beside a rule are noise on it, not letters


@dataclass(frozen=True)
class PageLine:
    """One line found on a page."""

    ink: np.ndarray  # (h, w) float32 in [0, 1], ink high: the line's strokes only, level, cropped
    polygon: tuple[tuple[float, float], ...]  # (x, y) corners on the page, clockwise from top left

    @property
    def box(self) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) on the page, around the polygon."""
        xs, ys = [p[0] for p in self.polygon], [p[1] for p in self.polygon]
        return int(min(xs)), int(min(ys)), int(math.ceil(max(xs))), int(math.ceil(max(ys)))


def find_lines(ink: np.ndarray, threshold: float = INK_THRESHOLD) -> list[PageLine]:
    """The lines of an ink-high page (H, W) float in [0, 1], top to bottom; [] for a page without ink."""
    if ink.ndim != 2:
        raise ValueError(f"find_lines takes a 2-D ink image, got shape {ink.shape}")
    found = _bands(ink, threshold)
    if found is None:
        return []
    ys, xs, weights, groups, slope, letter = found
    if len(groups) == 1:
        return [_line(ys[groups[0]], xs[groups[0]], weights[groups[0]], slope)]
    # Each line's own centre line; pieces of one line (a tilted line cut by the page's borders) on
    # one centre line are joined; every ink pixel goes to the line whose centre is nearest at its column.
    fits = [_centre_line(ys[g], xs[g], weights[g], slope) for g in groups]  # per band: (row at x = 0, slope)
    middles = [float(np.median(xs[g])) for g in groups]
    joined = list(range(len(groups)))  # each band's line
    for a in range(len(groups)):
        for b in range(a):
            m = (middles[a] + middles[b]) / 2  # where the two would meet
            if joined[b] == b and abs((fits[a][0] + fits[a][1] * m) - (fits[b][0] + fits[b][1] * m)) < letter / 2:
                joined[a] = b
                break
    members = [[i for i, j in enumerate(joined) if j == k] for k in sorted(set(joined))]  # bands of each line
    groups = [np.concatenate([groups[i] for i in band]) for band in members]
    fits = [fits[band[0]] if len(band) == 1 else _centre_line(ys[g], xs[g], weights[g], slope)  # refit the joined
            for band, g in zip(members, groups)]
    # (lines, 4): row at x = 0, slope, first and last column; a centre is level beyond its line's
    # ends (a short line's tilt, carried across the page, would cut into the lines beside it)
    fits = np.array([(*fit, xs[g].min(), xs[g].max()) for fit, g in zip(fits, groups)])
    fits = fits[np.argsort(fits[:, 0] + fits[:, 1] * np.median(xs))]  # top to bottom, at the page's middle
    kept = np.concatenate(groups)  # the lines' pixels: smudges and cut-off neighbours at the edges stay out
    ys, xs, weights = ys[kept], xs[kept], weights[kept]
    line_of_pixel = np.zeros(len(ys), np.int64)  # (N,) borders passed, top to bottom: one (N,) row at a time
    border = np.full(len(ys), -np.inf)  # (N,) the border above, at each pixel's column (borders never cross)
    for a, b in zip(fits[:-1], fits[1:]):
        centre_a = a[0] + a[1] * np.clip(xs, a[2], a[3])  # (N,) line a's centre row at each pixel's column
        centre_b = b[0] + b[1] * np.clip(xs, b[2], b[3])
        border = np.maximum(border, (centre_a + centre_b) / 2)  # midway between the two centres
        line_of_pixel += ys >= border
    lines = []
    for k, (_, own_slope, _, _) in enumerate(fits):
        mine = line_of_pixel == k
        if mine.sum() >= 2:
            lines.append(_line(ys[mine], xs[mine], weights[mine], float(own_slope)))
    return lines


def _bands(ink: np.ndarray, threshold: float, depth: int = 0):
    """The ink pixels of a page (ys, xs, weights: (N,) each), the pixel indices of each line's band
    (top to bottom), the page's slope and a letter's height; None for a page without ink."""
    strokes = ink > threshold  # (H, W)
    if depth == 0:
        strokes &= ~_rules(strokes)  # lined paper: the rules go, the letters written on them stay
    labels, count = ndimage.label(strokes)  # (H, W) int: 0 = paper, 1..count = strokes
    if count == 0:
        return None
    index = np.arange(1, count + 1)
    slices = ndimage.find_objects(labels)  # per stroke: (rows, cols) slices of its box
    heights = np.array([s[0].stop - s[0].start for s in slices])
    areas = np.bincount(labels.ravel(), minlength=count + 1)[1:]  # (count,) pixels per stroke
    letter = _letter_height(heights, areas)
    widths = np.array([s[1].stop - s[1].start for s in slices])
    keep = areas >= max(2.0, (0.08 * letter) ** 2)  # a full stop survives, a speck of dust does not
    keep &= ~((widths >= 3 * letter) & (heights <= letter / 3))  # nor does a ruled line
    if not keep.any():
        return None
    lookup = np.concatenate([[0], np.where(keep, index, 0)])
    labels = lookup[labels]  # dropped strokes become paper
    ys, xs = np.nonzero(labels)
    weights = ink[ys, xs]

    slope = _skew_slope(ys, xs, weights, letter)
    v = ys - xs * slope  # (N,) row of each ink pixel counted along the skew
    v_min = float(v.min())
    profile = np.bincount(np.round(v - v_min).astype(int), weights=weights)  # (rows along v,)
    pitch = _profile_pitch(profile, letter)
    if pitch and letter > LETTER_PER_PITCH * pitch:  # strokes of touching lines merged: a "letter" spans lines
        letter = LETTER_PER_PITCH * pitch
    borders = _line_borders(profile, letter) + v_min  # (lines - 1,) v of the borders between lines

    # Each ink pixel to the band it lies in, between two borders: a stroke that crosses a border (a
    # descender, or words of two lines written into each other) is cut there.
    line_of_pixel = np.searchsorted(borders, v)  # (N,) line of each ink pixel

    # A band at the image's top or bottom edge with little ink is the neighbour of a line crop
    # (the descenders of the line above, say), not a line; a band with almost no ink is a smudge.
    mass = np.bincount(line_of_pixel, weights=weights, minlength=len(borders) + 1)  # (lines,)
    near = letter / 2  # pixels from the edge that count as at the edge
    groups = []
    for k in range(len(borders) + 1):
        mine = np.flatnonzero(line_of_pixel == k)
        if len(mine) < 2 or mass[k] < SMUDGE * mass.max():
            continue
        edge = ys[mine].min() < near or ys[mine].max() >= ink.shape[0] - near
        if edge and mass[k] < FRAGMENT * mass.max():
            continue
        band = v[mine].max() - v[mine].min()
        if depth == 0 and band > SPLIT_PITCHES * (pitch or letter / LETTER_PER_PITCH):
            # Several lines whose own tilts differ from the page's merged into one band: the band
            # alone, at its own skew, may come apart into them.
            crop, top, left = _paint(ys[mine], xs[mine], weights[mine])
            parts = _bands(crop, threshold, depth=1)
            if parts is not None and len(parts[3]) > 1:
                at = np.full(crop.shape, -1, np.int64)  # (h, w) crop pixel -> page pixel index
                at[ys[mine] - top, xs[mine] - left] = mine
                groups += [at[parts[0][g], parts[1][g]] for g in parts[3]]
                continue
        groups.append(mine)
    return (ys, xs, weights, groups, slope, letter) if groups else None


def _rules(strokes: np.ndarray) -> np.ndarray:
    """(H, W) bool: the ink of ruled lines (lined paper, a form's rules): along the page's skew, thin
    rows of ink across ``RULE_COVERAGE`` of the ink's width, except within ``RULE_TOUCH`` pixels of
    a letter (the letters written on a rule keep their ink). Left in, a rule touching the letters
    joins a whole line into one stroke and stretches its crop to the page's width. Rendered lined
    pages (``render_page(ruled=True)``), 30 of the validation hands / 20 of the test hands: page
    CER 0.196 / 0.187 with the rules left in, 0.116 / 0.091 without (lines counted right 27 -> 29
    of 30, 20 -> 20); RULE_TOUCH chosen on validation (2 / 4 / 6 read 0.119 / 0.104 / 0.109 on a
    first draw of those pages). Unruled pages are untouched (no row that full and thin)."""
    none = np.zeros_like(strokes)
    cols = np.flatnonzero(strokes.any(axis=0))
    if len(cols) == 0:
        return none
    span = cols[-1] - cols[0] + 1  # the ink's width
    ys, xs = np.nonzero(strokes)
    slope = _skew_slope(ys, xs, np.ones(len(ys)), letter=8.0)  # 1-px bins: a rule is thin; rules set the skew
    # Shear the page so the rules are rows: pixel (y, x) -> (y - round(x * slope) + lift, x).
    shift = np.round(np.arange(strokes.shape[1]) * slope).astype(np.int64)  # (W,)
    lift = int(max(0, shift.max()))
    rows = ys - shift[xs] + lift  # (N,) sheared row of each ink pixel
    sheared = np.zeros((strokes.shape[0] + lift - int(min(0, shift.min())) + 1, strokes.shape[1]), bool)
    sheared[rows, xs] = True
    thick = sheared | np.roll(sheared, 1, axis=0)  # a rule off the skew by a pixel still fills its row
    coverage = thick.sum(axis=1) / span  # (rows,) fraction of the ink's width inked in each row
    apart = RULE_THICKNESS // 2 + 2  # rows from a rule's middle to the paper beside it
    beside = np.maximum(np.roll(coverage, apart), np.roll(coverage, -apart))  # the rows above and below
    rule_rows = (coverage >= RULE_COVERAGE) & (beside < coverage / 2)  # (rows,) full and thin
    if not rule_rows.any():
        return none
    for _ in range(RULE_THICKNESS // 2):  # a rule's whole thickness: the rows beside it about as full
        wider = rule_rows | np.roll(rule_rows, 1) | np.roll(rule_rows, -1)
        rule_rows |= wider & (coverage >= RULE_COVERAGE / 2)
    rule_rows |= np.roll(rule_rows, 1) | np.roll(rule_rows, -1)  # and its faint edges
    rule = np.zeros_like(strokes)
    rule[ys, xs] = rule_rows[rows]
    # the rule's ink where it touches a letter is the letter's (the bottom of an "o" written on it,
    # a descender crossing it): only the rule between the letters goes
    labels, count = ndimage.label(strokes & ~rule)  # (H, W) the strokes without the rules
    areas = np.bincount(labels.ravel(), minlength=count + 1)[1:]  # (count,)
    letters = np.concatenate([[False], areas >= RULE_NOISE])[labels]  # (H, W) not the noise along a rule
    return rule & ~ndimage.binary_dilation(letters, np.ones((3, 3), bool), iterations=RULE_TOUCH)


def _centre_line(ys: np.ndarray, xs: np.ndarray, weights: np.ndarray, slope: float) -> tuple[float, float]:
    """(row at x = 0, slope) of a line's centre: the ink-weighted least-squares line through its
    pixels, fitted again without the ink far from it (the neighbours' descenders and ascenders cut
    into its band); the page's ``slope`` where the line is too short to tell."""
    limit = math.tan(math.radians(MAX_SKEW_DEGREES))
    keep = np.ones(len(ys), bool)
    row, tilt = float(np.average(ys - xs * slope, weights=weights)), slope
    for _ in range(2):
        w = weights * keep
        if w.sum() <= 0 or np.ptp(xs[keep]) < 4:
            break
        x0 = np.average(xs, weights=w)
        tilt = float(np.clip(np.average((xs - x0) * ys, weights=w) / np.average((xs - x0) ** 2, weights=w), -limit, limit))
        row = float(np.average(ys - xs * tilt, weights=w))
        off = ys - (row + xs * tilt)  # (n,) rows from the fitted centre
        keep = np.abs(off) <= 2 * np.sqrt(np.average(off**2, weights=w))
    return row, tilt


def _letter_height(heights: np.ndarray, areas: np.ndarray) -> float:
    """A letter's height in pixels, tall letters included: the height of the stroke below which 80%
    of the ink lies, strokes sorted by height (most ink is in letters and words; specks of noise
    are many but small). Measured on rendered pages of the validation and test hands: the median
    (x-height for print hands) let one line's ascenders pass for a line of their own."""
    order = np.argsort(heights)
    middle = np.searchsorted(np.cumsum(areas[order]), areas.sum() * 0.8)
    return float(max(heights[order][min(middle, len(order) - 1)], 4.0))


def _profile_pitch(profile: np.ndarray, letter: float) -> float | None:
    """The line pitch of a page in pixels: the first clear peak of the row profile's
    autocorrelation within [0.3, 1.5] letters (None: no repeat, e.g. one line). Joined-up hands
    whose lines touch merge strokes across lines, so a "letter" measured on strokes can be
    taller than the pitch; the profile's period is not fooled by that."""
    smooth = ndimage.gaussian_filter1d(profile.astype(np.float64), 2.0)
    auto = np.correlate(smooth, smooth, "full")[len(smooth) - 1 :]  # (rows,) lag 0, 1, ...
    if auto[0] <= 0:
        return None
    peaks, _ = signal.find_peaks(auto / auto[0], prominence=PITCH_PROMINENCE)
    near = peaks[(peaks >= 0.3 * letter) & (peaks <= 1.5 * letter)]
    return float(near[0]) if len(near) else None


def _skew_slope(ys: np.ndarray, xs: np.ndarray, weights: np.ndarray, letter: float) -> float:
    """The slope s (rows per column; negative = lines rising to the right) whose profile of
    ``v = y - x s`` is sharpest; among equally sharp ones, the flattest."""
    if len(ys) > MAX_SKEW_POINTS:
        pick = np.random.default_rng(0).choice(len(ys), MAX_SKEW_POINTS, replace=False)
        ys, xs, weights = ys[pick], xs[pick], weights[pick]
    bin_size = max(1.0, letter / 8)
    slopes = np.tan(np.radians(np.arange(-MAX_SKEW_DEGREES, MAX_SKEW_DEGREES + 1e-9, SKEW_STEP_DEGREES)))
    scores = []
    for slope in slopes:
        v = ys - xs * slope
        scores.append(float(np.square(np.bincount(((v - v.min()) / bin_size).astype(int), weights=weights)).sum()))
    sharpest = np.flatnonzero(np.array(scores) >= max(scores) * (1 - 1e-9))
    return float(slopes[sharpest[np.argmin(np.abs(slopes[sharpest]))]])


def _line_borders(profile: np.ndarray, letter: float) -> np.ndarray:
    """Borders between lines along the profile: the deepest point between neighbouring peaks."""
    pad = int(2 * letter)  # paper before the first line and after the last, so their peaks fall to 0
    padded = np.pad(profile.astype(np.float64), pad)
    smooth = ndimage.gaussian_filter1d(padded, sigma=max(1.0, letter / SMOOTHING), mode="constant")
    peaks, props = signal.find_peaks(smooth, distance=max(1, int(0.4 * letter)), prominence=0)
    if len(peaks) == 0:
        return np.zeros(0)
    strong = props["prominences"] >= MIN_PEAK_PROMINENCE * smooth[peaks]
    peaks = peaks[strong] if strong.any() else peaks[[int(np.argmax(smooth[peaks]))]]
    return np.array([a + int(np.argmin(smooth[a:b])) - pad for a, b in zip(peaks[:-1], peaks[1:])], dtype=np.float64)


def _paint(ys: np.ndarray, xs: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Pixels (page coordinates) -> the (h, w) float32 image of just them, and its top and left on the page."""
    top, left = int(ys.min()), int(xs.min())
    crop = np.zeros((int(ys.max()) - top + 1, int(xs.max()) - left + 1), np.float32)  # (h, w)
    crop[ys - top, xs - left] = weights
    return crop, top, left


def _line(ys: np.ndarray, xs: np.ndarray, weights: np.ndarray, slope: float) -> PageLine:
    """A line's pixels (page coordinates) -> its level, cropped ink and its outline on the page."""
    crop, _, _ = _paint(ys, xs, weights)
    degrees = math.degrees(math.atan(slope))  # > 0: the line falls to the right (rows grow down)
    if abs(degrees) >= SKEW_STEP_DEGREES / 2:  # PIL turns counter-clockwise: that levels a falling line
        level = Image.fromarray(crop, mode="F").rotate(degrees, resample=Image.Resampling.BILINEAR, expand=True)
        crop = np.clip(np.asarray(level, dtype=np.float32), 0.0, 1.0)
    v = ys - xs * slope
    v0, v1 = float(v.min()), float(v.max()) + 1
    x0, x1 = float(xs.min()), float(xs.max()) + 1
    polygon = ((x0, v0 + x0 * slope), (x1, v0 + x1 * slope), (x1, v1 + x1 * slope), (x0, v1 + x0 * slope))
    return PageLine(ink=crop, polygon=polygon)
