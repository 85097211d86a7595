"""Crops of IAM forms as model inputs, shared by the IAM data modules.

Every crop comes from the form's JPEG made ink high (:func:`.preprocess.ink_high`: paper 0, ink
up to 1), so the scans look like every other data set here and like what serving feeds the model.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from model_package.data.download import resolve
from model_package.data.iam import IAM, Form, Region
from model_package.data.preprocess import place_line
from model_package.metadata import sources
from model_package.metadata.vocabulary import Vocabulary


def cache_key(iam: IAM, **params) -> str:
    """A short digest of everything a processed IAM file depends on: the archive's expected
    sha256, the corrections and the processing parameters."""
    _, sha256 = resolve(sources.IAM)
    blob = json.dumps({"archive": sha256, "corrections": iam.corrections, **params}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.round(image * 255), 0, 255).astype(np.uint8)


def crop(ink: np.ndarray, region: Region) -> np.ndarray:
    """``ink[y1:y2, x1:x2]`` with the region clipped to the image."""
    x1, y1, x2, y2 = region
    return ink[max(y1, 0) : max(y2, 0), max(x1, 0) : max(x2, 0)]


def line_image(ink: np.ndarray, region: Region, height: int, width: int) -> np.ndarray:
    """One line as the line models see it: (height, width) uint8, placed like every training line."""
    return to_uint8(place_line(crop(ink, region), height, width))


def form_line_pitch(form: Form) -> float:
    """The form's line pitch in JPEG pixels: the median distance between consecutive line tops
    (robust to a line left out in the middle); a one-line form's line height."""
    tops = [line.region[1] for line in form.lines]
    if len(tops) > 1:
        return max(float(np.median(np.diff(tops))), 1.0)
    x1, y1, x2, y2 = form.lines[0].region
    return max(float(y2 - y1), 1.0)


def paragraph_scale(form: Form, line_pitch: int) -> float:
    """The factor that makes the form's line pitch ``line_pitch`` pixels."""
    return line_pitch / form_line_pitch(form)


def resize(ink: np.ndarray, scale: float) -> np.ndarray:
    """(h, w) float ink resized by ``scale`` (Lanczos), as uint8."""
    h, w = ink.shape
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return to_uint8(np.asarray(Image.fromarray(ink.astype(np.float32), mode="F").resize(size, Image.Resampling.LANCZOS)))


def map_forms(fn: Callable, forms: Sequence[Form], desc: str, processes: int | None = None) -> list:
    """``[fn(form) for form in forms]``, in order, over ``processes`` processes, with a progress bar."""
    processes = processes or min(len(forms), os.cpu_count() or 1)
    with tqdm(total=len(forms), desc=desc, unit="form", disable=len(forms) < 50) as bar:
        if processes <= 1:
            results = []
            for form in forms:
                results.append(fn(form))
                bar.update()
            return results
        with ProcessPoolExecutor(processes) as pool:
            results = []
            for result in pool.map(fn, forms, chunksize=4):
                results.append(result)
                bar.update()
            return results


def encode_fitting(vocabulary: Vocabulary, texts: Sequence[str], max_tokens: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    """(labels (K, max_tokens) int16 of the texts that fit, boolean mask of those over ``texts``).

    Texts too long for ``max_tokens`` (with <S> and <E>) or with symbols outside the vocabulary
    are left out, with a count printed."""
    keep = np.zeros(len(texts), bool)
    labels, too_long, unknown = [], 0, set()
    for i, text in enumerate(texts):
        bad = vocabulary.unknown_characters(text)
        if bad:
            unknown |= bad
        elif len(text) + 2 > max_tokens:
            too_long += 1
        else:
            keep[i] = True
            labels.append(vocabulary.encode(text, max_tokens))
    if too_long:
        print(f"{what}: left out {too_long} of {len(texts)} longer than {max_tokens - 2} characters")
    if unknown:
        print(f"{what}: left out {int((~keep).sum()) - too_long} with symbols outside the vocabulary: {sorted(unknown)}")
    return np.array(labels, dtype=np.int16).reshape(-1, max_tokens), keep
