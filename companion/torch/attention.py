"""Attention layers in PyTorch, the same equations as :mod:`companion.numpy.attention`.

Every layer maps queries ``(N, T, Hq)``, keys ``(N, S, Hk)`` and a boolean mask ``(N, S)``
(True = a real position that may be attended to) to ``(context (N, T, Hk), weights (N, T, S))``;
the values are the keys (the encoder outputs), as in Bahdanau et al. (2015) and Luong et
al. (2015).  Parameters are ``torch.nn.Linear`` layers, so ``W.weight`` is the transpose of
the NumPy module's row-vector matrix: ``Wq = layer.Wq.weight.T``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from companion.torch._validate import check_choice, check_count

__all__ = ["masked_softmax", "AdditiveAttention", "GeneralAttention", "ScaledDotAttention", "make_attention", "SCORES"]

SCORES = ("additive", "general", "scaled_dot")


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor | None, dim: int = -1) -> torch.Tensor:
    """Softmax over ``dim`` of the allowed positions; exactly 0 on masked ones.

    Parameters
    ----------
    scores : Tensor
    mask : BoolTensor broadcastable to ``scores``, or None
        True where attention is allowed.

    Raises
    ------
    ValueError
        If a row allows no position (torch would return NaN there).
    """
    if mask is None:
        return torch.softmax(scores, dim=dim)
    if mask.dtype != torch.bool:
        raise TypeError(f"mask must be a bool tensor (True = may be attended to), got {mask.dtype}")
    allowed = mask.expand_as(scores)
    if not bool(allowed.any(dim=dim).all()):
        raise ValueError("mask allows no position in some row: every query needs at least one real key "
                         "(check the lengths and the padding side)")
    return torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=dim)


class _Attention(nn.Module):
    def scores(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(
        self, query: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(context (N, T, Hk), weights (N, T, S))`` for queries (N, T, Hq), keys (N, S, Hk), mask (N, S)."""
        if query.dim() != 3 or keys.dim() != 3 or query.shape[0] != keys.shape[0]:
            raise ValueError(f"query must be (N, T, Hq) and keys (N, S, Hk), got {tuple(query.shape)} and "
                             f"{tuple(keys.shape)}")
        if mask is not None and tuple(mask.shape) != tuple(keys.shape[:2]):
            raise ValueError(f"mask must have shape (N, S) = {tuple(keys.shape[:2])}, got {tuple(mask.shape)}")
        weights = masked_softmax(self.scores(query, keys), None if mask is None else mask.unsqueeze(1))
        return weights @ keys, weights


class AdditiveAttention(_Attention):
    """Bahdanau: ``e_ts = v . tanh(q_t Wq + k_s Wk)``."""

    def __init__(self, query_size: int, key_size: int, attn_size: int) -> None:
        super().__init__()
        self.Wq = nn.Linear(check_count("query_size", query_size), check_count("attn_size", attn_size), bias=False)
        self.Wk = nn.Linear(check_count("key_size", key_size), attn_size, bias=False)
        self.v = nn.Linear(attn_size, 1, bias=False)

    def scores(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        hidden = torch.tanh(self.Wq(query).unsqueeze(2) + self.Wk(keys).unsqueeze(1))  # (N, T, S, A)
        return self.v(hidden).squeeze(-1)


class GeneralAttention(_Attention):
    """Luong's "general" score: ``e_ts = q_t W k_s^T``."""

    def __init__(self, query_size: int, key_size: int) -> None:
        super().__init__()
        self.W = nn.Linear(check_count("key_size", key_size), check_count("query_size", query_size), bias=False)

    def scores(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        return query @ self.W(keys).transpose(1, 2)


class ScaledDotAttention(_Attention):
    """``e_ts = q_t . k_s / sqrt(d)``: no parameters (query and key sizes must agree)."""

    def scores(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        if query.shape[-1] != keys.shape[-1]:
            raise ValueError(f"scaled dot-product needs equal query and key sizes, got {query.shape[-1]} and "
                             f"{keys.shape[-1]}")
        return query @ keys.transpose(1, 2) / math.sqrt(query.shape[-1])


def make_attention(score: str, query_size: int, key_size: int, attn_size: int | None = None) -> _Attention:
    """The attention layer of a score name in ``SCORES`` (``attn_size`` defaults to ``key_size``)."""
    check_choice("score", score, SCORES)
    if score == "additive":
        return AdditiveAttention(query_size, key_size, attn_size or key_size)
    if score == "general":
        return GeneralAttention(query_size, key_size)
    return ScaledDotAttention()
