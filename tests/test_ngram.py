"""Tests for companion.numpy.ngram (the count-based baselines of chapter 4)."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from companion.numpy.ngram import ngram_log_probs, ngram_nll


def test_unigram_is_smoothed_relative_frequency():
    train = np.array([0, 0, 1, 2, 0])
    logp = ngram_log_probs(train, vocab_size=4, order=1, add_k=1.0)
    assert logp.shape == (1, 4)
    np.testing.assert_allclose(np.exp(logp[0]), np.array([4, 2, 2, 1]) / 9)


def test_bigram_matches_brute_force_counts(rng):
    V = 5
    train = rng.integers(0, V, size=300)
    evals = rng.integers(0, V, size=50)
    pairs = Counter(zip(train[:-1].tolist(), train[1:].tolist()))
    ctx = Counter(train[:-1].tolist())
    k = 0.5
    expected = [-math.log((pairs[(a, b)] + k) / (ctx[a] + k * V)) for a, b in zip(evals[:-1], evals[1:])]
    np.testing.assert_allclose(ngram_nll(train, evals, V, order=2, add_k=k), expected, rtol=1e-12)


def test_trigram_rows_are_distributions(rng):
    logp = ngram_log_probs(rng.integers(0, 3, size=100), vocab_size=3, order=3, add_k=0.1)
    assert logp.shape == (9, 3)
    np.testing.assert_allclose(np.exp(logp).sum(axis=1), 1.0)


def test_first_target_aligns_orders_and_more_context_helps_on_repetitive_text():
    text = np.array([0, 1, 2] * 200)
    uni = ngram_nll(text, text, 3, order=1, first_target=1)
    bi = ngram_nll(text, text, 3, order=2, first_target=1)
    assert uni.shape == bi.shape == (599,)
    assert bi.mean() < 0.1 < uni.mean()
    assert abs(uni.mean() - math.log(3)) < 1e-2  # balanced unigram counts: about uniform


def test_validation():
    with pytest.raises(ValueError, match="order"):
        ngram_log_probs(np.array([0, 1]), 2, order=0)
    with pytest.raises(ValueError):
        ngram_log_probs(np.array([0, 5]), 2, order=1)
    with pytest.raises(TypeError):
        ngram_log_probs(np.array([0.0, 1.0]), 2, order=1)
    with pytest.raises(ValueError, match="first_target"):
        ngram_nll(np.array([0, 1, 0]), np.array([0, 1]), 2, order=2, first_target=0)
