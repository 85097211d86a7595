"""What every LightningModule of the package shares: the vocabulary, optimiser and scheduler from
the CLI, and the logging of ``{split}/loss`` with one metric per split."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Literal

import lightning as L
import torch
from lightning.pytorch.callbacks import Timer
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from lightning.pytorch.plugins.precision import MixedPrecision, Precision
from lightning.pytorch.utilities import GradClipAlgorithmType, rank_zero_info
from torch import nn
from torch.optim.lr_scheduler import OneCycleLR, ReduceLROnPlateau
from torchmetrics import Metric

from model_package.metadata.vocabulary import Vocabulary


class BaseLitModel(L.LightningModule):
    """Subclasses define ``loss(x, y)`` and ``predict_texts(x)`` and set ``self.metrics =
    {"validation": ..., "test": ...}``: by default the metrics are CharErrorRates, updated by
    ``evaluate`` and logged as ``{split}/cer``; a subclass with other metrics overrides ``evaluate``.

    ``idx_to_char``, ``input_dims`` and ``max_seq_length`` come from the data module: the CLI
    links them into every model, whether it uses them all or not.
    """

    def __init__(
        self,
        idx_to_char: Sequence[str],
        optimizer: OptimizerCallable = torch.optim.Adam,
        lr_scheduler: LRSchedulerCallable | None = None,
        lr_scheduler_interval: Literal["step", "epoch"] = "step",
        lr_scheduler_monitor: str = "validation/loss",
    ):
        super().__init__()
        self.vocabulary = Vocabulary(idx_to_char)
        self.optimizer = optimizer
        self.lr_scheduler = lr_scheduler
        self.lr_scheduler_interval = lr_scheduler_interval
        self.lr_scheduler_monitor = lr_scheduler_monitor  # ReduceLROnPlateau's metric
        self._validations = self._plateau_steps = 0  # validation runs so far; plateau steps taken
        self._planned_steps = 0  # the trainer's steps for this fit (max_steps, or epochs x batches)

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def predict_texts(self, x: torch.Tensor) -> list[str]:
        """Images (B, C, H, W) -> the B texts the model reads."""
        raise NotImplementedError

    def evaluate(self, x: torch.Tensor, y: torch.Tensor, metric: Metric, split: str) -> dict:
        """Update and log the split's character error rate; the texts, for the prediction table."""
        preds, targets = self.predict_texts(x), self.texts(y)
        metric(preds, targets)
        self.log(f"{split}/cer", metric, prog_bar=True, batch_size=len(x))
        return {"preds": preds, "targets": targets}

    def texts(self, ids: torch.Tensor) -> list[str]:
        """Token ids (B, L), or one token each (B,) -> texts (special tokens dropped)."""
        return self.vocabulary.decode_batch(ids.reshape(len(ids), -1).tolist())

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss(x, y)
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True, sync_dist=True, batch_size=len(x))
        return loss

    def _evaluate(self, batch, split: str) -> dict:
        x, y = batch
        loss = self.loss(x, y)
        self.log(f"{split}/loss", loss, prog_bar=True, sync_dist=True, batch_size=len(x))
        return {"loss": loss, **self.evaluate(x, y, self.metrics[split], split)}

    def validation_step(self, batch, batch_idx):
        return self._evaluate(batch, "validation")

    def test_step(self, batch, batch_idx):
        return self._evaluate(batch, "test")

    def predict_step(self, batch, batch_idx, dataloader_idx: int = 0) -> list[str]:
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        return self.predict_texts(x)

    def configure_optimizers(self):
        optimizer = self.optimizer(self.parameters())
        if self.lr_scheduler is None:
            return optimizer
        scheduler = self.lr_scheduler(optimizer, **self._schedule_length())
        config = {"scheduler": scheduler, "interval": self.lr_scheduler_interval}
        if isinstance(scheduler, ReduceLROnPlateau):
            # Lightning offers it the latest value of the monitored metric at every interval; it is
            # missing before the first validation, and lr_scheduler_step steps only on new ones.
            config.update(monitor=self.lr_scheduler_monitor, strict=False)
        return {"optimizer": optimizer, "lr_scheduler": config}

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None) -> None:
        """Clip as Lightning does, and also for a fused optimizer (``fused: true``: AdamW's step in
        one kernel, ~4x faster on a CPU) under mixed precision, which Lightning's plugin refuses
        because such an optimizer unscales fp16 gradients inside its step, after clipping would
        have seen them scaled. Here they are unscaled first where there is a loss scaler (fp16;
        torch's GradScaler then steps the fused optimizer without unscaling again) and are already
        true where there is none (bf16), then clipped as under fp32."""
        plugin = self.trainer.precision_plugin
        if isinstance(plugin, MixedPrecision) and getattr(optimizer, "_step_supports_amp_scaling", False):
            if gradient_clip_val:
                if plugin.scaler is not None:
                    plugin.scaler.unscale_(optimizer)
                algorithm = GradClipAlgorithmType(gradient_clip_algorithm or GradClipAlgorithmType.NORM)
                Precision.clip_gradients(plugin, optimizer, gradient_clip_val, algorithm)
            return
        super().configure_gradient_clipping(optimizer, gradient_clip_val, gradient_clip_algorithm)

    def _one_cycle_length_from_trainer(self) -> bool:
        """Whether the schedule is a OneCycleLR whose config sets neither ``total_steps`` nor ``epochs``."""
        keywords = getattr(self.lr_scheduler, "keywords", {})  # the CLI hands over a functools.partial
        target = self.lr_scheduler.args[-1] if isinstance(self.lr_scheduler, functools.partial) and self.lr_scheduler.args else self.lr_scheduler
        return target is OneCycleLR and keywords.get("total_steps") is None and keywords.get("epochs") is None

    def _schedule_length(self) -> dict:
        """OneCycleLR's ``total_steps`` from the trainer (``max_steps``, or ``max_epochs`` times the
        batches per epoch) unless the config sets it (or ``epochs``), so any run length works."""
        if self._one_cycle_length_from_trainer():
            return {"total_steps": int(self.trainer.estimated_stepping_batches)}
        return {}

    def on_train_start(self) -> None:
        """A run resumed with another length (``--ckpt_path last --trainer.max_steps=5000``) restores
        a OneCycleLR planned for the old one: stretch its phases to the new length (unless the
        config fixed ``total_steps``), so it neither stops short nor fails past the old end."""
        self._planned_steps = int(self.trainer.estimated_stepping_batches)
        if not self._one_cycle_length_from_trainer():
            return
        total = self._planned_steps
        for config in self.trainer.lr_scheduler_configs:
            scheduler = config.scheduler
            if isinstance(scheduler, OneCycleLR) and scheduler.total_steps != total:
                rank_zero_info(f"OneCycleLR: stretched from {scheduler.total_steps} to {total} steps at step {scheduler.last_epoch}")
                self._stretch(scheduler, total)

    @staticmethod
    def _stretch(scheduler: OneCycleLR, total: int) -> None:
        """Re-plan a OneCycleLR over ``total`` steps; its phases keep their shares of the run."""
        for phase in scheduler._schedule_phases:
            phase["end_step"] = (phase["end_step"] + 1) * total / scheduler.total_steps - 1
        scheduler.total_steps = total

    def on_validation_epoch_end(self) -> None:
        if not self.trainer.sanity_checking:
            self._validations += 1

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        """At ``max_steps`` ask the loop to stop: Lightning then validates (and ModelCheckpoint
        saves) the final weights, as it does where ``max_time`` runs out. Without it a run of
        2,700 steps validating every 1,000 ends with step 2,000's figures and ``last.ckpt``."""
        if 0 < self.trainer.max_steps <= self.trainer.global_step:
            self.trainer.should_stop = True

    def _time_spent(self) -> float | None:
        """The share of the trainer's ``max_time`` spent so far (0..1), or None when it has none."""
        for callback in self.trainer.callbacks:
            remaining = callback.time_remaining() if isinstance(callback, Timer) else None
            if remaining is not None:
                elapsed = callback.time_elapsed()
                return min(1.0, elapsed / max(elapsed + remaining, 1e-9))  # elapsed + remaining = max_time
        return None

    def _keep_up_with_the_clock(self, scheduler: OneCycleLR) -> None:
        """With ``--trainer.max_time``, a OneCycleLR (its length from the trainer) is re-planned at
        every step over the steps that fit in the budget at the pace so far, ``max_steps`` at most:
        its learning rate then follows the share of the time spent, so a CPU too slow for
        ``max_steps`` still warms up, peaks and anneals within the budget, and the Timer stops
        training on an annealed model instead of at a high learning rate. Where the steps lead, or
        without ``max_time``, nothing changes. Its step count stays the trainer's, so a resumed run
        (a longer ``max_time``, or none) re-plans from where it stopped (``on_train_start``)."""
        spent = self._time_spent()
        if spent is None or not self._one_cycle_length_from_trainer():
            return
        done = scheduler.last_epoch + 1  # steps taken once this one is
        total = min(self._planned_steps, max(done, round(done / max(spent, 1e-9))))  # the steps that fit
        # every rank on rank 0's pace: under DDP each rank steps its own scheduler, and ranks a step
        # apart would apply different learning rates to the same gradients
        total = self.trainer.strategy.broadcast(total)
        if total != scheduler.total_steps:
            self._stretch(scheduler, total)

    def lr_scheduler_step(self, scheduler, metric) -> None:
        """A plateau scheduler steps once per validation run (however often Lightning offers the
        metric); every other scheduler at each of its intervals (a OneCycleLR keeping up with a
        ``max_time`` budget, see ``_keep_up_with_the_clock``)."""
        if isinstance(scheduler, OneCycleLR):
            self._keep_up_with_the_clock(scheduler)
        if not isinstance(scheduler, ReduceLROnPlateau):
            scheduler.step()
        elif metric is not None and self._validations > self._plateau_steps:
            self._plateau_steps = self._validations
            scheduler.step(metric)


# A network class whose first two arguments are (input_dims, num_classes): the CLI fills in the
# rest from YAML (``network: {class_path: model_package.models.MLP, init_args: {fc1_dim: 512}}``)
# and the module calls it with the data's shape, like an optimizer with its parameters.
NetworkFactory = Callable[[Sequence[int], int], nn.Module]


class NetworkLitModel(BaseLitModel):
    """A LightningModule around any network built as ``network(input_dims, num_classes)``."""

    def __init__(
        self,
        idx_to_char: Sequence[str],
        input_dims: Sequence[int],
        max_seq_length: int,
        network: NetworkFactory,
        optimizer: OptimizerCallable = torch.optim.Adam,
        lr_scheduler: LRSchedulerCallable | None = None,
        lr_scheduler_interval: Literal["step", "epoch"] = "step",
        lr_scheduler_monitor: str = "validation/loss",
    ):
        super().__init__(idx_to_char, optimizer, lr_scheduler, lr_scheduler_interval, lr_scheduler_monitor)
        self.save_hyperparameters(ignore=["optimizer", "lr_scheduler", "network"])
        self.model = network(tuple(input_dims), len(self.vocabulary))
