"""From logits to the next token: temperature, top-k, top-p, inverse-CDF sampling.

The order of the knobs, in :func:`sample_next` and in
:func:`companion.torch.sampling.sample_next`: divide the logits by the temperature,
keep the ``top_k`` largest, keep the nucleus of mass ``top_p`` of what is left
(:func:`top_p_filter`), softmax, draw by inverse CDF with one uniform per row.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from companion._checks import check_array, check_positive

__all__ = ["softmax_with_temperature", "top_k_filter", "top_p_filter", "sample_next"]


def _check_logits(logits: Any) -> np.ndarray:
    """Logits may hold ``-inf`` (tokens ruled out) but not NaN or ``+inf``."""
    check_array("logits", logits, finite=False)
    if logits.ndim == 0:
        raise ValueError("logits must have a vocabulary axis (shape (..., V)), "
                         "got a scalar")
    if np.isnan(logits).any() or np.isposinf(logits).any():
        raise ValueError("logits contain NaN or +inf")
    if not np.isfinite(logits).any(axis=-1).all():
        raise ValueError("every row of logits needs at least one finite entry "
                         "(all tokens were ruled out)")
    return logits


def _softmax_t(logits: np.ndarray, temperature: float) -> np.ndarray:
    scaled = logits / temperature
    scaled = scaled - scaled.max(axis=-1, keepdims=True)  # exponents <= 0: no overflow
    e = np.exp(scaled)  # exp(-inf) = 0 for ruled-out tokens
    return e / e.sum(axis=-1, keepdims=True)


def softmax_with_temperature(logits: np.ndarray, temperature: float = 1.0
                             ) -> np.ndarray:
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


def _check_p(top_p: Any) -> float:
    """``top_p`` is a probability in (0, 1]; a percentage (90 for 90 %) is refused."""
    number = (int, float, np.integer, np.floating)
    if isinstance(top_p, bool) or not isinstance(top_p, number):
        raise TypeError("top_p must be a number in (0, 1] or None, "
                        f"got {type(top_p).__name__}")
    p = float(top_p)
    if not 0.0 < p <= 1.0:  # also refuses NaN
        extra = ""
        if 1.0 < p <= 100.0:
            extra = f" (a probability, not a percentage: {p / 100:g} for {p:g} %)"
        raise ValueError(f"top_p must be in (0, 1], got {top_p}{extra}")
    return p


def _top_p(logits: np.ndarray, p: float) -> np.ndarray:
    """Keep token i iff the tokens MORE likely than i hold a probability below ``p``."""
    if p >= 1.0:
        return logits.copy()
    probs = _softmax_t(logits, 1.0)
    order = np.argsort(-probs, axis=-1, kind="stable")  # most likely first
    sorted_p = np.take_along_axis(probs, order, axis=-1)
    before = np.cumsum(sorted_p, axis=-1) - sorted_p  # mass sorted before each token
    # tied tokens share the mass before the first of them: a tie is kept or dropped
    same = sorted_p[..., 1:] == sorted_p[..., :-1]
    V = logits.shape[-1]
    first = np.ones_like(sorted_p[..., :1], dtype=bool)
    new_group = np.concatenate([first, ~same], axis=-1)
    group_start = np.where(new_group, np.arange(V), 0)
    first_of_group = np.maximum.accumulate(group_start, axis=-1)
    keep_sorted = np.take_along_axis(before, first_of_group, axis=-1) < p
    keep = np.empty_like(keep_sorted)
    np.put_along_axis(keep, order, keep_sorted, axis=-1)
    return np.where(keep, logits, -np.inf)


def top_p_filter(logits: np.ndarray, p: float) -> np.ndarray:
    """Nucleus filtering: keep the most likely tokens until their total reaches ``p``.

    With the probabilities ``softmax(logits)`` sorted from most to least likely, the
    nucleus is the shortest prefix whose total is at least ``p``: the token that crosses
    ``p`` is kept (Holtzman et al., 2020).  Equivalently, token ``i`` is kept iff the
    tokens strictly more likely than ``i`` have total probability below ``p``, so tokens
    tied with the crossing one are all kept (the result does not depend on the order of
    the vocabulary).  ``p = 1`` keeps every token; a tiny ``p`` keeps only the argmax
    (and its ties).  Apply the temperature first (``logits / temperature``) to take the
    nucleus of the tempered distribution, as :func:`sample_next` does.

    Parameters
    ----------
    logits : ndarray, shape (..., V)
        May contain ``-inf`` (tokens already ruled out).
    p : float
        0 < p <= 1, a probability (0.9, not 90).

    Returns
    -------
    ndarray, shape (..., V)
        A new array: the kept logits unchanged, the others ``-inf``.
    """
    _check_logits(logits)
    return _top_p(logits, _check_p(p))


def sample_next(
    logits: np.ndarray,
    temperature: float = 1.0,
    top_k: int | None = None,
    rng: np.random.Generator | None = None,
    *,
    top_p: float | None = None,
) -> int | np.ndarray:
    """Sample the next token from logits by inverse CDF, one uniform number per row.

    For each row: restrict to the ``top_k`` best tokens (if given), then to the nucleus
    of mass ``top_p`` of ``softmax(logits / temperature)`` (if given, see
    :func:`top_p_filter`), form ``p = softmax(logits / temperature)`` over what is
    left, draw ``u ~ U[0, 1)`` and return the
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
    top_p : float, optional
        0 < top_p <= 1: keep only the nucleus of the tempered distribution (keyword).

    Returns
    -------
    int if ``logits`` is 1-D, else ndarray of int64, shape (N,)
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator, "
                        f"got {type(rng).__name__}")
    _check_logits(logits)
    if logits.ndim not in (1, 2):
        raise ValueError(f"logits must have shape (V,) or (N, V), got {logits.shape}")
    temperature = check_positive("temperature", temperature, allow_zero=True)
    rows = np.atleast_2d(logits)
    if top_k is not None:
        rows = _top_k(rows, _check_k(top_k, rows.shape[-1]))
    p = None if top_p is None else _check_p(top_p)
    u = rng.random(rows.shape[0])
    if temperature == 0.0:
        choice = rows.argmax(axis=-1)  # the argmax is in every nucleus
    else:
        scaled = rows / temperature
        if p is not None:
            scaled = _top_p(scaled, p)
        cdf = np.cumsum(_softmax_t(scaled, 1.0), axis=-1)
        # i = number of cdf entries <= u * total, so cdf[i-1] <= u * total < cdf[i] and
        # p_i > 0; scaling u by the row's total keeps i < V even when rounding leaves
        # cdf[-1] below 1.
        choice = (cdf <= (u * cdf[:, -1])[:, None]).sum(axis=-1)
    choice = choice.astype(np.int64)
    return int(choice[0]) if logits.ndim == 1 else choice
