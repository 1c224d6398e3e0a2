"""Temperature, top-k, top-p (nucleus) and reproducible inverse-CDF sampling."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _numpy_reference import max_abs, t64
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.numpy.sampling import sample_next, softmax_with_temperature, top_k_filter, top_p_filter


def test_softmax_with_temperature_matches_torch_and_is_stable(rng):
    logits = rng.standard_normal((4, 6)) * 3
    for temperature in (0.3, 1.0, 2.5):
        ref = torch.softmax(t64(logits) / temperature, dim=-1)
        assert max_abs(softmax_with_temperature(logits, temperature), ref) <= 1e-15
    huge = np.array([1e4, 1e4 - 1.0, -1e4])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        p = softmax_with_temperature(huge, 1.0)
    assert max_abs(p, torch.softmax(t64(huge), dim=-1)) <= 1e-15


def test_temperature_sharpens_and_flattens(rng):
    logits = np.array([2.0, 1.0, 0.0, -1.0])
    cold, warm, hot = (softmax_with_temperature(logits, t) for t in (0.1, 1.0, 100.0))
    assert cold[0] > 0.9999 and cold[0] > warm[0] > hot[0]
    assert max_abs(hot, np.full(4, 0.25)) < 0.01
    assert np.allclose(softmax_with_temperature(rng.standard_normal((3, 5, 7)), 0.7).sum(-1), 1.0, atol=1e-15)


def test_top_k_filter_keeps_the_k_largest_and_ties():
    logits = np.array([[0.5, 2.0, -1.0, 1.0], [3.0, 3.0, 0.0, 3.0]])
    out = top_k_filter(logits, 2)
    assert np.array_equal(np.isfinite(out), [[False, True, False, True], [True, True, False, True]])
    assert np.array_equal(out[np.isfinite(out)], logits[np.isfinite(out)])
    assert np.array_equal(top_k_filter(logits, 4), logits)
    p = softmax_with_temperature(top_k_filter(logits, 1), 1.0)  # -inf entries get probability exactly 0
    assert p[0].tolist() == [0.0, 1.0, 0.0, 0.0]


@settings(max_examples=25, deadline=None)
@given(
    N=st.integers(1, 5),
    V=st.integers(1, 8),
    temperature=st.floats(0.1, 5.0),
    use_top_k=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_property_sample_is_the_inverse_cdf_of_one_uniform_per_row(N, V, temperature, use_top_k, seed):
    logits = np.random.default_rng(seed).standard_normal((N, V)) * 2
    top_k = (seed % V) + 1 if use_top_k else None
    got = sample_next(logits, temperature, top_k, np.random.default_rng(seed))
    u = np.random.default_rng(seed).random(N)  # the very numbers sample_next consumed
    filtered = logits if top_k is None else top_k_filter(logits, top_k)
    p = softmax_with_temperature(filtered, temperature)
    cdf = np.cumsum(p, axis=-1)
    assert got.shape == (N,) and got.dtype == np.int64
    for n, i in enumerate(got):
        lower = cdf[n, i - 1] if i > 0 else 0.0
        assert lower <= u[n] * cdf[n, -1] < cdf[n, i] and p[n, i] > 0


def test_sample_next_is_reproducible_and_returns_int_for_a_single_row(rng):
    logits = rng.standard_normal(10)
    a = [sample_next(logits, 0.8, None, np.random.default_rng(7)) for _ in range(3)]
    assert len(set(a)) == 1 and isinstance(a[0], int)
    g1, g2 = np.random.default_rng(3), np.random.default_rng(3)
    seq1 = [sample_next(logits, 1.0, 5, g1) for _ in range(20)]
    seq2 = [sample_next(logits, 1.0, 5, g2) for _ in range(20)]
    assert seq1 == seq2


def test_sample_frequencies_follow_the_probabilities():
    logits = np.log(np.array([0.1, 0.2, 0.0001, 0.6999]))
    rows = np.tile(logits, (20000, 1))  # 20000 independent draws in one call
    counts = np.bincount(sample_next(rows, 1.0, None, np.random.default_rng(0)), minlength=4) / 20000
    assert max_abs(counts, [0.1, 0.2, 0.0001, 0.6999]) < 0.01
    counts_k2 = np.bincount(sample_next(rows, 1.0, 2, np.random.default_rng(1)), minlength=4) / 20000
    assert counts_k2[0] == 0.0 and counts_k2[2] == 0.0  # only the two most likely tokens survive top-2
    assert abs(counts_k2[3] - 0.6999 / 0.8999) < 0.01


def test_zero_probability_tokens_are_never_sampled():
    logits = np.array([-np.inf, 0.0, -np.inf, 0.0, -np.inf])
    draws = sample_next(np.tile(logits, (5000, 1)), 1.0, None, np.random.default_rng(0))
    assert set(np.unique(draws)) == {1, 3}


def test_greedy_decoding_and_generator_advance(rng):
    logits = rng.standard_normal((6, 9))
    assert np.array_equal(sample_next(logits, 0.0, None, np.random.default_rng(0)), logits.argmax(-1))
    assert np.array_equal(sample_next(logits, 1.0, 1, np.random.default_rng(0)), logits.argmax(-1))
    # one uniform per row is consumed at every temperature, so later draws line up
    g_greedy, g_sample = np.random.default_rng(5), np.random.default_rng(5)
    sample_next(logits, 0.0, None, g_greedy)
    sample_next(logits, 1.3, None, g_sample)
    assert g_greedy.random() == g_sample.random()


def test_sampling_bad_inputs(rng):
    logits = rng.standard_normal(5)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator, got NoneType"):
        sample_next(logits)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator, got int"):
        sample_next(logits, 1.0, None, 0)
    with pytest.raises(ValueError, match="temperature must be finite and >= 0, got -1"):
        sample_next(logits, -1, None, rng)
    with pytest.raises(ValueError, match="temperature must be finite and > 0, got 0"):
        softmax_with_temperature(logits, 0)
    with pytest.raises(ValueError, match=r"top_k must be in \[1, V=5\], got 6"):
        sample_next(logits, 1.0, 6, rng)
    with pytest.raises(TypeError, match="top_k must be an int or None, got float"):
        top_k_filter(logits, 2.0)
    with pytest.raises(ValueError, match="logits contain NaN or \\+inf"):
        sample_next(np.array([0.0, np.nan]), 1.0, None, rng)
    with pytest.raises(ValueError, match="every row of logits needs at least one finite entry"):
        softmax_with_temperature(np.array([[0.0, 1.0], [-np.inf, -np.inf]]))
    with pytest.raises(ValueError, match=r"logits must have shape \(V,\) or \(N, V\), got \(2, 2, 5\)"):
        sample_next(rng.standard_normal((2, 2, 5)), 1.0, None, rng)
    with pytest.raises(TypeError, match="logits must be a floating-point array"):
        sample_next(np.arange(5), 1.0, None, rng)


# -- top-p (nucleus) ------------------------------------------------------------------------------


def _nucleus_by_hand(logits: np.ndarray, p: float) -> np.ndarray:
    """Token i is kept iff the tokens strictly more likely than i hold less than p (one row, loops)."""
    probs = softmax_with_temperature(logits, 1.0)
    return np.array([probs[probs > probs[i]].sum() < p for i in range(len(probs))])


def test_top_p_keeps_the_token_that_crosses_p() -> None:
    logits = np.log(np.array([0.1, 0.5, 0.3, 0.1]))
    assert np.isfinite(top_p_filter(logits, 0.5)).tolist() == [False, True, False, False]  # 0.5 reaches 0.5
    assert np.isfinite(top_p_filter(logits, 0.6)).tolist() == [False, True, True, False]  # 0.3 crosses 0.6
    # 0.5 + 0.3 = 0.8 < 0.85: the tied 0.1s are both needed to pass it, and both kept
    assert np.isfinite(top_p_filter(logits, 0.85)).tolist() == [True, True, True, True]
    out = top_p_filter(logits, 0.6)
    assert np.array_equal(out[np.isfinite(out)], logits[[1, 2]])  # kept logits are unchanged


def test_top_p_limits_p_one_keeps_all_and_tiny_p_keeps_the_argmax(rng) -> None:
    logits = rng.standard_normal((5, 9)) * 4
    logits[0, 3] = -np.inf  # an already ruled-out token stays out
    full = top_p_filter(logits, 1.0)
    assert np.array_equal(full, logits) and full is not logits
    tiny = top_p_filter(logits, 1e-12)
    assert np.array_equal(np.isfinite(tiny), logits == logits.max(axis=-1, keepdims=True))
    tied = np.array([2.0, 2.0, -1.0])  # a tie at the top is kept whole: no dependence on vocabulary order
    assert np.isfinite(top_p_filter(tied, 1e-6)).tolist() == [True, True, False]


@settings(max_examples=40, deadline=None)
@given(V=st.integers(1, 9), p=st.floats(0.01, 1.0), seed=st.integers(0, 2**16), ties=st.booleans())
def test_property_top_p_matches_its_definition(V, p, seed, ties) -> None:
    logits = np.random.default_rng(seed).standard_normal(V) * 2
    if ties:
        logits = np.round(logits)  # many exact ties
    kept = np.isfinite(top_p_filter(logits, p))
    assert np.array_equal(kept, _nucleus_by_hand(logits, p))
    probs = softmax_with_temperature(logits, 1.0)
    assert probs[kept].sum() >= p - 1e-12  # the nucleus reaches p
    assert kept[np.argmax(logits)]


def test_top_p_does_not_modify_its_input_and_works_on_batches(rng) -> None:
    logits = rng.standard_normal((2, 3, 6))
    before = logits.copy()
    out = top_p_filter(logits, 0.7)
    assert np.array_equal(logits, before)
    for idx in np.ndindex(2, 3):
        assert np.array_equal(np.isfinite(out[idx]), _nucleus_by_hand(logits[idx], 0.7))


def test_sample_next_with_top_p_samples_the_renormalised_nucleus_of_the_tempered_distribution() -> None:
    logits = np.log(np.array([0.05, 0.5, 0.3, 0.15]))
    rows = np.tile(logits, (20000, 1))
    draws = sample_next(rows, 1.0, None, np.random.default_rng(0), top_p=0.7)
    freq = np.bincount(draws, minlength=4) / 20000
    assert freq[0] == 0.0 and freq[3] == 0.0
    assert abs(freq[1] - 0.5 / 0.8) < 0.01
    # the nucleus is taken AFTER the temperature: at T = 3 the distribution is flatter and 0.7 needs 3 tokens
    hot = sample_next(rows, 3.0, None, np.random.default_rng(1), top_p=0.7)
    assert set(np.unique(hot)) == {1, 2, 3}
    # with top_p=1 (or None) the draws are exactly those of plain sampling, one uniform per row
    assert np.array_equal(sample_next(rows[:50], 1.3, 3, np.random.default_rng(2), top_p=1.0),
                          sample_next(rows[:50], 1.3, 3, np.random.default_rng(2)))
    assert sample_next(logits, 0.0, None, np.random.default_rng(0), top_p=0.01) == 1  # greedy stays greedy


def test_top_p_bad_values() -> None:
    logits = np.zeros(4)
    with pytest.raises(ValueError, match=r"top_p must be in \(0, 1\], got 90 \(a probability, not a percentage: 0.9 for 90 %\)"):
        top_p_filter(logits, 90)
    with pytest.raises(ValueError, match=r"top_p must be in \(0, 1\], got 0"):
        sample_next(logits, 1.0, None, np.random.default_rng(0), top_p=0)
    with pytest.raises(ValueError, match=r"top_p must be in \(0, 1\], got nan"):
        top_p_filter(logits, float("nan"))
    with pytest.raises(ValueError, match=r"top_p must be in \(0, 1\], got -0.5"):
        top_p_filter(logits, -0.5)
    with pytest.raises(TypeError, match="top_p must be a number in \\(0, 1\\] or None, got bool"):
        top_p_filter(logits, True)
    with pytest.raises(TypeError, match="top_p must be a number in \\(0, 1\\] or None, got str"):
        sample_next(logits, 1.0, None, np.random.default_rng(0), top_p="0.9")
