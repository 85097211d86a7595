"""The IAM Handwriting Database as FSDL repackaged it: forms, their lines and paragraphs, and splits.

Not a data module: :class:`IAM` downloads and extracts ``iamdb.zip`` (:func:`.download.fetch`,
override with ``MODEL_PACKAGE_IAM_URL`` / ``MODEL_PACKAGE_IAM_SHA256``), reads each form's XML with
defusedxml and gives, per form, the cleaned handwritten lines (text and region in JPEG pixels),
the paragraph (lines joined with ``\\n``, region the union of theirs) and its split. The data
modules (:mod:`.iam_lines`, :mod:`.iam_paragraphs`) crop from it.

Cleaning, each step a function below, in the order applied:

1. :func:`apply_corrections`: known transcription errors (``metadata/iam_corrections.json``);
2. :func:`keep_prompt_lines`: only the lines from the first that matches the machine-printed
   prompt to the last that does (writers added headers such as ``Sentence Database P02-109``
   and signatures), ignoring case on the all-capitals forms;
3. lines without any word box are dropped (nothing to crop);
4. :func:`cap_line_heights`: no line taller than the form's median line height times
   ``MAX_LINE_HEIGHT_FACTOR``, so a stray word box cannot make a crop hold two lines;
5. :func:`pad_line_regions`: FSDL's padding, 8 px or half the gap to the neighbouring line.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
import shutil
import stat
import tempfile
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
from defusedxml import ElementTree

from model_package.data.download import fetch, sha256_of
from model_package.data.paths import downloaded_dir
from model_package.metadata import iam as metadata
from model_package.metadata import sources

Region = tuple[int, int, int, int]  # (x1, y1, x2, y2) in JPEG pixels, x2 and y2 exclusive

_FORM_ID = re.compile(r"^[a-z]\d{2}-\d{3}[a-z]?$")
_ENTITY = re.compile(r"&(quot|amp|apos|lt|gt);")
_ENTITIES = {"quot": '"', "amp": "&", "apos": "'", "lt": "<", "gt": ">"}


@dataclass(frozen=True)
class Line:
    id: str
    text: str
    region: Region


@dataclass(frozen=True)
class Form:
    id: str
    writer: str
    lines: tuple[Line, ...]  # cleaned, top to bottom
    dropped: tuple[str, ...] = ()  # ids of the handwritten lines cleaning left out
    # False when a line without word boxes lies between kept lines: its ink is inside the paragraph
    # region but not in the paragraph text, so the paragraph is unusable (its lines are fine).
    paragraph_complete: bool = True

    @property
    def paragraph_text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    @property
    def paragraph_region(self) -> Region:
        """The union of the line regions."""
        boxes = np.array([line.region for line in self.lines])
        return int(boxes[:, 0].min()), int(boxes[:, 1].min()), int(boxes[:, 2].max()), int(boxes[:, 3].max())


class IAMFormatError(ValueError):
    """The archive or one of its files is not in IAM's layout."""


# ---------------------------------------------------------------- safe extraction


def safe_extract(archive: str | os.PathLike, directory: str | os.PathLike, top: str = metadata.EXTRACTED_DIRNAME) -> Path:
    """Extract ``archive`` so that ``directory/top`` appears whole or not at all.

    Every member must be a regular file or folder whose path stays inside ``directory`` (no
    absolute paths, drive letters, ``..`` or links); one that does not is named in the error and
    nothing is extracted. Extraction goes to a temporary folder beside ``top``, renamed at the end.
    """
    directory = Path(directory)
    target = directory / top
    with zipfile.ZipFile(archive) as zf:
        members = zf.infolist()
        for info in members:
            _check_member(info, archive)
        if not any(PurePosixPath(info.filename).parts[:1] == (top,) for info in members):
            raise IAMFormatError(f"{archive} has no {top}/ folder; its first members: {[m.filename for m in members[:5]]}")
        directory.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{top}.extracting-", dir=directory))
        try:
            root = tmp.resolve()
            for info in members:
                dest = (tmp / info.filename).resolve()
                if dest != root and root not in dest.parents:  # belt and braces after _check_member
                    raise IAMFormatError(f"{archive}: member {info.filename!r} would be written outside {directory}")
                if info.is_dir():
                    dest.mkdir(parents=True, exist_ok=True)
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(dest, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
            if target.exists():
                shutil.rmtree(target)
            os.replace(tmp / top, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _check_member(info: zipfile.ZipInfo, archive) -> None:
    name = info.filename
    path = PurePosixPath(name.replace("\\", "/"))
    mode = info.external_attr >> 16
    if (
        not name
        or path.is_absolute()
        or re.match(r"^[A-Za-z]:", name)
        or ".." in path.parts
        or "\x00" in name
    ):
        raise IAMFormatError(f"{archive}: refusing member {name!r}: its path leaves the extraction folder")
    kind = stat.S_IFMT(mode)  # 0 when the archiver recorded no file type (Python's zipfile, Windows tools)
    if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
        raise IAMFormatError(f"{archive}: refusing member {name!r}: not a regular file or folder (a link or device)")


# ---------------------------------------------------------------- reading one form


def decode_entities(text: str) -> str:
    """Entities left in a text after XML parsing (the IAM XML escapes some twice: ``&amp;quot;``)."""
    return _ENTITY.sub(lambda m: _ENTITIES[m.group(1)], text)


def _word_box_region(line_element) -> Region | None:
    """Bounding box of the line's ``word/cmp`` boxes at JPEG scale, or None if it has none."""
    boxes = []
    for cmp in line_element.findall("word/cmp"):
        try:
            x, y, w, h = (int(cmp.attrib[k]) for k in ("x", "y", "width", "height"))
        except (KeyError, ValueError) as err:
            raise IAMFormatError(f"line {line_element.get('id')}: bad cmp box {dict(cmp.attrib)} ({err})") from None
        boxes.append((x, y, x + w, y + h))
    if not boxes:
        return None
    b = np.array(boxes)
    f = metadata.DOWNSAMPLE_FACTOR
    return int(b[:, 0].min()) // f, int(b[:, 1].min()) // f, int(b[:, 2].max()) // f, int(b[:, 3].max()) // f


@dataclass(frozen=True)
class RawLine:
    id: str
    text: str
    region: Region | None


def read_form_xml(source: str | os.PathLike | bytes) -> tuple[dict, str, list[RawLine]]:
    """(form attributes, prompt text, handwritten lines as written) of one form's XML."""
    try:
        root = ElementTree.fromstring(source) if isinstance(source, bytes) else ElementTree.parse(source).getroot()
    except ElementTree.ParseError as err:
        raise IAMFormatError(f"{source if not isinstance(source, bytes) else 'form XML'}: {err}") from None
    if root.tag != "form" or "id" not in root.attrib:
        raise IAMFormatError(f"{source if not isinstance(source, bytes) else 'form XML'}: root is <{root.tag}>, not <form id=...>")
    prompt = " ".join(decode_entities(el.get("text", "")) for el in root.findall("machine-printed-part/machine-print-line"))
    lines = [
        RawLine(el.get("id", ""), decode_entities(el.get("text", "")), _word_box_region(el))
        for el in root.findall("handwritten-part/line")
    ]
    return dict(root.attrib), prompt, lines


# ---------------------------------------------------------------- cleaning rules


def apply_corrections(form_id: str, lines: list[RawLine], corrections: dict) -> list[RawLine] | None:
    """Lines with the shipped corrections applied; None if the whole form is to be left out."""
    if corrections.get("forms", {}).get(form_id, {}).get("drop"):
        return None
    fixes = corrections.get("lines", {})
    out = []
    for line in lines:
        fix = fixes.get(line.id)
        if fix is not None:
            if line.text == fix["was"]:
                line = RawLine(line.id, fix["text"], line.region)
            elif line.text != fix["text"]:
                warnings.warn(f"IAM correction for {line.id} not applied: the XML reads {line.text!r}, not {fix['was']!r}")
        out.append(line)
    return out


def _normalise(text: str, ignore_case: bool) -> str:
    text = " ".join(text.split())
    return text.casefold() if ignore_case else text


def matches_prompt(line: str, prompt: str, ignore_case: bool = False) -> bool:
    """Whether ``line`` is a piece of the ``prompt`` (the whole machine-printed text), allowing a
    writer's slips: exact, or at least 80 % of its characters in runs of 3+ that lie within a
    stretch of the prompt at most 1.25 times its length."""
    line, prompt = _normalise(line, ignore_case), _normalise(prompt, ignore_case)
    if not line:
        return False
    if line in prompt:
        return True
    matcher = difflib.SequenceMatcher(None, line, prompt, autojunk=False)
    best = 0
    blocks = [b for b in matcher.get_matching_blocks() if b.size >= 3]
    # The densest group of blocks that stays within a short stretch of the prompt.
    for i, first in enumerate(blocks):
        matched = 0
        for b in blocks[i:]:
            if b.b + b.size - first.b > 1.25 * len(line):
                break
            matched += b.size
        best = max(best, matched)
    return best >= 0.8 * len(line)


def keep_prompt_lines(lines: list[RawLine], prompt: str, ignore_case: bool = False) -> tuple[list[RawLine], list[RawLine]]:
    """(kept, dropped): the lines from the first that matches the prompt to the last that does,
    those between kept even where they differ; all of them if none matches (nothing to go by)."""
    hits = [i for i, line in enumerate(lines) if matches_prompt(line.text, prompt, ignore_case)]
    if not hits:
        return list(lines), []
    first, last = hits[0], hits[-1]
    return lines[first : last + 1], lines[:first] + lines[last + 1 :]


def cap_line_heights(regions: list[Region], factor: float = metadata.MAX_LINE_HEIGHT_FACTOR) -> list[Region]:
    """Each region's bottom capped at its top plus ``factor`` times the median region height."""
    if not regions:
        return []
    cap = max(1, int(round(factor * float(np.median([y2 - y1 for _, y1, _, y2 in regions])))))
    return [(x1, y1, x2, min(y2, y1 + cap)) for x1, y1, x2, y2 in regions]


def pad_line_regions(regions: list[Region], padding: int = metadata.LINE_REGION_PADDING) -> list[Region]:
    """FSDL's padding: ``padding`` pixels left and right; above and below, ``padding`` or half the
    gap to the neighbouring line if that is smaller (overlapping lines get none)."""
    gaps = [max(nxt[1] - prev[3], 0) for prev, nxt in zip(regions[:-1], regions[1:])]
    above = [2 * padding] + gaps
    below = gaps + [2 * padding]
    return [
        (x1 - padding, y1 - min(padding, above[i] // 2), x2 + padding, y2 + min(padding, below[i] // 2))
        for i, (x1, y1, x2, y2) in enumerate(regions)
    ]


def clean_form(form_id: str, writer: str, prompt: str, lines: list[RawLine], corrections: dict) -> Form | None:
    """All cleaning rules applied to one form's lines, in order; None if the form is left out."""
    corrected = apply_corrections(form_id, lines, corrections)
    if corrected is None:
        return None
    kept, dropped = keep_prompt_lines(corrected, prompt, ignore_case=form_id in metadata.ALL_CAPITALS_FORMS)
    has_box = [line.region is not None for line in kept]
    if not any(has_box):
        return None
    first, last = has_box.index(True), len(has_box) - 1 - has_box[::-1].index(True)
    boxed = [line for line in kept if line.region is not None]
    regions = pad_line_regions(cap_line_heights([line.region for line in boxed]))
    return Form(
        id=form_id,
        writer=writer,
        lines=tuple(Line(line.id, line.text, region) for line, region in zip(boxed, regions)),
        dropped=tuple(line.id for line in dropped + [line for line in kept if line.region is None]),
        paragraph_complete=all(has_box[first : last + 1]),
    )


def parse_form(path: str | os.PathLike, corrections: dict | None = None) -> Form | None:
    """One form's XML read and cleaned; None if corrections leave it out or no line has a box."""
    attrs, prompt, lines = read_form_xml(path)
    return clean_form(attrs["id"], attrs.get("writer-id", ""), prompt, lines, metadata.corrections() if corrections is None else corrections)


# ---------------------------------------------------------------- the data set


class IAM:
    """The extracted archive under ``<data>/downloaded/iam/iamdb``: forms, cleaned, by split.

    ``corrections`` replaces the shipped corrections (a dict in the layout of
    ``metadata/iam_corrections.json``).
    """

    def __init__(self, corrections: dict | None = None):
        self.corrections = metadata.corrections() if corrections is None else corrections
        self.directory = downloaded_dir("iam")
        self.root = self.directory / metadata.EXTRACTED_DIRNAME

    def __repr__(self) -> str:
        return f"IAM({self.root})"

    @property
    def _stamp(self) -> Path:
        return self.directory / f".{metadata.EXTRACTED_DIRNAME}.extracted"

    def prepare_data(self) -> None:
        """Download ``iamdb.zip`` (unless verified there) and extract it (unless already extracted from it)."""
        archive = fetch(sources.IAM, self.directory)
        digest = sha256_of(archive)
        if self.root.is_dir() and self._stamp.exists() and self._stamp.read_text().strip() == digest:
            return
        print(f"extracting {archive}")
        safe_extract(archive, self.directory)
        for sub in (metadata.FORMS_DIRNAME, metadata.XML_DIRNAME, metadata.TASK_DIRNAME):
            if not (self.root / sub).is_dir():
                raise IAMFormatError(f"{archive}: no {metadata.EXTRACTED_DIRNAME}/{sub}/ folder")
        self._stamp.write_text(digest + "\n")

    def form_image_path(self, form_id: str) -> Path:
        return self.root / metadata.FORMS_DIRNAME / f"{form_id}.jpg"

    @functools.cached_property
    def all_form_ids(self) -> list[str]:
        xml_dir = self.root / metadata.XML_DIRNAME
        if not xml_dir.is_dir():
            raise FileNotFoundError(f"{xml_dir} does not exist; call IAM().prepare_data() first")
        ids = sorted(p.stem for p in xml_dir.glob("*.xml"))
        bad = [i for i in ids if not _FORM_ID.match(i)]
        if bad:
            raise IAMFormatError(f"{xml_dir}: file names that are not form ids: {bad[:5]}")
        return ids

    def _task_form_ids(self, split: str) -> set[str]:
        ids = set()
        for name in metadata.SPLIT_FILES[split]:
            path = self.root / metadata.TASK_DIRNAME / name
            if not path.exists():
                raise IAMFormatError(f"{path} is missing")
            ids |= {"-".join(line.strip().split("-")[:2]) for line in path.read_text().splitlines() if line.strip()}
        return ids

    @functools.cached_property
    def split_by_form(self) -> dict[str, str]:
        """Form id -> "train" | "val" | "test": validation sets 1 and 2, the test set, the rest train."""
        test, val = self._task_form_ids("test"), self._task_form_ids("val")
        return {i: "test" if i in test else "val" if i in val else "train" for i in self.all_form_ids}

    def form_ids(self, split: str) -> list[str]:
        if split not in ("train", "val", "test"):
            raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}")
        return [i for i, s in self.split_by_form.items() if s == split]

    @functools.cached_property
    def forms(self) -> dict[str, Form]:
        """Form id -> cleaned :class:`Form`, for every form not left out."""
        out = {}
        for form_id in self.all_form_ids:
            form = parse_form(self.root / metadata.XML_DIRNAME / f"{form_id}.xml", self.corrections)
            if form is not None:
                if form.id != form_id:
                    raise IAMFormatError(f"{form_id}.xml describes form {form.id!r}")
                out[form_id] = form
        return out

    def forms_of(self, split: str) -> list[Form]:
        """The cleaned forms of ``split`` (those cleaning did not leave out)."""
        return [self.forms[i] for i in self.form_ids(split) if i in self.forms]

    def load_ink(self, form_id: str) -> np.ndarray:
        """The form's JPEG as (H, W) float32, ink high (see :func:`.preprocess.ink_high`)."""
        return load_form_ink(self.form_image_path(form_id))


def load_form_ink(path: str | os.PathLike) -> np.ndarray:
    """A form's JPEG as (H, W) float32, ink high; a function, so worker processes can call it."""
    from PIL import Image

    from model_package.data.preprocess import ink_high

    with Image.open(path) as image:
        return ink_high(image)
