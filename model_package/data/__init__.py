"""LightningDataModules: pass any class exported here to the CLI as ``--data=ClassName``."""

from model_package.data.base_data_module import BaseDataModule
from model_package.data.emnist import EMNIST
from model_package.data.emnist_lines import EMNISTLines
from model_package.data.handwriting_fonts import HandwritingFontLines, HandwritingFontParagraphs

__all__ = ["BaseDataModule", "EMNIST", "EMNISTLines", "HandwritingFontLines", "HandwritingFontParagraphs"]
