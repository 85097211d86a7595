"""Handwriting fonts by name: the npm families of the manifest once downloaded
(``model_package.data.font_download``), else PyPI's ``fontpkg-*`` packages installed with this one."""

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


def font_path(name: str) -> Path:
    """The regular-weight file of the family ``name`` (e.g. ``"indie-flower"``): the downloaded
    npm font when it is there, else the installed ``fontpkg`` one."""
    import fontpkg

    from model_package.data.font_download import downloaded_font

    downloaded = downloaded_font(name)
    if downloaded is not None:
        return downloaded
    try:
        return Path(fontpkg.path(name, nearest=True))
    except fontpkg.FontpkgError as err:
        raise FontError(
            f"font {name!r} is not installed; installed: {installed_fonts()} "
            "(an npm family of model_package/metadata/handwriting_fonts.json is fetched by the data "
            f"modules' default fonts; pip install fontpkg-{name} adds a packaged one)"
        ) from err


def load_font(name: str, size: int) -> ImageFont.FreeTypeFont:
    return _load_font_file(str(font_path(name)), size)


@functools.lru_cache(maxsize=4096)
def _load_font_file(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def missing_glyphs(name: str, characters: str) -> str:
    """Characters of ``characters`` the font draws as nothing or as its 'missing glyph' box."""
    return missing_glyphs_of(load_font(name, 48), characters)


def missing_glyphs_of(font: ImageFont.FreeTypeFont, characters: str) -> str:
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
