"""A time budget for the whole of ``fit``: Lightning's Timer counts from the start of training,
so fetching and rendering the data come on top and grow on a slower CPU; ``FitTimer`` counts
from the run's launch instead."""

from __future__ import annotations

import math
import time
from datetime import timedelta

from lightning.pytorch.callbacks import Timer
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn


class FitTimer(Timer):
    """Lightning's ``Timer`` whose ``duration`` counts from the callback's creation (the trainer's:
    the CLI makes it before the data module fetches and renders its data) rather than from the
    start of training.

    At the start of training it turns into a training budget: what is left, less a reserve for
    the validation after the last step, and at least ``min_training`` (a share of the budget).
    The reserve is the sanity check's time scaled to a whole validation (the sanity check runs a
    few validation batches before training, with the data loaders' start-up: an over-estimate),
    or ``reserve_s`` where there was no sanity check. So ``fit`` ends within ``duration`` on a CPU
    that renders slowly, and a run whose data is cached trains longer. Everything else (a resumed
    run counts its training so far, DDP ranks stop together, ``time_remaining``) is Lightning's.
    """

    def __init__(self, duration: str | timedelta | dict[str, int], reserve_s: float = 30.0, min_training: float = 0.1,
                 **kwargs):  # fmt: skip
        super().__init__(duration=duration, **kwargs)
        if self._duration is None:
            raise ValueError("FitTimer needs a duration")
        if reserve_s < 0 or not 0 < min_training <= 1:
            raise ValueError(f"FitTimer: reserve_s must be >= 0 and min_training in (0, 1], got {reserve_s} and {min_training}")
        self.budget_s = self._duration
        self.reserve_s = reserve_s
        self.min_training = min_training
        self.before_s: float | None = None  # set at the start of training
        self._launched = time.monotonic()
        self._sanity_start: float | None = None

    def on_sanity_check_start(self, trainer, pl_module) -> None:
        self._sanity_start = time.monotonic()

    def on_sanity_check_end(self, trainer, pl_module) -> None:
        seconds = time.monotonic() - self._sanity_start
        ran, full = sum(trainer.num_sanity_val_batches), sum(trainer.num_val_batches)
        if ran > 0 and math.isfinite(full):  # an iterable data set without a length: keep reserve_s
            self.reserve_s = seconds * max(1.0, full / ran)

    def on_train_start(self, trainer, pl_module) -> None:
        self.before_s = time.monotonic() - self._launched  # data, model, sanity check
        left = self.budget_s - self.before_s - self.reserve_s
        floor = self.min_training * self.budget_s
        self._duration = max(floor, left)
        message = (f"time budget: {_clock(self.budget_s)} for all of fit; {_clock(self.before_s)} went before training, "
                   f"{_clock(self.reserve_s)} is kept for the last validation: training gets {_clock(self._duration)}")  # fmt: skip
        if left < floor:
            rank_zero_warn(f"{message}, its minimum ({self.min_training:.0%} of the budget): fit will take longer than the budget")
        else:
            rank_zero_info(message)
        super().on_train_start(trainer, pl_module)


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(round(seconds)), 60)
    return f"{minutes}:{seconds:02d}"
