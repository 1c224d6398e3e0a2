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
    """What :func:`gru_backward` needs (batch-first, like ``x``)."""

    x: np.ndarray  # (N, T, D), contiguous, in the computation's dtype
    h0: np.ndarray  # (N, H)
    Wx: np.ndarray  # (D, 3H)
    WhT: np.ndarray  # (3H, H) Wh transposed, contiguous for the per-step product
    gates: np.ndarray  # (N, T, 3H) activated [r, z, n]
    hn: np.ndarray  # (N, T, H) h_{t-1} Wh_n + bh_n (a view into a (N, T, 3H) buffer)
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
_CHUNK_ELEMENTS = 1 << 20


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
    ``x_t Wx + bx`` of all steps is ONE ``(N T, D) @ (D, 3H)`` product, buffers are
    allocated once and the loop works in place.  Sigmoids are evaluated as
    ``0.5 tanh(a/2) + 0.5`` with the halving folded into copies of the r, z columns.

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
    sizes = check_shapes(x=(x, "N T D"), h0=(h0, "N H"), **_check_gru_params(Wx, Wh, bx, bh))
    N, T, D, H = sizes["N"], sizes["T"], sizes["D"], sizes["H"]
    dt = np.result_type(*arrays.values())

    half = np.repeat(np.array([0.5, 0.5, 1.0], dtype=dt), H)  # r and z get a/2 for 0.5 tanh(a/2) + 0.5
    x = np.ascontiguousarray(x, dtype=dt)
    h0 = np.asarray(h0, dtype=dt)
    gates = np.empty((N, T, 3 * H), dtype=dt)
    np.matmul(x.reshape(N * T, D), Wx * half, out=gates.reshape(N * T, 3 * H))  # all steps' input side at once
    gates += bx * half
    Wh_half = (Wh * half).astype(dt, copy=False)
    bh_half = (bh * half).astype(dt, copy=False)
    ah_all = np.empty((N, T, 3 * H), dtype=dt)  # h_{t-1} Wh + bh of every step (r, z halved)
    hn = ah_all[:, :, 2 * H :]  # the n block, which the backward pass needs
    h = np.empty((N, T, H), dtype=dt)
    tmp = np.empty((N, H), dtype=dt)

    h_prev = h0
    for t in range(T):
        a, ah = gates[:, t], ah_all[:, t]
        np.matmul(h_prev, Wh_half, out=ah)
        ah += bh_half
        rz = a[:, : 2 * H]
        rz += ah[:, : 2 * H]
        np.tanh(rz, out=rz)
        rz *= 0.5
        rz += 0.5
        r, z, n = a[:, :H], a[:, H : 2 * H], a[:, 2 * H :]
        np.multiply(r, ah[:, 2 * H :], out=tmp)  # n = tanh(x Wx_n + bx_n + r (h Wh_n + bh_n))
        n += tmp
        np.tanh(n, out=n)
        np.subtract(h_prev, n, out=tmp)  # h_t = n + z (h_{t-1} - n)
        tmp *= z
        h_prev = h[:, t]
        np.add(n, tmp, out=h_prev)

    WhT = np.ascontiguousarray(Wh.T, dtype=dt)
    return h.copy(), GRUCache(x, h0, np.asarray(Wx, dtype=dt), WhT, gates, hn, h)


def gru_backward(
    dh: np.ndarray, cache: GRUCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Backpropagation through time for :func:`gru_forward`.

    The loop keeps only the sequential work (the gate gradients and
    ``dh_{t-1} = dh_t z + dA^h_t Wh^T``); the factors that do not depend on the
    gradient are prepared a block of steps at a time, and the weight gradients and
    ``dx`` are one product each after the loop.

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
    x, h0, Wx, WhT, gates, hn, h = cache
    N, T, D = x.shape
    H = h0.shape[1]
    check_array("dh", dh)
    check_shapes(h=(h, "N T H"), dh=(dh, "N T H"))
    dt = gates.dtype
    dh = np.asarray(dh, dtype=dt)

    h_prev = np.empty_like(h)
    h_prev[:, 0] = h0
    h_prev[:, 1:] = h[:, :-1]
    r, z, n = gates[:, :, :H], gates[:, :, H : 2 * H], gates[:, :, 2 * H :]
    # dah = [da_r, da_z, da_n r] (gradient at h Wh + bh); it first holds the factors [K_r, K_z, -]
    dah = np.empty((N, T, 3 * H), dtype=dt)
    dan = np.empty((N, T, H), dtype=dt)  # da_n (gradient at x Wx_n + bx_n); first holds the factor K_n
    chunk = max(1, _CHUNK_ELEMENTS // (N * 3 * H))
    scratch = np.empty((N, chunk, H), dtype=dt)
    for lo in range(0, T, chunk):
        s = slice(lo, min(T, lo + chunk))
        k_rz, k_r, k_z, k_n = dah[:, s, : 2 * H], dah[:, s, :H], dah[:, s, H : 2 * H], dan[:, s]
        tmp_c = scratch[:, : k_n.shape[1]]
        np.subtract(1.0, gates[:, s, : 2 * H], out=k_rz)  # sigmoid' = s (1 - s) for r and z
        k_rz *= gates[:, s, : 2 * H]
        k_r *= hn[:, s]  # da_r = da_n hn r(1-r)
        np.subtract(h_prev[:, s], n[:, s], out=tmp_c)  # da_z = dh (h_{t-1} - n) z(1-z)
        k_z *= tmp_c
        np.multiply(n[:, s], n[:, s], out=tmp_c)  # da_n = dh (1 - z)(1 - n^2)
        np.subtract(1.0, tmp_c, out=tmp_c)
        np.subtract(1.0, z[:, s], out=k_n)
        k_n *= tmp_c

    dh_t = np.empty((N, H), dtype=dt)
    dh_rec = np.zeros((N, H), dtype=dt)
    tmp = np.empty((N, H), dtype=dt)
    for t in range(T - 1, -1, -1):
        np.add(dh[:, t], dh_rec, out=dh_t)
        dah[:, t, H : 2 * H] *= dh_t  # da_z
        dan[:, t] *= dh_t  # da_n
        dah[:, t, :H] *= dan[:, t]  # da_r
        np.multiply(dan[:, t], r[:, t], out=dah[:, t, 2 * H :])
        np.matmul(dah[:, t], WhT, out=dh_rec)
        np.multiply(dh_t, z[:, t], out=tmp)
        dh_rec += tmp  # dh_{t-1} = dh_t z + dah_t Wh^T

    dah2 = dah.reshape(N * T, 3 * H)
    dax = dah.copy()  # the input side differs only in the n block: da_n instead of da_n r
    dax[:, :, 2 * H :] = dan
    dax2 = dax.reshape(N * T, 3 * H)
    dWx = x.reshape(N * T, D).T @ dax2
    dWh = h_prev.reshape(N * T, H).T @ dah2
    dx = (dax2 @ Wx.T).reshape(N, T, D)
    return dx, dh_rec, dWx, dWh, dax2.sum(axis=0), dah2.sum(axis=0)


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
