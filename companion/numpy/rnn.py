"""The vanilla (Elman) recurrent layer, forward and backward, in NumPy.

The book writes one step as

.. math:: h_t = f(W x_t + U h_{t-1} + b),

with column vectors.  Here arrays are batch-first with row vectors, so the same
step reads ``h_t = f(x_t @ Wx + h_{t-1} @ Wh + b)`` with ``Wx = W.T`` (D, H) and
``Wh = U.T`` (H, H).  To load ``torch.nn.RNN`` weights: ``Wx = weight_ih_l0.T``,
``Wh = weight_hh_l0.T``, ``b = bias_ih_l0 + bias_hh_l0``.

Every forward function returns ``(out, cache)``; the matching backward takes the
upstream gradient and that cache and returns gradients in the order of the
forward's arguments.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from companion._checks import check_array, check_shapes, check_size
from companion.numpy.initialisation import uniform_recurrent_weights
from companion.numpy.activations import ACTIVATIONS

__all__ = [
    "RNNStepCache",
    "RNNCache",
    "rnn_step_forward",
    "rnn_step_backward",
    "rnn_forward",
    "rnn_backward",
    "count_rnn_parameters",
    "init_rnn_params",
]

Activation = Callable[[np.ndarray], np.ndarray]
NONLINEARITIES = ("tanh", "relu")  # the two torch.nn.RNN offers


class RNNStepCache(NamedTuple):
    """What one step's backward pass needs (a tuple, so it also unpacks positionally)."""

    x: np.ndarray  # (N, D)
    h_prev: np.ndarray  # (N, H)
    Wx: np.ndarray  # (D, H)
    Wh: np.ndarray  # (H, H)
    h_next: np.ndarray  # (N, H), the activation's output: enough for its derivative
    nonlinearity: str


class RNNCache(NamedTuple):
    """What the sequence backward pass needs: inputs, weights and every hidden state."""

    x: np.ndarray  # (N, T, D)
    h0: np.ndarray  # (N, H)
    Wx: np.ndarray  # (D, H)
    Wh: np.ndarray  # (H, H)
    h: np.ndarray  # (N, T, H), h[:, t] = h_t
    nonlinearity: str


def _activation(nonlinearity: str) -> tuple[Activation, Activation]:
    """Return ``(f, f')`` where ``f'`` is expressed through ``f``'s output."""
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"nonlinearity must be one of {NONLINEARITIES}, got {nonlinearity!r}")
    return ACTIVATIONS[nonlinearity]


def _check_rnn_inputs(x, h_prev, Wx, Wh, b, x_dims: str, h_name: str) -> dict[str, int]:
    for name, arr in (("x", x), (h_name, h_prev), ("Wx", Wx), ("Wh", Wh), ("b", b)):
        check_array(name, arr)
    return check_shapes(
        x=(x, x_dims), **{h_name: (h_prev, "N H")}, Wx=(Wx, "D H"), Wh=(Wh, "H H"), b=(b, "H")
    )


# -- the equations, without validation: shared by the step and sequence functions --------


def _step(x: np.ndarray, h_prev: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray, f: Activation):
    """``h_t = f(x_t Wx + h_{t-1} Wh + b)``."""
    return f(x @ Wx + h_prev @ Wh + b)


def _step_backward(dh_next, x, h_prev, Wx, Wh, h_next, f_prime: Activation):
    """Chain rule through one step; ``da`` is the gradient at the pre-activation ``a_t``."""
    da = dh_next * f_prime(h_next)
    dx = da @ Wx.T
    dh_prev = da @ Wh.T  # the only path from h_t back to h_{t-1}: this product repeated is BPTT
    dWx = x.T @ da
    dWh = h_prev.T @ da
    db = da.sum(axis=0)
    return dx, dh_prev, dWx, dWh, db


# -- public API ------------------------------------------------------------------------------


def rnn_step_forward(
    x: np.ndarray,
    h_prev: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    b: np.ndarray,
    nonlinearity: str = "tanh",
) -> tuple[np.ndarray, RNNStepCache]:
    """One step of a vanilla RNN: ``h_next = f(x @ Wx + h_prev @ Wh + b)``.

    Parameters
    ----------
    x : ndarray, shape (N, D)
        Inputs at this time step.
    h_prev : ndarray, shape (N, H)
        Hidden state from the previous step.
    Wx : ndarray, shape (D, H)
        Input-to-hidden weights (the book's ``W`` transposed).
    Wh : ndarray, shape (H, H)
        Hidden-to-hidden weights (the book's ``U`` transposed).
    b : ndarray, shape (H,)
        Bias.
    nonlinearity : {"tanh", "relu"}
        The activation ``f``.

    Returns
    -------
    h_next : ndarray, shape (N, H)
    cache : RNNStepCache
        Everything :func:`rnn_step_backward` needs.
    """
    f, _ = _activation(nonlinearity)
    _check_rnn_inputs(x, h_prev, Wx, Wh, b, "N D", "h_prev")
    h_next = _step(x, h_prev, Wx, Wh, b, f)
    return h_next, RNNStepCache(x, h_prev, Wx, Wh, h_next, nonlinearity)


def rnn_step_backward(
    dh_next: np.ndarray, cache: RNNStepCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of :func:`rnn_step_forward`.

    With ``a = x Wx + h_prev Wh + b`` and ``da = dh_next * f'(a)``:
    ``dx = da Wx^T``, ``dh_prev = da Wh^T``, ``dWx = x^T da``, ``dWh = h_prev^T da``,
    ``db = sum_n da``.

    Parameters
    ----------
    dh_next : ndarray, shape (N, H)
        Upstream gradient ``dL/dh_next``.
    cache : RNNStepCache
        From the forward pass.

    Returns
    -------
    dx : ndarray, shape (N, D)
    dh_prev : ndarray, shape (N, H)
    dWx : ndarray, shape (D, H)
    dWh : ndarray, shape (H, H)
    db : ndarray, shape (H,)
    """
    x, h_prev, Wx, Wh, h_next, nonlinearity = cache
    _, f_prime = _activation(nonlinearity)
    check_array("dh_next", dh_next)
    check_shapes(h_next=(h_next, "N H"), dh_next=(dh_next, "N H"))
    return _step_backward(dh_next, x, h_prev, Wx, Wh, h_next, f_prime)


def _time_major(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """A (T, N, ...) copy of batch-first ``x`` in ``dtype``, so that each step is one contiguous block.

    (No copy when ``x`` already has that memory layout, e.g. the output of another layer.)
    """
    return np.ascontiguousarray(x.swapaxes(0, 1), dtype=dtype)


def _batch_first(a: np.ndarray) -> np.ndarray:
    """The (N, T, ...) view of a time-major (T, N, ...) array (and back: the swap is its own inverse)."""
    return a.swapaxes(0, 1)


def _input_projection(x_tm: np.ndarray, Wx: np.ndarray) -> np.ndarray:
    """``x_t Wx`` for every t as ONE ``(T N, D) @ (D, G)`` product; time-major (T, N, G) like ``x_tm``."""
    T, N, D = x_tm.shape
    return (x_tm.reshape(T * N, D) @ Wx.astype(x_tm.dtype, copy=False)).reshape(T, N, -1)


def _recurrent_weight_gradient(h0: np.ndarray, h_tm: np.ndarray, da_tm: np.ndarray) -> np.ndarray:
    """``sum_t h_{t-1}^T da_t`` (time-major ``h_tm``, ``da_tm``) as two products and no copy of the states.

    ``h_{t-1}`` is ``h0`` at t = 0 and ``h_tm[t-1]`` after, so the sum is
    ``h0^T da_0`` plus one ``(H, (T-1) N) @ ((T-1) N, G)`` product.
    """
    T, N, H = h_tm.shape
    before = h_tm[:-1].reshape((T - 1) * N, H)
    return h0.T @ da_tm[0] + before.T @ da_tm[1:].reshape((T - 1) * N, da_tm.shape[2])


def rnn_forward(
    x: np.ndarray,
    h0: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    b: np.ndarray,
    nonlinearity: str = "tanh",
) -> tuple[np.ndarray, RNNCache]:
    """Run a vanilla RNN over a whole sequence (the same step, the same weights, T times).

    Only ``h_{t-1} Wh`` has to wait for the previous step, so the input part
    ``x_t Wx`` of all T steps is computed first, in one matrix product; the loop
    adds the recurrent part and applies ``f`` in place.

    Parameters
    ----------
    x : ndarray, shape (N, T, D)
        Input sequence, batch-first.
    h0 : ndarray, shape (N, H)
        Initial hidden state.
    Wx : ndarray, shape (D, H)
    Wh : ndarray, shape (H, H)
    b : ndarray, shape (H,)
    nonlinearity : {"tanh", "relu"}

    Returns
    -------
    h : ndarray, shape (N, T, H)
        Every hidden state, ``h[:, t] = h_t``; the final state is ``h[:, -1]``.
        Stored time-major, so each ``h[:, t]`` is one contiguous block.
    cache : RNNCache
        Everything :func:`rnn_backward` needs.
    """
    f, _ = _activation(nonlinearity)
    _check_rnn_inputs(x, h0, Wx, Wh, b, "N T D", "h0")
    x_tm = _time_major(x, np.result_type(x, h0, Wx, Wh, b))
    a = _input_projection(x_tm, Wx)  # a[t] = x_t Wx for every t, (T, N, H)
    h_t = h0
    for a_t in a:
        a_t += h_t @ Wh  # the one product that must wait for h_{t-1}
        a_t += b
        a_t[...] = f(a_t)  # a[t] now holds h_t
        h_t = a_t
    h = _batch_first(a)
    return h, RNNCache(_batch_first(x_tm), h0, Wx, Wh, h, nonlinearity)


def _states_before(cache: RNNCache) -> np.ndarray:
    """``h_{t-1}`` for every t, shape (N, T, H): h0 followed by h_0 .. h_{T-2}."""
    return np.concatenate([cache.h0[:, None], cache.h[:, :-1]], axis=1)


def _check_dh(dh: np.ndarray, cache: RNNCache) -> None:
    check_array("dh", dh)
    check_shapes(h=(cache.h, "N T H"), dh=(dh, "N T H"))


def _check_cache(cache: RNNCache) -> None:
    if not isinstance(cache, RNNCache):  # e.g. an LSTMCache or GRUCache passed by mistake
        raise TypeError(f"cache must be the RNNCache returned by rnn_forward, got {type(cache).__name__}")


def _sums_over_time(da: np.ndarray, cache: RNNCache) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``dx_t = da_t Wx^T``, ``dWx = sum_t x_t^T da_t``, ``dWh``, ``db``: one product each, all steps stacked."""
    T, N, H = da.shape
    da_rows = da.reshape(T * N, H)  # time-major, like the cache's x and h
    dx = _batch_first((da_rows @ cache.Wx.T).reshape(T, N, -1))
    dWx = _batch_first(cache.x).reshape(T * N, -1).T @ da_rows
    dWh = _recurrent_weight_gradient(cache.h0, _batch_first(cache.h), da)
    return dx, dWx, dWh, da_rows.sum(axis=0)


def rnn_backward(
    dh: np.ndarray, cache: RNNCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Full backpropagation through time for :func:`rnn_forward`.

    Walking from ``t = T-1`` down to 0, the gradient reaching ``h_t`` is the loss's
    own ``dh[:, t]`` plus what flowed back from ``h_{t+1}``; only that walk is
    sequential.  The weight gradients are sums over time (the same weights are
    used at every step), computed after the loop as one product each.

    Parameters
    ----------
    dh : ndarray, shape (N, T, H)
        Upstream gradients ``dL/dh_t`` for every t (from the loss at each step only;
        the recurrent path is added here).
    cache : RNNCache
        From :func:`rnn_forward`.

    Returns
    -------
    dx : ndarray, shape (N, T, D)
    dh0 : ndarray, shape (N, H)
    dWx : ndarray, shape (D, H)
    dWh : ndarray, shape (H, H)
    db : ndarray, shape (H,)
    """
    _check_cache(cache)
    _check_dh(dh, cache)
    _, f_prime = _activation(cache.nonlinearity)
    dtype = np.result_type(cache.h, dh)
    da = _batch_first(f_prime(cache.h)).astype(dtype, copy=False)  # f'(a_t) for all t, (T, N, H)
    dh_from_future = np.zeros(cache.h0.shape, dtype=dtype)
    for t in reversed(range(da.shape[0])):
        da[t] *= dh[:, t] + dh_from_future  # da_t = dL/dh_t * f'(a_t)
        dh_from_future = da[t] @ cache.Wh.T  # the only path from h_t back to h_{t-1}
    dx, dWx, dWh, db = _sums_over_time(da, cache)
    return dx, dh_from_future, dWx, dWh, db


def count_rnn_parameters(input_size: int, hidden_size: int, output_size: int) -> int:
    """Number of trainable numbers in ``h_t = tanh(W x_t + U h_{t-1} + b)``, ``y_t = V h_t + c``.

    ``W`` is (H, D), ``U`` is (H, H), ``b`` is (H,), ``V`` is (O, H), ``c`` is (O,):
    ``H*D + H*H + H + O*H + O``.  The count does not depend on the sequence length,
    because every step reuses the same weights.
    """
    D, H = check_size("input_size", input_size), check_size("hidden_size", hidden_size)
    O = check_size("output_size", output_size)
    return H * D + H * H + H + O * H + O


def init_rnn_params(
    input_size: int, hidden_size: int, rng: np.random.Generator, scale: float | None = None
) -> dict[str, np.ndarray]:
    """Random float64 weights for :func:`rnn_forward`.

    Parameters
    ----------
    input_size, hidden_size : int
        D and H.
    rng : numpy.random.Generator
        Source of randomness (passed explicitly so results are reproducible).
    scale : float, optional
        Weights are drawn from ``U(-scale, scale)``.  The default ``1/sqrt(H)`` is the
        range ``torch.nn.RNN`` uses; it keeps ``h @ Wh`` of order one at initialisation.

    Returns
    -------
    dict
        ``{"Wx": (D, H), "Wh": (H, H), "b": (H,)}``; the bias starts at zero.
    """
    Wx, Wh = uniform_recurrent_weights(input_size, hidden_size, rng, scale=scale)
    return {"Wx": Wx, "Wh": Wh, "b": np.zeros(Wh.shape[0])}
