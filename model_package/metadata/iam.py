"""Facts about the IAM Handwriting Database as FSDL repackaged it (``iamdb.zip``), and the shapes
of the IAM data modules. Sources: ``../shared/FORMATS.md`` and FSDL 2022's text_recognizer.
"""

from __future__ import annotations

import json
from importlib import resources

EXTRACTED_DIRNAME = "iamdb"  # the archive's top folder: iamdb/{forms,xml,task}
FORMS_DIRNAME = "forms"  # <form-id>.jpg, grayscale, downsampled by 2 from the 300 dpi scan
XML_DIRNAME = "xml"  # <form-id>.xml, coordinates at FULL resolution
TASK_DIRNAME = "task"
SPLIT_FILES = {
    "train": ("trainset.txt",),
    "val": ("validationset1.txt", "validationset2.txt"),
    "test": ("testset.txt",),
}

DOWNSAMPLE_FACTOR = 2  # XML coordinates / this = JPEG pixels
LINE_REGION_PADDING = 8  # JPEG pixels around a line's word boxes (less where the neighbour is nearer)
# A line's box is capped at its top + this many times the form's median line height, so a stray
# word box that reaches into the next line cannot make one crop hold two lines.
MAX_LINE_HEIGHT_FACTOR = 1.6

# Forms written all in capitals (FORMATS.md): their lines are matched to the prompt ignoring case.
ALL_CAPITALS_FORMS = frozenset({"g07-000a", "g07-003a", "f07-101a", "g07-007a", "g01-022"})

# IAMLines: FSDL's shapes. A line crop is scaled to LINE_HEIGHT rows (text between the 1/16
# margins of model_package.data.preprocess), squeezed only if wider than LINE_WIDTH.
LINE_HEIGHT = 56
LINE_WIDTH = 1536
MAX_LINE_TOKENS = 89  # <S> + the longest IAM line (87 characters in FSDL's processing) + <E>

# IAMParagraphs: each paragraph is scaled so its line pitch is LINE_PITCH pixels (FSDL halved the
# JPEG instead, which gives about 28 px for an average hand), then placed in the canvas.
LINE_PITCH = 28
PARAGRAPH_HEIGHT = 576
PARAGRAPH_WIDTH = 640
MAX_PARAGRAPH_TOKENS = 682  # <S> + the longest paragraph text (lines joined with "\n") + <E>, FSDL's figure


def corrections() -> dict:
    """The transcription corrections shipped with the package (``iam_corrections.json``)."""
    return json.loads(resources.files(__package__).joinpath("iam_corrections.json").read_text())
