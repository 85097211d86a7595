"""training/ablations.py: each variant changes what it says and only that; runs record their
results, a sweep resumes, the table summarises over seeds."""

import importlib.util
import json
import subprocess
import sys

import pytest
import torch
from lightning.pytorch.callbacks import Timer

from tests.conftest import REPO
from tests.test_cli import build

spec = importlib.util.spec_from_file_location("ablations", REPO / "training" / "ablations.py")
ablations = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ablations)

TINY = ["--data.num_train=16", "--data.num_val=8", "--data.num_test=8", "--data.batch_size=8", "--trainer.precision=32-true"]


def _model(run_experiment, variant):
    args = ablations.fit_args(variant, seed=1, steps=7)[1:]  # without the subcommand
    return build(run_experiment, *args, "--data.num_train=16").model


def test_every_variant_changes_only_its_setting(run_experiment, data_dir):
    base = _model(run_experiment, "baseline")
    assert base.hparams.pos_embedding == "learned" and base.hparams.tf_dropout == 0.0
    assert base.hparams.encoder == "resnet" and base.ignore_index == -100
    assert isinstance(base.model.decoder.position_embedding, torch.nn.Embedding)
    changed = {
        "sinusoidal": lambda m: not isinstance(m.model.decoder.position_embedding, torch.nn.Embedding),
        "ignore_pad": lambda m: m.ignore_index == m.vocabulary.pad_index,
        "dropout_0.1": lambda m: m.hparams.tf_dropout == 0.1,
        "dropout_0.4": lambda m: m.hparams.tf_dropout == 0.4,
        "resnet18": lambda m: type(m.model.encoder).__name__ == "ResNet18Trunk",
    }
    assert set(changed) | {"baseline"} == set(ablations.VARIANTS)
    keys = ("pos_embedding", "tf_dropout", "encoder", "ignore_pad_in_loss", "tf_dim", "tf_num_layers", "resnet")
    for variant, check in changed.items():
        model = _model(run_experiment, variant)
        assert check(model), variant
        differing = {k for k in keys if model.hparams[k] != base.hparams[k]}
        assert len(differing) == 1, (variant, differing)


def test_runs_have_equal_steps_not_the_quickstarts_time_budget(run_experiment, data_dir):
    """The quickstart stops at its time budget: an ablation must not, or a slower variant gets fewer steps."""
    args = ablations.fit_args("resnet18", seed=1, steps=7)[1:]  # without the subcommand
    trainer = build(run_experiment, *args, "--data.num_train=16").trainer
    assert trainer.max_steps == 7
    assert not any(isinstance(c, Timer) for c in trainer.callbacks)  # Lightning's or the quickstart's FitTimer


def test_budget_seed_and_schedule_are_set_per_run():
    args = ablations.fit_args("dropout_0.4", seed=2, steps=1234)
    assert "--seed_everything=2" in args and "--trainer.max_steps=1234" in args
    assert "--trainer.val_check_interval=1234" in args  # one validation, at the end
    assert not any("total_steps" in a for a in args)  # the one-cycle takes its length from max_steps
    with pytest.raises(ValueError, match="unknown variant 'nope'"):
        ablations.fit_args("nope", 0, 10)
    with pytest.raises(ValueError, match="steps must be positive"):
        ablations.fit_args("baseline", 0, 0)


def test_summary_gives_mean_spread_and_each_seed():
    rows = [
        {"variant": "baseline", "seed": s, "steps": 100, "val_cer": v, "test_cer": t, "fit_minutes": 2.0}
        for s, v, t in [(0, 0.1, 0.4), (1, 0.2, 0.5), (2, 0.3, 0.6)]
    ] + [{"variant": "resnet18", "seed": 0, "steps": 100, "val_cer": 0.5, "test_cer": 0.7, "fit_minutes": 4.0}]
    table = ablations.summary(rows).splitlines()
    assert table[2].startswith("| 100 | baseline |") and "| 0, 1, 2 |" in table[2]
    assert "0.200 ± 0.100 (0.100, 0.200, 0.300)" in table[2] and "0.500 ± 0.100 (0.400, 0.500, 0.600)" in table[2]
    assert "| 0.500 (0.500) | 0.700 (0.700) | 4.0 |" in table[3]


def test_sweep_runs_tests_records_and_resumes(data_dir, tmp_path):
    out = tmp_path / "results.jsonl"
    command = [sys.executable, str(REPO / "training" / "ablations.py"), "sweep", "--variants", "baseline", "ignore_pad",
               "--seeds", "3", "--steps", "2", "--jobs", "2", "--out", str(out), *TINY]  # fmt: skip
    first = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stdout + first.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["variant"] for r in rows) == ["baseline", "ignore_pad"]
    for row in rows:
        assert row["seed"] == 3 and row["steps"] == 2 and row["overrides"] == TINY
        assert 0 <= row["val_cer"] and 0 <= row["test_cer"]  # measured on 8 validation and 8 test lines
        assert (tmp_path / row["run_dir"] / "config.yaml").exists()
    again = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "0 runs to do, 2 already in" in again.stdout
    table = subprocess.run([sys.executable, str(REPO / "training" / "ablations.py"), "table", str(out)], capture_output=True, text=True)
    assert table.returncode == 0 and "| 2 | baseline |" in table.stdout and "| 2 | ignore_pad |" in table.stdout
