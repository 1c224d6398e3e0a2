"""A padding-aware many-to-one RNN classifier (e.g. sentence sentiment) in NumPy.

Sequences of different lengths are padded to a common T and batched.  The RNN
runs over all T steps, but the summary fed to the output layer must only see
*real* steps: either the state at each sequence's own last step ``lengths - 1``
(:func:`last_hidden`) or the mean over its real steps (:func:`masked_mean_pool`).
Taking ``h[:, -1]`` instead would summarise the padding of every short sequence.

Parameters of the model are a dict::

    "W_embed" (V, D)  optional; present -> x holds token ids (N, T), absent -> x is (N, T, D)
    "Wx" (D, H), "Wh" (H, H), "b" (H,)      tanh RNN, h0 = 0
    "W_out" (H, C), "b_out" (C,)            logits = summary @ W_out + b_out
"""

from __future__ import annotations

from typing import Any

import numpy as np

from companion._checks import check_array, check_int_array, check_shapes
from companion.numpy.layers import (
    affine_backward,
    affine_forward,
    embedding_backward,
    embedding_forward,
)
from companion.numpy.losses import softmax_cross_entropy
from companion.numpy.rnn import init_rnn_params, rnn_backward, rnn_forward

__all__ = [
    "last_hidden",
    "last_hidden_backward",
    "masked_mean_pool",
    "masked_mean_pool_backward",
    "classifier_forward",
    "classifier_loss_and_grads",
    "init_classifier_params",
]

POOLS = ("last", "mean")


def _check_lengths(lengths: Any, N: int, T: int) -> np.ndarray:
    check_int_array("lengths", lengths, low=1, high=T + 1)  # every sequence has 1..T real steps
    if lengths.shape != (N,):
        raise ValueError(f"lengths must have shape (N,) = ({N},), got {lengths.shape}")
    return lengths


def _check_h(h: Any, lengths: Any) -> None:
    check_array("h", h)
    sizes = check_shapes(h=(h, "N T H"))
    _check_lengths(lengths, sizes["N"], sizes["T"])


def _check_backward(dout: Any, lengths: Any, T: Any) -> None:
    check_array("dout", dout)
    sizes = check_shapes(dout=(dout, "N H"))
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 1:
        raise ValueError(f"T must be a positive int, got {T!r}")
    _check_lengths(lengths, sizes["N"], int(T))


def _mask(lengths: np.ndarray, T: int) -> np.ndarray:
    """``mask[n, t] = 1.0`` if step t is real for sequence n (``t < lengths[n]``), else 0."""
    return (np.arange(T)[None, :] < lengths[:, None]).astype(np.float64)


def last_hidden(h: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Hidden state at the last *real* step of every sequence.

    Parameters
    ----------
    h : ndarray, shape (N, T, H)
        All hidden states of a padded batch.
    lengths : ndarray of int, shape (N,)
        True lengths, ``1 <= lengths[n] <= T``.

    Returns
    -------
    ndarray, shape (N, H)
        ``out[n] = h[n, lengths[n] - 1]``.
    """
    _check_h(h, lengths)
    return h[np.arange(h.shape[0]), lengths - 1]


def last_hidden_backward(dout: np.ndarray, lengths: np.ndarray, T: int) -> np.ndarray:
    """Backward of :func:`last_hidden`: ``dout[n]`` goes to step ``lengths[n] - 1``, zeros elsewhere.

    Parameters
    ----------
    dout : ndarray, shape (N, H)
    lengths : ndarray of int, shape (N,)
    T : int
        Padded length of the forward input.

    Returns
    -------
    dh : ndarray, shape (N, T, H)
    """
    _check_backward(dout, lengths, T)
    N, H = dout.shape
    dh = np.zeros((N, T, H), dtype=dout.dtype)
    dh[np.arange(N), lengths - 1] = dout
    return dh


def masked_mean_pool(h: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Mean of the hidden states over the real steps of every sequence.

    Parameters
    ----------
    h : ndarray, shape (N, T, H)
    lengths : ndarray of int, shape (N,)

    Returns
    -------
    ndarray, shape (N, H)
        ``out[n] = sum_{t < lengths[n]} h[n, t] / lengths[n]``.
    """
    _check_h(h, lengths)
    mask = _mask(lengths, h.shape[1])
    return (h * mask[:, :, None]).sum(axis=1) / lengths[:, None]


def masked_mean_pool_backward(dout: np.ndarray, lengths: np.ndarray, T: int) -> np.ndarray:
    """Backward of :func:`masked_mean_pool`: each real step gets ``dout[n] / lengths[n]``, padding 0.

    Parameters
    ----------
    dout : ndarray, shape (N, H)
    lengths : ndarray of int, shape (N,)
    T : int

    Returns
    -------
    dh : ndarray, shape (N, T, H)
    """
    _check_backward(dout, lengths, T)
    mask = _mask(lengths, int(T))
    return mask[:, :, None] * (dout / lengths[:, None])[:, None, :]


_POOL_BACKWARD = {"last": last_hidden_backward, "mean": masked_mean_pool_backward}
_POOL_FORWARD = {"last": last_hidden, "mean": masked_mean_pool}


def _forward(x: np.ndarray, lengths: np.ndarray, params: dict[str, np.ndarray], pool: str):
    """Forward pass keeping every cache; shared by :func:`classifier_forward` and the loss."""
    if pool not in POOLS:
        raise ValueError(f"pool must be one of {POOLS}, got {pool!r}")
    missing = {"Wx", "Wh", "b", "W_out", "b_out"} - set(params)
    if missing:
        raise KeyError(f"params is missing {sorted(missing)}")
    embed_cache = None
    if "W_embed" in params:
        inputs, embed_cache = embedding_forward(x, params["W_embed"])
    else:
        inputs = check_array("x", x)
    N, T = check_shapes(x=(inputs, "N T D"))["N"], inputs.shape[1]
    _check_lengths(lengths, N, T)  # fail before the RNN runs, with a message about lengths
    H = check_shapes(Wh=(check_array("Wh", params["Wh"]), "H H"))["H"]
    h0 = np.zeros((N, H))
    h, rnn_cache = rnn_forward(inputs, h0, params["Wx"], params["Wh"], params["b"])
    summary = _POOL_FORWARD[pool](h, lengths)
    logits, out_cache = affine_forward(summary, params["W_out"], params["b_out"])
    return logits, (embed_cache, rnn_cache, out_cache, h.shape[1])


def classifier_forward(
    x: np.ndarray, lengths: np.ndarray, params: dict[str, np.ndarray], *, pool: str = "last"
) -> np.ndarray:
    """Class scores of a padded batch: embed (optional) -> tanh RNN -> summary of real steps -> affine.

    Parameters
    ----------
    x : ndarray, shape (N, T) of int token ids if ``params`` has ``"W_embed"``, else (N, T, D) floats
        Padded batch; what sits at padded positions does not change the result.
    lengths : ndarray of int, shape (N,)
        True lengths, ``1 <= lengths[n] <= T``.
    params : dict of ndarray
        See the module docstring.
    pool : {"last", "mean"}
        Summary of the hidden states: last real step (default) or mean over real steps.

    Returns
    -------
    logits : ndarray, shape (N, C)
    """
    logits, _ = _forward(x, lengths, params, pool)
    return logits


def classifier_loss_and_grads(
    x: np.ndarray,
    lengths: np.ndarray,
    y: np.ndarray,
    params: dict[str, np.ndarray],
    *,
    pool: str = "last",
) -> tuple[float, dict[str, np.ndarray]]:
    """Mean softmax cross-entropy of :func:`classifier_forward` and its gradient for every parameter.

    Parameters
    ----------
    x, lengths, params, pool
        As in :func:`classifier_forward`.
    y : ndarray of int, shape (N,)
        Correct classes.

    Returns
    -------
    loss : float
    grads : dict of ndarray
        Same keys and shapes as ``params``.
    """
    logits, (embed_cache, rnn_cache, out_cache, T) = _forward(x, lengths, params, pool)
    loss, dlogits = softmax_cross_entropy(logits, y)
    grads: dict[str, np.ndarray] = {}
    dsummary, grads["W_out"], grads["b_out"] = affine_backward(dlogits, out_cache)
    dh = _POOL_BACKWARD[pool](dsummary, lengths, T)  # zero at padded steps
    dinputs, _, grads["Wx"], grads["Wh"], grads["b"] = rnn_backward(dh, rnn_cache)
    if embed_cache is not None:
        grads["W_embed"] = embedding_backward(dinputs, embed_cache)
    return loss, grads


def init_classifier_params(
    input_size: int,
    hidden_size: int,
    num_classes: int,
    rng: np.random.Generator,
    vocab_size: int | None = None,
) -> dict[str, np.ndarray]:
    """Random float64 parameters for :func:`classifier_forward`.

    Parameters
    ----------
    input_size : int
        D, the size of each input vector (the embedding size if ``vocab_size`` is given).
    hidden_size, num_classes : int
        H and C.
    rng : numpy.random.Generator
    vocab_size : int, optional
        If given, add an embedding ``"W_embed"`` (vocab_size, input_size) drawn from N(0, 1).

    Returns
    -------
    dict of ndarray
    """
    params = init_rnn_params(input_size, hidden_size, rng)
    s = 1.0 / np.sqrt(hidden_size)
    params["W_out"] = rng.uniform(-s, s, size=(hidden_size, num_classes))
    params["b_out"] = np.zeros(num_classes)
    if vocab_size is not None:
        params["W_embed"] = rng.standard_normal((vocab_size, input_size))
    return params
