"""The GRU layer (Cho et al. 2014) in NumPy, in the exact form ``torch.nn.GRU`` computes.

With row vectors and gate blocks stacked ``[r, z, n]`` along the ``3H`` axis:

.. math::

    r &= \\sigma(x_t W_{xr} + b_{xr} + h_{t-1} W_{hr} + b_{hr}) \\\\
    z &= \\sigma(x_t W_{xz} + b_{xz} + h_{t-1} W_{hz} + b_{hz}) \\\\
    n &= \\tanh(x_t W_{xn} + b_{xn} + r \\odot (h_{t-1} W_{hn} + b_{hn})) \\\\
    h_t &= (1 - z) \\odot n + z \\odot h_{t-1}

The reset gate multiplies ``h W_hn + b_hn`` *including its bias*, so the two
biases cannot be merged into one as they can for the RNN and the LSTM: ``bx`` is
``bias_ih`` and ``bh`` is ``bias_hh``.  (Cho et al. apply ``r`` before the product,
``(r * h) W_hn``; torch and cuDNN use this variant, which lets one product
``h Wh`` serve all three gates.)  ``Wx = weight_ih.T`` (D, 3H), ``Wh = weight_hh.T`` (H, 3H).

As in :mod:`companion.numpy.lstm`, the step functions are the readable
equations and the sequence functions the same computation organised for speed.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from companion._checks import check_array, check_shapes
from companion.numpy.initialisation import uniform_recurrent_weights
from companion.numpy.rnn import _batch_first, _input_projection, _recurrent_weight_gradient, _time_major
from companion.numpy.activations import sigmoid, sigmoid_grad_from_output, tanh, tanh_grad_from_output

__all__ = [
    "GRUStepCache",
    "GRUCache",
    "gru_step_forward",
    "gru_step_backward",
    "gru_forward",
    "gru_backward",
    "init_gru_params",
]


class GRUStepCache(NamedTuple):
    """What one step's backward pass needs."""

    x: np.ndarray  # (N, D)
    h_prev: np.ndarray  # (N, H)
    Wx: np.ndarray  # (D, 3H)
    Wh: np.ndarray  # (H, 3H)
    r: np.ndarray  # (N, H) reset gate
    z: np.ndarray  # (N, H) update gate
    n: np.ndarray  # (N, H) candidate state
    hn: np.ndarray  # (N, H) h_prev Wh_n + bh_n, the part the reset gate scales


class GRUCache(NamedTuple):
    """What :func:`gru_backward` needs.

    Shapes are batch-first like ``x``; the memory is time-major (each array is the
    ``swapaxes(0, 1)`` view of a (T, N, ...) buffer), so one step is one contiguous block.
    """

    x: np.ndarray  # (N, T, D), in the computation's dtype
    h0: np.ndarray  # (N, H)
    Wx: np.ndarray  # (D, 3H)
    WhT: np.ndarray  # (3H, H) Wh transposed, contiguous for the per-step product
    gates: np.ndarray  # (N, T, 3H) activated [r, z, n]
    hn: np.ndarray  # (N, T, H) h_{t-1} Wh_n + bh_n
    h: np.ndarray  # (N, T, H) h[:, t] = h_t


def _check_gru_params(Wx: np.ndarray, Wh: np.ndarray, bx: np.ndarray, bh: np.ndarray) -> dict:
    return {"Wx": (Wx, "D 3H"), "Wh": (Wh, "H 3H"), "bx": (bx, "3H"), "bh": (bh, "3H")}


# -- one step: the equations -------------------------------------------------------------


def gru_step_forward(
    x: np.ndarray,
    h_prev: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    bx: np.ndarray,
    bh: np.ndarray,
) -> tuple[np.ndarray, GRUStepCache]:
    """One GRU step, in torch's form.

    Parameters
    ----------
    x : ndarray, shape (N, D)
        Inputs at this time step.
    h_prev : ndarray, shape (N, H)
        Hidden state from the previous step.
    Wx : ndarray, shape (D, 3H)
        Input-to-gates weights, blocks ``[r, z, n]`` (``weight_ih.T``).
    Wh : ndarray, shape (H, 3H)
        Hidden-to-gates weights, same blocks (``weight_hh.T``).
    bx, bh : ndarray, shape (3H,)
        Input-side and hidden-side biases (``bias_ih``, ``bias_hh``), kept apart
        because ``r`` scales ``h_prev Wh_n + bh_n``.

    Returns
    -------
    h_next : ndarray, shape (N, H)
    cache : GRUStepCache
    """
    for name, arr in (("x", x), ("h_prev", h_prev), ("Wx", Wx), ("Wh", Wh), ("bx", bx), ("bh", bh)):
        check_array(name, arr)
    H = check_shapes(x=(x, "N D"), h_prev=(h_prev, "N H"), **_check_gru_params(Wx, Wh, bx, bh))["H"]
    ax = x @ Wx + bx  # (N, 3H) input side of all three blocks
    ah = h_prev @ Wh + bh  # (N, 3H) hidden side
    r = sigmoid(ax[:, :H] + ah[:, :H])  # how much of the past the candidate may see
    z = sigmoid(ax[:, H : 2 * H] + ah[:, H : 2 * H])  # how much of the past to keep
    hn = ah[:, 2 * H :]
    n = tanh(ax[:, 2 * H :] + r * hn)  # candidate state
    h_next = (1.0 - z) * n + z * h_prev  # interpolation: z = 1 copies the past unchanged
    return h_next, GRUStepCache(x, h_prev, Wx, Wh, r, z, n, hn)


def gru_step_backward(
    dh_next: np.ndarray, cache: GRUStepCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of :func:`gru_step_forward`.

    Parameters
    ----------
    dh_next : ndarray, shape (N, H)
        Upstream gradient ``dL/dh_next``.
    cache : GRUStepCache

    Returns
    -------
    dx : ndarray, shape (N, D)
    dh_prev : ndarray, shape (N, H)
    dWx : ndarray, shape (D, 3H)
    dWh : ndarray, shape (H, 3H)
    dbx, dbh : ndarray, shape (3H,)
    """
    if not isinstance(cache, GRUStepCache):
        # a plain tuple holding the same fields in the same order is accepted too
        if not (type(cache) is tuple and len(cache) == len(GRUStepCache._fields)):
            raise TypeError(f"cache must be the GRUStepCache returned by gru_step_forward, got {type(cache).__name__}")
        cache = GRUStepCache(*cache)
    x, h_prev, Wx, Wh, r, z, n, hn = cache
    check_array("dh_next", dh_next)
    check_shapes(h_next=(n, "N H"), dh_next=(dh_next, "N H"))
    # h_next = (1 - z) n + z h_prev
    dn = dh_next * (1.0 - z)
    dz = dh_next * (h_prev - n)
    dh_prev = dh_next * z  # the direct, gated path to the past
    # n = tanh(ax_n + r * hn)
    da_n = dn * tanh_grad_from_output(n)
    dr = da_n * hn
    da_r = dr * sigmoid_grad_from_output(r)
    da_z = dz * sigmoid_grad_from_output(z)
    dax = np.concatenate([da_r, da_z, da_n], axis=1)  # gradient at x Wx + bx
    dah = np.concatenate([da_r, da_z, da_n * r], axis=1)  # gradient at h Wh + bh (r scales the n block)
    dx = dax @ Wx.T
    dh_prev = dh_prev + dah @ Wh.T
    dWx = x.T @ dax
    dWh = h_prev.T @ dah
    return dx, dh_prev, dWx, dWh, dax.sum(axis=0), dah.sum(axis=0)


# -- a whole sequence: the same equations, optimised ------------------------------------------

#: Gate factors of the backward pass are prepared for about this many values at a time.
_CHUNK_ELEMENTS = 1 << 16


def _gru_steps(a: np.ndarray, h0: np.ndarray, Wh_half: np.ndarray, bh_n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The time loop of :func:`gru_forward`, in place on time-major (T, N, ...) blocks.

    ``a[t]`` arrives holding the input side of every gate (r, z halved, with both of
    their biases) and leaves holding the activated gates ``[r, z, n]``.  Returns the
    states ``h`` and ``hn_t = h_{t-1} Wh_n + bh_n`` (the part the reset gate scales).
    """
    T, N, H3 = a.shape
    H = H3 // 3
    h, hn = np.empty((T, N, H), a.dtype), np.empty((T, N, H), a.dtype)
    ah, tmp = np.empty((N, H3), a.dtype), np.empty((N, H), a.dtype)
    h_prev = h0
    for t in range(T):
        rz, n = a[t, :, : 2 * H], a[t, :, 2 * H :]
        np.matmul(h_prev, Wh_half, out=ah)  # the one product that must wait for h_{t-1}
        rz += ah[:, : 2 * H]
        np.tanh(rz, out=rz)  # r and z in one call: sigmoid(a) = 0.5 tanh(a/2) + 0.5
        rz *= 0.5
        rz += 0.5
        np.add(ah[:, 2 * H :], bh_n, out=hn[t])
        np.multiply(rz[:, :H], hn[t], out=tmp)  # n = tanh(x Wx_n + bx_n + r hn)
        n += tmp
        np.tanh(n, out=n)
        np.subtract(h_prev, n, out=tmp)  # h_t = n + z (h_{t-1} - n)
        tmp *= rz[:, H:]
        h_prev = np.add(n, tmp, out=h[t])
    return h, hn


def gru_forward(
    x: np.ndarray,
    h0: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    bx: np.ndarray,
    bh: np.ndarray,
) -> tuple[np.ndarray, GRUCache]:
    """Run a GRU over a whole sequence.

    The steps of :func:`gru_step_forward`, organised for speed: the input side
    ``x_t Wx + bx`` of all steps is ONE ``(T N, D) @ (D, 3H)`` product, the arrays
    are time-major (one step = one contiguous block), and the loop works in place
    on buffers allocated once.  Sigmoids are evaluated as ``0.5 tanh(a/2) + 0.5``
    with the halving folded into copies of the r, z columns.

    Parameters
    ----------
    x : ndarray, shape (N, T, D)
        Input sequence, batch-first.
    h0 : ndarray, shape (N, H)
        Initial hidden state.
    Wx : ndarray, shape (D, 3H)
    Wh : ndarray, shape (H, 3H)
    bx, bh : ndarray, shape (3H,)
        As in :func:`gru_step_forward`.

    Returns
    -------
    h : ndarray, shape (N, T, H)
        Every hidden state; the final one is ``h[:, -1]``.
    cache : GRUCache
        For :func:`gru_backward`.
    """
    arrays = {"x": x, "h0": h0, "Wx": Wx, "Wh": Wh, "bx": bx, "bh": bh}
    for name, arr in arrays.items():
        check_array(name, arr)
    H = check_shapes(x=(x, "N T D"), h0=(h0, "N H"), **_check_gru_params(Wx, Wh, bx, bh))["H"]
    dt = np.result_type(*arrays.values())
    half = np.repeat(np.array([0.5, 0.5, 1.0], dtype=dt), H)  # r and z get a/2 for 0.5 tanh(a/2) + 0.5
    bias = bx + np.concatenate([bh[: 2 * H], np.zeros(H, bh.dtype)])  # for r, z only bx + bh matters

    x_tm = _time_major(x, dt)
    a = _input_projection(x_tm, Wx * half)  # every step's input side at once, (T, N, 3H)
    a += (bias * half).astype(dt, copy=False)
    h0 = h0.astype(dt, copy=False)
    h, hn = _gru_steps(a, h0, (Wh * half).astype(dt, copy=False), bh[2 * H :].astype(dt, copy=False))
    WhT = np.ascontiguousarray(Wh.T, dtype=dt)
    cache = GRUCache(_batch_first(x_tm), h0, Wx.astype(dt, copy=False), WhT, *map(_batch_first, (a, hn, h)))
    return _batch_first(h).copy(), cache  # a copy: the caller may modify it without corrupting the cache


def _gru_gate_factors(gates, h_prev, hn, k_h, k_n, tmp) -> None:
    """The parts of the gate gradients that do not depend on the incoming gradient.

    For a block of steps (time-major arrays), writes ``K_r, K_z`` into the first
    2H columns of ``k_h`` and ``K_n`` into ``k_n``, so that the loop only multiplies:
    ``da_n = dh K_n``, ``da_z = dh K_z``, ``da_r = da_n K_r`` with
    ``K_n = (1 - z)(1 - n^2)``, ``K_z = (h_{t-1} - n) z(1 - z)``, ``K_r = hn r(1 - r)``.
    """
    H = k_n.shape[-1]
    rz, z, n = gates[..., : 2 * H], gates[..., H : 2 * H], gates[..., 2 * H :]
    k_rz = k_h[..., : 2 * H]
    np.subtract(1.0, rz, out=k_rz)  # sigmoid' = s (1 - s), for r and z at once
    k_rz *= rz
    k_h[..., :H] *= hn
    np.subtract(h_prev, n, out=tmp)
    k_h[..., H : 2 * H] *= tmp
    np.multiply(n, n, out=tmp)  # tanh' = 1 - n^2
    np.subtract(1.0, tmp, out=tmp)
    np.subtract(1.0, z, out=k_n)
    k_n *= tmp


def _gru_steps_backward(dh, cache, dah, dan) -> np.ndarray:
    """The time loop of :func:`gru_backward`: fills ``dah`` = [da_r, da_z, da_n r] and ``dan`` = da_n.

    ``dah`` (T, N, 3H) is the gradient at ``h Wh + bh``, ``dan`` (T, N, H) the n block
    at ``x Wx + bx``.  Returns ``dL/dh0``.
    """
    gates, h = _batch_first(cache.gates), _batch_first(cache.h)
    T, N, H = h.shape
    r, z = gates[..., :H], gates[..., H : 2 * H]
    h_prev = np.concatenate([cache.h0[None], h[:-1]])  # h_{t-1} for every t
    chunk = max(1, _CHUNK_ELEMENTS // (N * 3 * H))
    scratch = np.empty((min(chunk, T), N, H), dh.dtype)
    dh_t, dh_rec, tmp = np.empty((N, H), dh.dtype), np.zeros((N, H), dh.dtype), np.empty((N, H), dh.dtype)
    for hi in range(T, 0, -chunk):  # a block of steps at a time, from the end, while it is in cache
        s = slice(max(0, hi - chunk), hi)
        _gru_gate_factors(gates[s], h_prev[s], _batch_first(cache.hn)[s], dah[s], dan[s], scratch[: hi - s.start])
        for t in range(hi - 1, s.start - 1, -1):
            np.add(dh[:, t], dh_rec, out=dh_t)  # from the loss at t and from step t+1
            dah[t, :, H : 2 * H] *= dh_t  # da_z
            dan[t] *= dh_t  # da_n
            dah[t, :, :H] *= dan[t]  # da_r
            np.multiply(dan[t], r[t], out=dah[t, :, 2 * H :])  # r scales the n block on the hidden side
            np.matmul(dah[t], cache.WhT, out=dh_rec)
            np.multiply(dh_t, z[t], out=tmp)
            dh_rec += tmp  # dh_{t-1} = dah_t Wh^T + dh_t z
    return dh_rec


def gru_backward(
    dh: np.ndarray, cache: GRUCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Backpropagation through time for :func:`gru_forward`.

    The loop keeps only the sequential work (the gate gradients and
    ``dh_{t-1} = dh_t z + dA^h_t Wh^T``); the factors that do not depend on the
    gradient are prepared a block of steps at a time, and the weight gradients and
    ``dx`` are one product each after the loop (two where the input side's n block
    differs from the hidden side's).

    Parameters
    ----------
    dh : ndarray, shape (N, T, H)
        Upstream ``dL/dh_t`` for every t; a gradient on the final state belongs in
        ``dh[:, -1]``.
    cache : GRUCache
        From :func:`gru_forward`.

    Returns
    -------
    dx : ndarray, shape (N, T, D)
    dh0 : ndarray, shape (N, H)
    dWx : ndarray, shape (D, 3H)
    dWh : ndarray, shape (H, 3H)
    dbx, dbh : ndarray, shape (3H,)
    """
    if not isinstance(cache, GRUCache):
        raise TypeError(f"cache must be the GRUCache returned by gru_forward, got {type(cache).__name__}")
    check_array("dh", dh)
    check_shapes(h=(cache.h, "N T H"), dh=(dh, "N T H"))
    N, T, H = cache.h.shape
    dh = np.asarray(dh, dtype=cache.gates.dtype)
    dah = np.empty((T, N, 3 * H), dh.dtype)
    dan = np.empty((T, N, H), dh.dtype)
    dh0 = _gru_steps_backward(dh, cache, dah, dan)

    # the input side's gradient is [da_r, da_z, da_n]: dah with da_n in place of da_n r
    dah_rz, dan_rows = dah.reshape(T * N, 3 * H)[:, : 2 * H], dan.reshape(T * N, H)
    x_rows, Wx = _batch_first(cache.x).reshape(T * N, -1), cache.Wx
    dWx = np.concatenate([x_rows.T @ dah_rz, x_rows.T @ dan_rows], axis=1)
    dx = dah_rz @ Wx[:, : 2 * H].T
    dx += dan_rows @ Wx[:, 2 * H :].T
    dWh = _recurrent_weight_gradient(cache.h0, _batch_first(cache.h), dah)
    dbh = dah.reshape(T * N, 3 * H).sum(axis=0)
    dbx = np.concatenate([dbh[: 2 * H], dan_rows.sum(axis=0)])
    return _batch_first(dx.reshape(T, N, -1)), dh0, dWx, dWh, dbx, dbh


def init_gru_params(
    input_size: int, hidden_size: int, rng: np.random.Generator, scale: float | None = None
) -> dict[str, np.ndarray]:
    """Random float64 weights for :func:`gru_forward`.

    Parameters
    ----------
    input_size, hidden_size : int
        D and H.
    rng : numpy.random.Generator
        Source of randomness (passed explicitly so results are reproducible).
    scale : float, optional
        Weights are drawn from ``U(-scale, scale)``; default ``1/sqrt(H)``, the range
        ``torch.nn.GRU`` uses.  Both biases start at zero.

    Returns
    -------
    dict
        ``{"Wx": (D, 3H), "Wh": (H, 3H), "bx": (3H,), "bh": (3H,)}`` with blocks ``[r, z, n]``.
    """
    Wx, Wh = uniform_recurrent_weights(input_size, hidden_size, rng, gates=3, scale=scale)
    return {"Wx": Wx, "Wh": Wh, "bx": np.zeros(Wh.shape[1]), "bh": np.zeros(Wh.shape[1])}
