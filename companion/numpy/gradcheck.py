"""Numerical gradient checking: the test every hand-written backward pass must pass.

The default is the five-point stencil (``order=4``) with ``h = 1e-3``: truncation
error O(h^4) and rounding error O(eps * abs(f) / h) are both around 1e-12, so with
float64 a relative error (:func:`rel_error`) **below ~1e-7 means the analytic
gradient is right** (correct RNN, LSTM and GRU gradients measure below 4e-9 there)
and a wrong one typically scores 1e-2 or more.  The classic centred difference
``(f(x + h) - f(x - h)) / 2h`` (``order=2``) is kept for teaching; it is less
accurate (at ``h = 1e-6`` correct LSTM gradients score up to ~1e-6 on entries close
to zero, at ``h = 1e-5`` a few 1e-8), so hold it to a looser threshold of ~1e-5.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from companion._checks import check_array, check_positive

__all__ = ["numerical_gradient", "rel_error", "grad_check"]

# order -> (offsets k in units of h, weights w, denominator d): grad = sum_k w (f(x+kh) - f(x-kh)) / (d h).
# Differences are formed pair by pair, so a function that ignores x gives exactly 0, not rounding residue.
_STENCILS = {
    2: ((1,), (1.0,), 2.0),
    4: ((1, 2), (8.0, -1.0), 12.0),
}


def numerical_gradient(f: Callable[[], float], x: np.ndarray, h: float = 1e-3, order: int = 4) -> np.ndarray:
    """Centred finite-difference gradient of a scalar function with respect to ``x``.

    ``f`` takes no arguments: it must read ``x`` (e.g. through a closure) so that
    nudging an entry of ``x`` in place changes its value.  Each entry is restored
    after use, so ``x`` is unchanged on return.

    Parameters
    ----------
    f : callable () -> float
    x : ndarray of float64, any shape
        Perturbed in place, one entry at a time.
    h : float
        Step size.
    order : {2, 4}
        Accuracy order of the centred stencil.  2 is the classic
        ``(f(x + h e_i) - f(x - h e_i)) / 2h`` with error ``O(h^2) + O(eps |f| / h)``.
        4 is the five-point stencil
        ``(-f(x+2h) + 8 f(x+h) - 8 f(x-h) + f(x-2h)) / 12h`` with error ``O(h^4)``:
        with ``h ~ 1e-3`` both error terms fall to ~1e-12, which is what lets a test
        demand relative errors of 1e-8 even for gradient entries close to zero.

    Returns
    -------
    ndarray of float64, shape of ``x``
    """
    check_array("x", x)
    if x.dtype != np.float64:
        raise TypeError(f"x must be float64 for finite differences (float32 rounding swamps the signal), got {x.dtype}")
    h = check_positive("h", h)
    if order not in _STENCILS:
        raise ValueError(f"order must be one of {sorted(_STENCILS)}, got {order!r}")
    offsets, weights, denominator = _STENCILS[order]
    grad = np.empty_like(x)
    for i in np.ndindex(x.shape):
        original = x[i]
        total = 0.0
        for offset, weight in zip(offsets, weights):
            x[i] = original + offset * h
            f_plus = float(f())
            x[i] = original - offset * h
            total += weight * (f_plus - float(f()))
        x[i] = original  # restore exactly (not x[i] - h), so no drift accumulates
        grad[i] = total / (denominator * h)
    return grad


def rel_error(a: np.ndarray, b: np.ndarray, floor: float = 1e-8) -> float:
    """Largest element-wise relative difference ``|a - b| / max(|a| + |b|, floor)``.

    The ``floor`` stops entries where both gradients are (nearly) zero from dividing
    rounding noise by zero: there the measure becomes an absolute error scaled by
    ``1 / floor``.

    Parameters
    ----------
    a, b : array_like, same shape
    floor : float

    Returns
    -------
    float
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error needs equal shapes, got {a.shape} and {b.shape}")
    floor = check_positive("floor", floor)
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), floor)))


def grad_check(
    f: Callable[[], float],
    inputs: dict[str, np.ndarray],
    analytic: dict[str, np.ndarray],
    h: float = 1e-3,
    order: int = 4,
) -> dict[str, float]:
    """Compare analytic gradients with numerical ones for several inputs at once.

    Parameters
    ----------
    f : callable () -> float
        The loss, reading the arrays in ``inputs`` (which are perturbed in place).
    inputs : dict of ndarray (float64)
        The arrays to differentiate with respect to.
    analytic : dict of ndarray
        Your gradients, one per key of ``inputs``, same shapes.
    h : float
        Finite-difference step.
    order : {2, 4}
        Stencil of :func:`numerical_gradient`.

    Returns
    -------
    dict of float
        ``rel_error(analytic[name], numerical_gradient(f, inputs[name]))`` per name.

    Examples
    --------
    >>> W = np.array([[1.0, 2.0]]); f = lambda: float((W ** 2).sum())
    >>> grad_check(f, {"W": W}, {"W": 2 * W})["W"] < 1e-8
    True
    """
    if set(inputs) != set(analytic):
        raise ValueError(f"inputs and analytic must have the same keys, got {sorted(inputs)} and {sorted(analytic)}")
    errors = {}
    for name, x in inputs.items():
        if np.shape(analytic[name]) != x.shape:
            raise ValueError(f"analytic[{name!r}] has shape {np.shape(analytic[name])}, expected {x.shape}")
        errors[name] = rel_error(analytic[name], numerical_gradient(f, x, h, order))
    return errors
