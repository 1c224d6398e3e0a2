"""The LSTM layer (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000) in NumPy.

With row vectors and the four gate blocks stacked ``[i, f, g, o]`` along the
``4H`` axis (the layout of ``torch.nn.LSTM``), one step reads

.. math::

    a &= x_t W_x + h_{t-1} W_h + b                      \\quad (N, 4H) \\\\
    i &= \\sigma(a_i),\\; f = \\sigma(a_f),\\; g = \\tanh(a_g),\\; o = \\sigma(a_o) \\\\
    c_t &= f \\odot c_{t-1} + i \\odot g \\\\
    h_t &= o \\odot \\tanh(c_t)

To load ``torch.nn.LSTM`` weights: ``Wx = weight_ih_l0.T`` (D, 4H),
``Wh = weight_hh_l0.T`` (H, 4H), ``b = bias_ih_l0 + bias_hh_l0`` (4H,)
(see :mod:`companion.numpy.torch_io`).

Two versions live here on purpose:

* :func:`lstm_step_forward` / :func:`lstm_step_backward` are the equations, one
  line each: read these to learn the LSTM.
* :func:`lstm_forward` / :func:`lstm_backward` run the same equations over a whole
  sequence, written for speed: the input projection of all T steps is ONE matrix
  product, the weight gradients are ONE product each after the time loop, the
  arrays are time-major (one step = one contiguous block), every buffer is
  allocated once, and the loop bodies work in place (``out=``).  The
  tests check that both versions agree to rounding error and match ``torch.nn.LSTM``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from companion._checks import check_array, check_shapes
from companion.numpy.initialisation import uniform_recurrent_weights
from companion.numpy.rnn import _batch_first, _input_projection, _recurrent_weight_gradient, _time_major
from companion.numpy.activations import sigmoid, sigmoid_grad_from_output, tanh, tanh_grad_from_output

__all__ = [
    "LSTMStepCache",
    "LSTMCache",
    "lstm_step_forward",
    "lstm_step_backward",
    "lstm_forward",
    "lstm_backward",
    "lstm_backward_with_cell",
    "lstm_final_state",
    "init_lstm_params",
]


class LSTMStepCache(NamedTuple):
    """What one step's backward pass needs (gate *outputs*: enough for their derivatives)."""

    x: np.ndarray  # (N, D)
    h_prev: np.ndarray  # (N, H)
    c_prev: np.ndarray  # (N, H)
    Wx: np.ndarray  # (D, 4H)
    Wh: np.ndarray  # (H, 4H)
    i: np.ndarray  # (N, H) input gate
    f: np.ndarray  # (N, H) forget gate
    g: np.ndarray  # (N, H) candidate cell
    o: np.ndarray  # (N, H) output gate
    tanh_c: np.ndarray  # (N, H) tanh(c_next)


class LSTMCache(NamedTuple):
    """What :func:`lstm_backward` needs.

    Shapes are batch-first like ``x``, except the cell states; the memory is
    time-major (``x``, ``gates`` and ``h`` are ``swapaxes(0, 1)`` views of
    (T, N, ...) buffers), so one step is one contiguous block.
    """

    x: np.ndarray  # (N, T, D) the input, in the computation's dtype
    h0: np.ndarray  # (N, H)
    Wx: np.ndarray  # (D, 4H)
    WhT: np.ndarray  # (4H, H) Wh transposed, contiguous for the per-step product
    gates: np.ndarray  # (N, T, 4H) activated gates [i, f, g, o]
    c: np.ndarray  # (T+1, N, H) c[0] = c0, c[t+1] = c_t
    tanh_c: np.ndarray  # (T, N, H) tanh(c_t)
    h: np.ndarray  # (N, T, H) h[:, t] = h_t

    @property
    def h_T(self) -> np.ndarray:
        """Final hidden state, shape (N, H)."""
        return self.h[:, -1]

    @property
    def c_T(self) -> np.ndarray:
        """Final cell state, shape (N, H)."""
        return self.c[-1]


def _dtype(*arrays: np.ndarray) -> np.dtype:
    """The floating dtype the computation runs in (float32 stays float32)."""
    return np.result_type(*arrays)


# -- one step: the equations -------------------------------------------------------------


def lstm_step_forward(
    x: np.ndarray,
    h_prev: np.ndarray,
    c_prev: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    b: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, LSTMStepCache]:
    """One LSTM step.

    Parameters
    ----------
    x : ndarray, shape (N, D)
        Inputs at this time step.
    h_prev, c_prev : ndarray, shape (N, H)
        Hidden and cell state from the previous step.
    Wx : ndarray, shape (D, 4H)
        Input-to-gates weights, blocks ``[i, f, g, o]`` (``weight_ih.T``).
    Wh : ndarray, shape (H, 4H)
        Hidden-to-gates weights, same blocks (``weight_hh.T``).
    b : ndarray, shape (4H,)
        Gate biases (``bias_ih + bias_hh``).

    Returns
    -------
    h_next, c_next : ndarray, shape (N, H)
    cache : LSTMStepCache
        Everything :func:`lstm_step_backward` needs.
    """
    for name, arr in (("x", x), ("h_prev", h_prev), ("c_prev", c_prev), ("Wx", Wx), ("Wh", Wh), ("b", b)):
        check_array(name, arr)
    H = check_shapes(
        x=(x, "N D"), h_prev=(h_prev, "N H"), c_prev=(c_prev, "N H"), Wx=(Wx, "D 4H"), Wh=(Wh, "H 4H"), b=(b, "4H")
    )["H"]
    a = x @ Wx + h_prev @ Wh + b  # (N, 4H): all four gates' pre-activations in one product
    i = sigmoid(a[:, 0 * H : 1 * H])  # how much of the candidate to write
    f = sigmoid(a[:, 1 * H : 2 * H])  # how much of the old cell to keep
    g = tanh(a[:, 2 * H : 3 * H])  # the candidate values
    o = sigmoid(a[:, 3 * H : 4 * H])  # how much of the cell to show
    c_next = f * c_prev + i * g  # additive update: the gradient's highway through time
    tanh_c = tanh(c_next)
    h_next = o * tanh_c
    return h_next, c_next, LSTMStepCache(x, h_prev, c_prev, Wx, Wh, i, f, g, o, tanh_c)


def lstm_step_backward(
    dh_next: np.ndarray, dc_next: np.ndarray, cache: LSTMStepCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of :func:`lstm_step_forward`.

    Parameters
    ----------
    dh_next, dc_next : ndarray, shape (N, H)
        Upstream gradients ``dL/dh_next`` and ``dL/dc_next``.
    cache : LSTMStepCache

    Returns
    -------
    dx : ndarray, shape (N, D)
    dh_prev, dc_prev : ndarray, shape (N, H)
    dWx : ndarray, shape (D, 4H)
    dWh : ndarray, shape (H, 4H)
    db : ndarray, shape (4H,)
    """
    if not isinstance(cache, LSTMStepCache):
        # a plain tuple holding the same fields in the same order is accepted too
        if not (type(cache) is tuple and len(cache) == len(LSTMStepCache._fields)):
            raise TypeError(
                f"cache must be the LSTMStepCache returned by lstm_step_forward, got {type(cache).__name__}"
            )
        cache = LSTMStepCache(*cache)
    x, h_prev, c_prev, Wx, Wh, i, f, g, o, tanh_c = cache
    check_array("dh_next", dh_next)
    check_array("dc_next", dc_next)
    check_shapes(h_next=(tanh_c, "N H"), dh_next=(dh_next, "N H"), dc_next=(dc_next, "N H"))
    # h = o * tanh(c): the cell receives gradient from h and directly from the next step
    do = dh_next * tanh_c
    dc = dc_next + dh_next * o * tanh_grad_from_output(tanh_c)
    # c = f * c_prev + i * g
    df, di, dg, dc_prev = dc * c_prev, dc * g, dc * i, dc * f
    # through the gate nonlinearities to the pre-activations, stacked back as [i, f, g, o]
    da = np.concatenate(
        [
            di * sigmoid_grad_from_output(i),
            df * sigmoid_grad_from_output(f),
            dg * tanh_grad_from_output(g),
            do * sigmoid_grad_from_output(o),
        ],
        axis=1,
    )
    dx = da @ Wx.T
    dh_prev = da @ Wh.T
    dWx = x.T @ da
    dWh = h_prev.T @ da
    db = da.sum(axis=0)
    return dx, dh_prev, dc_prev, dWx, dWh, db


# -- a whole sequence: the same equations, optimised ------------------------------------------

#: The backward pass prepares the gate factors for about this many gate values at
#: a time: enough to amortise NumPy's per-call overhead, few enough to stay in cache.
_CHUNK_ELEMENTS = 1 << 16


def _gate_rows(H: int, dtype: np.dtype, i: float, f: float, g: float, o: float) -> np.ndarray:
    """A (4H,) row holding one constant per gate block, to broadcast over ``(..., 4H)``."""
    return np.repeat(np.array([i, f, g, o], dtype=dtype), H)


def _lstm_steps(gates: np.ndarray, h0: np.ndarray, c: np.ndarray, Wh_half: np.ndarray) -> tuple:
    """The time loop of :func:`lstm_forward`, in place on time-major (T, N, ...) blocks.

    ``gates[t]`` arrives holding ``x_t Wx + b`` (i, f, o halved) and leaves holding
    the activated gates ``[i, f, g, o]``; ``c[0]`` holds ``c0`` and ``c[t+1]``
    receives ``c_t``.  Returns the states ``h`` and ``tanh(c_t)``, both (T, N, H).
    """
    T, N, H4 = gates.shape
    H = H4 // 4
    half = _gate_rows(H, gates.dtype, 0.5, 0.5, 1.0, 0.5)
    shift = _gate_rows(H, gates.dtype, 0.5, 0.5, 0.0, 0.5)
    h, tanh_c = np.empty((T, N, H), gates.dtype), np.empty((T, N, H), gates.dtype)
    rec, ig = np.empty((N, H4), gates.dtype), np.empty((N, H), gates.dtype)
    h_prev = h0
    for t in range(T):
        a = gates[t]
        np.matmul(h_prev, Wh_half, out=rec)  # the one product that must wait for h_{t-1}
        a += rec
        np.tanh(a, out=a)  # all four gates in one call ...
        a *= half  # ... i, f, o = 0.5 tanh(a/2) + 0.5; g = tanh(a_g)
        a += shift
        i, f, g, o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
        np.multiply(f, c[t], out=c[t + 1])  # c_t = f c_{t-1} + i g
        np.multiply(i, g, out=ig)
        c[t + 1] += ig
        np.tanh(c[t + 1], out=tanh_c[t])
        h_prev = np.multiply(o, tanh_c[t], out=h[t])  # h_t = o tanh(c_t)
    return h, tanh_c


def lstm_forward(
    x: np.ndarray,
    h0: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    b: np.ndarray,
    c0: np.ndarray | None = None,
) -> tuple[np.ndarray, LSTMCache]:
    """Run an LSTM over a whole sequence.

    Computes exactly the steps of :func:`lstm_step_forward`, organised for speed:
    the input projection ``x_t Wx + b`` of all T steps is ONE ``(T N, D) @ (D, 4H)``
    product before the loop, the arrays are time-major (one step = one contiguous
    block), all buffers are allocated once, and the loop updates them in place, so
    one step costs one ``(N, H) @ (H, 4H)`` product and ten element-wise calls.

    Parameters
    ----------
    x : ndarray, shape (N, T, D)
        Input sequence, batch-first.
    h0 : ndarray, shape (N, H)
        Initial hidden state.
    Wx : ndarray, shape (D, 4H)
    Wh : ndarray, shape (H, 4H)
    b : ndarray, shape (4H,)
        Gate blocks ``[i, f, g, o]`` as in :func:`lstm_step_forward`.
    c0 : ndarray, shape (N, H), optional
        Initial cell state; zeros if omitted (as in ``torch.nn.LSTM``).

    Returns
    -------
    h : ndarray, shape (N, T, H)
        Every hidden state, ``h[:, t] = h_t``.
    cache : LSTMCache
        For :func:`lstm_backward`; the final states are ``cache.h_T`` and
        ``cache.c_T`` (copies: :func:`lstm_final_state`).

    Notes
    -----
    The computation runs in ``np.result_type`` of the inputs: all-float32 stays
    float32.  All four gates go through ONE ``tanh`` call per step: the sigmoid
    is evaluated as ``sigmoid(a) = 0.5 tanh(a/2) + 0.5`` (no overflow), and the
    ``a/2`` is folded into copies of the i, f, o weight columns (halving is exact).
    """
    arrays = {"x": x, "h0": h0, "c0": c0, "Wx": Wx, "Wh": Wh, "b": b}
    arrays = {name: arr for name, arr in arrays.items() if arr is not None}
    for name, arr in arrays.items():
        check_array(name, arr)
    dims = {"x": "N T D", "h0": "N H", "c0": "N H", "Wx": "D 4H", "Wh": "H 4H", "b": "4H"}
    sizes = check_shapes(**{name: (arr, dims[name]) for name, arr in arrays.items()})
    N, T, H = sizes["N"], sizes["T"], sizes["H"]
    dt = _dtype(*arrays.values())

    half = _gate_rows(H, dt, 0.5, 0.5, 1.0, 0.5)  # sigmoid gates get a/2
    x_tm = _time_major(x, dt)
    gates = _input_projection(x_tm, Wx * half)  # every step's input part at once, (T, N, 4H)
    gates += b * half
    c = np.empty((T + 1, N, H), dtype=dt)
    c[0] = 0.0 if c0 is None else c0
    h0 = h0.astype(dt, copy=False)
    h, tanh_c = _lstm_steps(gates, h0, c, (Wh * half).astype(dt, copy=False))
    WhT = np.ascontiguousarray(Wh.T, dtype=dt)
    cache = LSTMCache(_batch_first(x_tm), h0, Wx.astype(dt, copy=False), WhT, _batch_first(gates), c, tanh_c,
                      _batch_first(h))
    return _batch_first(h).copy(), cache  # a copy: the caller may modify it without corrupting the cache


def lstm_final_state(cache: LSTMCache) -> tuple[np.ndarray, np.ndarray]:
    """The final ``(h_T, c_T)``, each (N, H), as copies (``torch.nn.LSTM``'s ``(h_n, c_n)``)."""
    if not isinstance(cache, LSTMCache):
        raise TypeError(f"cache must be the LSTMCache returned by lstm_forward, got {type(cache).__name__}")
    return cache.h_T.copy(), cache.c_T.copy()


def _gate_factors(
    gates: np.ndarray,
    c_prev: np.ndarray,
    tanh_c: np.ndarray,
    k: np.ndarray,
    p: np.ndarray,
) -> None:
    """The part of the gate gradients that does not depend on the incoming gradient.

    For a block of steps (time-major: ``gates`` and ``k`` are ``(Tc, N, 4H)``,
    ``c_prev``, ``tanh_c`` and ``p`` are ``(Tc, N, H)``), writes into ``k`` the
    factors that turn ``dc_t`` (for i, f, g) or ``dh_t`` (for o) into
    pre-activation gradients, and into ``p`` the factor from ``dh_t`` to ``dc_t``:

    ``da_i = dc g i(1-i)``, ``da_f = dc c_{t-1} f(1-f)``, ``da_g = dc i (1-g^2)``,
    ``da_o = dh tanh(c_t) o(1-o)`` and ``dc_t += dh o (1 - tanh^2 c_t) = dh p``.
    """
    H = p.shape[-1]
    i, g, o = gates[..., :H], gates[..., 2 * H : 3 * H], gates[..., 3 * H :]
    k_i, k_f, k_g, k_o = k[..., :H], k[..., H : 2 * H], k[..., 2 * H : 3 * H], k[..., 3 * H :]
    np.subtract(1.0, gates, out=k)  # sigmoid' = s (1 - s): right for i, f, o (the g block is redone below)
    k *= gates
    np.multiply(g, g, out=k_g)  # tanh' = 1 - g^2
    np.subtract(1.0, k_g, out=k_g)
    k_i *= g  # ... times what each gate multiplies in c_t = f c_{t-1} + i g and h_t = o tanh(c_t)
    k_f *= c_prev
    k_g *= i
    k_o *= tanh_c
    np.multiply(tanh_c, tanh_c, out=p)
    np.subtract(1.0, p, out=p)
    p *= o


def _lstm_steps_backward(dh: np.ndarray, cache: LSTMCache, da: np.ndarray, dc: np.ndarray) -> np.ndarray:
    """The time loop of :func:`lstm_backward_with_cell`: fills ``da`` (T, N, 4H) with ``dL/da_t``.

    ``dc`` holds ``dL/dc_T`` on entry and ``dL/dc0`` on exit; returns ``dL/dh0``.
    """
    gates, c, tanh_c = _batch_first(cache.gates), cache.c, cache.tanh_c
    T, N, H = tanh_c.shape
    chunk = max(1, _CHUNK_ELEMENTS // (N * 4 * H))
    p = np.empty((min(chunk, T), N, H), dtype=da.dtype)
    dh_t, dh_rec, tmp = np.empty((N, H), da.dtype), np.zeros((N, H), da.dtype), np.empty((N, H), da.dtype)
    da_ifg = da.reshape(T, N, 4, H)[:, :, :3]  # (T, N, 3, H) views, to multiply the three by dc at once
    da_o, f = da[..., 3 * H :], gates[..., H : 2 * H]
    for hi in range(T, 0, -chunk):  # a block of steps at a time, from the end, while it is in cache
        lo = max(0, hi - chunk)
        _gate_factors(gates[lo:hi], c[lo:hi], tanh_c[lo:hi], da[lo:hi], p[: hi - lo])
        for t in range(hi - 1, lo - 1, -1):
            np.add(dh[:, t], dh_rec, out=dh_t)  # from the loss at t and from step t+1
            np.multiply(dh_t, p[t - lo], out=tmp)
            dc += tmp  # dc_t
            da_ifg[t] *= dc[:, None, :]
            da_o[t] *= dh_t
            dc *= f[t]  # dc_{t-1} = dc_t f_t: the additive path
            np.matmul(da[t], cache.WhT, out=dh_rec)  # dh_{t-1}: the one product per step that cannot wait
    return dh_rec


def lstm_backward_with_cell(
    dh: np.ndarray, cache: LSTMCache, dc_T: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Backpropagation through time for :func:`lstm_forward`, including the cell state's ends.

    The loop walks from ``t = T-1`` to 0 and only does what must be sequential:
    ``dc_t``, the gate gradients ``da_t`` and the recurrent ``dh_{t-1} = da_t Wh^T``.
    The factors of ``da_t`` that do not depend on the gradient are prepared a block
    of steps at a time, and every sum over time is one matrix product after the
    loop: ``dWx = X^T dA``, ``dWh = H_prev^T dA``, ``dx = dA Wx^T`` with all steps stacked.

    Parameters
    ----------
    dh : ndarray, shape (N, T, H)
        Upstream ``dL/dh_t`` for every t (the recurrent path is added here).
    cache : LSTMCache
        From :func:`lstm_forward`.
    dc_T : ndarray, shape (N, H), optional
        Upstream gradient on the final cell state (when the loss uses ``c_T``,
        e.g. an encoder handing ``(h_T, c_T)`` to a decoder).  Zeros if omitted.

    Returns
    -------
    dx : ndarray, shape (N, T, D)
    dh0, dc0 : ndarray, shape (N, H)
        Gradients on the initial hidden and cell states.
    dWx : ndarray, shape (D, 4H)
    dWh : ndarray, shape (H, 4H)
    db : ndarray, shape (4H,)
    """
    if not isinstance(cache, LSTMCache):
        raise TypeError(f"cache must be the LSTMCache returned by lstm_forward, got {type(cache).__name__}")
    N, T, H = cache.h.shape
    check_array("dh", dh)
    check_shapes(h=(cache.h, "N T H"), dh=(dh, "N T H"))
    if dc_T is not None:
        check_array("dc_T", dc_T)
        check_shapes(c_T=(cache.c_T, "N H"), dc_T=(dc_T, "N H"))
    dt = cache.gates.dtype
    dh = np.asarray(dh, dtype=dt)
    da = np.empty((T, N, 4 * H), dtype=dt)  # gate pre-activation gradients, all steps
    dc = np.zeros((N, H), dtype=dt) if dc_T is None else dc_T.astype(dt, copy=True)
    dh0 = _lstm_steps_backward(dh, cache, da, dc)

    da_rows = da.reshape(T * N, 4 * H)  # all steps stacked: every sum over time is one product
    dx = _batch_first((da_rows @ cache.Wx.T).reshape(T, N, -1))
    dWx = _batch_first(cache.x).reshape(T * N, -1).T @ da_rows
    dWh = _recurrent_weight_gradient(cache.h0, _batch_first(cache.h), da)
    return dx, dh0, dc, dWx, dWh, da_rows.sum(axis=0)


def lstm_backward(
    dh: np.ndarray, cache: LSTMCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Backpropagation through time for :func:`lstm_forward` (the same signature as ``rnn_backward``).

    Parameters
    ----------
    dh : ndarray, shape (N, T, H)
        Upstream ``dL/dh_t`` for every t.
    cache : LSTMCache
        From :func:`lstm_forward`.

    Returns
    -------
    dx : ndarray, shape (N, T, D)
    dh0 : ndarray, shape (N, H)
    dWx : ndarray, shape (D, 4H)
    dWh : ndarray, shape (H, 4H)
    db : ndarray, shape (4H,)

    See Also
    --------
    lstm_backward_with_cell : also takes ``dL/dc_T`` and returns ``dL/dc0``.
    """
    dx, dh0, _, dWx, dWh, db = lstm_backward_with_cell(dh, cache)
    return dx, dh0, dWx, dWh, db


def init_lstm_params(
    input_size: int,
    hidden_size: int,
    rng: np.random.Generator,
    forget_bias: float = 1.0,
    scale: float | None = None,
) -> dict[str, np.ndarray]:
    """Random float64 weights for :func:`lstm_forward`.

    Parameters
    ----------
    input_size, hidden_size : int
        D and H.
    rng : numpy.random.Generator
        Source of randomness (passed explicitly so results are reproducible).
    forget_bias : float
        Initial bias of the forget gate (Gers et al. 2000; Jozefowicz et al. 2015).
        With 1.0 the gate starts at ``sigmoid(1) = 0.73``: the cell remembers by
        default, so gradients survive many steps early in training.  0.0 gives
        torch's zero-mean start.  The other biases start at zero.
    scale : float, optional
        Weights are drawn from ``U(-scale, scale)``; default ``1/sqrt(H)``, the
        range ``torch.nn.LSTM`` uses.

    Returns
    -------
    dict
        ``{"Wx": (D, 4H), "Wh": (H, 4H), "b": (4H,)}`` with gate blocks ``[i, f, g, o]``.
    """
    if isinstance(forget_bias, bool) or not isinstance(forget_bias, (int, float, np.integer, np.floating)):
        raise TypeError(f"forget_bias must be a number, got {type(forget_bias).__name__}")
    if not np.isfinite(forget_bias):
        raise ValueError(f"forget_bias must be finite, got {forget_bias}")
    Wx, Wh = uniform_recurrent_weights(input_size, hidden_size, rng, gates=4, scale=scale)
    H = Wh.shape[0]
    b = np.zeros(4 * H)
    b[H : 2 * H] = forget_bias  # block order [i, f, g, o]
    return {"Wx": Wx, "Wh": Wh, "b": b}
