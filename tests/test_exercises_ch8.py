"""Checkers of chapter 8: masked softmax, additive attention, attention backward, scaled dot product."""

from __future__ import annotations

import math

import numpy as np
import pytest

from companion.exercises.ch8 import (
    check_additive_attention,
    check_attention_backward,
    check_masked_softmax,
    check_scaled_dot_product_attention,
)
from companion.numpy import attention as att


@pytest.fixture(autouse=True)
def _private_progress(tmp_path, monkeypatch):
    """Passes are recorded under a temporary cache, never in the developer's own."""
    monkeypatch.setenv("COMPANION_CACHE", str(tmp_path))


def own(fn):
    """The reference wrapped in a function defined here, as a learner's solution that calls it would be."""
    return lambda *args, **kwargs: fn(*args, **kwargs)


def _softmax(z, axis=-1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _additive_ref(q, k, mask, Wq, Wk, v):
    c, w, _ = att.additive_attention_forward(q, k, mask, Wq, Wk, v)
    return c, w


def _sdpa_ref(Q, K, V, mask):
    out, w, _ = att.scaled_dot_product_attention_forward(Q, K, V, mask)
    return out, w


def test_references_pass() -> None:
    assert check_masked_softmax(own(att.masked_softmax)).passed
    assert check_additive_attention(own(_additive_ref)).passed
    assert check_attention_backward(own(att.attention_backward)).passed
    assert check_scaled_dot_product_attention(own(_sdpa_ref)).passed


def test_written_solutions_pass() -> None:
    """Solutions a learner would write, with -1e9 instead of -inf and with a loop."""

    def masked_softmax(scores, mask):
        e = np.where(mask, scores, -1e9)
        e = np.exp(e - e.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    def scaled_dot_product_attention(Q, K, V, mask):
        w = masked_softmax(Q @ K.swapaxes(-1, -2) / math.sqrt(Q.shape[-1]), mask)
        return w @ V, w

    def additive_attention(query, keys, mask, Wq, Wk, v):
        N, S, _ = keys.shape
        e = np.empty((N, S))
        for s in range(S):
            e[:, s] = np.tanh(query @ Wq + keys[:, s] @ Wk) @ v
        w = masked_softmax(e, mask)
        return (w[..., None] * keys).sum(axis=1), w

    assert check_masked_softmax(masked_softmax).passed
    assert check_scaled_dot_product_attention(scaled_dot_product_attention).passed
    assert check_additive_attention(additive_attention).passed


def test_stubs_are_not_implemented() -> None:
    def stub(*args):
        raise NotImplementedError("replace this line with your solution")

    for check in (check_masked_softmax, check_additive_attention, check_attention_backward,
                  check_scaled_dot_product_attention):
        verdict = check(stub)
        assert not verdict.passed and "not implemented yet" in verdict.text


def _ms(kind):
    def fn(scores, mask):
        m = np.broadcast_to(mask, scores.shape)
        if kind == "no_mask":
            return _softmax(scores)
        if kind == "after":
            return _softmax(scores) * m
        if kind == "zero_fill":
            return _softmax(np.where(m, scores, 0.0))
        if kind == "wrong_axis":
            return _softmax(np.where(m, scores, -np.inf), axis=0)
        if kind == "unstable":
            e = np.exp(np.where(m, scores, -np.inf))
            return e / e.sum(axis=-1, keepdims=True)
        if kind == "inverted":
            return _softmax(np.where(~m, scores, -1e9))
        raise ValueError(kind)

    return fn


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("no_mask", "the mask is ignored"),
        ("after", "AFTER the softmax"),
        ("zero_fill", "not 0"),
        ("wrong_axis", "axis 0"),
        ("unstable", "exp overflowed"),
        ("inverted", "masked the real positions"),
    ],
)
def test_masked_softmax_mistakes(kind, expected) -> None:
    with np.errstate(all="ignore"):
        verdict = check_masked_softmax(_ms(kind))
    assert not verdict.passed
    assert expected in verdict.text, verdict.text


def _add(kind):
    def fn(query, keys, mask, Wq, Wk, v):
        pre = (query @ Wq)[:, None, :] + keys @ Wk
        e = (pre if kind == "no_tanh" else np.tanh(pre)) @ v
        if kind == "no_mask":
            w = _softmax(e)
        elif kind == "after":
            w = _softmax(e) * mask
        elif kind == "wrong_axis":
            w = _softmax(np.where(mask, e, -np.inf), axis=0)
        else:
            w = _softmax(np.where(mask, e, -np.inf))
        c = (w[..., None] * keys).sum(1)
        if kind == "mean_keys":
            c = (keys * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
        return c, w

    return fn


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("no_mask", "the mask is ignored"),
        ("after", "AFTER the softmax"),
        ("wrong_axis", "axis 0"),
        ("no_tanh", "the tanh is missing"),
        ("mean_keys", "plain mean of the keys"),
    ],
)
def test_additive_attention_mistakes(kind, expected) -> None:
    verdict = check_additive_attention(_add(kind))
    assert not verdict.passed
    assert expected in verdict.text, verdict.text


def _bwd(kind):
    def fn(dcontext, weights, values):
        dw = np.einsum("nd,nsd->ns", dcontext, values)
        dv = weights[..., None] * dcontext[:, None, :]
        if kind == "no_softmax":
            return dw, dv
        if kind == "diag_only":
            return weights * dw, dv
        if kind == "inner_axis0":
            return weights * (dw - (weights * dw).sum(axis=0, keepdims=True)), dv
        if kind == "dv_unweighted":
            ds = weights * (dw - (weights * dw).sum(axis=1, keepdims=True))
            return ds, np.repeat(dcontext[:, None, :], values.shape[1], axis=1)
        raise ValueError(kind)

    return fn


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("no_softmax", "the softmax's own backward step is missing"),
        ("diag_only", "only the diagonal of the softmax Jacobian"),
        ("inner_axis0", "not over the batch"),
        ("dv_unweighted", "each value is scaled by its weight"),
    ],
)
def test_attention_backward_mistakes(kind, expected) -> None:
    verdict = check_attention_backward(_bwd(kind))
    assert not verdict.passed
    assert expected in verdict.text, verdict.text


def _sdpa(kind):
    def fn(Q, K, V, mask):
        d = Q.shape[-1]
        scale = {"no_scale": 1.0, "by_d": d}.get(kind, math.sqrt(d))
        e = Q @ K.swapaxes(-1, -2) / scale
        m = np.broadcast_to(mask, e.shape)
        if kind == "no_mask":
            w = _softmax(e)
        elif kind == "after":
            w = _softmax(e) * m
        elif kind == "query_axis":
            w = _softmax(np.where(m, e, -1e9), axis=-2)
        else:
            w = _softmax(np.where(m, e, -np.inf))
        return w @ V, w

    return fn


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("no_scale", "not scaled"),
        ("by_d", "you divided by d"),
        ("no_mask", "the padded keys got weight"),
        ("after", "AFTER the softmax"),
        ("query_axis", "over the keys"),
    ],
)
def test_sdpa_mistakes(kind, expected) -> None:
    verdict = check_scaled_dot_product_attention(_sdpa(kind))
    assert not verdict.passed
    assert expected in verdict.text, verdict.text


def test_the_reference_itself_is_refused() -> None:
    verdict = check_masked_softmax(att.masked_softmax)
    assert not verdict.passed and "reference" in verdict.text
