"""EMNIST and EMNISTLines through the real path: a matlab.zip in the real layout, served on 127.0.0.1."""

import warnings

import numpy as np
import pytest
from brown_fixture import corpus_sentence, write_brown
from emnist_fixture import CLASSES, build_matlab_zip
from servers import served_data

from model_package.data import EMNIST, EMNISTLines
from model_package.data.emnist import balanced_indices, writer_split
from model_package.data.text import strip_punctuation
from model_package.metadata.vocabulary import LINE_VOCABULARY

ARCHIVE, PARTS = build_matlab_zip(per_class_train=6, per_class_test=2, writers=6)
SMALL = dict(num_train=40, num_val=12, num_test=12, batch_size=8)


@pytest.fixture(scope="module")
def emnist_env(tmp_path_factory):
    """A data root of its own, EMNIST served from a loopback server, nltk's index on loopback too
    (nltk refuses to fetch from there, so no test ever reaches the internet)."""
    root = tmp_path_factory.mktemp("emnist-data")
    with served_data(root, {"EMNIST": ("/matlab.zip", ARCHIVE)}) as (server, mp):
        mp.setenv("MODEL_PACKAGE_NLTK_INDEX_URL", server.url("/nltk/index.xml"))
        yield root, server


def test_emnist_downloads_and_reads_upright_characters(emnist_env):
    root, server = emnist_env
    dm = EMNIST(balance=False, val_fraction=0.3)
    assert dm.input_dims == (1, 28, 28) and dm.output_dims == (1,) and dm.idx_to_char == LINE_VOCABULARY
    dm.prepare_data()
    assert (root / "downloaded" / "emnist" / "matlab.zip").read_bytes() == ARCHIVE
    dm.setup()
    x_train, y_train = dm.data_train.images.numpy(), dm.data_train.labels.numpy()
    x_val, y_val = dm.data_val.images.numpy(), dm.data_val.labels.numpy()
    assert len(x_train) + len(x_val) == len(PARTS["train"]["labels"])
    assert len(dm.data_test) == len(PARTS["test"]["labels"])
    # each image is one of the upright drawings of its class, never transposed
    upright = PARTS["train"]["upright"]
    classes = PARTS["train"]["labels"].ravel()
    for image, token in zip(np.concatenate([x_train, x_val]), np.concatenate([y_train, y_val])):
        char = LINE_VOCABULARY[token]
        same_class = upright[classes == CLASSES.index(char)]
        assert any((image == u).all() for u in same_class), char
        assert not any((image == u.T).all() for u in same_class)  # upright: no sample left column-major
    image, label = dm.data_test[0]
    assert image.shape == (1, 28, 28) and 0 <= float(image.min()) <= float(image.max()) <= 1
    assert LINE_VOCABULARY[int(label)] == CLASSES[int(PARTS["test"]["labels"][0, 0])]


def test_emnist_validation_writers_are_not_training_writers(emnist_env):
    writers = PARTS["train"]["writers"].ravel()
    is_val = writer_split(writers, 0.3, np.random.default_rng(0))
    assert 0 < is_val.sum() < len(writers)
    assert not set(writers[is_val]) & set(writers[~is_val])


def test_balancing_gives_every_class_the_mean_count_and_repeats_only_rare_classes(emnist_env):
    labels = np.array([0] * 10 + [1] * 4 + [2] * 7)  # mean 7
    keep = balanced_indices(labels, np.random.default_rng(0))
    assert np.bincount(labels[keep]).tolist() == [7, 7, 7]
    assert len(set(keep[labels[keep] == 0])) == 7  # drawn without replacement
    assert set(keep[labels[keep] == 1]) == {10, 11, 12, 13}  # all of the rare class, then repeats
    dm = EMNIST(balance=True)
    dm.setup()
    counts = np.bincount(dm.data_train.labels.numpy())[4:]
    assert counts.min() == counts.max()


def test_emnist_mapping_must_match_the_vocabulary(tmp_path):
    from model_package.data.emnist import read_emnist_mat

    (tmp_path / "m.zip").write_bytes(ARCHIVE)
    wrong = list(LINE_VOCABULARY)
    wrong[4], wrong[5] = wrong[5], wrong[4]
    with pytest.raises(ValueError, match="EMNIST class 0 is '0', but vocabulary token 4 is '1'"):
        read_emnist_mat(tmp_path / "m.zip", wrong)


def test_emnist_lines_fit_their_dims_and_spell_their_labels(emnist_env):
    dm = EMNISTLines(text="offline", **SMALL)
    assert dm.input_dims == (1, 28, 28 * 32) and dm.output_dims == (32,)
    dm.prepare_data()
    dm.setup()
    vocab = dm.vocabulary
    for split in ("train", "val", "test"):
        images, labels, texts = dm.load_split(split)
        assert images.shape[1:] == dm.input_dims[1:] and labels.shape[1] == dm.output_dims[0]
        assert [vocab.decode(row) for row in labels] == texts
        for image, text in zip(images, texts):
            assert 1 <= len(text) <= 30 and set(text) <= set(CLASSES + " ")
            assert image.any()
            # ink stops where the characters end: no character is wider than 28 px and overlap only shortens
            columns = np.flatnonzero(image.any(axis=0))
            assert columns[-1] < 28 * len(text)
    image, label = dm.data_train[0]
    assert image.shape == (1, 28, 896) and label.shape == (32,)
    assert label[0] == vocab.start_index


def test_emnist_lines_are_made_of_the_right_characters(emnist_env):
    dm = EMNISTLines(text="offline", max_overlap=0.0, **SMALL)  # no overlap: each 28-px cell is one character
    images, _, texts = dm.load_split("test")
    test_upright = PARTS["test"]["upright"]
    test_classes = PARTS["test"]["labels"].ravel()
    for image, text in zip(images[:5], texts[:5]):
        for j, char in enumerate(text):
            cell = image[:, 28 * j : 28 * (j + 1)]
            if char == " ":
                assert not cell.any()
            else:
                assert any((cell == u).all() for u in test_upright[test_classes == CLASSES.index(char)]), char


def test_emnist_lines_same_seed_same_data(emnist_env, tmp_path, monkeypatch):
    first = EMNISTLines(text="offline", seed=3, **SMALL).load_split("train")
    fresh = tmp_path / "again"
    monkeypatch.setenv("MODEL_PACKAGE_DATA_DIR", str(fresh))  # regenerated from scratch, downloads again
    second = EMNISTLines(text="offline", seed=3, **SMALL).load_split("train")
    assert (first[0] == second[0]).all() and (first[1] == second[1]).all() and first[2] == second[2]
    third = EMNISTLines(text="offline", seed=4, **SMALL).load_split("train")
    assert third[2] != first[2]


def test_emnist_lines_without_brown_warns_once_and_uses_offline_text(emnist_env):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dm = EMNISTLines(**SMALL)  # text="brown": nltk cannot fetch it here
        dm.prepare_data()
    messages = [str(w.message) for w in caught if "Brown" in str(w.message)]
    assert len(messages) == 1 and "Python's documentation" in messages[0]
    assert dm._resolved_text() == "offline"


def test_emnist_lines_read_the_brown_corpus_when_present(emnist_env, tmp_path, monkeypatch):
    root, _ = emnist_env
    data = tmp_path / "with-brown"
    monkeypatch.setenv("MODEL_PACKAGE_DATA_DIR", str(data))
    write_brown(data / "downloaded" / "nltk_data")
    dm = EMNISTLines(**SMALL)
    assert dm._resolved_text() == "brown"
    # held out by document: documents 6 and 16 of the 20 are validation and test text
    train = " ".join(strip_punctuation(corpus_sentence(k)) for k in range(20) if k not in (5, 15))
    assert all(t in train for t in dm.load_split("train")[2])
    assert all(t in strip_punctuation(corpus_sentence(5)) for t in dm.load_split("val")[2])
    assert all(t in strip_punctuation(corpus_sentence(15)) for t in dm.load_split("test")[2])


def test_emnist_lines_config_links_dims_into_the_model(run_experiment, emnist_env):
    from tests.test_cli import build

    cli = build(run_experiment, "--config", "emnistlines_experiment_config")
    assert type(cli.datamodule).__name__ == "EMNISTLines" and cli.datamodule.batch_size == 128
    assert tuple(cli.model.hparams.input_dims) == (1, 28, 896) and cli.model.hparams.max_seq_length == 32
    assert cli.model.model.decoder.head.out_features == 83
    assert (cli.model.model.enc_height, cli.model.model.enc_width) == (1, 28)  # five stride-2 stages
    assert cli.config.trainer.logger.init_args.project == "EMNISTLines"


def test_emnist_lines_readme_command_runs(emnist_env, tmp_path):
    """The original README's memorisation command, as written (two epochs here instead of 200)."""
    from tests.test_cli import run_cli

    root, _ = emnist_env
    args = ["fit", "--config", "emnistlines_experiment_config", "--trainer.overfit_batches=1",
            "--trainer.max_epochs=200", "--data.batch_size=64"]
    result = run_cli(*args, "--trainer.max_epochs=2", cwd=tmp_path, data_dir=root)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(list(tmp_path.glob("runs/EMNISTLines/*/checkpoints/last.ckpt"))) == 1
