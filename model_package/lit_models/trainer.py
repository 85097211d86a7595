"""Lightning's Trainer, with ``precision="auto"`` (the default) resolved for the hardware,
checkpoints saved atomically (``AtomicCheckpointIO``) and ``max_time`` counted, if asked, over
the whole of ``fit`` (``FitTimer``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

import lightning as L
from lightning.pytorch.callbacks import Callback, Timer
from lightning.pytorch.plugins import _PLUGIN_INPUT
from lightning.pytorch.plugins.io import CheckpointIO
from lightning.pytorch.trainer.trainer import _PRECISION_INPUT
from lightning.pytorch.utilities import rank_zero_info

from model_package.lit_models.checkpoint_io import AtomicCheckpointIO
from model_package.lit_models.precision import AUTO, resolve_precision
from model_package.lit_models.time_budget import FitTimer


class Trainer(L.Trainer):
    """``L.Trainer`` whose ``precision`` also takes ``"auto"`` (see ``lit_models/precision.py``).

    What was chosen, and why, is printed at start and kept as ``precision_choice`` (the CLI
    writes it to the run's ``environment.json``). Unless ``plugins`` has a CheckpointIO of its
    own, checkpoints go through ``AtomicCheckpointIO``. ``max_time_counts="fit"`` counts
    ``max_time`` from the trainer's creation, so fetching and rendering the data are inside the
    budget and training gets what they leave (``FitTimer``; a ``Timer`` among the callbacks is
    kept instead, as Lightning keeps one for ``max_time``); ``"training"`` (the default) is
    Lightning's own. Every other argument is Lightning's.
    """

    def __init__(
        self,
        *,
        precision: _PRECISION_INPUT | Literal["auto"] | None = AUTO,
        max_time: str | timedelta | dict[str, int] | None = None,
        max_time_counts: Literal["training", "fit"] = "training",
        callbacks: list[Callback] | Callback | None = None,
        plugins: _PLUGIN_INPUT | list[_PLUGIN_INPUT] | None = None,
        **kwargs,
    ):
        # max_time, callbacks and plugins are Lightning's, named here with Lightning's types (the
        # CLI reads them: --trainer.callbacks+=...) because this class changes what it passes on
        self.precision_choice = resolve_precision(precision, kwargs.get("accelerator", "auto"))
        rank_zero_info(self.precision_choice.summary())
        plugins = _listed(plugins)
        if not any(isinstance(p, CheckpointIO) for p in plugins):
            plugins.append(AtomicCheckpointIO())  # checkpoints renamed into place, never half-written
        if max_time_counts not in ("training", "fit"):
            raise ValueError(f"max_time_counts must be 'training' or 'fit', got {max_time_counts!r}")
        # a Timer among the callbacks: max_time goes on to Lightning, which keeps that Timer alone (and says so)
        if max_time_counts == "fit" and max_time is not None and not any(isinstance(c, Timer) for c in _listed(callbacks)):
            callbacks, max_time = [*_listed(callbacks), FitTimer(max_time, interval="step")], None
        super().__init__(precision=self.precision_choice.precision, max_time=max_time, callbacks=callbacks, plugins=plugins,
                         **kwargs)  # fmt: skip


def _listed(value) -> list:
    """Lightning's plugins / callbacks argument (None, one, or a list) as a list."""
    return list(value) if isinstance(value, (list, tuple)) else [value] if value is not None else []
