"""Reference solutions of the exercises that have no natural home in the package.

Every other exercise's solution *is* a package function (``companion.numpy.rnn.rnn_step_forward``,
...), shown in the book with ``literalinclude``; the few small functions below exist only
as exercises, so they live here and are shown the same way.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from companion._checks import check_array, check_int_array, check_shapes
from companion.numpy.activations import sigmoid

__all__ = ["time_major_to_batch_first", "min_gru_coefficients", "linear_recurrence_scan", "beam_search", "bag_of_words"]


def time_major_to_batch_first(x: np.ndarray) -> np.ndarray:
    """Swap the first two axes: time-major ``(T, N, ...)`` -> batch-first ``(N, T, ...)``.

    ``torch.nn.RNN`` defaults to time-major input (``batch_first=False``); the
    course's NumPy code is batch-first.  Only the first two axes move: a
    ``reshape`` would keep the memory order and mix up time steps and samples.

    Parameters
    ----------
    x : ndarray, shape (T, N) or (T, N, D) (any trailing axes)

    Returns
    -------
    ndarray, shape (N, T) or (N, T, D)
        A view of ``x`` (no copy).
    """
    if not isinstance(x, np.ndarray) or x.ndim < 2:
        raise ValueError(f"x must be an ndarray with at least 2 axes (T, N, ...), got {getattr(x, 'shape', type(x))}")
    return np.swapaxes(x, 0, 1)


def min_gru_coefficients(
    x: np.ndarray, Wz: np.ndarray, bz: np.ndarray, Wh: np.ndarray, bh: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The minGRU written as a linear recurrence ``h_t = a_t * h_{t-1} + b_t``.

    ``z_t = sigmoid(x_t Wz + bz)`` and ``h~_t = x_t Wh + bh`` depend on ``x_t`` only, so
    ``h_t = (1 - z_t) * h_{t-1} + z_t * h~_t`` has ``a_t = 1 - z_t`` and ``b_t = z_t * h~_t``,
    computed for every step at once (Feng et al. 2024).

    Parameters
    ----------
    x : ndarray, shape (N, T, D)
    Wz, Wh : ndarray, shape (D, H)
    bz, bh : ndarray, shape (H,)

    Returns
    -------
    a, b : ndarray, shape (N, T, H)
    """
    for name, arr in (("x", x), ("Wz", Wz), ("bz", bz), ("Wh", Wh), ("bh", bh)):
        check_array(name, arr)
    check_shapes(x=(x, "N T D"), Wz=(Wz, "D H"), bz=(bz, "H"), Wh=(Wh, "D H"), bh=(bh, "H"))
    z = sigmoid(x @ Wz + bz)
    return 1.0 - z, z * (x @ Wh + bh)


def linear_recurrence_scan(a: np.ndarray, b: np.ndarray, h0: np.ndarray) -> np.ndarray:
    """All states of ``h_t = a_t * h_{t-1} + b_t`` in ``ceil(log2 T)`` vectorised rounds.

    Each step is the affine map ``h -> a_t h + b_t``; composing two maps gives
    another one, ``(a2, b2) o (a1, b1) = (a2 a1, a2 b1 + b2)``, and composition is
    associative.  So instead of T sequential steps, a Hillis-Steele scan combines
    every position with the one ``1, 2, 4, ...`` steps earlier: after round k,
    position t holds the composition of the last ``2^k`` maps.  This is how linear
    recurrent layers (S4, Mamba, linear RNNs) are trained in parallel over time.

    Parameters
    ----------
    a : ndarray, shape (N, T, H)
        Element-wise decay/gate at every step.
    b : ndarray, shape (N, T, H)
        Input at every step.
    h0 : ndarray, shape (N, H)
        State before the first step.

    Returns
    -------
    h : ndarray, shape (N, T, H)
        ``h[:, t]`` is the state after step t (``h0`` is not included).
    """
    for name, arr in (("a", a), ("b", b), ("h0", h0)):
        check_array(name, arr)
    check_shapes(a=(a, "N T H"), b=(b, "N T H"), h0=(h0, "N H"))
    A, B = a.copy(), b.copy()  # position t holds the map (A_t, B_t): h_{start-1} -> h_t
    T, shift = a.shape[1], 1
    while shift < T:
        # compose with the map ending `shift` steps earlier (identity (1, 0) before the start)
        B[:, shift:] = B[:, shift:] + A[:, shift:] * B[:, :-shift]
        A[:, shift:] = A[:, shift:] * A[:, :-shift]
        shift *= 2
    return A * h0[:, None, :] + B


def beam_search(
    step_fn: Callable[[list[int]], np.ndarray],
    start_token: int,
    end_token: int,
    beam_width: int,
    max_len: int,
) -> list[tuple[list[int], float]]:
    """Keep the ``beam_width`` most likely sequences while decoding ``max_len`` steps.

    A hypothesis is ``(tokens, score)`` with ``tokens`` starting at ``start_token`` and
    ``score`` the sum of the log-probabilities of the tokens after it.  At every step,
    each unfinished hypothesis is extended by every token ``v`` with score
    ``score + step_fn(tokens)[v]``; a finished one (its last token is ``end_token``)
    is carried over unchanged.  Of all these candidates the ``beam_width`` best
    survive (sorting is stable, so ties keep the order of generation).  Decoding stops
    after ``max_len`` steps or when every surviving hypothesis is finished.

    Parameters
    ----------
    step_fn : callable
        ``step_fn(tokens) -> log_probs`` of shape (V,): the model's next-token
        log-probabilities given the sequence so far.
    start_token, end_token : int
    beam_width : int
        Number of hypotheses kept (1 gives greedy decoding).
    max_len : int
        Largest number of tokens generated after ``start_token``.

    Returns
    -------
    list of (list of int, float)
        The surviving hypotheses, best (highest score) first.
    """
    if beam_width < 1 or max_len < 1:
        raise ValueError(
            f"beam_width and max_len must be >= 1, got {beam_width} and {max_len}"
        )
    beams: list[tuple[list[int], float]] = [([start_token], 0.0)]
    for _ in range(max_len):
        candidates = []
        for tokens, score in beams:
            if tokens[-1] == end_token:  # finished: competes with its current score
                candidates.append((tokens, score))
                continue
            log_probs = np.asarray(step_fn(list(tokens)), dtype=float)
            for v, lp in enumerate(log_probs):
                candidates.append((tokens + [v], score + float(lp)))
        beams = sorted(candidates, key=lambda c: -c[1])[:beam_width]
        if all(tokens[-1] == end_token for tokens, _ in beams):
            break
    return beams


def bag_of_words(idx: np.ndarray, lengths: np.ndarray, V: int) -> np.ndarray:
    """Count how often every vocabulary token occurs in each (padded) sequence.

    The order-free baseline for sentiment: a linear classifier on these counts
    cannot tell "not good, bad" from "not bad, good".

    Parameters
    ----------
    idx : ndarray of int, shape (N, T)
        Token ids, padded after each sequence's real tokens.
    lengths : ndarray of int, shape (N,)
        Real lengths; positions ``t >= lengths[n]`` are padding and are not counted.
    V : int
        Vocabulary size.

    Returns
    -------
    counts : ndarray of float64, shape (N, V)
        ``counts[n, v]`` = number of real positions of sequence n holding token v.
    """
    check_int_array("idx", idx, low=0, high=V)
    check_int_array("lengths", lengths, low=0, high=idx.shape[1] + 1)
    check_shapes(idx=(idx, "N T"), lengths=(lengths, "N"))
    real = np.arange(idx.shape[1])[None, :] < lengths[:, None]  # (N, T) mask of real tokens
    counts = np.zeros((idx.shape[0], V))
    rows = np.broadcast_to(np.arange(idx.shape[0])[:, None], idx.shape)
    np.add.at(counts, (rows[real], idx[real]), 1.0)  # unbuffered: repeated tokens accumulate
    return counts
