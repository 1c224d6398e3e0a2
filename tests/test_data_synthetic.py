"""Synthetic tasks: correct targets, valid grammar strings, bounded deterministic chaos, order-dependent labels."""

from __future__ import annotations

import datetime

import numpy as np
import pytest

from companion.data.synthetic import (
    REBER_SYMBOLS,
    adding_problem,
    adding_problem_batches,
    bag_of_words_ceiling,
    copy_memory,
    date_pairs,
    embedded_reber,
    human_numbers,
    is_valid_reber,
    mackey_glass,
    negation_corpus,
    number_phrase_pairs,
    number_to_words,
    random_walk_prices,
    reber_next_symbols,
    reber_string,
    words_to_number,
)


def test_adding_problem_targets_and_markers(rng):
    x, y = adding_problem(64, 30, rng)
    assert x.shape == (64, 30, 2) and y.shape == (64,)
    markers = x[:, :, 1]
    assert np.all(markers.sum(axis=1) == 2)
    assert np.all(markers[:, :15].sum(axis=1) == 1) and np.all(markers[:, 15:].sum(axis=1) == 1)
    np.testing.assert_allclose(y, (x[:, :, 0] * markers).sum(axis=1), rtol=0, atol=1e-12)
    assert np.all((x[:, :, 0] >= 0) & (x[:, :, 0] < 1))
    x2, y2 = adding_problem(64, 30, np.random.default_rng(1234))
    np.testing.assert_array_equal(y, y2)


def test_adding_problem_constant_baseline_is_one_sixth():
    _, y = adding_problem(20000, 10, 0)
    assert abs(np.mean((y - 1.0) ** 2) - 1 / 6) < 0.01


def test_copy_memory_layout(rng):
    x, y = copy_memory(5, 20, rng, n_symbols=8, copy_len=10)
    assert x.shape == y.shape == (5, 40)
    assert np.all((x[:, :10] >= 1) & (x[:, :10] <= 8))
    assert np.all(x[:, 10:29] == 0) and np.all(x[:, 29] == 9) and np.all(x[:, 30:] == 0)
    assert np.all(y[:, :30] == 0)
    np.testing.assert_array_equal(y[:, 30:], x[:, :10])


def test_reber_known_strings():
    for s in ["BTSSXXTVVE", "BPVVE", "BTXSE", "BPTVPSE", "BTSXXVPSE"]:
        assert is_valid_reber(s), s
    for s in ["", "BTSSXXTVV", "BTSSXXTVVEE", "BTPSE", "TSXSE"]:
        assert not is_valid_reber(s), s
    assert is_valid_reber("BTBPVVETE", embedded=True)
    assert not is_valid_reber("BTBPVVEPE", embedded=True)  # second symbol must match the last-but-one


def test_generated_reber_strings_are_valid(rng):
    for _ in range(200):
        s = reber_string(rng)
        assert is_valid_reber(s) and set(s) <= set(REBER_SYMBOLS)
    strings = embedded_reber(200, rng)
    assert all(is_valid_reber(s, embedded=True) for s in strings)
    assert all(s[1] == s[-2] for s in strings)
    assert {s[1] for s in strings} == {"T", "P"}
    assert embedded_reber(5, 7) == embedded_reber(5, 7)


def test_reber_next_symbol_sets():
    sets = reber_next_symbols("BTSSXXTVVE")
    assert sets[0] == {"T", "P"} and sets[1] == {"S", "X"} and sets[-1] == frozenset()
    s = "BTBPVVETE"
    emb = reber_next_symbols(s, embedded=True)
    assert len(emb) == len(s)
    assert emb[0] == {"T", "P"} and emb[6] == {"T"}  # after the inner E only the remembered T is allowed
    assert all(ch in allowed for ch, allowed in zip(s[1:], emb))
    with pytest.raises(ValueError, match="position 2"):
        reber_next_symbols("BTQ")


def test_mackey_glass_bounded_and_deterministic():
    a = mackey_glass(1500)
    b = mackey_glass(1500)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (1500,) and np.all(np.isfinite(a))
    assert 0.2 < a.min() and a.max() < 1.45
    assert a.std() > 0.15  # chaotic oscillation, not a fixed point


def test_mackey_glass_integration_is_fourth_order():
    ref = mackey_glass(60, dt=0.01, discard=0.0)
    err = [np.max(np.abs(mackey_glass(60, dt=dt, discard=0.0) - ref)) for dt in (0.2, 0.1)]
    assert err[1] < 1e-8
    assert err[0] / err[1] > 10  # halving dt divides the error by ~16 = 2^4 (RK4 + Hermite delay)
    with pytest.raises(ValueError, match="whole number"):
        mackey_glass(10, dt=0.3)


def test_mackey_glass_short_tau_settles():
    x = mackey_glass(200, tau=2.0, discard=300.0)
    assert np.ptp(x[-50:]) < 1e-3  # below the bifurcation the solution converges to the fixed point 1


def test_number_words():
    assert number_to_words(0) == "zero"
    assert number_to_words(312) == "three hundred twelve"
    assert number_to_words(9999) == "nine thousand nine hundred ninety nine"
    assert number_to_words(1_000_005) == "one million five"
    assert number_to_words(40) == "forty"
    for n in list(range(0, 10000, 7)) + [10**6, 123_456_789_012]:
        assert words_to_number(number_to_words(n)) == n
    with pytest.raises(ValueError):
        number_to_words(-1)
    with pytest.raises(ValueError, match="unknown number word"):
        words_to_number("one hundred and two")


def test_human_numbers_text():
    text = human_numbers()
    assert text.startswith("one . two . three . ")
    assert text.endswith("nine thousand nine hundred ninety eight . nine thousand nine hundred ninety nine")
    assert text.count(" . ") == 9998
    assert len(set(text.split())) == 30  # 29 number words + "."
    assert human_numbers(1, 4, sep=" ") == "one two three"


def test_random_walk_prices(rng):
    p = random_walk_prices(250, rng, start=50.0, volatility=0.02)
    assert p.shape == (250,) and p[0] == 50.0 and np.all(p > 0)
    many = random_walk_prices(100, 0, n_series=3)
    assert many.shape == (3, 100)
    np.testing.assert_array_equal(many, random_walk_prices(100, 0, n_series=3))
    r = np.diff(np.log(random_walk_prices(20000, 1, volatility=0.01)))
    assert abs(np.corrcoef(r[:-1], r[1:])[0, 1]) < 0.03  # returns carry no linear memory


def test_negation_corpus_defeats_bag_of_words(rng):
    corpus = negation_corpus(2000, rng)
    bags: dict[tuple, set] = {}
    for sentence, label in corpus:
        bags.setdefault(tuple(sorted(sentence.split())), set()).add(label)
    conflicting = [bag for bag, labels in bags.items() if labels == {0, 1}]
    assert len(conflicting) >= 10  # the same bag of words occurs with both labels
    assert bag_of_words_ceiling(corpus) < 0.96
    # 3 of the 5 constructions are solvable from the bag, the other 2 are coin flips: as the sample
    # grows (fewer bags seen once) the ceiling falls towards 0.6 + 0.4 / 2 = 0.8.
    assert 0.8 < bag_of_words_ceiling(negation_corpus(20000, 5)) < 0.9
    swapped = {}
    for sentence, label in corpus:
        words = sentence.split()
        if "but" in words and "only" not in words:
            i = words.index("but")
            first = i - 1
            swapped[" ".join(words[:first] + [words[-1], "but", words[first]])] = 1 - label
    labels_by_sentence = dict(corpus)
    hits = [s for s in swapped if s in labels_by_sentence]
    assert len(hits) >= 10 and all(labels_by_sentence[s] == swapped[s] for s in hits)  # swap flips the label
    assert bag_of_words_ceiling([("good but boring", 0), ("boring but good", 1)]) == 0.5
    labels = np.array([label for _, label in corpus])
    assert abs(labels.mean() - 0.5) < 0.05


def test_negation_corpus_labels_follow_the_rules():
    pos = {"good", "great", "excellent", "brilliant", "charming", "fun", "moving", "clever"}
    for sentence, label, kind in negation_corpus(500, 3, with_kind=True):
        words = sentence.split()
        assert words[:3] == ["the", words[1], "was"]
        if kind == "plain":
            expected = int(words[3] in pos)
        elif kind == "negated":
            assert words[3] == "not"
            expected = 1 - int(words[4] in pos)
        else:  # contrast, not_but, not_only: the adjective after "but" decides
            assert "but" in words
            expected = int(words[-1] in pos)
        assert label == expected, sentence
    assert {k for _, _, k in negation_corpus(200, 0, with_kind=True)} == {
        "plain", "negated", "contrast", "not_but", "not_only"}


def test_number_phrase_pairs(rng):
    pairs = number_phrase_pairs(300, rng, max_value=999)
    for words, digits in pairs:
        assert words_to_number(words) == int(digits) and 0 <= int(digits) <= 999
    assert number_phrase_pairs(5, 0) == number_phrase_pairs(5, 0)


def _parses_as(src: str, fmt: str, date: datetime.date) -> bool:
    try:
        return datetime.datetime.strptime(src, fmt).date() == date
    except ValueError:
        return False


def test_date_pairs_are_valid_iso_dates(rng):
    pairs = date_pairs(500, rng, formats=("month_day_year", "day_month_year", "abbrev", "slashes"))
    formats = {"%B %d %Y", "%d %B %Y", "%b %d, %Y", "%m/%d/%Y"}
    used = set()
    for src, iso in pairs:
        d = datetime.date.fromisoformat(iso)
        assert 1950 <= d.year <= 2049
        matches = [f for f in formats if _parses_as(src, f, d)]
        assert len(matches) == 1, (src, iso)  # the source reads back as exactly this date
        used.update(matches)
    assert used == formats
    feb29 = [iso for _, iso in date_pairs(20000, 0, start_year=2000, end_year=2003) if iso.endswith("02-29")]
    assert feb29 and all(iso.startswith("2000") for iso in feb29)  # leap days only in leap years
    with pytest.raises(ValueError, match="formats"):
        date_pairs(3, 0, formats=("roman",))


def test_adding_problem_batches_fresh_per_call_and_reproducible():
    make = adding_problem_batches(3, 4, 10, rng=5)
    first, second = make(), make()
    assert len(first) == 3
    for x, y in first:
        assert x.shape == (4, 10, 2) and y.shape == (4, 1) and x.dtype == np.float32 and y.dtype == np.float32
        np.testing.assert_allclose(y[:, 0], (x[..., 0] * x[..., 1]).sum(axis=1), rtol=1e-6)
    assert not np.array_equal(first[0][0], second[0][0])  # a new epoch draws new sequences
    # the same seed gives the same stream, batch by batch, as calling adding_problem directly
    gen = np.random.default_rng(5)
    for x, y in first + second:
        x_ref, y_ref = adding_problem(4, 10, gen)
        np.testing.assert_array_equal(x, x_ref.astype(np.float32))
        np.testing.assert_array_equal(y[:, 0], y_ref.astype(np.float32))
    x64, _ = adding_problem_batches(1, 2, 4, rng=0, dtype=np.float64)()[0]
    assert x64.dtype == np.float64


def test_adding_problem_batches_rejects_bad_arguments():
    with pytest.raises(ValueError, match="steps"):
        adding_problem_batches(0, 4, 10, rng=0)
    with pytest.raises(ValueError, match="T"):
        adding_problem_batches(2, 4, 1, rng=0)
    with pytest.raises(TypeError, match="dtype"):
        adding_problem_batches(2, 4, 10, rng=0, dtype=np.int64)
