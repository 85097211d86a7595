"""Lightning's Trainer, with ``precision="auto"`` (the default) resolved for the hardware."""

from __future__ import annotations

from typing import Literal

import lightning as L
from lightning.pytorch.trainer.trainer import _PRECISION_INPUT
from lightning.pytorch.utilities import rank_zero_info

from model_package.lit_models.precision import AUTO, resolve_precision


class Trainer(L.Trainer):
    """``L.Trainer`` whose ``precision`` also takes ``"auto"`` (see ``lit_models/precision.py``).

    What was chosen, and why, is printed at start and kept as ``precision_choice`` (the CLI
    writes it to the run's ``environment.json``). Every other argument is Lightning's.
    """

    def __init__(self, *, precision: _PRECISION_INPUT | Literal["auto"] | None = AUTO, **kwargs):
        self.precision_choice = resolve_precision(precision, kwargs.get("accelerator", "auto"))
        rank_zero_info(self.precision_choice.summary())
        super().__init__(precision=self.precision_choice.precision, **kwargs)
