"""A small ``iamdb.zip`` in the real layout (FORMATS.md), built by the tests.

``iamdb/forms/<id>.jpg``: grayscale half-size "scans", dark text drawn on light paper at the XML's
coordinates (halved); ``iamdb/xml/<id>.xml``: ``<form>`` with ``machine-printed-part`` /
``machine-print-line text=`` and ``handwritten-part`` / ``line id= text= segmentation=`` /
``word id= text=`` / ``cmp x= y= width= height=`` at FULL resolution, entities escaped (one
of them twice, as IAM does); ``iamdb/task/{trainset,validationset1,validationset2,testset}.txt``.

The forms exercise every rule: a header and a signature around the prompt (``a01-007``), a
writer's slip inside it, an all-capitals form (``g07-000a``), a stray word box reaching into the
next line (``d04-005``), a line without word boxes, a form the corrections leave out (``k04-028``)
and a form in no task file (train).
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from xml.sax.saxutils import quoteattr

import numpy as np
from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 700, 520  # JPEG pixels (half resolution)
FONT_SIZE = 22
LINE_STEP = 56  # JPEG pixels between line tops
TOP = 80


@dataclass
class FormSpec:
    id: str
    prompt: list[str]  # machine-printed lines
    lines: list[str]  # handwritten lines, top to bottom
    no_boxes: set[int] = field(default_factory=set)  # lines whose words have no cmp
    stray_box: int | None = None  # this line gets a word box reaching two lines down
    double_escape: bool = False  # write '"' as &amp;quot; (IAM's double escaping)


FORMS = [
    FormSpec(
        "a01-000u",
        ["A MOVE to stop Mr. Gaitskell from nominating", 'any more "Labour" life Peers & it\'s over.'],
        ["A MOVE to stop Mr. Gaitskell", 'from nominating any more "Labour"', "life Peers & it's over."],
    ),
    FormSpec(
        "a01-007",
        ["Though they may gather some Left-wing support, a", "large majority of Labour MPs are likely to turn", "down the Foot-Griffiths resolution."],
        [
            "Sentence Database A01-007",
            "Though they may gather some Left-wing",
            "support, a large majority of Labuor MPs",  # a slip: still inside the prompt
            "are likely to turn down the Foot-Griffiths",
            "resolution.",
            "Jane Q. Writer",
        ],
    ),
    FormSpec(
        "g07-000a",
        ["The story goes that the old man walked", "home alone in the rain that night."],
        ["Sentence Database G07-000a", "THE STORY GOES THAT THE OLD MAN", "WALKED HOME ALONE IN THE RAIN", "THAT NIGHT."],
    ),
    FormSpec("b02-010", ['He said "it was a fine day" for a walk.'], ['He said "it was a fine', 'day" for a walk.'], double_escape=True),
    FormSpec("c03-021", ["Nobody knew where the key had gone (3 of them)."], ["Nobody knew where the key", "had gone (3 of them)."]),
    FormSpec(
        "d04-005",
        ["We met at noon; the train was late again, as usual, and cold. Then we walked home."],
        ["We met at noon; the train", "was late again,", "as usual, and cold.", "Then we walked", "home."],
        no_boxes={1},
        stray_box=0,
    ),
    FormSpec("k04-028", ["What the ink says is not what the label says."], ["What the ink says is not", "what the label says."]),
]

SPLITS = {  # task file -> forms whose line ids it lists
    "trainset.txt": ["a01-000u", "a01-007", "k04-028"],
    "validationset1.txt": ["g07-000a"],
    "validationset2.txt": ["b02-010"],
    "testset.txt": ["c03-021"],
}
EXPECTED_SPLIT = {"a01-000u": "train", "a01-007": "train", "k04-028": "train", "d04-005": "train",
                  "g07-000a": "val", "b02-010": "val", "c03-021": "test"}  # fmt: skip


def _font() -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=FONT_SIZE)


def _escape(text: str, double: bool) -> str:
    attr = quoteattr(text, {'"': "&quot;", "'": "&apos;"})[1:-1]  # & < > " ' escaped
    return attr.replace("&quot;", "&amp;quot;") if double else attr


def render_form(spec: FormSpec) -> tuple[bytes, str, dict]:
    """(JPEG bytes, XML text, {line id: JPEG-pixel box of its drawn words})."""
    image = Image.new("L", (WIDTH, HEIGHT), 235)
    draw = ImageDraw.Draw(image)
    font = _font()
    xml_lines, boxes = [], {}
    for i, text in enumerate(spec.lines):
        line_id = f"{spec.id}-{i:02d}"
        y, x = TOP + i * LINE_STEP, 30
        words_xml, drawn = [], []
        for j, word in enumerate(text.split(" ")):
            draw.text((x, y), word, font=font, fill=20)
            x1, y1, x2, y2 = draw.textbbox((x, y), word, font=font)
            drawn.append((x1, y1, x2, y2))
            cmps = ""
            if i not in spec.no_boxes:
                bottom = y2 + (2 * LINE_STEP if spec.stray_box == i and j == 0 else 0)
                cmps = f'<cmp x="{2 * x1}" y="{2 * y1}" width="{2 * (x2 - x1)}" height="{2 * (bottom - y1)}"/>'
            words_xml.append(f'      <word id="{line_id}-{j:02d}" tag="NN" text="{_escape(word, spec.double_escape)}">{cmps}</word>')
            x = x2 + 12
        b = np.array(drawn)
        boxes[line_id] = (int(b[:, 0].min()), int(b[:, 1].min()), int(b[:, 2].max()), int(b[:, 3].max()))
        xml_lines.append(
            f'    <line id="{line_id}" segmentation="ok" text="{_escape(text, spec.double_escape)}" threshold="154">\n'
            + "\n".join(words_xml)
            + "\n    </line>"
        )
    printed = "\n".join(f'    <machine-print-line text="{_escape(t, spec.double_escape)}"/>' for t in spec.prompt)
    xml = (
        '<?xml version="1.0" encoding="ISO-8859-1"?>\n'
        f'<form created="2002-01-14" height="{2 * HEIGHT}" id="{spec.id}" width="{2 * WIDTH}" writer-id="{spec.id[1:3]}0">\n'
        f"  <machine-printed-part>\n{printed}\n  </machine-printed-part>\n"
        f'  <handwritten-part>\n{chr(10).join(xml_lines)}\n  </handwritten-part>\n</form>\n'
    )
    jpeg = io.BytesIO()
    image.save(jpeg, format="JPEG", quality=92)
    return jpeg.getvalue(), xml, boxes


def build_iamdb_zip(extra_members: dict[str, bytes] | None = None) -> tuple[bytes, dict]:
    """(zip bytes, {line id: drawn box in JPEG pixels}) for :data:`FORMS`."""
    archive = io.BytesIO()
    boxes = {}
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for spec in FORMS:
            jpeg, xml, form_boxes = render_form(spec)
            boxes |= form_boxes
            zf.writestr(f"iamdb/forms/{spec.id}.jpg", jpeg)
            zf.writestr(f"iamdb/xml/{spec.id}.xml", xml.encode("iso-8859-1"))
        by_id = {spec.id: spec for spec in FORMS}
        for name, form_ids in SPLITS.items():
            ids = [f"{f}-{i:02d}" for f in form_ids for i in range(len(by_id[f].lines))]
            zf.writestr(f"iamdb/task/{name}", "\n".join(ids) + "\n")
        for name, data in (extra_members or {}).items():
            zf.writestr(name, data)
    return archive.getvalue(), boxes
