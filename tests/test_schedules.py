"""Learning-rate schedules follow the run: OneCycleLR's length comes from the trainer, plateau
schedulers step once per validation on the metric the config names."""

import pytest
import torch

from tests.conftest import SMALL_LINES

SMALL_ARGS = [f"--data.{k}={v}" for k, v in SMALL_LINES.items()]  # 64 training lines, batches of 8
QUIET = ["--trainer.logger=false", "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false",
         "--trainer.precision=32-true"]  # fmt: skip


def fit(run_experiment, tmp_path, monkeypatch, *args):
    monkeypatch.chdir(tmp_path)
    return run_experiment.main(["fit", "--config", "quickstart", *SMALL_ARGS, *QUIET, *args])


def schedule_of(tmp_path) -> dict:
    return torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)["lr_schedulers"][0]


@pytest.mark.parametrize("length", [["--trainer.max_steps=7"], ["--trainer.max_steps=-1", "--trainer.max_epochs=2"]])
def test_one_cycle_takes_its_length_from_the_trainer(run_experiment, tmp_path, monkeypatch, data_dir, length):
    """The quickstart sets no total_steps: any max_steps or max_epochs runs to its end (a fixed 2500
    crashed at step 2501 of --trainer.max_steps=5000)."""
    cli = fit(run_experiment, tmp_path, monkeypatch, *length, "--trainer.limit_val_batches=0")
    expected = 7 if "--trainer.max_steps=7" in length else 2 * SMALL_LINES["num_train"] // SMALL_LINES["batch_size"]
    assert cli.trainer.global_step == expected
    scheduler = cli.trainer.lr_scheduler_configs[0].scheduler
    assert scheduler.total_steps == expected and scheduler.last_epoch == expected


def test_a_time_budget_runs_the_one_cycle_to_its_end_before_the_time_is_up(run_experiment, tmp_path, monkeypatch, data_dir):
    """--trainer.max_time on a CPU too slow for max_steps: the schedule keeps up with the clock, so
    training stops on an annealed learning rate (not in the warm-up, where step 30 of 100,000 is)."""
    cli = fit(run_experiment, tmp_path, monkeypatch, "--trainer.max_steps=100000", "--trainer.max_time={'seconds': 4}",
              "--trainer.limit_val_batches=1", "--trainer.val_check_interval=10")
    scheduler = cli.trainer.lr_scheduler_configs[0].scheduler
    max_lr = scheduler.optimizer.param_groups[0]["max_lr"]
    assert 0 < cli.trainer.global_step < 100000
    assert scheduler.last_epoch >= 0.95 * scheduler.total_steps, (scheduler.last_epoch, cli.trainer.global_step)
    assert scheduler.get_last_lr()[0] < max_lr / 25  # below where the warm-up starts: annealed
    assert (tmp_path / "checkpoints" / "last.ckpt").exists()  # validated and saved when the time ran out


def test_a_run_stopped_by_its_time_budget_resumes_without_one_to_max_steps(run_experiment, tmp_path, monkeypatch, data_dir):
    """The schedule re-planned to the budget is re-planned again to the resumed run's length (a
    schedule moved past its end raised in OneCycleLR.step)."""
    first = fit(run_experiment, tmp_path, monkeypatch, "--trainer.max_steps=300", "--trainer.max_time={'seconds': 3}",
                "--trainer.limit_val_batches=1", "--trainer.val_check_interval=10")
    stopped = first.trainer.global_step
    assert stopped < 300  # the time ran out first
    cli = fit(run_experiment, tmp_path, monkeypatch, "--trainer.max_steps=300", "--trainer.max_time=null",
              "--trainer.limit_val_batches=1", "--trainer.val_check_interval=10",
              "--ckpt_path", str(tmp_path / "checkpoints" / "last.ckpt"))
    scheduler = cli.trainer.lr_scheduler_configs[0].scheduler
    assert cli.trainer.global_step == 300 and scheduler.total_steps == 300 and scheduler.last_epoch == 300


def test_a_run_ends_validated_and_saved_at_max_steps_between_validations(run_experiment, tmp_path, monkeypatch, data_dir):
    """13 steps validating every 5: the final weights are validated and saved too (they were not:
    the run reported step 10's figures and its last.ckpt held step 10's weights)."""
    cli = fit(run_experiment, tmp_path, monkeypatch, "--trainer.max_steps=13", "--trainer.max_time=null",
              "--trainer.limit_val_batches=1", "--trainer.val_check_interval=5")
    assert cli.trainer.global_step == 13
    assert cli.model._validations == 3  # steps 5, 10 and 13
    saved = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert saved["global_step"] == 13


def test_a_total_steps_set_in_the_config_is_kept(run_experiment, tmp_path, monkeypatch, data_dir):
    cli = fit(run_experiment, tmp_path, monkeypatch, "--trainer.max_steps=3", "--trainer.limit_val_batches=0",
              "--model.lr_scheduler.init_args.total_steps=20")
    assert cli.trainer.lr_scheduler_configs[0].scheduler.total_steps == 20


def test_a_resumed_run_with_more_steps_stretches_the_one_cycle(run_experiment, tmp_path, monkeypatch, data_dir):
    fit(run_experiment, tmp_path, monkeypatch, "--trainer.max_steps=4", "--trainer.val_check_interval=2")
    cli = fit(run_experiment, tmp_path, monkeypatch, "--trainer.max_steps=8", "--trainer.val_check_interval=2",
              "--ckpt_path", str(tmp_path / "checkpoints" / "last.ckpt"))
    scheduler = cli.trainer.lr_scheduler_configs[0].scheduler
    assert cli.trainer.global_step == 8 and scheduler.total_steps == 8 and scheduler.last_epoch == 8


def test_reduce_on_plateau_steps_once_per_validation_on_the_configured_metric(run_experiment, tmp_path, monkeypatch, data_dir):
    cli = fit(run_experiment, tmp_path, monkeypatch, "--trainer.max_steps=6", "--trainer.val_check_interval=2",
              "--model.lr_scheduler=ReduceLROnPlateau", "--model.lr_scheduler.init_args.patience=0",
              "--model.lr_scheduler_monitor=validation/cer")
    scheduler = cli.trainer.lr_scheduler_configs[0].scheduler
    assert cli.trainer.lr_scheduler_configs[0].monitor == "validation/cer"
    assert scheduler.last_epoch == 3  # validations at steps 2, 4 and 6; not one step per batch
    assert scheduler.best == pytest.approx(min(cli.trainer.callback_metrics["validation/cer"].item(), scheduler.best))


def test_each_best_checkpoint_holds_the_weights_its_score_was_measured_on(run_experiment, tmp_path, monkeypatch, data_dir):
    """Validation every 3 steps, epochs of 8, 10 steps: the checkpoints are written right after
    validations (steps 3, 6, 9 and the last, 10), never at an epoch end (step 8) under the score
    of step 6's validation."""
    fit(run_experiment, tmp_path, monkeypatch, "--trainer.max_steps=10", "--trainer.val_check_interval=3", "--model.lr_scheduler=null",
        "--checkpoint.save_top_k=-1")
    steps = {p.name: torch.load(p, map_location="cpu", weights_only=False)["global_step"] for p in (tmp_path / "checkpoints").glob("*.ckpt")}
    scored = {name: step for name, step in steps.items() if name != "last.ckpt"}
    assert sorted(scored.values()) == [3, 6, 9, 10], steps
    assert steps["last.ckpt"] == 10  # the latest validated weights: the final ones


def test_a_budget_for_all_of_fit_leaves_training_what_the_data_left(run_experiment, tmp_path, monkeypatch, data_dir):
    """--trainer.max_time_counts=fit: the budget counts from the trainer's creation, so the time
    spent making the data and the model (and the sanity check) is taken from training, and a
    reserve for the last validation too; the schedule still anneals in the time training gets."""
    from model_package.lit_models.time_budget import FitTimer

    cli = fit(run_experiment, tmp_path, monkeypatch, "--trainer.max_steps=100000", "--trainer.max_time={'seconds': 8}",
              "--trainer.max_time_counts=fit", "--trainer.limit_val_batches=1", "--trainer.val_check_interval=10")
    (timer,) = [c for c in cli.trainer.callbacks if isinstance(c, FitTimer)]
    assert timer.budget_s == 8 and timer.before_s > 0 and timer.reserve_s > 0
    assert timer._duration == pytest.approx(max(0.8, 8 - timer.before_s - timer.reserve_s))
    assert 0 < cli.trainer.global_step < 100000
    scheduler = cli.trainer.lr_scheduler_configs[0].scheduler
    assert scheduler.last_epoch >= 0.95 * scheduler.total_steps  # annealed in the shorter time
    assert (tmp_path / "checkpoints" / "last.ckpt").exists()


def test_a_budget_spent_before_training_still_trains_its_minimum_and_says_so(monkeypatch):
    """Fetching and rendering took longer than the whole budget: training gets its floor (a tenth
    of the budget) and a warning says fit will overrun."""
    from model_package.lit_models import time_budget

    warnings = []
    monkeypatch.setattr(time_budget, "rank_zero_warn", warnings.append)
    timer = time_budget.FitTimer({"seconds": 100}, reserve_s=5)
    timer._launched -= 30  # 30 s of data making
    timer.on_train_start(None, None)
    assert timer.before_s == pytest.approx(30, abs=1) and timer._duration == pytest.approx(65, abs=1)
    assert not warnings
    late = time_budget.FitTimer({"seconds": 100}, reserve_s=5)
    late._launched -= 120
    late.on_train_start(None, None)
    assert late._duration == 10 and len(warnings) == 1 and "longer than the budget" in warnings[0]


def test_a_users_timer_is_the_one_timer_as_in_lightning():
    """max_time_counts=fit with a Timer among the callbacks: that Timer alone, as Lightning does
    for max_time (two timers would stop training at the earlier and plan the schedule on one)."""
    from lightning.pytorch.callbacks import Timer

    from model_package.lit_models import Trainer
    from model_package.lit_models.time_budget import FitTimer

    own = Timer({"seconds": 30})
    trainer = Trainer(max_time={"seconds": 60}, max_time_counts="fit", callbacks=[own], logger=False)
    assert [c for c in trainer.callbacks if isinstance(c, Timer)] == [own]
    trainer = Trainer(max_time={"seconds": 60}, max_time_counts="fit", logger=False)
    assert [type(c) for c in trainer.callbacks if isinstance(c, Timer)] == [FitTimer]


def test_max_time_counts_is_checked():
    from model_package.lit_models import Trainer

    with pytest.raises(ValueError, match="max_time_counts must be 'training' or 'fit'"):
        Trainer(max_time_counts="launch", logger=False)
