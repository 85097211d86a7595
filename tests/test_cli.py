"""training/run_experiment.py: config names, links from the data module, errors, a real short fit."""

import os
import subprocess
import sys

import pytest
import yaml

from tests.conftest import REPO, SMALL_LINES

SMALL_ARGS = [f"--data.{k}={v}" for k, v in SMALL_LINES.items()]


def run_cli(*args, cwd, data_dir, timeout=300):
    env = {**os.environ, "MODEL_PACKAGE_DATA_DIR": str(data_dir), "WANDB_MODE": "offline"}
    return subprocess.run(
        [sys.executable, str(REPO / "training" / "run_experiment.py"), *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
    )


def build(run_experiment, *args):
    """Parse and instantiate without running (LightningCLI run=False)."""
    return run_experiment.TextRecognizerCLI(
        run_experiment.BaseLitModel,
        run_experiment.BaseDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        trainer_class=run_experiment.Trainer,
        save_config_callback=None,
        run=False,
        args=run_experiment.resolve_config_names(list(args)),
    )


def test_config_stem_resolves_to_configs_dir(run_experiment):
    assert run_experiment.resolve_config_names(["fit", "--config", "quickstart"])[2] == str(REPO / "configs" / "quickstart.yaml")
    assert run_experiment.resolve_config_names(["--config=quickstart"])[0] == f"--config={REPO / 'configs' / 'quickstart.yaml'}"
    assert run_experiment.resolve_config_names(["-c", "quickstart"])[1] == str(REPO / "configs" / "quickstart.yaml")
    assert run_experiment.resolve_config_names(["--trainer.max_steps", "quickstart"])[1] == "quickstart"  # only config values


def test_unknown_config_name_exits_with_message(run_experiment):
    with pytest.raises(SystemExit, match=r"no_such_config.*known: .*quickstart"):
        run_experiment.resolve_config_names(["fit", "--config", "no_such_config"])


def test_links_follow_the_chosen_data_module(run_experiment, data_dir):
    cli = build(run_experiment, "--config", "quickstart", *SMALL_ARGS)
    assert type(cli.datamodule).__name__ == "HandwritingFontLines"
    assert tuple(cli.model.hparams.input_dims) == cli.datamodule.input_dims == (1, 32, 320)
    assert cli.model.hparams.max_seq_length == cli.datamodule.max_seq_length == 34
    assert list(cli.model.hparams.idx_to_char) == cli.datamodule.idx_to_char

    cli = build(run_experiment, "--config", "quickstart", "--data=HandwritingFontParagraphs", "--data.max_lines=3")
    assert type(cli.datamodule).__name__ == "HandwritingFontParagraphs"
    assert tuple(cli.model.hparams.input_dims) == (1, 96, 320)  # the quickstart's line width, 3 lines
    assert cli.model.hparams.max_seq_length == 3 * 33 + 1
    assert len(cli.model.hparams.idx_to_char) == 84
    assert cli.model.model.decoder.head.out_features == 84
    assert cli.model.model.enc_height == 12  # 96 / 8: the encoder grid follows the new height


def test_model_options_reach_the_model(run_experiment, data_dir):
    cli = build(run_experiment, "--config", "quickstart", *SMALL_ARGS, "--model.tf_dropout=0.2", "--model.ignore_pad_in_loss=true")
    assert cli.model.model.decoder.layers[0].self_attn.dropout == 0.2
    assert cli.model.ignore_index == cli.model.vocabulary.pad_index
    cli = build(run_experiment, "--config", "quickstart", *SMALL_ARGS)
    assert cli.model.ignore_index == -100  # padding counts in the loss by default


def test_unknown_key_fails_naming_it_subprocess(tmp_path, data_dir):
    """The real command line: non-zero exit, the key named, no traceback."""
    result = run_cli("fit", "--config", "quickstart", "--model.tf_dimm=64", cwd=tmp_path, data_dir=data_dir)
    assert result.returncode != 0
    assert "tf_dimm" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("arg, key", [("--data.num_trian=10", "num_trian"), ("--trainer.max_stepz=3", "max_stepz")])
def test_unknown_key_fails_naming_it(run_experiment, data_dir, capsys, arg, key):
    with pytest.raises(SystemExit) as exit_info:
        build(run_experiment, "--config", "quickstart", arg)
    assert exit_info.value.code != 0
    assert key in capsys.readouterr().err


def test_unknown_key_in_a_yaml_file_fails_naming_it(run_experiment, tmp_path, data_dir, capsys):
    config = yaml.safe_load((REPO / "configs" / "quickstart.yaml").read_text())
    config["model"]["tf_layers"] = 2
    path = tmp_path / "typo.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(SystemExit) as exit_info:
        build(run_experiment, "--config", str(path))
    assert exit_info.value.code != 0 and "tf_layers" in capsys.readouterr().err


def test_fast_dev_run_subprocess(tmp_path, data_dir):
    result = run_cli("fit", "--config", "quickstart", "--trainer.fast_dev_run=true", *SMALL_ARGS, cwd=tmp_path, data_dir=data_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "`Trainer.fit` stopped" in result.stderr


@pytest.mark.parametrize(
    ("config_name", "project", "module", "input_dims"),
    [("quickstart", "quickstart", "LitTransformer", [1, 32, 320]),
     ("fontlines_line_cnn", "quickstart", "LitCTC", [1, 32, 512]),
     ("fontchars_mlp", "HandwritingFontCharacters", "LitClassifier", [1, 28, 28])],
)  # fmt: skip
def test_short_fit_saves_config_checkpoints_and_wandb_run(tmp_path, data_dir, config_name, project, module, input_dims):
    """A real (tiny) fit with the config's W&B logger, overfitting one batch, the prediction
    tables on: each LightningModule reads the memorised batch its own way."""
    result = run_cli(
        "fit", "--config", config_name, *SMALL_ARGS, "--trainer.overfit_batches=1", "--trainer.max_epochs=-1",
        "--trainer.max_steps=4", "--trainer.val_check_interval=2", "--trainer.check_val_every_n_epoch=null",
        "--trainer.limit_val_batches=1", "--trainer.enable_progress_bar=false", "--predictions.every_n_epochs=1",
        cwd=tmp_path, data_dir=data_dir,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    run_dirs = [p for p in (tmp_path / "runs" / project).iterdir() if p.is_dir()]
    assert len(run_dirs) == 1
    config = yaml.safe_load((run_dirs[0] / "config.yaml").read_text())
    assert config["model"]["class_path"] == f"model_package.lit_models.{module}"
    assert config["model"]["init_args"]["input_dims"] == input_dims  # the linked value, resolved
    assert config["data"]["class_path"].startswith("model_package.data.HandwritingFont")
    checkpoints = sorted(p.name for p in (run_dirs[0] / "checkpoints").iterdir())
    assert "last.ckpt" in checkpoints and any(name.startswith("epoch=") and ("cer=" in name or "acc=" in name) for name in checkpoints)
    wandb_runs = list((tmp_path / "runs" / "wandb").glob("offline-run-*"))
    assert len(wandb_runs) == 1
    tables = wandb_runs[0] / "files" / "media" / "table"
    assert list((tables / "validation").glob("predictions_*.table.json")), "no validation prediction table"
    assert list((tables / "train").glob("predictions_*.table.json")), "no table for the memorised training batch"


def test_font_characters_are_the_same_data_from_the_cli_as_from_python(run_experiment, data_dir):
    """Its canvas defaults are real parameters, so the CLI (which passes every parameter it knows)
    renders what HandwritingFontCharacters() renders (it gave 32 x 512 canvases instead of 64 x 128)."""
    from model_package.data import HandwritingFontCharacters

    cli = build(run_experiment, "--config", "fontchars_mlp")
    assert cli.datamodule.specs == HandwritingFontCharacters(batch_size=cli.datamodule.batch_size).specs
    assert (cli.datamodule.specs["train"].line_height, cli.datamodule.specs["train"].line_width) == (64, 128)


@pytest.mark.timeout(120)  # rendering the 20,000 paragraphs first took most of 5 minutes
def test_fast_dev_run_renders_only_the_batches_it_reads(run_experiment, tmp_path, monkeypatch, data_dir):
    import h5py

    monkeypatch.chdir(tmp_path)
    before = set((data_dir / "processed" / "handwriting_fonts").glob("HandwritingFontParagraphs-*.h5"))
    cli = run_experiment.main(["fit", "--config", "quickstart", "--data=HandwritingFontParagraphs", "--trainer.fast_dev_run=true",
                               "--trainer.logger=false", "--trainer.precision=32-true"])
    made = set((data_dir / "processed" / "handwriting_fonts").glob("HandwritingFontParagraphs-*.h5")) - before
    assert len(made) == 3  # train, val, test: one batch each
    for path in made:
        with h5py.File(path) as f:
            assert len(f["images"]) == cli.datamodule.batch_size


def test_the_trainer_keeps_lightnings_types_for_what_it_changes(run_experiment, data_dir):
    """The Trainer names callbacks, plugins and max_time itself (it adds a FitTimer and a
    CheckpointIO); with their types lost, ``--trainer.callbacks+=...`` was an unrecognised argument."""
    from lightning.pytorch.callbacks import LearningRateMonitor

    from model_package.lit_models.time_budget import FitTimer

    cli = build(run_experiment, "--config", "quickstart", "--data.num_train=16", "--trainer.logger=false",
                "--trainer.callbacks+=LearningRateMonitor", "--trainer.max_time=00:00:01:30")  # fmt: skip
    callbacks = cli.trainer.callbacks
    assert any(isinstance(c, LearningRateMonitor) for c in callbacks)
    (timer,) = [c for c in callbacks if isinstance(c, FitTimer)]  # the quickstart counts its budget over all of fit
    assert timer.budget_s == 90


def test_git_state_is_the_scripts_repository_commit_and_whether_it_is_dirty(tmp_path, monkeypatch):
    """environment.json's git_commit / git_dirty: the repository run_experiment.py lives in (a copy
    here, in a repository of its own), tracked changes only; None for both outside a repository."""
    import importlib.util
    import shutil

    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))  # no repository above tmp_path counts
    script = tmp_path / "repo" / "training" / "run_experiment.py"
    script.parent.mkdir(parents=True)
    shutil.copy(REPO / "training" / "run_experiment.py", script)
    spec = importlib.util.spec_from_file_location("run_experiment_copy", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def state():
        module.git_state.cache_clear()  # read once a run; here once a case
        return module.git_state()

    assert state() == (None, None)

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(script.parents[1]), *args], check=True, capture_output=True, text=True).stdout.strip()

    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    commit = git("rev-parse", "HEAD")
    assert state() == (commit, False)
    (script.parents[1] / "notes.txt").write_text("untracked")
    assert state() == (commit, False)  # untracked files do not make a run dirty
    script.write_text(script.read_text() + "\n# changed\n")
    assert state() == (commit, True)
