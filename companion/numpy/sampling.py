"""Turning a language model's logits into the next token: temperature, top-k, inverse-CDF sampling."""

from __future__ import annotations

from typing import Any

import numpy as np

from companion._checks import check_array, check_positive

__all__ = ["softmax_with_temperature", "top_k_filter", "sample_next"]


def _check_logits(logits: Any) -> np.ndarray:
    """Logits may contain ``-inf`` (tokens ruled out, e.g. by top-k) but not NaN or ``+inf``."""
    check_array("logits", logits, finite=False)
    if logits.ndim == 0:
        raise ValueError("logits must have a vocabulary axis (shape (..., V)), got a scalar")
    if np.isnan(logits).any() or np.isposinf(logits).any():
        raise ValueError("logits contain NaN or +inf")
    if not np.isfinite(logits).any(axis=-1).all():
        raise ValueError("every row of logits needs at least one finite entry (all tokens were ruled out)")
    return logits


def _softmax_t(logits: np.ndarray, temperature: float) -> np.ndarray:
    scaled = logits / temperature
    scaled = scaled - scaled.max(axis=-1, keepdims=True)  # largest exponent is 0: no overflow
    e = np.exp(scaled)  # exp(-inf) = 0 for ruled-out tokens
    return e / e.sum(axis=-1, keepdims=True)


def softmax_with_temperature(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """``softmax(logits / temperature)`` over the last axis.

    ``temperature < 1`` sharpens the distribution (towards greedy argmax),
    ``temperature > 1`` flattens it (towards uniform); 1 leaves it unchanged.

    Parameters
    ----------
    logits : ndarray, shape (..., V)
        May contain ``-inf`` for tokens that must get probability 0.
    temperature : float
        > 0.

    Returns
    -------
    ndarray, shape (..., V)
        Probabilities; each row sums to 1.
    """
    _check_logits(logits)
    return _softmax_t(logits, check_positive("temperature", temperature))


def _top_k(logits: np.ndarray, k: int) -> np.ndarray:
    kth_largest = np.sort(logits, axis=-1)[..., -k][..., None]
    return np.where(logits >= kth_largest, logits, -np.inf)


def _check_k(top_k: Any, V: int) -> int:
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)):
        raise TypeError(f"top_k must be an int or None, got {type(top_k).__name__}")
    if not 1 <= top_k <= V:
        raise ValueError(f"top_k must be in [1, V={V}], got {top_k}")
    return int(top_k)


def top_k_filter(logits: np.ndarray, k: int) -> np.ndarray:
    """Keep the ``k`` largest logits of every row and set the others to ``-inf``.

    Ties with the k-th largest value are all kept (so a row may keep more than
    ``k`` entries), which makes the result independent of the order of the vocabulary.

    Parameters
    ----------
    logits : ndarray, shape (..., V)
    k : int
        1 <= k <= V.

    Returns
    -------
    ndarray, shape (..., V)
        A new array.
    """
    _check_logits(logits)
    return _top_k(logits, _check_k(k, logits.shape[-1]))


def sample_next(
    logits: np.ndarray,
    temperature: float = 1.0,
    top_k: int | None = None,
    rng: np.random.Generator | None = None,
) -> int | np.ndarray:
    """Sample the next token from logits, by inverse-CDF with one uniform number per row.

    For each row: restrict to the ``top_k`` best tokens (if given), form
    ``p = softmax(logits / temperature)``, draw ``u ~ U[0, 1)`` and return the
    first index whose cumulative probability exceeds ``u * sum(p)``.  Using exactly
    one ``rng.random()`` per row (drawn together as ``rng.random(N)``) makes the
    result reproducible from the generator's state and easy to check by hand.
    Tokens of probability 0 are never returned.

    Parameters
    ----------
    logits : ndarray, shape (V,) or (N, V)
    temperature : float
        > 0, or 0 for greedy decoding (argmax; a uniform is still drawn per row so
        the generator advances the same way at every temperature).
    top_k : int, optional
        Keep only the ``top_k`` most likely tokens.
    rng : numpy.random.Generator
        Required: the source of randomness.

    Returns
    -------
    int if ``logits`` is 1-D, else ndarray of int64, shape (N,)
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    _check_logits(logits)
    if logits.ndim not in (1, 2):
        raise ValueError(f"logits must have shape (V,) or (N, V), got {logits.shape}")
    temperature = check_positive("temperature", temperature, allow_zero=True)
    rows = np.atleast_2d(logits)
    if top_k is not None:
        rows = _top_k(rows, _check_k(top_k, rows.shape[-1]))
    u = rng.random(rows.shape[0])
    if temperature == 0.0:
        choice = rows.argmax(axis=-1)
    else:
        cdf = np.cumsum(_softmax_t(rows, temperature), axis=-1)
        # i = number of cdf entries <= u * total, so cdf[i-1] <= u * total < cdf[i] and p_i > 0;
        # scaling u by the row's total keeps i < V even when rounding leaves cdf[-1] below 1.
        choice = (cdf <= (u * cdf[:, -1])[:, None]).sum(axis=-1)
    choice = choice.astype(np.int64)
    return int(choice[0]) if logits.ndim == 1 else choice
