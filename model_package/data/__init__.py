"""LightningDataModules: pass any class exported here to the CLI as ``--data=ClassName``.

Imported lazily, so that serving code can use ``model_package.data.preprocess`` without pulling
in Lightning and every data set (``from model_package.data import *`` imports them all).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_MODULES = {
    "BaseDataModule": "base_data_module",
    "EMNIST": "emnist",
    "EMNISTLines": "emnist_lines",
    "FakeImageData": "fake_images",
    "HandwritingFontLines": "handwriting_fonts",
    "HandwritingFontParagraphs": "handwriting_fonts",
    "HandwritingFontCharacters": "handwriting_fonts",
    "IAMLines": "iam_lines",
    "IAMParagraphs": "iam_paragraphs",
    "IAMSyntheticParagraphs": "iam_synthetic_paragraphs",
    "IAMOriginalAndSyntheticParagraphs": "iam_synthetic_paragraphs",
}
__all__ = list(_MODULES)

if TYPE_CHECKING:
    from model_package.data.base_data_module import BaseDataModule
    from model_package.data.emnist import EMNIST
    from model_package.data.emnist_lines import EMNISTLines
    from model_package.data.fake_images import FakeImageData
    from model_package.data.handwriting_fonts import HandwritingFontCharacters, HandwritingFontLines, HandwritingFontParagraphs
    from model_package.data.iam_lines import IAMLines
    from model_package.data.iam_paragraphs import IAMParagraphs
    from model_package.data.iam_synthetic_paragraphs import IAMOriginalAndSyntheticParagraphs, IAMSyntheticParagraphs


def __getattr__(name: str):
    if name in _MODULES:
        return getattr(importlib.import_module(f"{__name__}.{_MODULES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
