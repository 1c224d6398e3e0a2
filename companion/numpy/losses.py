"""Losses and the metrics derived from them, each returning ``(loss, dloss/dinput)``.

Sequence losses are *token-weighted* means: every real (unmasked) token counts
once, however the tokens are spread over sequences and batches.  Perplexity is
the exponential of that mean, never a mean of per-batch exponentials.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from companion._checks import check_array, check_int_array, check_positive, check_shapes
from companion.numpy.activations import sigmoid

__all__ = [
    "log_softmax",
    "softmax_cross_entropy",
    "temporal_softmax_cross_entropy",
    "perplexity",
    "bits_per_char",
    "perplexity_from_logits",
    "mse_loss",
    "mae_loss",
    "sigmoid_binary_cross_entropy",
]


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """``log softmax`` over the last axis via log-sum-exp.

    Subtracting the row maximum first makes the largest exponent ``exp(0) = 1``,
    so logits of 1e4 neither overflow nor lose the differences between classes.
    """
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _weights(mask: Any, dims: str, **ref: tuple[np.ndarray, str]) -> np.ndarray:
    """Validate a mask (bool or non-negative numbers) of shape ``dims`` and return it as floats."""
    if not isinstance(mask, np.ndarray):
        raise TypeError(f"mask must be a numpy.ndarray, got {type(mask).__name__}")
    check_shapes(**ref, mask=(mask, dims))
    if mask.dtype == bool:
        w = mask.astype(np.float64)
    elif np.issubdtype(mask.dtype, np.number):
        w = check_array("mask", mask.astype(np.float64))
        if (w < 0).any():
            raise ValueError("mask must be non-negative (1 = real token, 0 = padding)")
    else:
        raise TypeError(f"mask must be boolean or numeric, got dtype {mask.dtype}")
    if w.sum() == 0:
        raise ValueError("mask selects no tokens (all zeros): the mean loss over zero tokens is undefined")
    return w


def _weighted_cross_entropy(logits2d: np.ndarray, y1d: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray]:
    """``L = sum_i w_i * (-log p_i[y_i]) / sum_i w_i`` and ``dL/dlogits = w_i (p_i - onehot(y_i)) / sum w``."""
    logp = log_softmax(logits2d)
    rows = np.arange(len(y1d))
    nll = -logp[rows, y1d]
    total = w.sum()
    loss = float((w * nll).sum() / total)
    dlogits = np.exp(logp)  # softmax probabilities
    dlogits[rows, y1d] -= 1.0
    dlogits *= (w / total)[:, None]
    return loss, dlogits


def softmax_cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of a softmax classifier.

    Parameters
    ----------
    logits : ndarray, shape (N, C)
        Unnormalised scores.
    y : ndarray of int, shape (N,)
        Correct classes in ``[0, C)``.

    Returns
    -------
    loss : float
        ``mean_n -log softmax(logits_n)[y_n]``.
    dlogits : ndarray, shape (N, C)
        ``(softmax(logits) - onehot(y)) / N``.
    """
    check_array("logits", logits)
    check_shapes(logits=(logits, "N C"))
    check_int_array("y", y, low=0, high=logits.shape[1])
    check_shapes(logits=(logits, "N C"), y=(y, "N"))
    return _weighted_cross_entropy(logits, y, np.ones(len(y)))


def temporal_softmax_cross_entropy(
    logits: np.ndarray, y: np.ndarray, mask: np.ndarray | None = None
) -> tuple[float, np.ndarray]:
    """Token-weighted mean cross-entropy over a batch of sequences.

    .. math:: L = \\frac{\\sum_{n,t} m_{nt}\\,(-\\log p_{nt}[y_{nt}])}{\\sum_{n,t} m_{nt}}

    Parameters
    ----------
    logits : ndarray, shape (N, T, V)
    y : ndarray of int, shape (N, T)
        Target token at every step (any valid index at padded steps).
    mask : ndarray of bool or float, shape (N, T), optional
        1/True for real tokens, 0/False for padding; default: every token counts.

    Returns
    -------
    loss : float
    dlogits : ndarray, shape (N, T, V)
        Zero at masked steps.

    Raises
    ------
    ValueError
        Shapes disagree, inputs are non-finite, or the mask selects no token.
    """
    check_array("logits", logits)
    check_shapes(logits=(logits, "N T V"))
    check_int_array("y", y, low=0, high=logits.shape[2])
    check_shapes(logits=(logits, "N T V"), y=(y, "N T"))
    w = np.ones(y.shape) if mask is None else _weights(mask, "N T", y=(y, "N T"))
    N, T, V = logits.shape
    loss, dlogits = _weighted_cross_entropy(logits.reshape(N * T, V), y.reshape(-1), w.reshape(-1))
    return loss, dlogits.reshape(N, T, V)


def _check_mean_nll(mean_nll: Any) -> float:
    """A mean negative log-likelihood of a discrete distribution is a finite number >= 0."""
    return check_positive("mean_nll", mean_nll, allow_zero=True)


def perplexity(mean_nll: float) -> float:
    """Perplexity ``exp(mean NLL)`` (NLL in nats): the effective number of equally likely next tokens.

    Pass the token-weighted mean over the *whole* evaluation set; the mean of
    per-batch perplexities is a different (larger, by Jensen) number.  A diverged
    model (mean NLL above ~709 nats, where ``exp`` leaves the float64 range) has
    perplexity ``inf``.
    """
    try:
        return math.exp(_check_mean_nll(mean_nll))
    except OverflowError:
        return math.inf


def bits_per_char(mean_nll: float) -> float:
    """Bits per character: the mean NLL converted from nats to bits, ``mean_nll / ln 2``."""
    return _check_mean_nll(mean_nll) / math.log(2.0)


def perplexity_from_logits(logits: np.ndarray, y: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Perplexity of a batch of sequences, ``exp`` of the token-weighted mean NLL.

    Parameters
    ----------
    logits : ndarray, shape (N, T, V)
    y : ndarray of int, shape (N, T)
    mask : ndarray, shape (N, T), optional

    Returns
    -------
    float
    """
    loss, _ = temporal_softmax_cross_entropy(logits, y, mask)
    return perplexity(loss)


def _elementwise_loss_weights(pred: np.ndarray, target: np.ndarray, mask: Any) -> np.ndarray:
    """Validate ``pred``/``target`` (same shape) and return per-element weights of that shape.

    A mask may have the full shape of ``pred`` or a prefix of it, e.g. (N, T) for
    predictions (N, T, D): it then weights every feature of a step alike.
    """
    check_array("pred", pred)
    check_array("target", target)
    dims = " ".join(f"d{i}" for i in range(pred.ndim))
    check_shapes(pred=(pred, dims), target=(target, dims))
    if mask is None:
        return np.ones(pred.shape)
    if not isinstance(mask, np.ndarray) or not 1 <= mask.ndim <= pred.ndim:
        got = getattr(mask, "shape", type(mask).__name__)
        raise ValueError(f"mask must be an ndarray whose shape is a prefix of pred's {pred.shape}, got {got}")
    w = _weights(mask, " ".join(dims.split()[: mask.ndim]), pred=(pred, dims))
    return np.broadcast_to(w.reshape(w.shape + (1,) * (pred.ndim - w.ndim)), pred.shape)


def mse_loss(pred: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """Mean squared error over the selected elements.

    .. math:: L = \\frac{\\sum_i w_i (p_i - t_i)^2}{\\sum_i w_i}, \\qquad
              \\frac{\\partial L}{\\partial p_i} = \\frac{2 w_i (p_i - t_i)}{\\sum_i w_i}

    Parameters
    ----------
    pred, target : ndarray, same shape (e.g. (N, T, D))
    mask : ndarray, shape of ``pred`` or a prefix of it (e.g. (N, T)), optional

    Returns
    -------
    loss : float
    dpred : ndarray, shape of ``pred``
    """
    w = _elementwise_loss_weights(pred, target, mask)
    err = pred - target
    total = w.sum()
    return float((w * err**2).sum() / total), 2.0 * w * err / total


def mae_loss(pred: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """Mean absolute error over the selected elements; the gradient uses ``sign(0) = 0`` like torch.

    Parameters
    ----------
    pred, target : ndarray, same shape
    mask : ndarray, shape of ``pred`` or a prefix of it, optional

    Returns
    -------
    loss : float
    dpred : ndarray, shape of ``pred``
    """
    w = _elementwise_loss_weights(pred, target, mask)
    err = pred - target
    total = w.sum()
    return float((w * np.abs(err)).sum() / total), w * np.sign(err) / total


def sigmoid_binary_cross_entropy(logits: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean binary cross-entropy of ``sigmoid(logits)`` against targets in ``[0, 1]``.

    Written as ``max(x, 0) - x t + log(1 + exp(-|x|))``, which equals
    ``-t log s - (1-t) log(1-s)`` but never takes the log of 0 nor overflows ``exp``.
    The gradient is ``(sigmoid(x) - t) / n``.

    Parameters
    ----------
    logits : ndarray, any shape
    targets : ndarray, same shape, values in [0, 1]

    Returns
    -------
    loss : float
    dlogits : ndarray, shape of ``logits``
    """
    check_array("logits", logits)
    check_array("targets", targets)
    dims = " ".join(f"d{i}" for i in range(logits.ndim))
    check_shapes(logits=(logits, dims), targets=(targets, dims))
    if (targets < 0).any() or (targets > 1).any():
        raise ValueError("targets must lie in [0, 1]")
    loss = np.maximum(logits, 0) - logits * targets + np.log1p(np.exp(-np.abs(logits)))
    return float(loss.mean()), (sigmoid(logits) - targets) / logits.size
