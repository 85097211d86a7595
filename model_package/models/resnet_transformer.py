"""ResNet encoder + Transformer decoder: an image of text in, token ids out."""

from __future__ import annotations

from typing import Tuple

import torch
from torch import nn

from model_package.models import ctc_prefix
from model_package.models.resnet import ResNet, ResNetConfig
from model_package.models.line_cnn import LineCNNEncoder
from model_package.models.resnet18 import ResNet18Trunk
from model_package.models.transformer import EncoderLayer, TransformerDecoder, sinusoids


class PositionalEmbedding2D(nn.Module):
    """Learned 2-D positions for the encoder grid: a row embedding plus a column embedding."""

    def __init__(self, dim: int, height: int, width: int):
        super().__init__()
        self.rows = nn.Embedding(height, dim)
        self.cols = nn.Embedding(width, dim)
        nn.init.normal_(self.rows.weight, std=0.02)
        nn.init.normal_(self.cols.weight, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (B, D, H', W') -> same shape
        _, _, h, w = x.shape
        rows = self.rows(torch.arange(h, device=x.device))  # (H', D)
        cols = self.cols(torch.arange(w, device=x.device))  # (W', D)
        return x + (rows[:, None, :] + cols[None, :, :]).permute(2, 0, 1)


class SinusoidalPositions2D(nn.Module):
    """Fixed 2-D positions for the encoder grid: half the channels encode the row, half the
    column, each with the 1-D sinusoids of the decoder (FSDL's PositionalEncodingImage)."""

    def __init__(self, dim: int, height: int, width: int):
        super().__init__()
        if dim % 2:
            raise ValueError(f"sinusoidal 2-D positions need an even tf_dim, got {dim}")
        rows = sinusoids(height, dim // 2)[:, None, :].expand(height, width, dim // 2)  # (H', W', D/2)
        cols = sinusoids(width, dim // 2)[None, :, :].expand(height, width, dim // 2)  # (H', W', D/2)
        self.register_buffer("table", torch.cat([rows, cols], -1).permute(2, 0, 1).contiguous(), persistent=False)  # (D, H', W')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (B, D, H', W') -> same shape
        return x + self.table[:, : x.shape[2], : x.shape[3]]


class ResNetTransformer(nn.Module):
    """Images (B, C, H, W) -> ResNet features -> memory (B, H'W', D) [-> encoder layers] -> decoder -> tokens.

    ``forward`` is teacher-forced (training); ``predict`` decodes greedily from ``<S>``. A line
    model may carry a CTC head on the memory's columns (``attach_ctc_head``): trained as an
    auxiliary loss, it also steers decoding (``ctc_decode_weight``, see ``ctc_prefix``).
    """

    def __init__(
        self,
        input_dims: tuple[int, int, int],
        num_classes: int,
        max_seq_length: int,
        start_index: int,
        end_index: int,
        pad_index: int,
        resnet: ResNetConfig | None = None,
        tf_dim: int = 128,
        tf_fc_dim: int = 256,
        tf_nhead: int = 4,
        tf_num_layers: int = 4,
        tf_dropout: float = 0.0,
        with_enc_pos: bool = False,
        encoder: str = "resnet",
        pos_embedding: str = "learned",
        collapse_height: bool = False,
        tf_encoder_layers: int = 0,
        split_columns: int = 1,
    ):
        """``encoder``: "resnet" (the custom ResNet set by ``resnet``), "resnet18" (torchvision's
        trunk, FSDL's choice) or "line_cnn" (FSDL's sliding-window LineCNN: LineCNNTransformer);
        ``resnet`` is used by the first only. ``pos_embedding``: "learned" or
        "sinusoidal" positions, 2-D on the encoder grid (when ``with_enc_pos``) and 1-D in the decoder.
        ``collapse_height``: the projection to ``tf_dim`` spans the grid's whole height (an
        (H', 1) convolution), so the memory is one vector a column (W' instead of H'W'; lines only:
        a page needs its rows); the decoder's cross-attention then reads H' times fewer keys.
        ``split_columns``: the projection gives ``split_columns`` vectors a grid column, set side
        by side, so the memory has that many columns a stride (W' * split): a CTC head needs at
        least one column a character, and condensed hands put ~1.2 characters in 8 px.
        ``tf_encoder_layers``: pre-norm self-attention layers over the memory (after the
        positions), so every column sees the whole line and not only the CNN's ~120 px."""
        super().__init__()
        resnet = resnet or ResNetConfig()
        channels, height, width = input_dims
        self.input_dims = tuple(input_dims)
        self.max_seq_length = max_seq_length
        self.start_index, self.end_index, self.pad_index = start_index, end_index, pad_index

        if encoder == "resnet":
            if resnet.in_channels[0] != channels:
                raise ValueError(f"resnet.in_channels[0]={resnet.in_channels[0]} but the images have {channels} channel(s)")
            self.encoder = ResNet(resnet)
        elif encoder == "resnet18":
            self.encoder = ResNet18Trunk(channels)
        elif encoder == "line_cnn":
            self.encoder = LineCNNEncoder(input_dims)
        else:
            raise ValueError(f"encoder must be 'resnet', 'resnet18' or 'line_cnn', got {encoder!r}")
        if pos_embedding not in ("learned", "sinusoidal"):
            raise ValueError(f"pos_embedding must be 'learned' or 'sinusoidal', got {pos_embedding!r}")
        if split_columns < 1:
            raise ValueError(f"split_columns must be >= 1, got {split_columns}")
        grid_height, grid_width = self.encoder.output_size(height, width)
        self.split_columns, self.enc_width = split_columns, grid_width * split_columns  # columns of the memory grid
        # (B, C', H', W') -> (B, D * split, H', W'), or (B, D * split, 1, W') when the height is collapsed
        self.enc_proj = nn.Conv2d(self.encoder.out_channels, tf_dim * split_columns, kernel_size=(grid_height if collapse_height else 1, 1))
        self.enc_height = 1 if collapse_height else grid_height  # rows of the memory grid
        self.enc_pos: nn.Module | None = None
        if with_enc_pos:
            positions = PositionalEmbedding2D if pos_embedding == "learned" else SinusoidalPositions2D
            self.enc_pos = positions(tf_dim, self.enc_height, self.enc_width)
        if tf_encoder_layers < 0:
            raise ValueError(f"tf_encoder_layers must be >= 0, got {tf_encoder_layers}")
        # (B, S, D) -> (B, S, D): self-attention across the memory (0 layers: the CNN's features as they are)
        self.context = nn.Sequential(
            *[EncoderLayer(tf_dim, tf_nhead, tf_fc_dim, tf_dropout) for _ in range(tf_encoder_layers)],
            *([nn.LayerNorm(tf_dim)] if tf_encoder_layers else []),
        )
        self.decoder = TransformerDecoder(
            num_classes=num_classes,
            max_seq_length=max_seq_length,
            dim=tf_dim,
            fc_dim=tf_fc_dim,
            num_heads=tf_nhead,
            num_layers=tf_num_layers,
            dropout=tf_dropout,
            pos_embedding=pos_embedding,
        )
        self.num_classes, self.tf_dim = num_classes, tf_dim
        self.ctc_head = None
        self.blank_index = -1
        self.ctc_decode_weight = 0.0
        self.ctc_candidates = 10  # the decoder's top characters that the CTC scores re-rank at each step

    def attach_ctc_head(self, blank_index: int, decode_weight: float) -> None:
        """Adds the CTC head: memory columns -> characters (``ctc_logits``), blank = ``blank_index``;
        ``decode_weight`` (0..1) is its share of the score in ``predict`` (0: the decoder alone)."""
        if not 0.0 <= decode_weight <= 1.0:
            raise ValueError(f"ctc_decode_weight must be in [0, 1], got {decode_weight}")
        self.ctc_head = nn.Linear(self.tf_dim, self.num_classes)
        self.blank_index = blank_index
        self.ctc_decode_weight = decode_weight

    def ctc_logits(self, memory: torch.Tensor) -> torch.Tensor:
        """Memory (B, H'W', D) -> CTC logits (B, W', num_classes): each column of the grid, averaged
        over its rows, classifies the character under it."""
        head = self.ctc_head
        if head is None:
            raise RuntimeError("this model has no CTC head")
        b = memory.shape[0]
        columns = memory.view(b, self.enc_height, -1, memory.shape[-1]).mean(1)  # (B, W', D); W' may be less than enc_width (a cropped batch)
        return head(columns)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) images -> (B, H' * W' * split, D) memory (H' = 1 when the height is collapsed)."""
        features = self.enc_proj(self.encoder(x))  # (B, D * split, H', W')
        if self.split_columns > 1:  # each grid column's vector, cut into `split` columns side by side
            b, _, h, w = features.shape
            features = features.view(b, -1, self.split_columns, h, w).permute(0, 1, 3, 4, 2).reshape(b, -1, h, w * self.split_columns)  # (B, D, H', W' * split)
        if self.enc_pos is not None:
            features = self.enc_pos(features)
        return self.context(features.flatten(2).transpose(1, 2))  # (B, H' * W' * split, D)

    def decode(self, memory: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Memory (B, S, D) and token ids (B, T) -> logits (B, T, num_classes)."""
        return self.decoder(tokens, memory)

    def forward(self, x: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: images (B, C, H, W), input ids (B, T) -> logits (B, T, num_classes)."""
        return self.decode(self.encode(x), tokens)

    @torch.jit.export
    def predict(self, x: torch.Tensor, use_cache: bool = True) -> torch.Tensor:
        """Greedy decoding: images (B, C, H, W) -> ids (B, max_seq_length) that start with <S>.

        Stops once every sequence has emitted <E>; everything after a sequence's <E> is <P>.
        ``use_cache=False`` runs the whole decoder over the whole prefix at every step (FSDL's
        way); the default caches keys and values and computes only the new position. Both give
        the same tokens.
        """
        with torch.no_grad():
            memory = self.encode(x)  # (B, S, D)
            b = x.shape[0]
            tokens = torch.full((b, self.max_seq_length), self.pad_index, dtype=torch.long, device=x.device)
            tokens[:, 0] = self.start_index
            ended = torch.zeros(b, dtype=torch.bool, device=x.device)
            cache = self.decoder.start_cache(memory, self.max_seq_length) if use_cache else [memory]
            joint = self.ctc_head is not None and self.ctc_decode_weight > 0
            # CTC prefix state of each row's text so far (see joint_choice); empty when not joint
            log_probs = self.ctc_log_probs(memory) if joint else memory.new_zeros(0, 1, 1)  # (B, W', C)
            r_n, r_b, blank_cum = ctc_prefix.start(log_probs, self.blank_index if joint else 0)  # (B, W'+1) each
            psi = log_probs.new_zeros(log_probs.shape[0])  # (B,): log 1, every reading starts with nothing
            last = torch.full((log_probs.shape[0],), -1, dtype=torch.long, device=x.device)  # (B,)
            for t in range(1, self.max_seq_length):
                if use_cache:
                    logits = self.decoder.step(tokens[:, t - 1], t - 1, cache)  # (B, C), the new position only
                else:
                    logits = self.decode(memory, tokens[:, :t])[:, -1]  # (B, C), the whole prefix again
                if joint:
                    r_n, r_b, psi, last = self.joint_choice(logits, log_probs, blank_cum, r_n, r_b, psi, last)
                    choice = last
                else:
                    choice = logits.argmax(-1)  # (B,)
                next_token = torch.where(ended, self.pad_index, choice)  # (B,)
                tokens[:, t] = next_token
                ended |= next_token == self.end_index
                if bool(ended.all()):
                    break
            return tokens

    def ctc_log_probs(self, memory: torch.Tensor) -> torch.Tensor:
        """Memory (B, S, D) -> CTC log-probabilities (B, W', C) in float32."""
        return torch.log_softmax(self.ctc_logits(memory).float(), -1)

    def joint_choice(
        self,
        logits: torch.Tensor,
        log_probs: torch.Tensor,
        blank_cum: torch.Tensor,
        r_n: torch.Tensor,
        r_b: torch.Tensor,
        psi: torch.Tensor,
        last: torch.Tensor,
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The next character from the decoder's logits (B, C) and the CTC prefix scores of its top
        candidates. The CTC state of each row's prefix (``ctc_prefix.start``): log_probs (B, T, C),
        blank_cum, r_n, r_b (B, T+1), psi (B,), last character (B,). Returns the state of the
        prefix + the chosen character, whose ``last`` (B,) is that character."""
        att = torch.log_softmax(logits.float(), -1)  # (B, C)
        for special in (self.start_index, self.pad_index, self.blank_index):
            att[:, special] = ctc_prefix.impossible()  # never the next character of a line being read
        top, candidates = att.topk(min(self.ctc_candidates, att.shape[1]), -1)  # (B, K)
        # <E> is always a candidate: the CTC head may know the ink is all read when the decoder does not
        end = torch.full_like(candidates[:, :1], self.end_index)  # (B, 1)
        top = torch.cat([top, att[:, self.end_index : self.end_index + 1]], 1)  # (B, K+1)
        candidates = torch.cat([candidates, end], 1)  # (B, K+1); <E> twice when already in the top K: harmless
        psi_next, r_n_next = ctc_prefix.extend(log_probs, r_n, r_b, last, candidates)  # (B, K), (B, K, T+1)
        ending = ctc_prefix.full(r_n, r_b)[:, None].expand_as(psi_next)  # (B, K): p_ctc(h) if c = <E>
        gain = torch.where(candidates == self.end_index, ending, psi_next) - psi[:, None]  # (B, K)
        w = self.ctc_decode_weight
        best = ((1 - w) * top + w * gain).argmax(-1)  # (B,)
        rows = torch.arange(best.shape[0], device=best.device)
        r_n = r_n_next[rows, best]  # (B, T+1)
        return r_n, ctc_prefix.blank_ending(r_n, blank_cum), psi_next[rows, best], candidates[rows, best]
