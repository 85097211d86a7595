"""What every LightningModule of the package shares: the vocabulary, optimiser and scheduler from
the CLI, and the logging of ``{split}/loss`` with one metric per split."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import lightning as L
import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import nn
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
    ):
        super().__init__()
        self.vocabulary = Vocabulary(idx_to_char)
        self.optimizer = optimizer
        self.lr_scheduler = lr_scheduler
        self.lr_scheduler_interval = lr_scheduler_interval

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
        """Token ids (B, L) -> texts (special tokens dropped)."""
        return self.vocabulary.decode_batch(ids.tolist())

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
        scheduler = self.lr_scheduler(optimizer)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": self.lr_scheduler_interval, "monitor": "validation/loss"},
        }


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
    ):
        super().__init__(idx_to_char, optimizer, lr_scheduler, lr_scheduler_interval)
        self.save_hyperparameters(ignore=["optimizer", "lr_scheduler", "network"])
        self.model = network(tuple(input_dims), len(self.vocabulary))
