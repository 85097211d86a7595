"""LitClassifier: one character per image (EMNIST), any network from YAML, accuracy via torchmetrics."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torchmetrics.classification import MulticlassAccuracy
from torchmetrics.text import CharErrorRate

from model_package.lit_models.base import NetworkFactory, NetworkLitModel
from model_package.models.cnn import CNN


class LitClassifier(NetworkLitModel):
    """Images (B, C, H, W) -> logits (B, num_classes) over the vocabulary; labels (B,) token ids.
    Logs ``{split}/loss``, ``{split}/accuracy`` and ``{split}/cer`` (over one-character texts,
    1 - accuracy: the key every model of the package logs, so checkpoints and sweeps work alike)."""

    def __init__(
        self,
        idx_to_char: Sequence[str],
        input_dims: Sequence[int],
        max_seq_length: int = 1,  # linked from the data like every model's; one token here
        network: NetworkFactory = CNN,
        **kwargs,  # optimizer, lr_scheduler, lr_scheduler_interval, lr_scheduler_monitor
    ):
        super().__init__(idx_to_char, input_dims, max_seq_length, network, **kwargs)
        self.metrics = {
            split: MulticlassAccuracy(num_classes=len(self.vocabulary), average="micro") for split in ("validation", "test")
        }
        self.val_accuracy, self.test_accuracy = self.metrics["validation"], self.metrics["test"]
        self.val_cer, self.test_cer = CharErrorRate(), CharErrorRate()
        self.cers = {"validation": self.val_cer, "test": self.test_cer}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)  # (B, num_classes)

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(self.model(x), y.reshape(-1))

    def predict_texts(self, x: torch.Tensor) -> list[str]:
        return self.texts(self.model(x).argmax(-1)[:, None])  # one character each

    def evaluate(self, x: torch.Tensor, y: torch.Tensor, metric: MulticlassAccuracy, split: str) -> dict:
        preds = self.model(x).argmax(-1)  # (B,)
        metric(preds, y.reshape(-1))
        self.log(f"{split}/accuracy", metric, prog_bar=True, batch_size=len(x))
        texts, targets = self.texts(preds[:, None]), self.texts(y.reshape(-1, 1))
        self.cers[split](texts, targets)
        self.log(f"{split}/cer", self.cers[split], batch_size=len(x))
        return {"preds": texts, "targets": targets}
