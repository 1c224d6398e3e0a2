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


def rnn_forward(
    x: np.ndarray,
    h0: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    b: np.ndarray,
    nonlinearity: str = "tanh",
) -> tuple[np.ndarray, RNNCache]:
    """Run a vanilla RNN over a whole sequence (the same step, the same weights, T times).

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
    cache : RNNCache
        Everything :func:`rnn_backward` needs.
    """
    f, _ = _activation(nonlinearity)
    sizes = _check_rnn_inputs(x, h0, Wx, Wh, b, "N T D", "h0")
    N, T, H = sizes["N"], sizes["T"], sizes["H"]
    h = np.empty((N, T, H), dtype=np.result_type(x, h0, Wx, Wh, b))
    h_t = h0
    for t in range(T):
        h_t = _step(x[:, t], h_t, Wx, Wh, b, f)
        h[:, t] = h_t
    return h, RNNCache(x, h0, Wx, Wh, h, nonlinearity)


def _states_before(cache: RNNCache) -> np.ndarray:
    """``h_{t-1}`` for every t, shape (N, T, H): h0 followed by h_0 .. h_{T-2}."""
    return np.concatenate([cache.h0[:, None], cache.h[:, :-1]], axis=1)


def _check_dh(dh: np.ndarray, cache: RNNCache) -> None:
    check_array("dh", dh)
    check_shapes(h=(cache.h, "N T H"), dh=(dh, "N T H"))


def rnn_backward(
    dh: np.ndarray, cache: RNNCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Full backpropagation through time for :func:`rnn_forward`.

    Walking from ``t = T-1`` down to 0, the gradient reaching ``h_t`` is the loss's
    own ``dh[:, t]`` plus what flowed back from ``h_{t+1}``; the weight gradients
    are sums over time because the same weights are used at every step.

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
    _check_dh(dh, cache)
    x, _, Wx, Wh, h, nonlinearity = cache
    _, f_prime = _activation(nonlinearity)
    h_before = _states_before(cache)
    dx = np.empty(x.shape, dtype=np.result_type(x, dh))
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(Wh.shape[0], dtype=Wh.dtype)
    dh_from_future = np.zeros_like(dh[:, 0])
    for t in reversed(range(x.shape[1])):
        dx[:, t], dh_from_future, dWx_t, dWh_t, db_t = _step_backward(
            dh[:, t] + dh_from_future, x[:, t], h_before[:, t], Wx, Wh, h[:, t], f_prime
        )
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
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
