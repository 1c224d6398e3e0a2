"""Non-recurrent building blocks around an RNN: affine maps, embeddings, one-hot encoding."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from companion._checks import check_array, check_int_array, check_shapes

__all__ = [
    "affine_forward",
    "affine_backward",
    "temporal_affine_forward",
    "temporal_affine_backward",
    "embedding_forward",
    "embedding_backward",
    "one_hot",
]


class AffineCache(NamedTuple):
    x: np.ndarray  # (N, D) or (N, T, D)
    W: np.ndarray  # (D, M)


class EmbeddingCache(NamedTuple):
    idx: np.ndarray  # (N, T) int
    W: np.ndarray  # (V, D)


def _check_affine(x: np.ndarray, W: np.ndarray, b: np.ndarray, x_dims: str) -> None:
    for name, arr in (("x", x), ("W", W), ("b", b)):
        check_array(name, arr)
    check_shapes(x=(x, x_dims), W=(W, "D M"), b=(b, "M"))


def _affine_backward(dout: np.ndarray, cache: AffineCache, dout_dims: str):
    """Shared backward for ``out = x W + b`` where x may carry extra leading axes."""
    x, W = cache
    check_array("dout", dout)
    out_dims = dout_dims.replace("D", "M")  # the output has x's leading axes and M columns
    check_shapes(x=(x, dout_dims), W=(W, "D M"), dout=(dout, out_dims))
    x2, dout2 = x.reshape(-1, W.shape[0]), dout.reshape(-1, W.shape[1])  # every (n, t) is one row
    dx = (dout2 @ W.T).reshape(x.shape)
    dW = x2.T @ dout2
    db = dout2.sum(axis=0)
    return dx, dW, db


def affine_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, AffineCache]:
    """Fully connected layer ``out = x @ W + b``.

    Parameters
    ----------
    x : ndarray, shape (N, D)
    W : ndarray, shape (D, M)
    b : ndarray, shape (M,)

    Returns
    -------
    out : ndarray, shape (N, M)
    cache : AffineCache
    """
    _check_affine(x, W, b, "N D")
    return x @ W + b, AffineCache(x, W)


def affine_backward(dout: np.ndarray, cache: AffineCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward of :func:`affine_forward`: ``dx = dout W^T``, ``dW = x^T dout``, ``db = sum_n dout``.

    Parameters
    ----------
    dout : ndarray, shape (N, M)
    cache : AffineCache

    Returns
    -------
    dx : ndarray, shape (N, D)
    dW : ndarray, shape (D, M)
    db : ndarray, shape (M,)
    """
    return _affine_backward(dout, cache, "N D")


def temporal_affine_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, AffineCache]:
    """The same affine map applied at every time step: ``out[:, t] = x[:, t] @ W + b``.

    Parameters
    ----------
    x : ndarray, shape (N, T, D)
        Typically the hidden states of an RNN (D = H).
    W : ndarray, shape (D, M)
    b : ndarray, shape (M,)

    Returns
    -------
    out : ndarray, shape (N, T, M)
    cache : AffineCache
    """
    _check_affine(x, W, b, "N T D")
    return x @ W + b, AffineCache(x, W)  # matmul broadcasts over the leading (N, T) axes


def temporal_affine_backward(
    dout: np.ndarray, cache: AffineCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward of :func:`temporal_affine_forward`; weight gradients are summed over N and T.

    Parameters
    ----------
    dout : ndarray, shape (N, T, M)
    cache : AffineCache

    Returns
    -------
    dx : ndarray, shape (N, T, D)
    dW : ndarray, shape (D, M)
    db : ndarray, shape (M,)
    """
    return _affine_backward(dout, cache, "N T D")


def embedding_forward(idx: np.ndarray, W: np.ndarray) -> tuple[np.ndarray, EmbeddingCache]:
    """Look up one row of ``W`` per token: ``out[n, t] = W[idx[n, t]]``.

    This equals ``one_hot(idx, V) @ W`` without building the one-hot tensor.

    Parameters
    ----------
    idx : ndarray of int, shape (N, T)
        Token indices in ``[0, V)``.
    W : ndarray, shape (V, D)
        Embedding matrix.

    Returns
    -------
    out : ndarray, shape (N, T, D)
    cache : EmbeddingCache
    """
    check_array("W", W)
    check_shapes(W=(W, "V D"))
    check_int_array("idx", idx, low=0, high=W.shape[0])
    check_shapes(idx=(idx, "N T"))
    return W[idx], EmbeddingCache(idx, W)


def embedding_backward(dout: np.ndarray, cache: EmbeddingCache) -> np.ndarray:
    """Gradient of the embedding matrix: row ``v`` sums ``dout`` over every position holding token ``v``.

    Parameters
    ----------
    dout : ndarray, shape (N, T, D)
    cache : EmbeddingCache

    Returns
    -------
    dW : ndarray, shape (V, D)
    """
    idx, W = cache
    check_array("dout", dout)
    check_shapes(idx=(idx, "N T"), W=(W, "V D"), dout=(dout, "N T D"))
    dW = np.zeros(W.shape, dtype=np.result_type(W, dout))
    np.add.at(dW, idx, dout)  # unbuffered: a token repeated in the batch accumulates, not overwrites
    return dW


def one_hot(idx: Any, V: int) -> np.ndarray:
    """One-hot encode integer tokens: ``out[n, t, v] = 1.0 if idx[n, t] == v else 0.0``.

    Parameters
    ----------
    idx : ndarray of int, shape (N, T)
        Token indices in ``[0, V)`` (any number of axes is accepted; the new axis goes last).
    V : int
        Vocabulary size.

    Returns
    -------
    ndarray of float64, shape (N, T, V)
    """
    if isinstance(V, bool) or not isinstance(V, (int, np.integer)):
        raise TypeError(f"V must be an int, got {type(V).__name__}")
    if V < 1:
        raise ValueError(f"V must be >= 1, got {V}")
    check_int_array("idx", idx, low=0, high=V)
    return (idx[..., None] == np.arange(V)).astype(np.float64)
