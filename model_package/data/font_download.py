"""The many-hands font set: Google Fonts' handwriting families from npm, as listed in
``model_package/metadata/handwriting_fonts.json`` (family, npm package, pinned version, file,
sha256, licence, split, style).

    splits = default_font_splits()   # {"train": (...), "val": (...), "test": (...)}

On first use every listed font is fetched with ``npm pack`` into a temporary folder, its file
taken out of the tarball, checked against the manifest's sha256 and moved into
``<data root>/downloaded/fonts/`` (a rename, so a font file is there whole or not at all). Fonts
that fail, or that cannot draw the vocabulary, are left out BY NAME with one warning; without npm
or a registry the splits fall back to the ``fontpkg-*`` fonts installed with this package, with
one warning saying what is missing and how to get it, so training still works offline.
"""

from __future__ import annotations

import functools
import json
import os
import tarfile
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from model_package.data.download import sha256_of
from model_package.data.npm import NPM_VARIABLE, NpmError, pack
from model_package.data.paths import downloaded_dir

MANIFEST_PATH = Path(__file__).resolve().parents[1] / "metadata" / "handwriting_fonts.json"
MANIFEST_VARIABLE = "MODEL_PACKAGE_FONT_MANIFEST"  # another manifest (tests, a mirror's own fonts)


@dataclass(frozen=True)
class NpmFont:
    family: str  # the font's name in this repo: the npm package's slug, e.g. "indie-flower"
    package: str  # e.g. "@fontsource/indie-flower"
    version: str  # pinned
    file: str  # path inside the tarball's package/ folder, e.g. "files/indie-flower-latin-400-normal.woff2"
    sha256: str  # of that file
    license: str
    split: str  # "train", "val" or "test"
    style: str  # print, cursive or marker
    group: str = ""  # families of one design system: always in the same split

    @property
    def spec(self) -> str:
        return f"{self.package}@{self.version}"

    @property
    def filename(self) -> str:
        return Path(self.file).name


def manifest_path() -> Path:
    return Path(os.environ.get(MANIFEST_VARIABLE) or MANIFEST_PATH)


def read_manifest(path: str | os.PathLike | None = None) -> list[NpmFont]:
    path = Path(path or manifest_path())
    return list(_read_manifest(str(path), path.stat().st_mtime_ns))


@functools.lru_cache(maxsize=8)
def _read_manifest(path: str, mtime_ns: int) -> tuple[NpmFont, ...]:
    data = json.loads(Path(path).read_text())
    return tuple(NpmFont(**entry) for entry in data["fonts"])


def fonts_dir() -> Path:
    return downloaded_dir("fonts")


class FontFetchError(RuntimeError):
    """Some fonts of the manifest could not be had; ``failures`` maps family -> reason."""

    def __init__(self, failures: dict[str, str], total: int):
        self.failures = failures
        super().__init__(
            f"could not fetch {len(failures)} of {total} handwriting font(s):\n"
            + "\n".join(f"  - {family}: {why}" for family, why in sorted(failures.items()))
        )


def _verified(path: Path, sha256: str) -> bool:
    return path.is_file() and sha256_of(path) == sha256


def fetch_fonts(fonts: list[NpmFont], directory: Path | None = None) -> dict[str, Path]:
    """family -> verified font file under ``directory`` (default ``downloaded/fonts``), fetching
    with npm those not there yet. Raises :class:`NpmError` without npm and
    :class:`FontFetchError` naming each font that failed (the others are kept)."""
    directory = Path(directory or fonts_dir())
    paths = {f.family: directory / f.filename for f in fonts}
    missing = [f for f in fonts if not _verified(paths[f.family], f.sha256)]
    if not missing:
        return paths
    directory.mkdir(parents=True, exist_ok=True)
    failures: dict[str, str] = {}
    with tempfile.TemporaryDirectory(dir=directory, prefix=".npm-pack-") as tmp, tqdm(
        total=len(missing), desc=f"fetching {len(missing)} handwriting fonts with npm", unit="font"
    ) as bar:
        tarballs, errors = pack(sorted({f.spec for f in missing}), tmp, progress=bar.update)
        for font in missing:
            if font.spec in errors:
                failures[font.family] = f"npm pack {font.spec}: {errors[font.spec]}"
                continue
            try:
                _extract(tarballs[font.spec], font, paths[font.family], Path(tmp))
            except (OSError, tarfile.TarError, ValueError) as err:
                failures[font.family] = str(err)
    if failures:
        raise FontFetchError(failures, len(fonts))
    return paths


def _extract(tarball: Path, font: NpmFont, target: Path, tmp: Path) -> None:
    """Take ``package/<font.file>`` out of ``tarball``, check its sha256, rename it to ``target``."""
    staged = tmp / f"{font.family}.part"
    with tarfile.open(tarball) as archive:
        try:
            member = archive.getmember(f"package/{font.file}")
        except KeyError:
            raise ValueError(f"{tarball.name} has no package/{font.file}") from None
        source = archive.extractfile(member)
        if source is None:
            raise ValueError(f"package/{font.file} in {tarball.name} is not a file")
        staged.write_bytes(source.read())
    actual = sha256_of(staged)
    if actual != font.sha256:
        staged.unlink()
        raise ValueError(f"{font.file} of {font.spec} has sha256 {actual}, the manifest says {font.sha256}")
    os.replace(staged, target)  # same file system: whole or absent


def _fallback_splits() -> dict[str, tuple[str, ...]]:
    from model_package.metadata import handwriting_fonts as packaged

    return {"train": tuple(packaged.TRAIN_FONTS), "val": tuple(packaged.VAL_FONTS), "test": tuple(packaged.TEST_FONTS)}


@functools.lru_cache(maxsize=4)
def _default_font_splits(data_root: str, manifest: str, npm: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    from model_package.data.fonts import FontError, missing_glyphs
    from model_package.metadata.vocabulary import CHARACTERS

    fonts = read_manifest(manifest)
    how = (f"Install npm (Debian: apt-get install npm) with access to an npm registry, or unset ${NPM_VARIABLE}; "
           f"the fonts then go to {fonts_dir()}.")  # fmt: skip
    try:
        paths = fetch_fonts(fonts)
    except NpmError as err:
        warnings.warn(f"{err}: training and evaluating on the {sum(len(v) for v in _fallback_splits().values())} "
                      f"fontpkg-* hands instead of the {len(fonts)} handwriting fonts of {manifest}. {how}", stacklevel=3)  # fmt: skip
        return tuple(_fallback_splits().items())
    except FontFetchError as err:
        if len(err.failures) == len(fonts):
            warnings.warn(f"{err}\nUsing the fontpkg-* hands instead. {how}", stacklevel=3)
            return tuple(_fallback_splits().items())
        warnings.warn(f"{err}\nThese are left out; the splits use the other {len(fonts) - len(err.failures)}.", stacklevel=3)
        paths = {f.family: fonts_dir() / f.filename for f in fonts if f.family not in err.failures}
    usable, unusable = [], {}
    characters = "".join(CHARACTERS)
    for font in fonts:
        if font.family not in paths:
            continue
        try:
            missing = missing_glyphs(font.family, characters)
        except FontError as e:
            unusable[font.family] = str(e)
            continue
        if missing:
            unusable[font.family] = f"no glyph for {missing!r}"
        else:
            usable.append(font)
    if unusable:
        warnings.warn("left out of the handwriting fonts (they cannot draw the vocabulary): "
                      + "; ".join(f"{k}: {v}" for k, v in unusable.items()), stacklevel=3)  # fmt: skip
    splits = {split: tuple(f.family for f in usable if f.split == split) for split in ("train", "val", "test")}
    empty = [split for split, names in splits.items() if not names]
    if empty:
        warnings.warn(f"no usable handwriting font left in {empty}; using the fontpkg-* hands instead. {how}", stacklevel=3)
        return tuple(_fallback_splits().items())
    return tuple(splits.items())


def default_font_splits() -> dict[str, tuple[str, ...]]:
    """The default train / validation / test hands: the manifest's (fetched on first use), or the
    packaged fontpkg hands when npm cannot fetch them (with one warning per process)."""
    from model_package.data.paths import data_root

    return dict(_default_font_splits(str(data_root()), str(manifest_path()), os.environ.get(NPM_VARIABLE, "")))


def downloaded_font(family: str) -> Path | None:
    """The downloaded file of a manifest family, if it is there."""
    path = manifest_path()
    filename = _filenames(str(path), path.stat().st_mtime_ns).get(family)
    if filename is None:
        return None
    file = fonts_dir() / filename
    return file if file.is_file() else None


@functools.lru_cache(maxsize=8)
def _filenames(path: str, mtime_ns: int) -> dict[str, str]:
    """family -> font file name, of the manifest at ``path``."""
    return {font.family: font.filename for font in _read_manifest(path, mtime_ns)}
