"""Lightning's Trainer, with ``precision="auto"`` (the default) resolved for the hardware and
checkpoints saved atomically (``AtomicCheckpointIO``)."""

from __future__ import annotations

from typing import Literal

import lightning as L
from lightning.pytorch.plugins.io import CheckpointIO
from lightning.pytorch.trainer.trainer import _PRECISION_INPUT
from lightning.pytorch.utilities import rank_zero_info

from model_package.lit_models.checkpoint_io import AtomicCheckpointIO
from model_package.lit_models.precision import AUTO, resolve_precision


class Trainer(L.Trainer):
    """``L.Trainer`` whose ``precision`` also takes ``"auto"`` (see ``lit_models/precision.py``).

    What was chosen, and why, is printed at start and kept as ``precision_choice`` (the CLI
    writes it to the run's ``environment.json``). Unless ``plugins`` has a CheckpointIO of its
    own, checkpoints go through ``AtomicCheckpointIO``. Every other argument is Lightning's.
    """

    def __init__(self, *, precision: _PRECISION_INPUT | Literal["auto"] | None = AUTO, **kwargs):
        self.precision_choice = resolve_precision(precision, kwargs.get("accelerator", "auto"))
        rank_zero_info(self.precision_choice.summary())
        plugins = kwargs.pop("plugins", None)
        plugins = list(plugins) if isinstance(plugins, (list, tuple)) else [plugins] if plugins is not None else []
        if not any(isinstance(p, CheckpointIO) for p in plugins):
            plugins.append(AtomicCheckpointIO())  # checkpoints renamed into place, never half-written
        super().__init__(precision=self.precision_choice.precision, plugins=plugins, **kwargs)
