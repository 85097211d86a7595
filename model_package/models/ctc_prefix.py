"""CTC prefix scores, for decoding the Transformer jointly with a CTC head on the encoder's columns.

The attention decoder alone loses its place on long lines: it repeats a word ("Lan Lan Lan ...")
or emits <E> halfway. A CTC head reads the same memory column by column, and the probability it
gives to every transcription that STARTS with a prefix (Watanabe et al. 2017, "Hybrid CTC/attention
architecture for end-to-end speech recognition") says how well a prefix covers the columns: a
repeated word has ink under it only once, a premature <E> leaves columns of ink unexplained. Greedy
joint decoding picks, among the decoder's top candidates, the one that maximises

    (1 - w) * log p_att(c | h) + w * (log psi(h + c) - log psi(h))        (log p_ctc(h) for c = <E>)

Notation, in log space, for a prefix h over T columns (index t = 0 is "before the first column"):
``r_n[t]`` / ``r_b[t]``: probability that columns 1..t read exactly h, ending in a non-blank / in a
blank. ``psi(h)``: probability of all readings that start with h. The recursions over t are linear
in probability space, so each is one ``logcumsumexp`` over the columns instead of a Python loop of T
steps: r_n[t] = A[t] + log sum_{s<t} exp(phi[s] - A[s]) with A the cumulative log-probability of c.
All functions are TorchScript-compatible (the staged artifact decodes with them).
"""

from typing import Tuple

import torch


def impossible() -> float:
    """The log-probability of "impossible": finite, so differences of impossible scores stay
    numbers, not NaN (a function: TorchScript reads no module-level floats)."""
    return -1e9


def start(log_probs: torch.Tensor, blank: int) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The empty prefix. ``log_probs`` (B, T, C): the CTC head's log-softmax per column.
    Returns r_n, r_b (B, T + 1) and ``blank_cum`` (B, T + 1), the cumulative log-probability of
    blanks, which equals the empty prefix's r_b."""
    b, t, _ = log_probs.shape
    blank_cum = torch.cat([log_probs.new_zeros(b, 1), log_probs[:, :, blank].cumsum(1)], 1)  # (B, T+1)
    r_n = log_probs.new_full((b, t + 1), impossible())  # (B, T+1): no non-blank reading of nothing
    return r_n, blank_cum.clone(), blank_cum


def extend(
    log_probs: torch.Tensor, r_n: torch.Tensor, r_b: torch.Tensor, last: torch.Tensor, candidates: torch.Tensor
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Prefix scores of h + c for K candidate characters per row.

    log_probs (B, T, C); r_n, r_b (B, T + 1) of h; last (B,) h's last character (-1: h empty);
    candidates (B, K) -> (log psi(h + c) (B, K), r_n of h + c (B, K, T + 1)).
    """
    b, t, _ = log_probs.shape
    k = candidates.shape[1]
    x = log_probs.gather(2, candidates[:, None, :].expand(b, t, k)).transpose(1, 2)  # (B, K, T): log p_t(c), t = 1..T
    # phi[s]: readings of h over columns 1..s after which c may start at column s + 1; a repeated
    # character needs a blank in between, so only the blank-ending ones when c == last
    either = torch.logaddexp(r_n, r_b)[:, None, :t].expand(b, k, t)  # (B, K, T): s = 0..T-1
    phi = torch.where((candidates == last[:, None])[:, :, None], r_b[:, None, :t].expand(b, k, t), either)
    cum = x.cumsum(-1)  # (B, K, T): A[1..T]
    cum_before = torch.cat([x.new_zeros(b, k, 1), cum[:, :, :-1]], -1)  # (B, K, T): A[0..T-1]
    extended = cum + torch.logcumsumexp(phi - cum_before, -1)  # (B, K, T): r_n[1..T] of h + c
    psi = torch.logsumexp(phi + x, -1)  # (B, K): c emitted first at any column
    return psi, torch.cat([x.new_full((b, k, 1), impossible()), extended], -1)


def blank_ending(r_n: torch.Tensor, blank_cum: torch.Tensor) -> torch.Tensor:
    """r_b (B, T + 1) of a non-empty prefix from its r_n (B, T + 1): its last character, then blanks.
    r_b[t] = B[t] + log sum_{1 <= s < t} exp(r_n[s] - B[s]), B = ``blank_cum``."""
    b = r_n.shape[0]
    inner = torch.logcumsumexp(r_n[:, 1:] - blank_cum[:, 1:], -1)  # (B, T): over s = 1..j+1
    return torch.cat([r_n.new_full((b, 2), impossible()), blank_cum[:, 2:] + inner[:, :-1]], 1)  # t = 0, 1 impossible


def full(r_n: torch.Tensor, r_b: torch.Tensor) -> torch.Tensor:
    """log p_ctc(h) (B,): readings of exactly h over all the columns."""
    return torch.logaddexp(r_n[:, -1], r_b[:, -1])
