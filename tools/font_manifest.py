"""Rebuild ``model_package/metadata/handwriting_fonts.json``: the npm handwriting fonts this repo
trains on, each with its pinned version, file, sha256, licence, split and style.

    python tools/font_manifest.py            # packs each family with npm, writes the manifest

The SELECTION below was made by looking at a contact sheet of every Latin-script family in Google
Fonts' "handwriting" category that npm's ``@fontsource`` scope publishes (230 of them, 2026-11):
kept are everyday pen, pencil and marker hands, print and cursive; left out are formal calligraphy,
display and brush lettering, single-case fonts (permanent-marker, rock-salt, walter-turncoat,
delius-unicase, patrick-hand-sc, sedgwick-ave-display) and fonts failing the glyph check
(edu-au-vic-wa-nt-dots). Families of one design system (Playwrite's school hands, the Australian
Edu hands, Delius, Caveat, ...) share a ``group`` and stay in one split, so validation and test
hands are unlike anything in training. Validation and test were picked to span the styles.
"""

from __future__ import annotations

import json
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PIL import ImageFont  # noqa: E402

from model_package.data.download import sha256_of  # noqa: E402
from model_package.data.font_download import MANIFEST_PATH  # noqa: E402
from model_package.data.fonts import missing_glyphs_of  # noqa: E402
from model_package.data.npm import pack  # noqa: E402
from model_package.metadata.vocabulary import CHARACTERS  # noqa: E402

MAJOR = "5"  # @fontsource major version to resolve; the manifest pins the exact version npm gives

# family: (split, style, group or ""). Styles: print, cursive (joined), marker (broad pen).
SELECTION = {
    # validation: ten hands unlike each other and unlike training's
    "kalam": ("val", "print", ""),
    "gloria-hallelujah": ("val", "print", ""),
    "reenie-beanie": ("val", "print", ""),
    "homemade-apple": ("val", "cursive", ""),
    "la-belle-aurore": ("val", "cursive", ""),
    "just-another-hand": ("val", "print", ""),
    "sue-ellen-francisco": ("val", "print", ""),
    "mynerve": ("val", "print", ""),
    "bad-script": ("val", "cursive", ""),
    "sacramento": ("val", "cursive", ""),
    # test
    "indie-flower": ("test", "print", ""),
    "architects-daughter": ("test", "print", ""),
    "nothing-you-could-do": ("test", "cursive", ""),
    "cedarville-cursive": ("test", "cursive", ""),
    "covered-by-your-grace": ("test", "marker", ""),
    "marck-script": ("test", "cursive", ""),
    "kristi": ("test", "cursive", ""),
    "the-girl-next-door": ("test", "print", ""),
    "over-the-rainbow": ("test", "print", ""),
    "ephesis": ("test", "cursive", ""),
    # training
    "annie-use-your-telescope": ("train", "print", ""),
    "beth-ellen": ("train", "marker", ""),
    "bilbo": ("train", "cursive", ""),
    "birthstone": ("train", "cursive", ""),
    "borel": ("train", "cursive", ""),
    "calligraffitti": ("train", "print", ""),
    "caveat": ("train", "print", "caveat"),
    "caveat-brush": ("train", "marker", "caveat"),
    "coming-soon": ("train", "print", ""),
    "comic-neue": ("train", "print", ""),
    "comforter": ("train", "cursive", ""),
    "crafty-girls": ("train", "print", ""),
    "dancing-script": ("train", "cursive", ""),
    "dawning-of-a-new-day": ("train", "cursive", ""),
    "delicious-handrawn": ("train", "marker", ""),
    "delius": ("train", "print", "delius"),
    "delius-swash-caps": ("train", "print", "delius"),
    "edu-au-vic-wa-nt-hand": ("train", "print", "edu"),
    "edu-nsw-act-cursive": ("train", "cursive", "edu"),
    "edu-nsw-act-foundation": ("train", "print", "edu"),
    "edu-qld-beginner": ("train", "print", "edu"),
    "edu-sa-beginner": ("train", "print", "edu"),
    "edu-tas-beginner": ("train", "print", "edu"),
    "edu-vic-wa-nt-beginner": ("train", "print", "edu"),
    "fuzzy-bubbles": ("train", "print", ""),
    "give-you-glory": ("train", "print", ""),
    "gochi-hand": ("train", "marker", ""),
    "grape-nuts": ("train", "print", ""),
    "grechen-fuemen": ("train", "marker", ""),
    "handlee": ("train", "print", ""),
    "herr-von-muellerhoff": ("train", "cursive", ""),
    "inspiration": ("train", "cursive", ""),
    "just-me-again-down-here": ("train", "print", ""),
    "licorice": ("train", "cursive", ""),
    "loved-by-the-king": ("train", "print", ""),
    "mansalva": ("train", "marker", ""),
    "meow-script": ("train", "cursive", ""),
    "merienda": ("train", "cursive", ""),
    "montez": ("train", "cursive", ""),
    "moon-dance": ("train", "cursive", ""),
    "mr-bedfort": ("train", "cursive", ""),
    "neucha": ("train", "print", ""),
    "oooh-baby": ("train", "cursive", ""),
    "pangolin": ("train", "print", ""),
    "patrick-hand": ("train", "print", ""),
    "playwrite-ar": ("train", "cursive", "playwrite"),
    "playwrite-br": ("train", "cursive", "playwrite"),
    "playwrite-cz": ("train", "cursive", "playwrite"),
    "playwrite-de-grund": ("train", "print", "playwrite"),
    "playwrite-dk-loopet": ("train", "cursive", "playwrite"),
    "playwrite-es": ("train", "cursive", "playwrite"),
    "playwrite-fr-trad": ("train", "cursive", "playwrite"),
    "playwrite-hr-lijeva": ("train", "cursive", "playwrite"),
    "playwrite-it-moderna": ("train", "print", "playwrite"),
    "playwrite-nl": ("train", "cursive", "playwrite"),
    "playwrite-no": ("train", "cursive", "playwrite"),
    "playwrite-nz": ("train", "cursive", "playwrite"),
    "playwrite-us-modern": ("train", "print", "playwrite"),
    "playwrite-us-trad": ("train", "cursive", "playwrite"),
    "playwrite-za": ("train", "cursive", "playwrite"),
    "qwigley": ("train", "cursive", ""),
    "rancho": ("train", "marker", ""),
    "redressed": ("train", "cursive", ""),
    "ruge-boogie": ("train", "cursive", ""),
    "satisfy": ("train", "cursive", ""),
    "schoolbell": ("train", "print", ""),
    "sedgwick-ave": ("train", "marker", ""),
    "send-flowers": ("train", "cursive", ""),
    "shadows-into-light": ("train", "print", "shadows-into-light"),
    "shadows-into-light-two": ("train", "print", "shadows-into-light"),
    "short-stack": ("train", "print", ""),
    "square-peg": ("train", "print", ""),
    "sunshiney": ("train", "print", ""),
    "swanky-and-moo-moo": ("train", "print", ""),
    "vibur": ("train", "print", ""),
    "vujahday-script": ("train", "cursive", ""),
    "waiting-for-the-sunrise": ("train", "print", ""),
    "whisper": ("train", "cursive", ""),
    "yellowtail": ("train", "cursive", ""),
    "zeyada": ("train", "print", ""),
    "bilbo-swash-caps": ("train", "cursive", ""),
    "allison": ("train", "cursive", ""),
    "mr-dafoe": ("train", "marker", ""),
    "jim-nightshade": ("train", "print", ""),
    "mr-de-haviland": ("train", "cursive", ""),
    "love-light": ("train", "cursive", ""),
    "my-soul": ("train", "cursive", ""),
}


def main() -> None:
    entries, problems = [], []
    with tempfile.TemporaryDirectory() as tmp:
        specs = {family: f"@fontsource/{family}@{MAJOR}" for family in SELECTION}
        tarballs, failures = pack(list(specs.values()), tmp)
        for family, (split, style, group) in SELECTION.items():
            spec = specs[family]
            if spec in failures:
                problems.append(f"{family}: {failures[spec]}")
                continue
            with tarfile.open(tarballs[spec]) as archive:
                package = json.load(archive.extractfile("package/package.json"))
                metadata = json.load(archive.extractfile("package/metadata.json"))
                file = f"files/{family}-latin-400-normal.woff2"
                path = Path(tmp) / Path(file).name
                path.write_bytes(archive.extractfile(f"package/{file}").read())
            missing = missing_glyphs_of(ImageFont.truetype(str(path), 48), "".join(CHARACTERS))
            if missing:
                problems.append(f"{family}: no glyph for {missing!r}")
                continue
            entries.append(dict(family=family, package=package["name"], version=package["version"], file=file,
                                sha256=sha256_of(path), license=metadata["license"]["type"], split=split,
                                style=style, group=group))  # fmt: skip
    for split in ("train", "val", "test"):
        print(split, sum(e["split"] == split for e in entries))
    if problems:
        print("left out:\n  " + "\n  ".join(problems))
    MANIFEST_PATH.write_text(json.dumps({"source": "npm @fontsource (Google Fonts, handwriting category)",
                                         "fonts": entries}, indent=1) + "\n")  # fmt: skip
    print(f"wrote {MANIFEST_PATH} ({len(entries)} fonts)")


if __name__ == "__main__":
    main()
