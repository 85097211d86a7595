"""LitTransformer: trains a ResNetTransformer with teacher forcing, evaluates it by greedy decoding."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from lightning.pytorch.utilities import rank_zero_warn
from torch import nn
from torchmetrics.text import CharErrorRate

from model_package.lit_models.base import BaseLitModel
from model_package.lit_models.ctc import ctc_loss
from model_package.lit_models.precision import inductor_cpu_isa
from model_package.metadata.vocabulary import NEWLINE
from model_package.models.resnet import ResNetConfig
from model_package.models.resnet_transformer import ResNetTransformer


class TeacherForced(nn.Module):
    """The training forward as one module (what ``compile=True`` compiles): images (B, C, H, W)
    and input ids (B, T) -> (logits (B, T, num_classes), memory (B, H'W', D))."""

    def __init__(self, model: ResNetTransformer):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        memory = self.model.encode(x)
        return self.model.decode(memory, tokens), memory


class LitTransformer(BaseLitModel):
    """ResNet + Transformer recogniser.

    ``input_dims``, ``max_seq_length`` and ``idx_to_char`` come from the data module (the CLI
    links them); everything else is the architecture and the optimisation.

    Loss: cross-entropy of the next token. By default the padding after ``<E>`` counts too (the
    model learns to keep emitting ``<P>``, which trained better than FSDL's choice);
    ``ignore_pad_in_loss=True`` restores FSDL's ``ignore_index=<P>``. ``encoder="resnet18"``
    swaps the custom ResNet for torchvision's resnet18 trunk and ``encoder="line_cnn"`` for FSDL's
    sliding-window LineCNN (LineCNNTransformer); ``pos_embedding="sinusoidal"``
    swaps the learned positions for fixed ones (both one YAML key, for the ablations).
    ``ctc_weight > 0`` adds an auxiliary CTC loss on the encoder's columns (lines only: with
    page data it is switched off with a warning; see ``column_ctc_loss``); its head then also
    steers greedy decoding with weight ``ctc_decode_weight`` (0: the decoder alone; see
    ``models.ctc_prefix``), in validation, test and the staged model alike. ``collapse_height=True``
    (lines only) makes the memory one vector a column of the encoder grid (see ResNetTransformer):
    the cross-attention reads 5x fewer keys at the handwriting geometry, a training step is ~1.3x
    faster and decoding ~1.6x. ``tf_encoder_layers`` adds self-attention over the memory and
    ``split_columns`` gives it that many columns a grid column (see ResNetTransformer): together
    they took the quickstart from 0.162 to 0.127 validation CER at 2,700 steps.
    ``compile=True`` runs the training forward through ``torch.compile``.
    """

    def __init__(
        self,
        idx_to_char: Sequence[str],
        input_dims: Sequence[int],
        max_seq_length: int,
        resnet: ResNetConfig = ResNetConfig(),
        tf_dim: int = 128,
        tf_fc_dim: int = 256,
        tf_nhead: int = 4,
        tf_num_layers: int = 4,
        tf_dropout: float = 0.0,
        with_enc_pos: bool = False,
        encoder: Literal["resnet", "resnet18", "line_cnn"] = "resnet",
        pos_embedding: Literal["learned", "sinusoidal"] = "learned",
        ignore_pad_in_loss: bool = False,
        optimizer: OptimizerCallable = torch.optim.Adam,
        lr_scheduler: LRSchedulerCallable | None = None,
        lr_scheduler_interval: Literal["step", "epoch"] = "step",
        lr_scheduler_monitor: str = "validation/loss",
        ctc_weight: float = 0.0,
        ctc_decode_weight: float = 0.6,
        collapse_height: bool = False,
        tf_encoder_layers: int = 0,
        split_columns: int = 1,
        compile: bool = False,
    ):
        super().__init__(idx_to_char, optimizer, lr_scheduler, lr_scheduler_interval, lr_scheduler_monitor)
        self.save_hyperparameters(ignore=["optimizer", "lr_scheduler"])
        pages = NEWLINE in self.vocabulary.char_to_idx  # the data's samples are pages: lines joined by a newline
        if collapse_height and pages:  # like ctc_weight below: `--config quickstart --data=HandwritingFontParagraphs` still trains
            rank_zero_warn("collapse_height=True ignored: it folds the encoder grid's rows into one vector a column, "
                           "for images of one line, and this data has pages (its vocabulary has a newline)")
            collapse_height = False
            self.hparams["collapse_height"] = False  # what the model is, for the checkpoint and the staged artifact
        self.model = ResNetTransformer(
            input_dims=tuple(input_dims),
            num_classes=len(self.vocabulary),
            max_seq_length=max_seq_length,
            start_index=self.vocabulary.start_index,
            end_index=self.vocabulary.end_index,
            pad_index=self.vocabulary.pad_index,
            resnet=resnet,
            tf_dim=tf_dim,
            tf_fc_dim=tf_fc_dim,
            tf_nhead=tf_nhead,
            tf_num_layers=tf_num_layers,
            tf_dropout=tf_dropout,
            with_enc_pos=with_enc_pos,
            encoder=encoder,
            pos_embedding=pos_embedding,
            collapse_height=collapse_height,
            tf_encoder_layers=tf_encoder_layers,
            split_columns=split_columns,
        )
        self.ignore_index = self.vocabulary.pad_index if ignore_pad_in_loss else -100
        if ctc_weight < 0:
            raise ValueError(f"ctc_weight must be >= 0, got {ctc_weight}")
        if not 0 <= ctc_decode_weight <= 1:
            raise ValueError(f"ctc_decode_weight must be in [0, 1], got {ctc_decode_weight}")
        if ctc_weight > 0:
            columns, characters = self.model.enc_width, max_seq_length - 2
            if pages or columns < characters:
                rank_zero_warn(f"ctc_weight={ctc_weight} ignored: the auxiliary CTC reads one line along the encoder's "
                               f"{columns} columns, and this data has pages (or up to {characters} characters)")
                ctc_weight = 0.0
            else:
                self.model.attach_ctc_head(self.vocabulary.blank_index, ctc_decode_weight)
        self.ctc_weight = ctc_weight
        # torch.compile of the teacher-forced forward (opt-in). Kept out of the module tree, so
        # checkpoints hold the plain model's weights under the same names either way.
        isa = inductor_cpu_isa() if compile and not torch.cuda.is_available() else "avx512"
        if not isa.startswith("avx512"):
            rank_zero_warn(f"compile=True on a CPU whose inductor kernels are {isa or 'scalar'}: with AVX2 "
                           "kernels torch 2.14's inductor gave NaN losses for this model (eager is fine); prefer compile=False")
        teacher_forced = TeacherForced(self.model)
        self.__dict__["_train_forward"] = torch.compile(teacher_forced) if compile else teacher_forced
        self.val_cer = CharErrorRate()
        self.test_cer = CharErrorRate()
        self.metrics = {"validation": self.val_cer, "test": self.test_cer}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, C, H, W) -> greedy token ids (B, max_seq_length)."""
        return self.model.predict(x)

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        # y: (B, L) = <S> t e x t <E> <P>...; predict y[:, 1:] from y[:, :-1]
        logits, memory = self._train_forward(x, y[:, :-1])  # (B, L-1, C), (B, H'W', D)
        loss = F.cross_entropy(logits.transpose(1, 2), y[:, 1:], ignore_index=self.ignore_index)
        if self.model.ctc_head is None:
            return loss
        return loss + self.ctc_weight * self.column_ctc_loss(memory, y)

    def column_ctc_loss(self, memory: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Auxiliary CTC on the encoder: each column of the memory grid, averaged over its rows,
        classifies the character under it. It hands the encoder a per-position signal from the
        first step, so the decoder's cross-attention has letters to find, which removes the
        long plateau where the decoder learns only the language (the quickstart: validation CER
        0.70 -> 0.16 at 1,000 steps)."""
        return ctc_loss(self.model.ctc_logits(memory).transpose(1, 2), y, self.vocabulary)  # logits (B, C, W')

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        """Checkpoints written before the CTC head moved into the model kept it as ``ctc_head.*``."""
        state = checkpoint["state_dict"]
        for key in [k for k in state if k.startswith("ctc_head.")]:
            state[f"model.{key}"] = state.pop(key)

    def predict_texts(self, x: torch.Tensor) -> list[str]:
        return self.texts(self.model.predict(x))  # greedy decoding, cached
