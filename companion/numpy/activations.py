"""Element-wise nonlinearities and their derivatives, shared by every recurrent cell.

Each derivative is written in terms of the activation's *output* where that is
possible (``tanh' = 1 - tanh^2``, ``sigmoid' = s (1 - s)``), because the forward
pass already stored that output in its cache: the backward pass then needs no
second call to ``exp``.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "sigmoid",
    "sigmoid_grad_from_output",
    "tanh",
    "tanh_grad_from_output",
    "relu",
    "relu_grad_from_output",
    "ACTIVATIONS",
]


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function ``1 / (1 + exp(-x))`` without overflow.

    ``exp(-x)`` overflows for ``x < -709`` in float64, so for negative inputs the
    algebraically equal form ``exp(x) / (1 + exp(x))`` is used instead: there the
    exponent is always <= 0 and ``exp`` stays in ``(0, 1]``.

    Parameters
    ----------
    x : ndarray, any shape

    Returns
    -------
    ndarray, same shape and dtype as ``x``, values in ``[0, 1]``.
    """
    e = np.exp(-np.abs(x))  # in (0, 1]: never overflows
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_grad_from_output(s: np.ndarray) -> np.ndarray:
    """Derivative of the sigmoid, given its output ``s = sigmoid(x)``: ``s (1 - s)``."""
    return s * (1.0 - s)


def tanh(x: np.ndarray) -> np.ndarray:
    """Hyperbolic tangent (``np.tanh`` is already stable; named here so cells share one import)."""
    return np.tanh(x)


def tanh_grad_from_output(t: np.ndarray) -> np.ndarray:
    """Derivative of tanh, given its output ``t = tanh(x)``: ``1 - t^2``."""
    return 1.0 - t * t


def relu(x: np.ndarray) -> np.ndarray:
    """Rectified linear unit ``max(x, 0)``."""
    return np.maximum(x, 0)


def relu_grad_from_output(r: np.ndarray) -> np.ndarray:
    """Derivative of ReLU, given its output ``r = relu(x)``: 1 where ``r > 0``, else 0.

    At exactly ``x = 0`` the derivative is taken as 0, the same sub-gradient torch uses.
    """
    return (r > 0).astype(r.dtype)


#: Name -> (activation, derivative expressed through the activation's output).
ACTIVATIONS = {
    "tanh": (tanh, tanh_grad_from_output),
    "relu": (relu, relu_grad_from_output),
    "sigmoid": (sigmoid, sigmoid_grad_from_output),
}
