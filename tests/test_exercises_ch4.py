"""Checkers of chapter 4: masked sequence cross-entropy, perplexity, bits per character."""

from __future__ import annotations

import math

import numpy as np
import pytest

from companion.exercises import check_bits_per_char, check_perplexity, check_temporal_softmax_cross_entropy
from companion.numpy.losses import bits_per_char, perplexity_from_logits, temporal_softmax_cross_entropy

@pytest.fixture(autouse=True)
def _private_progress(tmp_path, monkeypatch):
    """Passes are recorded under a temporary cache, never in the developer's own."""
    monkeypatch.setenv("COMPANION_CACHE", str(tmp_path))


def own(fn):
    """The reference wrapped in a function defined here, as a learner's solution that calls it would be."""
    return lambda *args, **kwargs: fn(*args, **kwargs)


def test_references_pass() -> None:
    assert check_temporal_softmax_cross_entropy(own(temporal_softmax_cross_entropy)).passed
    assert check_perplexity(own(perplexity_from_logits)).passed
    assert check_bits_per_char(own(bits_per_char)).passed


def _loss(mode):
    def f(logits, y, mask):
        N, T, V = logits.shape
        if mask is None:  # the exercise: None means every token counts
            mask = np.ones((N, T), dtype=bool)
        z = logits if mode == "naive" else logits - logits.max(axis=-1, keepdims=True)
        p = np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)
        nll = -np.log(np.take_along_axis(p, y[..., None], axis=-1)[..., 0])
        m = np.ones((N, T)) if mode == "no_mask" else mask.astype(float)
        if mode == "sum":
            w = m
        elif mode == "per_batch":
            w = m / N
        elif mode == "per_sequence":
            w = m / (N * m.sum(axis=1, keepdims=True))
        else:
            w = m / m.sum()
        d = p.copy()
        np.put_along_axis(d, y[..., None], np.take_along_axis(d, y[..., None], axis=-1) - 1, axis=-1)
        dw = mask.astype(float) if mode == "grad_not_divided" else w
        return float((w * nll).sum()), d * dw[..., None]

    return f


def test_own_loss_passes() -> None:
    assert check_temporal_softmax_cross_entropy(_loss("ok")).passed


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("sum", "you summed the losses"),
        ("per_batch", "you divided by the batch size N"),
        ("no_mask", "you forgot the mask"),
        ("per_sequence", "you averaged per sequence and then over sequences"),
        ("naive", "loss is nan (not a finite number)"),
        ("naive", "subtract each row's maximum logit before np.exp"),
        ("grad_not_divided", "dlogits is not divided by the number of real tokens"),
    ],
)
def test_loss_mistakes(mode, expected) -> None:
    fb = check_temporal_softmax_cross_entropy(_loss(mode))
    assert not fb.passed
    assert expected in fb.text


def test_loss_returning_an_array_loss() -> None:
    fb = check_temporal_softmax_cross_entropy(lambda lg, y, m: (np.zeros(3), np.zeros_like(lg)))
    assert "loss should be a single number (float), but it is a numpy array of shape (3,)" in fb.text


def _ppl(mode):
    def f(logits, y, mask):
        if mode == "per_sequence":
            rows = [perplexity_from_logits(logits[n : n + 1], y[n : n + 1], mask[n : n + 1]) for n in range(len(y))]
            return float(np.mean(rows))
        if mode == "no_mask":
            return perplexity_from_logits(logits, y, None)
        loss, _ = temporal_softmax_cross_entropy(logits, y, mask)
        return {"base2": 2.0**loss, "no_exp": loss, "ok": math.exp(loss)}[mode]

    return f


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("per_sequence", "you averaged the perplexities of the sequences"),
        ("no_mask", "you forgot the mask"),
        ("base2", "you used 2 ** mean_nll"),
        ("no_exp", "you returned the mean NLL itself"),
    ],
)
def test_perplexity_mistakes(mode, expected) -> None:
    assert check_perplexity(_ppl("ok")).passed
    fb = check_perplexity(_ppl(mode))
    assert not fb.passed
    assert expected in fb.text


@pytest.mark.parametrize(
    ("fn", "expected"),
    [
        (lambda n: n * math.log(2), "you multiplied by ln 2"),
        (lambda n: np.log2(n), "you took log2 of the NLL"),
        (lambda n: n / math.log(10), "you divided by ln 10"),
        (lambda n: math.exp(n), "the perplexity"),
        (lambda n: n, "you returned the NLL unchanged (nats)"),
        (
            lambda n: np.array([n / math.log(2)]),
            "should be a single number (float), but it is a numpy array of shape (1,)",
        ),
    ],
)
def test_bits_per_char_mistakes(fn, expected) -> None:
    assert check_bits_per_char(lambda n: n / math.log(2)).passed
    fb = check_bits_per_char(fn)
    assert not fb.passed
    assert expected in fb.text


def test_the_loss_checker_passes_mask_none_as_the_text_promises() -> None:
    def ignores_none(logits, y, mask):
        return _loss("ok")(logits, y, np.ones(y.shape, dtype=bool)) if mask is None else _loss("ok")(logits, y, mask)

    assert check_temporal_softmax_cross_entropy(ignores_none).passed

    def mask_required(logits, y, mask):
        m = mask.astype(float)  # AttributeError on None
        return _loss("ok")(logits, y, m > 0)

    fb = check_temporal_softmax_cross_entropy(mask_required)
    assert "It raised AttributeError on case 5 of 5 (N=2, T=3, V=5, mask=None (every token counts))" in fb.text
    assert "this case passes mask=None, which means every token counts" in fb.text


# -- what every checker of the chapter promises: stubs, the course's own code, the remaining mistakes --

CHECKS = {
    "temporal_softmax_cross_entropy": (check_temporal_softmax_cross_entropy, temporal_softmax_cross_entropy),
    "perplexity_from_logits": (check_perplexity, perplexity_from_logits),
    "bits_per_char": (check_bits_per_char, bits_per_char),
}


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_stub_is_not_implemented_and_reference_is_refused(name) -> None:
    check, reference = CHECKS[name]

    def stub(*args):
        raise NotImplementedError("replace this line with your solution")

    fb = check(stub)
    assert not fb.passed and fb.status == "not_implemented"
    assert "not implemented yet" in fb.text
    fb = check(reference)  # imported under the stub's name, as the notebook used to do
    assert not fb.passed and fb.status == "refused"
    assert "this is the reference implementation, not yours" in fb.text


def test_mask_none_read_as_no_token_counts_is_rejected() -> None:
    """A solution that turns None into an all-False mask divides by zero on the mask=None case."""

    def none_is_empty(logits, y, mask):
        if mask is None:
            mask = np.zeros(y.shape, dtype=bool)
        with np.errstate(all="ignore"):
            return _loss("ok")(logits, y, mask)

    fb = check_temporal_softmax_cross_entropy(none_is_empty)
    assert not fb.passed
    assert "case 5 of 5 (N=2, T=3, V=5, mask=None (every token counts))" in fb.text


def _ppl_more(mode):
    def f(logits, y, mask):
        z = logits if mode == "unstable" else logits - logits.max(axis=-1, keepdims=True)
        with np.errstate(all="ignore"):
            p = np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)
            nll = -np.log(np.take_along_axis(p, y[..., None], axis=-1)[..., 0])
        m = mask.astype(float)
        if mode == "sum":
            return math.exp(float((m * nll).sum()))
        if mode == "mean_of_exp":
            return float((m * np.exp(nll)).sum() / m.sum())
        return math.exp(float((m * nll).sum() / m.sum()))

    return f


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("sum", "you exponentiated the SUM of the NLLs"),
        ("mean_of_exp", "you averaged exp(nll) per token"),
        ("unstable", "subtract each row's maximum logit before np.exp"),
    ],
)
def test_more_perplexity_mistakes(mode, expected) -> None:
    assert check_perplexity(_ppl_more("ok")).passed
    fb = check_perplexity(_ppl_more(mode))
    assert not fb.passed
    assert expected in fb.text


def test_bits_per_char_two_to_the_nll() -> None:
    fb = check_bits_per_char(lambda n: 2.0**n)
    assert not fb.passed
    assert "you returned 2 ** mean_nll" in fb.text


def test_loss_gradient_not_masked_is_named() -> None:
    def grad_not_masked(logits, y, mask):
        loss, d = _loss("ok")(logits, y, mask)
        if mask is None:
            return loss, d
        N, T, V = logits.shape
        p = np.exp(logits - logits.max(axis=-1, keepdims=True))
        p /= p.sum(axis=-1, keepdims=True)
        np.put_along_axis(p, y[..., None], np.take_along_axis(p, y[..., None], axis=-1) - 1, axis=-1)
        return loss, p / mask.sum()

    fb = check_temporal_softmax_cross_entropy(grad_not_masked)
    assert not fb.passed
    assert "dlogits is not masked" in fb.text
