"""Layer normalisation (Ba et al., 2016) in NumPy: forward and hand-written backward.

Each vector along the LAST axis of ``x (..., D)`` is normalised on its own, with the
mean and the biased (population) variance of its ``D`` entries, then scaled and shifted
by the learned ``gamma`` and ``beta``:

    mu = mean(x, axis=-1),   var = mean((x - mu) ** 2, axis=-1),
    xhat = (x - mu) / sqrt(var + eps),   out = gamma * xhat + beta.

This is what :func:`torch.nn.functional.layer_norm` computes with
``normalized_shape = (D,)``.  Unlike batch normalisation nothing is shared between the
vectors of a batch or between time steps, so it works the same for any batch size,
during training and at evaluation time.

The backward pass, with ``g = dout * gamma`` and means over the last axis,

    dx = (g - mean(g) - xhat * mean(g * xhat)) / sqrt(var + eps),
    dgamma = sum of dout * xhat,   dbeta = sum of dout   (over all leading axes).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from companion._checks import check_array, check_positive

__all__ = ["LayerNormCache", "layer_norm_forward", "layer_norm_backward"]


class LayerNormCache(NamedTuple):
    xhat: np.ndarray  # (..., D), the normalised input
    inv_std: np.ndarray  # (..., 1), 1 / sqrt(var + eps)
    gamma: np.ndarray  # (D,)


def _check_params(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> None:
    if x.ndim < 1:
        raise ValueError("x must have at least one axis (the last one holds the D features), "
                         "got a 0-d array")
    D = x.shape[-1]
    for name, p in (("gamma", gamma), ("beta", beta)):
        check_array(name, p)
        if p.shape != (D,):
            raise ValueError(
                f"{name} must have shape (D,) = ({D},), the size of the last axis of x "
                f"(shape {x.shape}), got {p.shape}"
            )


def layer_norm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = 1e-5
) -> tuple[np.ndarray, LayerNormCache]:
    """Layer normalisation over the last axis: ``gamma * xhat + beta``.

    ``xhat = (x - mu) / sqrt(var + eps)``, with the mean and the biased variance of
    each length-D vector.

    Parameters
    ----------
    x : ndarray, shape (..., D)
        Any leading axes (``(N, D)``, ``(N, T, D)``); each length-D vector on its own.
    gamma, beta : ndarray, shape (D,)
        Learned gain and bias.
    eps : float
        Added to the variance INSIDE the square root (as in PyTorch): a constant vector
        gives ``beta``.

    Returns
    -------
    out : ndarray, shape (..., D)
    cache : LayerNormCache
        What :func:`layer_norm_backward` needs.
    """
    check_array("x", x)
    _check_params(x, gamma, beta)
    eps = check_positive("eps", eps)
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)  # biased (ddof=0), as torch
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = (x - mu) * inv_std
    return gamma * xhat + beta, LayerNormCache(xhat, inv_std, gamma)


def layer_norm_backward(
    dout: np.ndarray, cache: LayerNormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward of :func:`layer_norm_forward`.

    Parameters
    ----------
    dout : ndarray, shape (..., D)
        dL/dout, the shape of the forward input.
    cache : LayerNormCache

    Returns
    -------
    dx : ndarray, shape (..., D)
        ``(g - mean(g) - xhat * mean(g * xhat)) / sqrt(var + eps)``, g = dout * gamma.
    dgamma, dbeta : ndarray, shape (D,)
        ``dout * xhat`` and ``dout`` summed over every leading axis.
    """
    xhat, inv_std, gamma = cache
    check_array("dout", dout)
    if dout.shape != xhat.shape:
        raise ValueError(f"dout has shape {dout.shape}, the forward input {xhat.shape}")
    lead = tuple(range(dout.ndim - 1))
    dbeta = dout.sum(axis=lead)
    dgamma = (dout * xhat).sum(axis=lead)
    g = dout * gamma
    g_mean = g.mean(axis=-1, keepdims=True)
    gx_mean = (g * xhat).mean(axis=-1, keepdims=True)
    dx = inv_std * (g - g_mean - xhat * gx_mean)
    return dx, dgamma, dbeta
