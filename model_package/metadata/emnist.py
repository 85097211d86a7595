"""EMNIST (byclass): 62 classes of handwritten characters, 28x28; class c is token c + 4.

``emnist_essentials.json`` beside this file holds the vocabulary and input shape, so a model can be
built without downloading the data.
"""

from __future__ import annotations

import json
from pathlib import Path

from model_package.metadata.vocabulary import LINE_VOCABULARY, SPECIAL_TOKENS

ESSENTIALS_PATH = Path(__file__).with_name("emnist_essentials.json")
MAT_MEMBER = "matlab/emnist-byclass.mat"  # inside matlab.zip
NUM_CLASSES = 62  # 0-9, A-Z, a-z
CLASS_OFFSET = len(SPECIAL_TOKENS)  # EMNIST class c is token c + 4
CHAR_SIZE = 28


def essentials() -> dict:
    """``{"idx_to_char": [...83 symbols...], "input_shape": [1, 28, 28]}``."""
    return json.loads(ESSENTIALS_PATH.read_text())


def write_essentials() -> None:
    """Regenerate the JSON from the shared vocabulary (run once, committed to git)."""
    content = {"idx_to_char": LINE_VOCABULARY, "input_shape": [1, CHAR_SIZE, CHAR_SIZE]}
    ESSENTIALS_PATH.write_text(json.dumps(content, indent=1) + "\n")


if __name__ == "__main__":
    write_essentials()
