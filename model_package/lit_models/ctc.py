"""LitCTC: line models that emit one distribution per horizontal position, trained with CTC."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torchmetrics.text import CharErrorRate

from model_package.lit_models.base import NetworkFactory, NetworkLitModel
from model_package.metadata.vocabulary import Vocabulary
from model_package.models.line_cnn import LineCNN


def ctc_greedy_decode(logits: torch.Tensor, blank: int) -> list[list[int]]:
    """Best path: logits (B, C, S) -> per row the argmax ids with repeats collapsed, then blanks removed."""
    best = logits.argmax(1)  # (B, S)
    keep = torch.ones_like(best, dtype=torch.bool)
    keep[:, 1:] = best[:, 1:] != best[:, :-1]  # the first of each run
    keep &= best != blank
    return [row[mask].tolist() for row, mask in zip(best, keep)]


def ctc_targets(y: torch.Tensor, vocabulary: Vocabulary) -> tuple[torch.Tensor, torch.Tensor]:
    """Labels (B, L) ``<S> text <E> <P>...`` -> (the text tokens of every row concatenated, lengths (B,))."""
    v = vocabulary
    text = (y != v.start_index) & (y != v.end_index) & (y != v.pad_index) & (y != v.blank_index)
    return y[text], text.sum(1)


def ctc_loss(logits: torch.Tensor, y: torch.Tensor, vocabulary: Vocabulary) -> torch.Tensor:
    """CTC of logits (B, C, S) (one distribution per horizontal position) against labels (B, L)."""
    log_probs = logits.float().log_softmax(1).permute(2, 0, 1)  # (S, B, C), as F.ctc_loss wants
    targets, lengths = ctc_targets(y, vocabulary)
    steps = torch.full((len(y),), log_probs.shape[0], dtype=torch.long, device=y.device)
    return F.ctc_loss(log_probs, targets, steps, lengths, blank=vocabulary.blank_index, zero_infinity=True)


class LitCTC(NetworkLitModel):
    """A line network (B, C, H, W) -> logits (B, num_classes, S) with CTC loss (blank = ``<B>``)
    and greedy CTC decoding; labels are the data's ``<S> text <E> <P>...`` (the text is taken
    from between <S> and <E>). Logs ``{split}/loss`` and ``{split}/cer``."""

    def __init__(
        self,
        idx_to_char: Sequence[str],
        input_dims: Sequence[int],
        max_seq_length: int,
        network: NetworkFactory = LineCNN,
        **kwargs,  # optimizer, lr_scheduler, lr_scheduler_interval, lr_scheduler_monitor
    ):
        super().__init__(idx_to_char, input_dims, max_seq_length, network, **kwargs)
        self.val_cer, self.test_cer = CharErrorRate(), CharErrorRate()
        self.metrics = {"validation": self.val_cer, "test": self.test_cer}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)  # (B, C, S)

    def targets(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Labels (B, L) -> (the text tokens of every row concatenated, lengths (B,))."""
        return ctc_targets(y, self.vocabulary)

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return ctc_loss(self.model(x), y, self.vocabulary)  # logits (B, C, S)

    def predict_texts(self, x: torch.Tensor) -> list[str]:
        """Images -> texts by greedy CTC decoding (special tokens other than the blank are dropped too)."""
        v = self.vocabulary
        return ["".join(v.idx_to_char[i] for i in ids if i not in v.special_indices) for ids in ctc_greedy_decode(self.model(x), v.blank_index)]
