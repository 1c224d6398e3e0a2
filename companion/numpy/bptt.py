"""Truncated backpropagation through time, two ways.

Sutskever (2013) names truncated BPTT by two numbers: run ``k1`` forward steps
between backward passes, and let each backward pass go back ``k2`` steps.
(Williams & Peng (1990) call the same scheme BPTT(h; h').)

:func:`truncated_rnn_backward` -- ``k1 = 1, k2 = truncation``
    Every step's loss gets the *same* horizon: the gradient of ``L_t`` flows back
    through steps ``t, t-1, ..., t - truncation + 1`` and is then dropped.  This is
    the textbook definition of "truncate after k steps", useful to *study* what
    truncation does; its cost is O(T * truncation).

:func:`chunked_bptt` -- ``k1 = k2 = chunk_len``
    What practical stateful training does (and what ``h.detach()`` between
    batches does in PyTorch): cut the sequence into chunks, run forward+backward
    inside each chunk, and carry only the *value* of the last hidden state into
    the next chunk.  The loss at a chunk's first step backpropagates one step, the
    loss at its last step ``chunk_len`` steps, so horizons vary from 1 to
    ``chunk_len``; the cost is O(T).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np

from companion._checks import check_array, check_shapes
from companion._checks import check_size as _check_length
from companion.numpy.rnn import RNNCache, _activation, _check_dh, _states_before, _step_backward

__all__ = ["truncated_rnn_backward", "chunked_bptt", "ChunkedBPTTResult"]


def truncated_rnn_backward(
    dh: np.ndarray, cache: RNNCache, truncation: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """BPTT where the loss at step t backpropagates through at most ``truncation`` steps.

    Full BPTT (:func:`~companion.numpy.rnn.rnn_backward`) sends ``dL_t/dh_t`` back
    through every earlier step.  Here the contribution of ``L_t`` is followed
    through the steps ``t, t-1, ..., max(0, t - truncation + 1)`` only; ``dh0``
    receives it only if that window reaches step 0 (``t < truncation``).  With
    ``truncation = 1`` each step's loss sees its own step only, as if ``h_{t-1}``
    were a constant; with ``truncation >= T`` the result equals full BPTT.

    Parameters
    ----------
    dh : ndarray, shape (N, T, H)
        Upstream gradients ``dL_t/dh_t`` from the loss at each step.
    cache : RNNCache
        From :func:`~companion.numpy.rnn.rnn_forward`.
    truncation : int
        ``k2 >= 1``, the number of steps each loss term is backpropagated through.

    Returns
    -------
    dx : ndarray, shape (N, T, D)
    dh0 : ndarray, shape (N, H)
    dWx : ndarray, shape (D, H)
    dWh : ndarray, shape (H, H)
    db : ndarray, shape (H,)
    """
    k = _check_length("truncation", truncation)
    if not isinstance(cache, RNNCache):
        raise TypeError(f"cache must be the RNNCache returned by rnn_forward, got {type(cache).__name__}")
    _check_dh(dh, cache)
    x, _, Wx, Wh, h, nonlinearity = cache
    _, f_prime = _activation(nonlinearity)
    h_before = _states_before(cache)
    T = x.shape[1]
    dx = np.zeros(x.shape, dtype=np.result_type(x, dh))
    dh0 = np.zeros_like(dh[:, 0])
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(Wh.shape[0], dtype=Wh.dtype)
    for t in range(T):  # one backward pass per loss term L_t ...
        g = dh[:, t]
        for s in range(t, max(0, t - k + 1) - 1, -1):  # ... through its window of k steps
            dx_s, g, dWx_s, dWh_s, db_s = _step_backward(g, x[:, s], h_before[:, s], Wx, Wh, h[:, s], f_prime)
            dx[:, s] += dx_s
            dWx += dWx_s
            dWh += dWh_s
            db += db_s
        if t - k + 1 <= 0:  # the window reached step 0, so g is now dL_t/dh0
            dh0 += g
    return dx, dh0, dWx, dWh, db


def _time_major_spec(arr: Any, name: str) -> str:
    """Shape spec ``"N T ..."`` for a batch-first array with any trailing feature axes."""
    if not isinstance(arr, np.ndarray) or arr.ndim < 2:
        got = getattr(arr, "shape", type(arr).__name__)
        raise ValueError(f"{name} must be an ndarray of shape (N, T, ...), got {got}")
    return " ".join(["N", "T"] + [f"{name}{i}" for i in range(2, arr.ndim)])


class ChunkedBPTTResult(NamedTuple):
    """Output of :func:`chunked_bptt`."""

    loss: float  # sum of the chunk losses
    grads: dict[str, np.ndarray]  # sum of the chunk gradients, same keys as params
    h_final: np.ndarray  # (N, H) state after the last step, to carry into the next call
    chunk_losses: list[float]


ChunkFn = Callable[[dict, np.ndarray, "np.ndarray | None", np.ndarray], tuple[float, dict, np.ndarray]]


def chunked_bptt(
    x: np.ndarray,
    h0: np.ndarray,
    params: dict[str, np.ndarray],
    loss_and_grad_fn: ChunkFn,
    chunk_len: int,
    y: np.ndarray | None = None,
) -> ChunkedBPTTResult:
    """Stateful truncated BPTT (``k1 = k2 = chunk_len``) over one long batch of sequences.

    The time axis (axis 1) of ``x`` (and ``y``) is cut into chunks of ``chunk_len``
    steps (the last may be shorter).  For each chunk::

        loss_c, grads_c, h_end = loss_and_grad_fn(params, x_chunk, y_chunk, h_start)

    where ``loss_and_grad_fn`` runs forward *and* backward on that chunk alone,
    treating ``h_start`` as a constant input.  ``h_end`` becomes the next chunk's
    ``h_start`` as a copy: the next chunk starts from the right *value*, but no
    gradient is ever sent back into the chunk that produced it (the NumPy
    counterpart of ``h = h.detach()`` in PyTorch).

    Parameters
    ----------
    x : ndarray, shape (N, T, ...)
        Inputs (floats or token indices), time on axis 1.
    h0 : ndarray, shape (N, H)
        State at the start of the first chunk.
    params : dict of ndarray
        Passed unchanged to every call (gradients are summed, not applied, so the
        result does not depend on an optimiser).
    loss_and_grad_fn : callable
        ``(params, x_chunk, y_chunk or None, h_start) -> (loss, grads, h_end)``.
    chunk_len : int
        Steps per chunk, ``k1 = k2`` in Sutskever's notation.
    y : ndarray, shape (N, T, ...), optional
        Targets, chunked like ``x``.

    Returns
    -------
    ChunkedBPTTResult
        ``(loss, grads, h_final, chunk_losses)`` with loss and grads summed over chunks.
    """
    k = _check_length("chunk_len", chunk_len)
    check_array("h0", h0)
    shapes = {"h0": (h0, "N H"), "x": (x, _time_major_spec(x, "x"))}
    if y is not None:
        shapes["y"] = (y, _time_major_spec(y, "y"))
    check_shapes(**shapes)
    T = x.shape[1]
    total: dict[str, np.ndarray] = {name: np.zeros_like(p) for name, p in params.items()}
    chunk_losses: list[float] = []
    h_start = h0
    for start in range(0, T, k):
        chunk = slice(start, min(start + k, T))
        loss, grads, h_end = loss_and_grad_fn(params, x[:, chunk], None if y is None else y[:, chunk], h_start)
        if set(grads) != set(params):
            raise ValueError(f"loss_and_grad_fn returned grads for {sorted(grads)}, expected {sorted(params)}")
        for name, g in grads.items():
            total[name] += g
        chunk_losses.append(float(loss))
        h_start = np.array(h_end, copy=True)  # carry the value, never the graph
    return ChunkedBPTTResult(float(sum(chunk_losses)), total, h_start, chunk_losses)
