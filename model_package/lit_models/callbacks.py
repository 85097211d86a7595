"""Callbacks: tables of images with their ground truth and predictions, for W&B."""

from __future__ import annotations

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities import rank_zero_info


class PredictionTable(L.Callback):
    """Every ``every_n_epochs`` validation epochs (validation runs, mid-epoch ones included), log a
    W&B table of ``max_rows`` validation images with ground truth and prediction
    (``validation/predictions``).

    When ``trainer.overfit_batches > 0`` it logs the same for the training batch being memorised
    (``train/predictions``): Lightning validates on a different batch than the one it overfits.
    Needs a WandbLogger; with another logger it says so once and does nothing.
    """

    def __init__(self, every_n_epochs: int = 5, max_rows: int = 16):
        if every_n_epochs < 1 or max_rows < 1:
            raise ValueError("every_n_epochs and max_rows must be positive")
        self.every_n_epochs = every_n_epochs
        self.max_rows = max_rows
        self._val_rows: list = []
        self._train_batch: tuple[torch.Tensor, torch.Tensor] | None = None
        self._warned = False
        self._validations = 0  # validation runs so far, sanity check excluded

    def _due(self, trainer: L.Trainer) -> bool:
        return not trainer.sanity_checking and self._validations % self.every_n_epochs == 0

    def _logger(self, trainer: L.Trainer) -> WandbLogger | None:
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                return logger
        if not self._warned:
            rank_zero_info("PredictionTable: no WandbLogger, so no prediction tables are logged")
            self._warned = True
        return None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.overfit_batches and batch_idx == 0:
            x, y = batch
            self._train_batch = (x[: self.max_rows].detach(), y[: self.max_rows].detach())

    def on_validation_epoch_start(self, trainer, pl_module):
        self._val_rows = []

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
        if not self._due(trainer) or len(self._val_rows) >= self.max_rows or not isinstance(outputs, dict):
            return
        x = batch[0]
        for image, target, pred in zip(x, outputs["targets"], outputs["preds"]):
            if len(self._val_rows) < self.max_rows:
                self._val_rows.append((image.detach().cpu(), target, pred))

    def on_validation_epoch_end(self, trainer, pl_module):
        due = self._due(trainer)
        if not trainer.sanity_checking:
            self._validations += 1
        if not due or trainer.global_rank != 0:
            return
        logger = self._logger(trainer)
        if logger is None:
            return
        if self._val_rows:
            self._log(logger, "validation/predictions", self._val_rows, trainer.global_step)
        if self._train_batch is not None:
            x, y = self._train_batch
            preds = pl_module.predict_texts(x.to(pl_module.device))  # each LightningModule reads its own way
            rows = list(zip(x.cpu(), pl_module.texts(y), preds))
            self._log(logger, "train/predictions", rows, trainer.global_step)

    @staticmethod
    def _log(logger: WandbLogger, key: str, rows, step: int) -> None:
        import wandb

        data = [[wandb.Image(1 - image.squeeze(0).float().numpy()), target, pred] for image, target, pred in rows]
        logger.log_table(key=key, columns=["image", "ground truth", "prediction"], data=data, step=step)


class ValidationCheckpoint(ModelCheckpoint):
    """``ModelCheckpoint`` that refreshes ``last.ckpt`` after EVERY validation (with
    ``save_on_train_epoch_end=False``, as the CLI sets it): Lightning 2.6 writes ``last.ckpt`` there
    only when a top-k file was written at the same step, so a validation that did not improve the
    score left ``last.ckpt`` behind and a resumed run lost those steps."""

    def on_validation_end(self, trainer, pl_module) -> None:
        super().on_validation_end(trainer, pl_module)
        if (self.save_last and not self._should_skip_saving_checkpoint(trainer)
                and not self._should_save_on_train_epoch_end(trainer) and self._last_global_step_saved != trainer.global_step):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
