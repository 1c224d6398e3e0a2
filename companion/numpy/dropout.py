"""Dropout for recurrent networks, from scratch: standard (a new mask per element) and locked (one mask per sequence).

*Inverted* dropout, as in :class:`torch.nn.Dropout`: during training every kept unit is divided by the keep
probability ``1 - p``, so the expected value of each output equals its input,

    out = x * keep / (1 - p),      keep ~ Bernoulli(1 - p),

and at evaluation time the layer is the identity (nothing to rescale).  The backward pass multiplies by the
same mask: ``dx = dout * keep / (1 - p)``.

*Locked* (variational) dropout (Gal & Ghahramani, 2016; Merity et al., 2018) draws one mask per sequence and
feature, ``keep (N, 1, D)``, and applies it at every time step of ``x (N, T, D)``: a dropped unit stays dropped
for the whole sequence, instead of flickering on and off from one step to the next.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from companion._checks import check_array, check_rng, check_shapes

__all__ = [
    "DropoutCache",
    "check_drop_probability",
    "dropout_mask",
    "locked_dropout_mask",
    "dropout_forward",
    "dropout_backward",
]


class DropoutCache(NamedTuple):
    keep: np.ndarray  # bool, broadcastable to x: (N, T, D) standard, (N, 1, D) locked
    p: float  # drop probability


def check_drop_probability(p: float) -> float:
    """Return ``p`` as a float if it is a number in ``[0, 1)`` (``p = 1`` would divide by zero)."""
    if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)):
        raise TypeError(f"p must be a number in [0, 1), got {type(p).__name__}")
    if not 0.0 <= float(p) < 1.0:
        raise ValueError(f"p must be a drop probability in [0, 1), got {p}")
    return float(p)


def dropout_mask(shape: tuple[int, ...], p: float, rng: np.random.Generator) -> np.ndarray:
    """Boolean keep-mask: ``keep = rng.random(shape) >= p``, so each entry is kept with probability ``1 - p``.

    Parameters
    ----------
    shape : tuple of int
    p : float
        Drop probability in ``[0, 1)``.
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of bool, shape ``shape``
    """
    p = check_drop_probability(p)
    check_rng(rng)
    return rng.random(shape) >= p


def locked_dropout_mask(N: int, T: int, D: int, p: float, rng: np.random.Generator) -> np.ndarray:
    """The scaled mask of locked dropout, repeated over time: ``mask[n, t, d] = keep[n, d] / (1 - p)``.

    One uniform number per (sequence, feature) is drawn as ``rng.random((N, 1, D))``; entry ``(n, d)`` is
    kept when it is ``>= p``.  Every time step of sequence ``n`` sees the same mask.

    Parameters
    ----------
    N, T, D : int
        Batch size, sequence length, features.
    p : float
        Drop probability in ``[0, 1)``.
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of float64, shape (N, T, D)
        Entries ``0`` (dropped) or ``1 / (1 - p)`` (kept), equal along the time axis.
    """
    keep = dropout_mask((N, 1, D), p, rng)
    return np.repeat(keep / (1.0 - p), T, axis=1)


def dropout_forward(
    x: np.ndarray, p: float, rng: np.random.Generator | None = None, *, train: bool = True, locked: bool = False
) -> tuple[np.ndarray, DropoutCache]:
    """Inverted dropout ``out = x * keep / (1 - p)``: a new mask per element, or one per sequence (``locked``).

    Parameters
    ----------
    x : ndarray, shape (N, T, D) (any shape for standard dropout)
    p : float
        Drop probability in ``[0, 1)``.
    rng : numpy.random.Generator, optional
        Needed when ``train`` and ``p > 0``.
    train : bool
        At evaluation time (``False``) the layer is the identity.
    locked : bool
        Draw ``keep (N, 1, D)`` and share it over the T steps (variational dropout); needs ``x (N, T, D)``.

    Returns
    -------
    out : ndarray, same shape as x
    cache : DropoutCache
    """
    check_array("x", x)
    p = check_drop_probability(p)
    if locked:
        check_shapes(x=(x, "N T D"))
    shape = (x.shape[0], 1, x.shape[2]) if locked else x.shape
    if not train or p == 0.0:
        keep = np.ones(shape, dtype=bool)
    else:
        if rng is None:
            raise ValueError("dropout in training mode needs rng (a numpy.random.Generator)")
        keep = dropout_mask(shape, p, rng)
    scale = 1.0 / (1.0 - p) if train else 1.0
    return x * keep * scale, DropoutCache(keep, p if train else 0.0)


def dropout_backward(dout: np.ndarray, cache: DropoutCache) -> np.ndarray:
    """Backward of :func:`dropout_forward`: ``dx = dout * keep / (1 - p)`` (dropped units get no gradient).

    Parameters
    ----------
    dout : ndarray, same shape as the forward input
    cache : DropoutCache

    Returns
    -------
    dx : ndarray, same shape as dout
    """
    keep, p = cache
    check_array("dout", dout)
    try:
        np.broadcast_shapes(keep.shape, dout.shape)
    except ValueError:
        raise ValueError(f"dout has shape {dout.shape}, which does not fit the mask of shape {keep.shape}") from None
    if np.broadcast_shapes(keep.shape, dout.shape) != dout.shape:
        raise ValueError(f"dout has shape {dout.shape}, which does not fit the mask of shape {keep.shape}")
    return dout * keep / (1.0 - p)
