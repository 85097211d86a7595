"""A tiny Brown corpus in NLTK's real layout (tagged files + cats.txt), as ``nltk.download`` leaves it."""

from __future__ import annotations

from pathlib import Path

# Two documents in the Brown corpus's tagged format: word/tag tokens, one sentence a line.
DOCUMENTS = {
    "ca01": [
        "The/at Fulton/np-tl County/nn-tl Grand/jj-tl Jury/nn-tl said/vbd Friday/nr an/at investigation/nn ./.",
        "It/pps recommended/vbd that/cs Fulton/np legislators/nns act/vb ``/`` to/to have/hv these/dts laws/nns studied/vbn ''/'' ./.",
    ],
    "cb02": [
        "Regarding/in Atlanta's/np$ new/jj multi-million-dollar/jj airport/nn ,/, the/at jury/nn recommended/vbd 12/cd changes/nns ./.",
        "Only/rb a/at relative/jj handful/nn of/in such/jj reports/nns was/bedz received/vbn ./.",
    ],
}
SENTENCES = [  # what the reader gives, words joined by spaces
    "The Fulton County Grand Jury said Friday an investigation .",
    "It recommended that Fulton legislators act `` to have these laws studied '' .",
    "Regarding Atlanta's new multi-million-dollar airport , the jury recommended 12 changes .",
    "Only a relative handful of such reports was received .",
]


def _files() -> dict[str, str]:
    files = {name: "\n\n\t" + "\n\n\t".join(lines) + "\n" for name, lines in DOCUMENTS.items()}
    files["cats.txt"] = "ca01 news\ncb02 editorial\n"
    return files


def write_brown(nltk_dir: Path) -> None:
    """``nltk_dir/corpora/brown/`` as ``nltk.download`` leaves it."""
    root = nltk_dir / "corpora" / "brown"
    root.mkdir(parents=True)
    for name, text in _files().items():
        (root / name).write_text(text)
