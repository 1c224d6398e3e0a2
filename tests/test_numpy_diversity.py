"""distinct-n and the repetition rate, on hand-checked examples and their limits."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.numpy.diversity import distinct_n, ngrams, repetition_rate


def test_ngrams_of_words_and_characters() -> None:
    assert ngrams(["a", "b", "c"], 2) == [("a", "b"), ("b", "c")]
    assert ngrams("abc", 1) == [("a",), ("b",), ("c",)]
    assert ngrams("ab", 3) == []


def test_distinct_n_by_hand() -> None:
    words = "the cat saw the cat".split()
    assert distinct_n(words, 1) == 3 / 5  # the, cat, saw
    assert distinct_n(words, 2) == 3 / 4  # (the cat) twice, (cat saw), (saw the)
    assert distinct_n("aaaa", 1) == 1 / 4  # a loop scores low
    assert distinct_n("abcd", 2) == 1.0


def test_distinct_n_pools_a_corpus_without_crossing_sequences() -> None:
    assert distinct_n([["a", "b"], ["a", "b"]], 2, corpus=True) == 1 / 2
    assert distinct_n([["a", "b"], ["c"]], 2, corpus=True) == 1.0  # no ("b", "c") across sequences


def test_repetition_rate_by_hand() -> None:
    assert repetition_rate("abab", 1) == 0.0  # never the same as the token just before
    assert repetition_rate("abab", 2) == 2 / 3  # tokens 2 and 3 repeat within two steps
    assert repetition_rate(["I", "will", "not", "I", "will", "not"], 3) == 3 / 5
    assert repetition_rate("aaaa", 1) == 1.0


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from("abc"), min_size=2, max_size=30), st.integers(1, 4), st.integers(1, 10))
def test_property_bounds_and_monotone_window(tokens, n, window) -> None:
    if len(tokens) >= n:
        assert 0.0 < distinct_n(tokens, n) <= 1.0
    r = repetition_rate(tokens, window)
    assert 0.0 <= r <= 1.0
    assert repetition_rate(tokens, window + 1) >= r  # a longer look-back finds at least as many repeats


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="no 3-gram to count: every sequence has fewer than n=3 tokens"):
        distinct_n(["a", "b"], 3)
    with pytest.raises(ValueError, match="n must be >= 1, got 0"):
        distinct_n("abc", 0)
    with pytest.raises(TypeError, match="tokens must be a str or a list/tuple of tokens, got int"):
        distinct_n(5, 1)
    with pytest.raises(TypeError, match="with corpus=True, tokens must be a list of sequences, got str"):
        distinct_n("abc", 1, corpus=True)
    with pytest.raises(TypeError, match="window must be an int, got float"):
        repetition_rate("abc", 2.0)
    with pytest.raises(ValueError, match="tokens needs at least 2 tokens, got 1"):
        repetition_rate("a", 3)
