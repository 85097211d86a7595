"""Every config in configs/ parses and builds its model and data; the offline ones also train a step."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted(p.stem for p in (REPO / "configs").glob("*.yaml"))
OFFLINE = {"HandwritingFontLines", "HandwritingFontParagraphs", "FakeImageData"}
MODULES = {  # config -> (LightningModule, network or encoder)
    "emnist_mlp": ("LitClassifier", "MLP"),
    "emnist_cnn": ("LitClassifier", "CNN"),
    "fontchars_mlp": ("LitClassifier", "MLP"),
    "fontchars_cnn": ("LitClassifier", "CNN"),
    "emnistlines_line_cnn_simple": ("LitCTC", "LineCNNSimple"),
    "emnistlines_line_cnn": ("LitCTC", "LineCNN"),
    "fontlines_line_cnn": ("LitCTC", "LineCNN"),
    "line_cnn_transformer": ("LitTransformer", "LineCNNEncoder"),
}


def test_every_config_is_listed():
    assert len(CONFIGS) >= 11 and set(MODULES) <= set(CONFIGS)


@pytest.mark.parametrize("name", CONFIGS)
def test_config_builds_its_model_and_data(run_experiment, data_dir, name):
    from tests.test_cli import build

    cli = build(run_experiment, "--config", name)
    module, part = MODULES.get(name, ("LitTransformer", None))
    assert type(cli.model).__name__ == module
    if part is not None:
        inner = cli.model.model.encoder if module == "LitTransformer" else cli.model.model
        assert type(inner).__name__ == part
    assert tuple(cli.model.hparams.input_dims) == tuple(cli.datamodule.input_dims)
    assert list(cli.model.hparams.idx_to_char) == list(cli.datamodule.idx_to_char)


@pytest.mark.parametrize("name", [n for n in CONFIGS if (REPO / "configs" / f"{n}.yaml").read_text().count("HandwritingFont")])
def test_offline_config_fast_dev_run(run_experiment, data_dir, name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cli = run_experiment.main([
        "fit", "--config", name, "--trainer.fast_dev_run=1", "--trainer.logger=false", "--trainer.precision=32-true",
        "--data.num_train=16", "--data.num_val=8", "--data.num_test=8", "--data.batch_size=8",
    ])  # fmt: skip
    assert cli.trainer.state.finished and cli.trainer.global_step == 1
    assert "validation/loss" in cli.trainer.callback_metrics


def test_model_and_network_chosen_on_the_command_line(run_experiment, data_dir):
    from tests.test_cli import build

    cli = build(run_experiment, "--data=FakeImageData", "--model=LitClassifier", "--model.network=model_package.models.MLP", "--model.network.fc1_dim=64")
    assert type(cli.model).__name__ == "LitClassifier" and cli.model.model.net[1].out_features == 64
    assert cli.model.model.net[1].in_features == 28 * 28  # the data's input_dims, linked
    cli = build(run_experiment, "--data=HandwritingFontLines", "--data.num_train=16", "--model=LitCTC")
    assert type(cli.model).__name__ == "LitCTC" and type(cli.model.model).__name__ == "LineCNN"
    cli = build(run_experiment, "--data=HandwritingFontLines", "--data.num_train=16", "--model.encoder=resnet18", "--model.pos_embedding=sinusoidal")
    assert type(cli.model.model.encoder).__name__ == "ResNet18Trunk"


def test_classifier_fits_with_the_default_checkpointing_then_tests_the_best(run_experiment, data_dir, tmp_path, monkeypatch):
    """LitClassifier logs validation/cer too, so the CLI's default ModelCheckpoint works for it."""
    monkeypatch.chdir(tmp_path)
    cli = run_experiment.main([
        "fit", "--data=FakeImageData", "--model=LitClassifier", "--model.network=model_package.models.MLP",
        "--trainer.max_epochs=2", "--trainer.logger=false", "--trainer.enable_progress_bar=false", "--test_after_fit=true",
    ])  # fmt: skip
    metrics = cli.trainer.callback_metrics  # the test's, after the fit
    assert {"test/accuracy", "test/cer"} <= set(metrics)
    assert abs(float(metrics["test/cer"]) - (1 - float(metrics["test/accuracy"]))) < 1e-6
    best = cli.trainer.checkpoint_callback
    assert best.monitor == "validation/cer" and best.best_model_path and best.best_model_score is not None
    assert cli.trainer.state.fn == "test" and cli.trainer.ckpt_path == best.best_model_path
