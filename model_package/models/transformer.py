"""A pre-norm Transformer decoder with learned (GPT-2 style) or fixed sinusoidal positional embeddings.

Attention is written on ``F.scaled_dot_product_attention`` rather than taken from
``nn.TransformerDecoderLayer`` so that the projected keys and values are at hand for
incremental (cached) decoding.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class MultiHeadAttention(nn.Module):
    """Multi-head attention of queries ``x`` over ``context`` (``x`` itself for self-attention)."""

    def __init__(self, dim: int, num_heads: int, dropout: float = 0.0):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"tf_dim={dim} is not divisible by tf_nhead={num_heads}")
        self.num_heads = num_heads
        self.dropout = dropout
        self.query = nn.Linear(dim, dim)
        self.key_value = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, dim)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        # (B, T, D) -> (B, heads, T, D / heads)
        b, t, d = x.shape
        return x.view(b, t, self.num_heads, d // self.num_heads).transpose(1, 2)

    def project_kv(self, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values of ``context`` (B, S, D): (B, h, S, d) each."""
        k, v = self.key_value(context).chunk(2, dim=-1)
        return self._heads(k), self._heads(v)

    def attend(self, x: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False) -> torch.Tensor:
        """Queries from ``x`` (B, T, D) over keys and values (B, h, S, d) -> (B, T, D)."""
        q = self._heads(self.query(x))  # (B, h, T, d)
        y = F.scaled_dot_product_attention(
            q, k, v, is_causal=causal, dropout_p=self.dropout if self.training else 0.0
        )  # (B, h, T, d)
        b, _, t, _ = y.shape
        return self.out(y.transpose(1, 2).reshape(b, t, -1))

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None, causal: bool = False) -> torch.Tensor:
        # x: (B, T, D); context: (B, S, D), x itself when None -> (B, T, D)
        k, v = self.project_kv(x if context is None else context)
        return self.attend(x, k, v, causal)


def feed_forward(dim: int, fc_dim: int, dropout: float) -> nn.Sequential:
    """The position-wise block of every Transformer layer here: (..., D) -> (..., D) through fc_dim, GELU."""
    return nn.Sequential(nn.Linear(dim, fc_dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(fc_dim, dim))


class DecoderLayer(nn.Module):
    """Pre-norm: x + SelfAttn(LN(x)); x + CrossAttn(LN(x), memory); x + FFN(LN(x))."""

    def __init__(self, dim: int, num_heads: int, fc_dim: int, dropout: float = 0.0):
        super().__init__()
        self.norm_self = nn.LayerNorm(dim)
        self.self_attn = MultiHeadAttention(dim, num_heads, dropout)
        self.norm_cross = nn.LayerNorm(dim)
        self.cross_attn = MultiHeadAttention(dim, num_heads, dropout)
        self.norm_ff = nn.LayerNorm(dim)
        self.ff = feed_forward(dim, fc_dim, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        # x: (B, T, D) token states; memory: (B, S, D) encoder output
        x = x + self.drop(self.self_attn(self.norm_self(x), causal=True))
        x = x + self.drop(self.cross_attn(self.norm_cross(x), memory))
        return x + self.drop(self.ff(self.norm_ff(x)))

    def step(
        self,
        x: torch.Tensor,
        t: int,
        self_k: torch.Tensor,
        self_v: torch.Tensor,
        cross_k: torch.Tensor,
        cross_v: torch.Tensor,
    ) -> torch.Tensor:
        """One new position: x (B, 1, D) at position ``t`` -> (B, 1, D).

        ``self_k`` / ``self_v`` (B, h, T_max, d) cache this layer's self-attention keys and values;
        position t's are written into them here, and the query attends over positions 0..t (so no
        causal mask is needed). ``cross_k`` / ``cross_v`` (B, h, S, d) are the memory's, computed once.
        """
        h = self.norm_self(x)
        k, v = self.self_attn.project_kv(h)  # (B, h, 1, d)
        self_k[:, :, t : t + 1] = k
        self_v[:, :, t : t + 1] = v
        x = x + self.drop(self.self_attn.attend(h, self_k[:, :, : t + 1], self_v[:, :, : t + 1]))
        x = x + self.drop(self.cross_attn.attend(self.norm_cross(x), cross_k, cross_v))
        return x + self.drop(self.ff(self.norm_ff(x)))


class EncoderLayer(nn.Module):
    """Pre-norm, unmasked: x + SelfAttn(LN(x)); x + FFN(LN(x)). Context across the memory's positions."""

    def __init__(self, dim: int, num_heads: int, fc_dim: int, dropout: float = 0.0):
        super().__init__()
        self.norm_self = nn.LayerNorm(dim)
        self.self_attn = MultiHeadAttention(dim, num_heads, dropout)
        self.norm_ff = nn.LayerNorm(dim)
        self.ff = feed_forward(dim, fc_dim, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (B, S, D) -> (B, S, D)
        x = x + self.drop(self.self_attn(self.norm_self(x)))
        return x + self.drop(self.ff(self.norm_ff(x)))


def sinusoids(length: int, dim: int) -> torch.Tensor:
    """(length, dim) fixed positional encodings of "Attention is all you need": sin on even
    channels, cos on odd ones, wavelengths from 2 pi to 10000 * 2 pi."""
    positions = torch.arange(length, dtype=torch.float32)[:, None]  # (L, 1)
    rates = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))  # (ceil(D/2),)
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(positions * rates)
    table[:, 1::2] = torch.cos(positions * rates[: dim // 2])
    return table


class SinusoidalPositions(nn.Module):
    """Fixed 1-D positions with the interface of ``nn.Embedding`` (call with indices, or read
    ``.weight[t]``); nothing to learn, and not saved in checkpoints (recomputed)."""

    def __init__(self, length: int, dim: int):
        super().__init__()
        self.register_buffer("weight", sinusoids(length, dim), persistent=False)  # (L, D)

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        return self.weight[positions]


class TransformerDecoder(nn.Module):
    """Token ids (B, T) and memory (B, S, D) -> logits (B, T, num_classes), causally masked."""

    def __init__(
        self,
        num_classes: int,
        max_seq_length: int,
        dim: int,
        fc_dim: int,
        num_heads: int,
        num_layers: int,
        dropout: float = 0.0,
        pos_embedding: str = "learned",
    ):
        """``pos_embedding``: "learned" (an ``nn.Embedding``, as in GPT-2) or "sinusoidal" (fixed)."""
        super().__init__()
        self.max_seq_length = max_seq_length
        self.token_embedding = nn.Embedding(num_classes, dim)
        if pos_embedding == "learned":
            self.position_embedding = nn.Embedding(max_seq_length, dim)
        elif pos_embedding == "sinusoidal":
            self.position_embedding = SinusoidalPositions(max_seq_length, dim)
        else:
            raise ValueError(f"pos_embedding must be 'learned' or 'sinusoidal', got {pos_embedding!r}")
        self.drop = nn.Dropout(dropout)
        self.layers = nn.ModuleList([DecoderLayer(dim, num_heads, fc_dim, dropout) for _ in range(num_layers)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        if pos_embedding == "learned":  # (after the layers, so a seed gives the weights it always gave)
            nn.init.normal_(self.position_embedding.weight, std=0.02)

    def forward(self, tokens: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        t = tokens.shape[1]
        if t > self.max_seq_length:
            raise ValueError(f"{t} tokens exceed max_seq_length={self.max_seq_length}")
        positions = torch.arange(t, device=tokens.device)
        x = self.drop(self.token_embedding(tokens) + self.position_embedding(positions))  # (B, T, D)
        for layer in self.layers:
            x = layer(x, memory)
        return self.head(self.norm(x))  # (B, T, num_classes)

    def start_cache(self, memory: torch.Tensor, max_length: int) -> list[torch.Tensor]:
        """Per layer: empty self-attention key and value caches (B, h, max_length, d) and the
        memory's cross-attention keys and values (B, h, S, d), as a flat list of 4 per layer."""
        cache: list[torch.Tensor] = []
        for layer in self.layers:
            cross_k, cross_v = layer.cross_attn.project_kv(memory)
            b, heads, _, d = cross_k.shape
            empty = memory.new_zeros(b, heads, max_length, d)
            cache += [empty, empty.clone(), cross_k, cross_v]
        return cache

    def step(self, token: torch.Tensor, t: int, cache: list[torch.Tensor]) -> torch.Tensor:
        """Logits (B, num_classes) for position ``t + 1`` given the token (B,) at position ``t``
        and the caches of positions 0..t-1 (filled in place for position t)."""
        x = self.token_embedding(token)[:, None] + self.position_embedding.weight[t]  # (B, 1, D)
        x = self.drop(x)
        for i, layer in enumerate(self.layers):
            x = layer.step(x, t, cache[4 * i], cache[4 * i + 1], cache[4 * i + 2], cache[4 * i + 3])
        return self.head(self.norm(x))[:, 0]  # (B, num_classes)
