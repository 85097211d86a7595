"""The deployable form of a recogniser: a TorchScript module that carries its vocabulary and
preprocessing parameters, and loads with ``torch.jit.load`` alone (no Lightning, no training code).

    module = torch.jit.load("text_recognizer.pt")
    ids = module(images)             # (B, 1, H, W) float in [0, 1], ink high -> (B, T) token ids
    texts = module.decode(ids)       # -> list of strings
    module.input_height, module.input_width, module.idx_to_char
"""

import warnings
from typing import List  # TorchScript reads typing.List in class annotations

import torch
from torch import nn

from model_package.models.resnet_transformer import ResNetTransformer


class StagedRecognizer(nn.Module):
    """A ResNetTransformer plus what serving needs to use it."""

    idx_to_char: List[str]
    input_channels: int
    input_height: int
    input_width: int
    ink_high: bool
    start_index: int
    end_index: int
    pad_index: int
    blank_index: int

    def __init__(self, model: ResNetTransformer, idx_to_char: List[str], blank_index: int):
        super().__init__()
        self.model = model.eval()
        self.idx_to_char = list(idx_to_char)
        channels, height, width = model.input_dims
        self.input_channels = channels
        self.input_height = height
        self.input_width = width
        self.ink_high = True  # images are ink 1, paper 0 (model_package.data.preprocess)
        self.start_index = model.start_index
        self.end_index = model.end_index
        self.pad_index = model.pad_index
        self.blank_index = blank_index

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 1, input_height, input_width) float in [0, 1], ink high -> (B, max_seq_length) ids."""
        if images.dim() != 4 or images.shape[1] != self.input_channels:
            raise ValueError("images must be (B, C, H, W) with the model's channels")
        if images.shape[2] != self.input_height or images.shape[3] != self.input_width:
            raise ValueError("images must be input_height x input_width; use model_package.data.preprocess")
        return self.model.predict(images)

    @torch.jit.export
    def decode(self, ids: torch.Tensor) -> List[str]:
        """Token ids (B, T) -> texts: up to the first <E> or <P>, without <S> and <B>."""
        rows: List[List[int]] = ids.tolist()
        texts: List[str] = []
        for row in rows:
            chars: List[str] = []
            for i in row:
                if i == self.end_index or i == self.pad_index:
                    break
                if i != self.start_index and i != self.blank_index:
                    chars.append(self.idx_to_char[i])
            texts.append("".join(chars))
        return texts

    @torch.jit.export
    def predict_text(self, images: torch.Tensor) -> List[str]:
        return self.decode(self.forward(images))


def script(model: ResNetTransformer, idx_to_char: List[str], blank_index: int) -> torch.jit.ScriptModule:
    """The TorchScript module of a trained model (on the CPU, in eval mode).

    TorchScript, although PyTorch now flags it as deprecated, is what can carry the greedy
    decoding loop (data-dependent length and early stop) and load without Python source;
    ``torch.export`` cannot yet export such a loop as plain code.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit\.script. is deprecated", category=FutureWarning)
        return torch.jit.script(StagedRecognizer(model.cpu().eval(), idx_to_char, blank_index))
