"""IAM through the real path: an iamdb.zip in the real layout, served on 127.0.0.1."""

import io
import zipfile

import numpy as np
import pytest
import torch
from iam_fixture import EXPECTED_SPLIT, FORMS, build_iamdb_zip
from servers import served_data

from model_package.data import IAMLines, IAMOriginalAndSyntheticParagraphs, IAMParagraphs, IAMSyntheticParagraphs
from model_package.data.iam import (
    IAM,
    IAMFormatError,
    RawLine,
    apply_corrections,
    cap_line_heights,
    decode_entities,
    keep_prompt_lines,
    matches_prompt,
    pad_line_regions,
    safe_extract,
)
from model_package.data.iam_synthetic_paragraphs import LinePieces, synthesize_paragraph
from model_package.metadata import iam as metadata
from model_package.metadata.vocabulary import NEWLINE, PARAGRAPH_VOCABULARY

ARCHIVE, DRAWN = build_iamdb_zip()
SPECS = {spec.id: spec for spec in FORMS}


@pytest.fixture(scope="module")
def iam_env(tmp_path_factory):
    """A data root of its own with iamdb.zip served from a loopback server."""
    root = tmp_path_factory.mktemp("iam-data")
    with served_data(root, {"IAM": ("/iam/iamdb.zip", ARCHIVE)}) as (server, _):
        yield root, server


@pytest.fixture(scope="module")
def iam(iam_env):
    dataset = IAM()
    dataset.prepare_data()
    return dataset


def lines_of(form_id, indices):
    return [SPECS[form_id].lines[i] for i in indices]


# ------------------------------------------------------------------ the raw data set


def test_download_extract_and_splits(iam_env, iam):
    root, server = iam_env
    assert (root / "downloaded" / "iam" / "iamdb.zip").read_bytes() == ARCHIVE
    assert (root / "downloaded" / "iam" / "iamdb" / "forms" / "a01-000u.jpg").exists()
    assert iam.split_by_form == EXPECTED_SPLIT  # validation 1 + 2, test, the rest (d04-005 in no file) train
    assert iam.form_ids("val") == ["b02-010", "g07-000a"]
    requests = len(server.requests)
    IAM().prepare_data()  # verified archive, extracted from it: nothing fetched or extracted again
    assert len(server.requests) == requests


def test_texts_entities_and_paragraph(iam):
    form = iam.forms["a01-000u"]
    assert [line.text for line in form.lines] == SPECS["a01-000u"].lines
    assert form.lines[1].text == 'from nominating any more "Labour"'  # &quot; decoded
    assert form.lines[2].text == "life Peers & it's over."  # &amp; and &apos;
    assert iam.forms["b02-010"].lines[0].text == 'He said "it was a fine'  # &amp;quot; (escaped twice)
    assert form.paragraph_text == NEWLINE.join(SPECS["a01-000u"].lines)
    assert [line.id for line in form.lines] == ["a01-000u-00", "a01-000u-01", "a01-000u-02"]
    assert decode_entities("a &quot;b&quot; &amp; c &apos;d&apos; R&D") == "a \"b\" & c 'd' R&D"  # what the parser left


def test_regions_are_the_drawn_words_scaled_and_padded(iam):
    """cmp boxes are at full resolution: halved, they cover the words drawn on the JPEG."""
    for form in iam.forms.values():
        for line in form.lines:
            x1, y1, x2, y2 = line.region
            dx1, dy1, dx2, dy2 = DRAWN[line.id]
            assert x1 == dx1 - metadata.LINE_REGION_PADDING and x2 == dx2 + metadata.LINE_REGION_PADDING
            assert y1 <= dy1 and y2 >= min(dy2, y1 + 200), line.id
    px1, py1, px2, py2 = iam.forms["a01-000u"].paragraph_region
    boxes = [line.region for line in iam.forms["a01-000u"].lines]
    assert (px1, py1, px2, py2) == (min(b[0] for b in boxes), boxes[0][1], max(b[2] for b in boxes), boxes[-1][3])


def test_ink_inside_every_line_region(iam):
    """Each region holds its own line's ink and not the next line's."""
    for form in iam.forms.values():
        ink = iam.load_ink(form.id)
        for line in form.lines:
            x1, y1, x2, y2 = line.region
            crop = ink[y1:y2, x1:x2]
            assert crop.max() > 0.5, line.id
            rows = np.flatnonzero((crop > 0.3).any(axis=1))
            assert rows[-1] - rows[0] < 1.5 * 22, f"{line.id}: ink over {rows[-1] - rows[0]} rows, two lines?"


# ------------------------------------------------------------------ cleaning rules


def test_lines_outside_the_prompt_are_dropped(iam):
    """a01-007: a header above and a signature below the prompt; the slip in between is kept."""
    form = iam.forms["a01-007"]
    assert form.dropped == ("a01-007-00", "a01-007-05")
    assert [line.text for line in form.lines] == lines_of("a01-007", [1, 2, 3, 4])
    spec = SPECS["a01-007"]
    prompt = " ".join(spec.prompt)
    raw = [RawLine(f"x-{i}", t, None) for i, t in enumerate(spec.lines)]
    kept, dropped = keep_prompt_lines(raw, prompt)
    assert [r.text for r in dropped] == ["Sentence Database A01-007", "Jane Q. Writer"]
    assert matches_prompt("support, a large majority of Labuor MPs", prompt)  # a slip still matches
    assert matches_prompt("a large majority of Labour", prompt)  # broken where print did not break
    assert not matches_prompt("Sentence Database A01-007", prompt)
    # letters that occur in the prompt, but scattered over it, are no match
    assert not matches_prompt("Sentence Database", "The sentences were entered in a large database of entries.")


def test_all_capitals_forms_match_ignoring_case(iam):
    form = iam.forms["g07-000a"]
    assert form.id in metadata.ALL_CAPITALS_FORMS
    assert form.dropped == ("g07-000a-00",)  # the header, found only because the capitals matched
    assert [line.text for line in form.lines] == lines_of("g07-000a", [1, 2, 3])
    prompt = " ".join(SPECS["g07-000a"].prompt)
    assert not matches_prompt("THE STORY GOES THAT THE OLD MAN", prompt)
    assert matches_prompt("THE STORY GOES THAT THE OLD MAN", prompt, ignore_case=True)


def test_line_height_is_capped(iam):
    """d04-005-00 has a word box reaching two lines down; its region stops above the next line."""
    form = iam.forms["d04-005"]
    first, second = form.lines[0].region, form.lines[1].region
    assert first[3] <= second[1] + 1
    assert first[3] - first[1] < 2 * (second[3] - second[1])
    capped = cap_line_heights([(0, 0, 10, 20), (0, 40, 10, 60), (0, 80, 10, 300), (0, 120, 10, 141)], factor=1.5)
    assert capped == [(0, 0, 10, 20), (0, 40, 10, 60), (0, 80, 10, 111), (0, 120, 10, 141)]


def test_padding_stops_halfway_to_the_neighbour():
    padded = pad_line_regions([(10, 0, 50, 20), (10, 26, 50, 40), (10, 38, 50, 60)], padding=8)
    assert padded == [(2, -8, 58, 23), (2, 23, 58, 40), (2, 38, 58, 68)]  # gap 6 -> 3 each side; overlap -> 0


def test_unboxed_line_is_dropped_and_spoils_only_the_paragraph(iam):
    form = iam.forms["d04-005"]
    assert "d04-005-01" in form.dropped and not form.paragraph_complete
    assert [line.text for line in form.lines] == lines_of("d04-005", [0, 2, 3, 4])
    assert iam.forms["a01-000u"].paragraph_complete


def test_corrections(iam):
    assert "k04-028" in metadata.corrections()["forms"]
    assert "k04-028" not in iam.forms  # the shipped corrections leave the form out
    lines = [RawLine("k04-028-00", "What the ink says is not", None), RawLine("k04-028-01", "what the label says.", None)]
    fixed = apply_corrections("k04-028", lines, {"lines": {"k04-028-01": {"was": "what the label says.", "text": "what it says."}}})
    assert [line.text for line in fixed] == ["What the ink says is not", "what it says."]
    with pytest.warns(UserWarning, match="k04-028-01.*not applied"):
        apply_corrections("k04-028", lines, {"lines": {"k04-028-01": {"was": "something else", "text": "x"}}})
    custom = IAM(corrections={"forms": {}, "lines": {"k04-028-01": {"was": "what the label says.", "text": "what the label said."}}})
    assert custom.forms["k04-028"].paragraph_text == "What the ink says is not\nwhat the label said."


def test_member_escaping_the_folder_is_refused(tmp_path):
    for name in ["../evil", "iamdb/../../evil", "/etc/evil", "C:/evil"]:
        archive, _ = build_iamdb_zip(extra_members={name: b"gotcha"})
        path = tmp_path / "iamdb.zip"
        path.write_bytes(archive)
        out = tmp_path / "out"
        with pytest.raises(IAMFormatError, match="refusing member"):
            safe_extract(path, out)
        assert not (tmp_path / "evil").exists() and not (out / "iamdb").exists()
        assert not out.exists() or not any(out.iterdir())  # nothing half-extracted
    link = io.BytesIO()
    with zipfile.ZipFile(link, "w") as zf:
        info = zipfile.ZipInfo("iamdb/forms/link.jpg")
        info.external_attr = (0o120777) << 16  # a symbolic link
        zf.writestr(info, "/etc/passwd")
    (tmp_path / "link.zip").write_bytes(link.getvalue())
    with pytest.raises(IAMFormatError, match="link"):
        safe_extract(tmp_path / "link.zip", tmp_path / "out2")


# ------------------------------------------------------------------ data modules


def test_iam_lines(iam_env, iam):
    dm = IAMLines(augment=False, batch_size=4)
    assert dm.input_dims == (1, 56, 1536) and dm.output_dims == (89,)
    dm.prepare_data()
    dm.setup()
    expected = {split: [line.text for f in iam.form_ids(split) if f in iam.forms for line in iam.forms[f].lines] for split in ("train", "val", "test")}
    for split, dataset in [("train", dm.data_train), ("val", dm.data_val), ("test", dm.data_test)]:
        assert len(dataset) == len(expected[split])
        for i in range(len(dataset)):
            image, label = dataset[i]
            assert image.shape == (1, 56, 1536) and image.max() > 0.5  # ink in every crop
            assert dm.vocabulary.decode(label.tolist()) == expected[split][i]
            rows = torch.nonzero((image[0] > 0.2).any(dim=1)).ravel()
            assert rows[0] >= 1 and rows[-1] <= 54  # between the margins
    # cached: a second module starts from the cache without the extracted forms
    images = dm.data_train.images.clone()
    (iam.root / "forms" / "a01-000u.jpg").rename(iam.root / "forms" / "moved.jpg")
    try:
        again = IAMLines(augment=False)
        again.setup()
        assert torch.equal(again.data_train.images, images)
    finally:
        (iam.root / "forms" / "moved.jpg").rename(iam.root / "forms" / "a01-000u.jpg")


def test_iam_lines_augmentation_can_be_switched_off(iam_env):
    torch.manual_seed(0)
    plain, augmented = IAMLines(augment=False), IAMLines(augment=True)
    plain.setup()
    augmented.setup()
    x, y = plain.data_train[0]
    xa, ya = augmented.data_train[0]
    assert torch.equal(y, ya) and xa.shape == x.shape and not torch.equal(xa, x)
    assert 0 <= float(xa.min()) and float(xa.max()) <= 1
    assert torch.equal(plain.data_train[0][0], x)  # deterministic without augmentation
    assert plain.data_val.transform is None and augmented.data_val.transform is None  # never on validation


def test_iam_paragraphs(iam_env, iam, capsys):
    dm = IAMParagraphs(augment=False)
    assert dm.input_dims == (1, 576, 640) and dm.output_dims == (682,) and dm.idx_to_char == PARAGRAPH_VOCABULARY
    dm.prepare_data()
    out = capsys.readouterr().out
    assert "left out 1 of 3 paragraphs with an unboxed line inside" in out  # d04-005
    dm.setup()
    texts = [dm.vocabulary.decode(dm.data_train[i][1].tolist()) for i in range(len(dm.data_train))]
    assert texts == [iam.forms[f].paragraph_text for f in ["a01-000u", "a01-007"]]
    assert texts[0] == 'A MOVE to stop Mr. Gaitskell\nfrom nominating any more "Labour"\nlife Peers & it\'s over.'
    for dataset in (dm.data_train, dm.data_val, dm.data_test):
        for i in range(len(dataset)):
            image = dataset[i][0][0]
            rows = torch.nonzero((image > 0.3).any(dim=1)).ravel()
            pitch = metadata.LINE_PITCH
            n_lines = dm.vocabulary.decode(dataset[i][1].tolist()).count("\n") + 1
            assert abs((rows[-1] - rows[0]).item() - (n_lines - 0.5) * pitch) < pitch  # about 28 px a line


def test_paragraphs_that_do_not_fit_are_dropped_with_a_count(iam_env, capsys):
    dm = IAMParagraphs(paragraph_width=150, paragraph_height=200, augment=False)
    dm.prepare_data()
    out = capsys.readouterr().out
    assert "IAMParagraphs train: left out 2 of 3 paragraphs larger than 200 x 150" in out
    dm.setup()
    assert len(dm.data_train) == 0
    short = IAMParagraphs(max_length=60, augment=False)
    short.prepare_data()
    assert "longer than 58 characters" in capsys.readouterr().out


def test_synthetic_paragraph_labels_match_their_stacked_lines(iam_env, iam):
    dm = IAMSyntheticParagraphs(augment=False, num_synthetic=30, max_lines=4)
    pieces = LinePieces(*dm.load_lines())
    train_lines = [line for f in iam.form_ids("train") if f in iam.forms for line in iam.forms[f].lines]
    assert sorted(pieces.texts) == sorted(line.text for line in train_lines)
    rng = np.random.default_rng(0)
    seen_multi = False
    for _ in range(40):
        page, text, chosen = synthesize_paragraph(pieces, rng, 576, 640, metadata.LINE_PITCH, 4, 680)
        assert text == NEWLINE.join(pieces.texts[i] for i in chosen)
        assert len({int(pieces.forms[i]) for i in chosen}) == len(chosen)  # each line from another form
        seen_multi |= len(chosen) > 1
        for row, i in enumerate(chosen):  # each line's ink where it was stacked
            h, w = pieces.shapes[i]
            y = row * metadata.LINE_PITCH
            assert (page[y : y + h, :w] >= pieces.images[i][:h, :w]).all()
        assert not page[len(chosen) * metadata.LINE_PITCH + pieces.images.shape[1] :].any()
    assert seen_multi
    dm.setup()
    assert len(dm.data_train) == 30 and len(dm.data_val) == 2
    image, label = dm.data_train[0]
    assert image.shape == (1, 576, 640) and label.shape == (682,)
    assert all(line in pieces.texts for line in dm.vocabulary.decode(label.tolist()).split(NEWLINE))


def test_synthetic_paragraphs_on_the_fly_and_precomputed(iam_env):
    fly = IAMSyntheticParagraphs(augment=False, num_synthetic=8)
    fly.setup()
    torch.manual_seed(1)
    first = [fly.data_train[i][1] for i in range(8)]
    second = [fly.data_train[i][1] for i in range(8)]
    assert any(not torch.equal(a, b) for a, b in zip(first, second))  # new paragraphs each pass (epoch)
    # Two DDP ranks: the same seed everywhere, the global RNG in the same state, different indices.
    rank0, rank1 = (IAMSyntheticParagraphs(augment=False, num_synthetic=8) for _ in range(2))
    rank0.setup()
    rank1.setup()
    torch.manual_seed(1)
    even = [rank0.data_train[i][1] for i in range(0, 8, 2)]
    torch.manual_seed(1)
    odd = [rank1.data_train[i][1] for i in range(1, 8, 2)]
    assert not any(torch.equal(a, b) for a, b in zip(even, odd))  # was identical: the index was ignored
    assert all(torch.equal(a, first[i]) for a, i in zip(even, range(0, 8, 2)))  # (seed, index, visit) fixes each
    assert all(torch.equal(a, first[i]) for a, i in zip(odd, range(1, 8, 2)))
    other = IAMSyntheticParagraphs(augment=False, num_synthetic=8)
    other.setup()
    torch.manual_seed(2)  # the global RNG plays no part
    assert torch.equal(other.data_train[0][1], first[0])
    a, b = (IAMSyntheticParagraphs(augment=False, num_synthetic=8, precompute=True, seed=3) for _ in range(2))
    a.setup()
    b.setup()
    assert torch.equal(a.data_train.images, b.data_train.images) and torch.equal(a.data_train.labels, b.data_train.labels)


def test_original_and_synthetic(iam_env):
    dm = IAMOriginalAndSyntheticParagraphs(augment=False, num_synthetic=10)
    dm.setup()
    real = IAMParagraphs(augment=False)
    real.setup()
    assert len(dm.data_train) == len(real.data_train) + 10
    assert torch.equal(dm.data_train[0][0], real.data_train[0][0])
    assert torch.equal(dm.data_val.images, real.data_val.images) and torch.equal(dm.data_test.labels, real.data_test.labels)
    batch = next(iter(dm.train_dataloader()))
    assert batch[0].shape[1:] == (1, 576, 640) and batch[1].shape[1:] == (682,)


# ------------------------------------------------------------------ configs and tools


@pytest.mark.parametrize(
    "config, data, dims, length, memory",
    [
        ("iam_lines_experiment_config", "IAMLines", (1, 56, 1536), 89, (4, 96)),
        ("iam_paragraphs_experiment_config", "IAMParagraphs", (1, 576, 640), 682, (18, 20)),
        ("iam_og_and_synth_para_experiment_config", "IAMOriginalAndSyntheticParagraphs", (1, 576, 640), 682, (18, 20)),
    ],
)
def test_iam_configs_link_dims_into_the_model(run_experiment, iam_env, config, data, dims, length, memory):
    from tests.test_cli import build

    cli = build(run_experiment, "--config", config)
    assert type(cli.datamodule).__name__ == data and cli.datamodule.batch_size == 16
    assert tuple(cli.model.hparams.input_dims) == dims and cli.model.hparams.max_seq_length == length
    assert cli.model.model.decoder.head.out_features == len(cli.datamodule.idx_to_char)
    assert (cli.model.model.enc_height, cli.model.model.enc_width) == memory
    assert cli.config.trainer.logger.init_args.project == data
    assert cli.model.hparams.tf_dim == 256 and cli.model.hparams.tf_num_layers == 4


def test_iam_paragraph_config_fits_through_the_cli(iam_env, tmp_path):
    """The real command, one training and one validation batch, real and synthetic paragraphs."""
    from tests.test_cli import run_cli

    root, _ = iam_env
    result = run_cli(
        "fit", "--config", "iam_og_and_synth_para_experiment_config", "--trainer.fast_dev_run=1",
        "--data.batch_size=2", "--data.num_synthetic=4", "--model.tf_dim=32", "--model.tf_fc_dim=32",
        "--model.tf_num_layers=1", "--trainer.logger=false", cwd=tmp_path, data_dir=root,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "validation/cer" in result.stdout + result.stderr


def test_preview_shows_iam_lines_with_their_labels(iam_env, tmp_path):
    from model_package.data import preview

    out = tmp_path / "iam.png"
    preview.main(["IAMLines", "--init", "augment=false", "--num", "3", "--out", str(out)])
    from PIL import Image

    with Image.open(out) as image:
        assert image.width == 1536 and image.height > 3 * 56
