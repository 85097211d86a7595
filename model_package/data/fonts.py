"""Handwriting fonts installed from PyPI's ``fontpkg-*`` packages."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from PIL import ImageFont


class FontError(ValueError):
    """A requested font is not installed, or cannot draw the vocabulary."""


def installed_fonts() -> list[str]:
    import fontpkg

    return sorted(fontpkg.families())


@functools.lru_cache(maxsize=None)
def font_path(name: str) -> Path:
    """The regular-weight file of the ``fontpkg`` family ``name`` (e.g. ``"indie-flower"``)."""
    import fontpkg

    try:
        return Path(fontpkg.path(name, nearest=True))
    except fontpkg.FontpkgError as err:
        raise FontError(
            f"font {name!r} is not installed; installed: {installed_fonts()} "
            f"(pip install fontpkg-{name} adds it)"
        ) from err


@functools.lru_cache(maxsize=256)
def load_font(name: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font_path(name)), size)


def missing_glyphs(name: str, characters: str) -> str:
    """Characters of ``characters`` the font draws as nothing or as its 'missing glyph' box."""
    font = load_font(name, 48)
    notdef = np.asarray(font.getmask("\uffff"))
    missing = []
    for c in characters:
        if c.isspace():
            continue
        mask = np.asarray(font.getmask(c))
        if mask.size == 0 or mask.max() == 0 or (mask.shape == notdef.shape and np.array_equal(mask, notdef)):
            missing.append(c)
    return "".join(missing)


def check_fonts(names: list[str], characters: str) -> None:
    """Raise :class:`FontError` naming each font that is absent or cannot draw ``characters``."""
    if not names:
        raise FontError("no font given")
    problems = []
    for name in names:
        try:
            missing = missing_glyphs(name, characters)
        except FontError as err:
            problems.append(str(err))
            continue
        if missing:
            problems.append(f"font {name!r} has no glyph for {missing!r}")
    if problems:
        raise FontError("; ".join(problems))
