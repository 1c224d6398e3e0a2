"""Checkers of chapter 6: sampling, last hidden state, classifier, windows, seasonal naive, beams, bags."""

from __future__ import annotations

import numpy as np
import pytest

from companion.data.timeseries import seasonal_naive_forecast, sliding_windows
from companion.exercises import (
    check_bag_of_words,
    check_beam_search,
    check_classifier_forward,
    check_last_hidden,
    check_sample_next,
    check_seasonal_naive,
    check_sliding_windows,
    check_softmax_with_temperature,
)
from companion.exercises.solutions import bag_of_words, beam_search
from companion.numpy.classifier import classifier_forward, last_hidden
from companion.numpy.rnn import rnn_forward
from companion.numpy.sampling import sample_next, softmax_with_temperature

@pytest.fixture(autouse=True)
def _private_progress(tmp_path, monkeypatch):
    """Passes are recorded under a temporary cache, never in the developer's own."""
    monkeypatch.setenv("COMPANION_CACHE", str(tmp_path))


def own(fn):
    """The reference wrapped in a function defined here, as a learner's solution that calls it would be."""
    return lambda *args, **kwargs: fn(*args, **kwargs)


def test_references_pass() -> None:
    assert check_softmax_with_temperature(own(softmax_with_temperature)).passed
    assert check_sample_next(own(sample_next)).passed
    assert check_last_hidden(own(last_hidden)).passed
    assert check_classifier_forward(own(classifier_forward)).passed
    assert check_sliding_windows(own(sliding_windows)).passed
    assert check_seasonal_naive(own(seasonal_naive_forecast)).passed
    assert check_beam_search(own(beam_search)).passed
    assert check_bag_of_words(own(bag_of_words)).passed


def _softmax(z, axis=-1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize(
    ("fn", "expected"),
    [
        (lambda z, T: _softmax(z * T), "you multiplied by the temperature; divide"),
        (lambda z, T: np.exp(z / T) / np.exp(z / T).sum(axis=-1, keepdims=True), "exp overflowed"),
        (lambda z, T: _softmax(z / T, axis=0), "you normalised along axis 0"),
        (lambda z, T: _softmax(z) ** (1 / T), "must be renormalised to sum to 1"),
        (lambda z, T: _softmax(z), "the temperature is missing"),
    ],
)
def test_softmax_with_temperature_mistakes(fn, expected) -> None:
    fb = check_softmax_with_temperature(fn)
    assert not fb.passed
    assert expected in fb.text


def _sampler(mode):
    def f(logits, temperature=1.0, top_k=None, rng=None):
        z = np.atleast_2d(logits).astype(float)
        if top_k is not None and mode != "ignore_top_k":
            kth = np.sort(z, axis=-1)[:, -top_k][:, None]
            z = np.where(z >= kth, z, -np.inf)
        p = _softmax(z * temperature if mode == "multiply" else z / temperature)
        if mode == "greedy":
            out = p.argmax(axis=-1)
        elif mode == "choice":
            out = np.array([rng.choice(p.shape[1], p=row) for row in p])
        else:
            u = rng.random(p.shape[0])
            out = np.array([np.searchsorted(np.cumsum(row), ui, side="right") for row, ui in zip(p, u)])
        return int(out[0]) if np.ndim(logits) == 1 else out

    return f


def test_own_samplers_pass() -> None:
    assert check_sample_next(_sampler("ok")).passed
    assert check_sample_next(_sampler("choice")).passed  # Generator.choice is the same inverse CDF


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("multiply", "you multiplied by the temperature"),
        ("ignore_top_k", "top_k was ignored"),
        ("greedy", "you took the argmax (greedy decoding)"),
    ],
)
def test_sample_next_mistakes(mode, expected) -> None:
    fb = check_sample_next(_sampler(mode))
    assert not fb.passed
    assert expected in fb.text


def test_sample_next_returns_array_for_1d_logits() -> None:
    def always_array(logits, temperature=1.0, top_k=None, rng=None):
        out = _sampler("ok")(np.atleast_2d(logits), temperature, top_k, rng)
        return out

    fb = check_sample_next(always_array)
    assert "sampled token (1-D logits give one int) should be an int, but it is a numpy array of shape (1,)" in fb.text


@pytest.mark.parametrize(
    ("fn", "expected"),
    [
        (lambda h, L: h[:, -1], "you took h[:, -1], the state after the PADDING"),
        (lambda h, L: h[:, L - 1], "got (4, 4, 3)"),
        (lambda h, L: h[:, L - 1], "pair the indices: h[np.arange(N), lengths - 1]"),
        (lambda h, L: h[np.arange(len(L)), L], "lengths[n] counts the real steps"),
        (lambda h, L: h[np.arange(len(L)), L - 2], "you took step lengths[n] - 2"),
    ],
)
def test_last_hidden_mistakes(fn, expected) -> None:
    fb = check_last_hidden(fn)
    assert not fb.passed
    assert expected in fb.text


def _classifier(mode):
    def f(x, lengths, params):
        inputs = params["W_embed"][x]
        h0 = np.zeros((x.shape[0], params["Wh"].shape[0]))
        h, _ = rnn_forward(inputs, h0, params["Wx"], params["Wh"], params["b"])
        summary = h[:, -1] if mode == "padded" else h[np.arange(len(lengths)), lengths - 1]
        logits = summary @ params["W_out"] + (0.0 if mode == "no_b_out" else params["b_out"])
        return _softmax(logits) if mode == "probs" else logits

    return f


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("padded", "you classified from h[:, -1]"),
        ("no_b_out", "the output bias b_out is missing"),
        ("probs", "you returned probabilities"),
    ],
)
def test_classifier_mistakes(mode, expected) -> None:
    assert check_classifier_forward(_classifier("ok")).passed
    fb = check_classifier_forward(_classifier(mode))
    assert not fb.passed
    assert expected in fb.text


def _windows(mode):
    def f(series, W, H):
        x = series.reshape(len(series), -1)
        n = len(x) - W - H + 1 - (1 if mode == "drop_last" else 0)
        shift_x = 1 if mode == "input_reaches_target" else 0
        shift_y = -1 if mode == "leak" else 0
        X = np.stack([x[i + shift_x : i + shift_x + W] for i in range(n)])
        Y = np.stack([x[i + W + shift_y : i + W + shift_y + H] for i in range(n)])
        if mode == "squeeze" and series.ndim == 1:
            return X[..., 0], Y[..., 0]
        return X, Y

    return f


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("leak", "your target starts at the LAST input step"),
        ("leak", "Wrong values in Y."),
        ("input_reaches_target", "your input window ends ON the target step"),
        ("drop_last", "you stopped one window early"),
        ("squeeze", "keep a feature axis"),
    ],
)
def test_sliding_windows_mistakes(mode, expected) -> None:
    assert check_sliding_windows(_windows("ok")).passed
    fb = check_sliding_windows(_windows(mode))
    assert not fb.passed
    assert expected in fb.text


def _seasonal(mode):
    def f(X, m, H):
        W = X.shape[1]
        h = np.arange(H)
        idx = {
            "ok": W - m + h % m,
            "naive": np.full(H, W - 1),
            "late": W - m + 1 + h % m,
            "first": h % m,
            "no_wrap": W - m + h,
        }[mode]
        return X[:, idx]

    return f


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("naive", "you repeated the last value (the naive forecast)"),
        ("late", "off by one: step h = 1 repeats index W - season"),
        ("first", "you repeated the FIRST season of the window"),
        ("no_wrap", "for horizon > season the index must wrap"),
    ],
)
def test_seasonal_naive_mistakes(mode, expected) -> None:
    assert check_seasonal_naive(_seasonal("ok")).passed
    fb = check_seasonal_naive(_seasonal(mode))
    assert not fb.passed
    assert expected in fb.text


def _beam(mode):
    def f(step_fn, start, end, k, max_len):
        beams = [([start], 0.0)]
        for _ in range(max_len):
            cand = []
            for toks, score in beams:
                if toks[-1] == end and mode != "extend_finished":
                    cand.append((toks, score))
                    continue
                lp = step_fn(toks)
                base = 0.0 if mode == "no_accumulate" else score
                cand += [(toks + [v], base + float(lp[v])) for v in range(len(lp))]
            beams = sorted(cand, key=lambda c: -c[1])[: 1 if mode == "greedy" else k]
            if mode != "extend_finished" and all(t[-1] == end for t, _ in beams):
                break
        return beams[::-1] if mode == "ascending" else beams

    return f


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("greedy", "you kept only one hypothesis per step"),
        ("greedy", "It returned 1 hypothesis; expected 2 (beam_width=2)."),
        ("no_accumulate", "must ADD the new token's log-probability to its parent's score"),
        ("extend_finished", "must be carried over unchanged, not extended"),
        ("ascending", "sort the hypotheses best first"),
    ],
)
def test_beam_search_mistakes(mode, expected) -> None:
    assert check_beam_search(_beam("ok")).passed
    fb = check_beam_search(_beam(mode))
    assert not fb.passed
    assert expected in fb.text


def _bow(mode):
    def f(idx, lengths, V):
        out = np.zeros((idx.shape[0], V))
        for n in range(idx.shape[0]):
            stop = idx.shape[1] if mode == "padding" else lengths[n]
            if mode == "presence":
                out[n, idx[n, :stop]] += 1
            else:
                out[n] = np.bincount(idx[n, :stop], minlength=V)
            if mode == "frequency":
                out[n] /= lengths[n]
        return out

    return f


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("presence", "repeated tokens were counted once"),
        ("padding", "you counted the padding"),
        ("frequency", "you divided by the length (frequencies)"),
    ],
)
def test_bag_of_words_mistakes(mode, expected) -> None:
    assert check_bag_of_words(_bow("ok")).passed
    fb = check_bag_of_words(_bow(mode))
    assert not fb.passed
    assert expected in fb.text


# -- bag of words: lengths, not id 0, tell real tokens from padding ---------------------------------


def test_bag_of_words_that_ignores_lengths_is_rejected() -> None:
    def skips_zero(idx, lengths, V):
        return np.stack([np.bincount(row[row != 0], minlength=V) for row in idx]).astype(float)

    fb = check_bag_of_words(skips_zero)
    assert not fb.passed
    assert "a real token 0" in fb.text
    assert "you skipped id 0 instead of using lengths" in fb.text


def test_bag_of_words_has_padding_that_is_not_zero() -> None:
    def lengths_but_drops_zero(idx, lengths, V):
        out = np.zeros((len(idx), V))
        for n, row in enumerate(idx):
            real = row[: lengths[n]]
            out[n] = np.bincount(real[real != 0], minlength=V)
        return out

    assert "you dropped token 0 from the real tokens" in check_bag_of_words(lengths_but_drops_zero).text
    labels = check_bag_of_words(_bow("ok")).text
    assert "padding holds non-zero ids" in labels


# -- beam search: shapes of the answer explained --------------------------------------------------


def test_beam_search_returning_one_pair() -> None:
    def best_only(step_fn, start, end, k, max_len):
        return _beam("ok")(step_fn, start, end, k, max_len)[0]

    fb = check_beam_search(best_only)
    assert "It returned a single (tokens, score) pair; return the LIST of surviving hypotheses, best first" in fb.text
    assert "should be a list of ints, but it is an int" not in fb.text


@pytest.mark.parametrize(
    ("fn", "expected"),
    [
        (
            lambda s, a, e, k, m: _beam("ok")(s, a, e, k + 1, m),
            "Keep only the beam_width best candidates after every step",
        ),
        (
            lambda s, a, e, k, m: [(t[1:], sc) for t, sc in _beam("ok")(s, a, e, k, m)],
            "Every hypothesis starts with start_token (1)",
        ),
        (lambda s, a, e, k, m: _beam("extend_finished")(s, a, e, k, m), "It continues after end_token (0)"),
        (lambda s, a, e, k, m: "beams", "It should return a list of (tokens, score) pairs, but it returned a str."),
    ],
)
def test_beam_search_messages_explain(fn, expected) -> None:
    fb = check_beam_search(fn)
    assert not fb.passed
    assert expected in fb.text


def test_beam_search_length_messages_say_why() -> None:
    fb = check_beam_search(_beam("greedy"))
    assert "It returned 1 hypothesis; expected 2 (beam_width=2)." in fb.text
    assert "finished hypotheses included (they compete with their score)" in fb.text
    assert "Hypothesis 0 (the best) has 1 token" not in fb.text


# -- sampling: which draw went wrong --------------------------------------------------------------


def _sampler2(mode):
    def f(logits, temperature=1.0, top_k=None, rng=None):
        z = np.atleast_2d(logits).astype(float)
        if top_k is not None:
            kth = np.sort(z, axis=-1)[:, -top_k][:, None]
            z = np.where(z >= kth, z, -np.inf)
        p = _softmax(z / temperature)
        N = p.shape[0]
        if mode == "own_rng":
            u = np.random.default_rng().random(N)
        elif mode == "fixed_rng":
            u = np.random.default_rng(0).random(N)
        elif mode == "per_token":
            u = rng.random(p.shape)[:, 0]
        elif mode == "one_u":
            u = np.full(N, rng.random())
        elif mode == "reversed":
            u = rng.random(N)
            p = p[:, ::-1]
        else:
            u = rng.random(N)
        out = np.array([min(np.searchsorted(np.cumsum(row), ui, side="right"), len(row) - 1) for row, ui in zip(p, u)])
        return int(out[0]) if np.ndim(logits) == 1 else out

    return f


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("own_rng", "Two calls with generators in the same state gave different tokens"),
        ("fixed_rng", "It never drew a number from rng"),
        ("per_token", "It drew 120 uniform numbers from rng (one per token?); the reference draws exactly one per row"),
        ("one_u", "you drew ONE uniform for all rows"),
        ("reversed", "For row 0 the generator gives u = 0.8350, and the reference's cumulative probabilities"),
    ],
)
def test_sample_next_diagnosis(mode, expected) -> None:
    fb = check_sample_next(_sampler2(mode))
    assert not fb.passed
    assert "Wrong sampled tokens: " in fb.text and " rows differ; the first is row " in fb.text
    assert "Largest error" not in fb.text
    assert expected in fb.text


def test_sample_next_single_token_message() -> None:
    def off_by_one_for_1d(logits, temperature=1.0, top_k=None, rng=None):
        out = _sampler("ok")(logits, temperature, top_k, rng)
        return (out + 1) % logits.shape[-1] if np.ndim(logits) == 1 else out

    fb = check_sample_next(off_by_one_for_1d)
    assert "Wrong sampled token: expected token" in fb.text


# -- last_hidden: "without a Python loop" is checked ---------------------------------------------


def _loop_over_batch(h, lengths):
    out = []
    for n in range(len(lengths)):
        out.append(h[n, lengths[n] - 1])
    return np.array(out)


@pytest.mark.parametrize(
    "fn",
    [
        _loop_over_batch,
        lambda h, L: np.stack([h[n, L[n] - 1] for n in range(len(L))]),
        lambda h, L: np.array(list(map(lambda n: h[n, L[n] - 1], range(len(L))))),
    ],
    ids=["for", "comprehension", "map"],
)
def test_last_hidden_with_a_python_loop_is_rejected(fn) -> None:
    fb = check_last_hidden(fn)
    assert not fb.passed
    assert "Its values are right, but it loops over the batch in Python: with N=260 your code executed" in fb.text
    assert "more Python lines than with N=4" in fb.text


def test_last_hidden_vectorised_forms_pass() -> None:
    assert check_last_hidden(lambda h, L: h[np.arange(len(L)), L - 1]).passed
    assert check_last_hidden(lambda h, L: np.take_along_axis(h, (L - 1)[:, None, None], axis=1)[:, 0]).passed


# -- nucleus (top-p) filtering --------------------------------------------------------------------

from companion.exercises.ch6 import check_top_p_filter  # noqa: E402  (registered in CHECKERS by the lead)
from companion.numpy.sampling import top_p_filter  # noqa: E402


def _nucleus(mode):
    """A learner's top_p_filter built the usual way (argsort, cumsum), with one realistic mistake."""

    def f(logits, p):
        if mode == "no_softmax":
            probs = logits
        elif mode == "exp_unnormalised":
            probs = np.exp(logits)
        elif mode == "global":
            probs = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
        else:
            probs = _softmax(logits)
        if mode == "percentage":
            p = p / 100
        order = np.argsort(probs if mode == "ascending" else -probs, axis=-1)
        p_sorted = np.take_along_axis(probs, order, axis=-1)
        cum = np.cumsum(p_sorted, axis=-1)
        keep_sorted = cum <= p if mode == "exclude_crossing" else cum - p_sorted < p
        if mode not in ("ok", "in_place", "probs"):  # sorted, no care for ties
            keep = np.zeros_like(keep_sorted)
            np.put_along_axis(keep, order, keep_sorted, axis=-1)
        else:  # tie-safe: keep i iff the tokens strictly more likely than i hold less than p
            keep = (probs[..., None, :] * (probs[..., None, :] > probs[..., :, None])).sum(-1) < p
        if mode == "in_place":
            logits[~keep] = -np.inf
            return logits
        if mode == "probs":
            kept = np.where(keep, probs, 0.0)
            return kept / kept.sum(axis=-1, keepdims=True)
        return np.where(keep, logits, -np.inf)

    return f


def test_top_p_filter_reference_and_a_tie_safe_solution_pass() -> None:
    assert check_top_p_filter(own(top_p_filter)).passed
    assert check_top_p_filter(_nucleus("ok")).passed


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("ascending", "you sorted from the LEAST likely token up"),
        ("exclude_crossing", "you dropped the token that crosses p"),
        ("percentage", "p is a probability (0.9 means 90 %), not a percentage"),
        ("no_softmax", "the nucleus is defined on probabilities: take the softmax"),
        ("exp_unnormalised", "exp(logits) must be normalised to probabilities that sum to 1 in each row"),
        ("global", "each row (last axis) is its own distribution"),
        ("probs", "you returned renormalised probabilities; return the LOGITS with -inf"),
        ("ties", "is tied with a kept token (the same logit) and was dropped: a tie at the crossing is kept whole"),
        ("in_place", "It modified its input `logits` in place on case 1 of 8"),
    ],
)
def test_top_p_filter_mistakes(mode, expected) -> None:
    fb = check_top_p_filter(_nucleus(mode))
    assert not fb.passed
    assert expected in fb.text


def test_top_p_filter_messages_name_the_token() -> None:
    fb = check_top_p_filter(_nucleus("exclude_crossing"))
    assert "Wrong set of kept tokens: in the logits, token 0 should be kept (its logit unchanged), but it is -inf" in (
        fb.text
    )
    shifted = check_top_p_filter(lambda z, p: top_p_filter(z, p) - 1.0)
    assert "The right tokens are kept, but their logits changed" in shifted.text


def test_top_p_filter_stub_and_hang() -> None:
    def stub(logits, p):
        raise NotImplementedError("replace this line with your solution")

    assert "not implemented yet" in check_top_p_filter(stub).text

    def hangs(logits, p):
        while True:
            pass

    fb = check_top_p_filter(hangs, time_limit=0.3)
    assert not fb.passed and "time limit" in fb.text.lower()
