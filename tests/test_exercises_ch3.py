"""Checkers of chapter 3: step/sequence backward, truncated BPTT, gradient clipping."""

from __future__ import annotations

import numpy as np
import pytest

from companion.exercises import (
    check_clip_grad_norm,
    check_rnn_backward,
    check_rnn_step_backward,
    check_truncated_rnn_backward,
)
from companion.numpy.bptt import truncated_rnn_backward
from companion.numpy.optim import clip_grad_norm
from companion.numpy.rnn import rnn_backward, rnn_forward, rnn_step_backward, rnn_step_forward

@pytest.fixture(autouse=True)
def _private_progress(tmp_path, monkeypatch):
    """Passes are recorded under a temporary cache, never in the developer's own."""
    monkeypatch.setenv("COMPANION_CACHE", str(tmp_path))


def own(fn):
    """The reference wrapped in a function defined here, as a learner's solution that calls it would be."""
    return lambda *args, **kwargs: fn(*args, **kwargs)


def test_references_pass() -> None:
    assert check_rnn_step_backward(own(rnn_step_backward)).passed
    assert check_rnn_step_backward(own(rnn_step_backward), forward=own(rnn_step_forward)).passed
    assert check_rnn_backward(own(rnn_backward)).passed
    assert check_rnn_backward(own(rnn_backward), forward=own(rnn_forward)).passed
    assert check_truncated_rnn_backward(own(truncated_rnn_backward)).passed
    assert check_clip_grad_norm(own(clip_grad_norm)).passed


def _step_backward(mode):
    def f(dh_next, cache):
        x, h_prev, Wx, Wh, h_next, _ = cache
        deriv = {"ok": 1 - h_next**2, "none": 1.0, "h_prev": 1 - h_prev**2, "twice": 1 - np.tanh(h_next) ** 2}
        da = dh_next * deriv.get(mode, deriv["ok"])
        dWh = (h_next if mode == "h_t" else h_prev).T @ da
        return (
            da @ Wx.T,
            da @ (Wh if mode == "Wh_not_T" else Wh.T),
            x.T @ da,
            dWh.T if mode == "dWh_T" else dWh,
            da.mean(axis=0) if mode == "db_mean" else da.sum(axis=0),
        )

    return f


def test_own_step_backward_passes() -> None:
    assert check_rnn_step_backward(_step_backward("ok")).passed


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("none", "without the tanh derivative"),
        ("h_prev", "you used 1 - h_prev**2"),
        ("twice", "you applied tanh twice"),
        ("h_t", "Gradient mismatch in dWh."),
        ("h_t", "dWh used h_t instead of h_{t-1}"),
        ("dWh_T", "dWh is transposed"),
        ("Wh_not_T", "dh_prev used Wh instead of Wh.T"),
        ("db_mean", "db is averaged over the batch"),
    ],
)
def test_rnn_step_backward_mistakes(mode, expected) -> None:
    fb = check_rnn_step_backward(_step_backward(mode))
    assert not fb.passed
    assert expected in fb.text


def test_step_backward_with_a_broken_own_forward() -> None:
    def forward_without_bias(x, h_prev, Wx, Wh, b):
        return np.tanh(x @ Wx + h_prev @ Wh), None

    fb = check_rnn_step_backward(rnn_step_backward, forward=forward_without_bias)
    assert not fb.passed
    assert "Your rnn_step_forward does not pass its own check yet" in fb.text
    assert "  Hint: your output equals the reference without the bias b" in fb.text


def test_step_backward_locates_the_parameter() -> None:
    fb = check_rnn_step_backward(_step_backward("h_t"))
    assert "Largest error at index (" in fb.text and "(hidden unit" in fb.text


def _backward(mode):
    def f(dh, cache):
        x, h0, Wx, Wh, h, _ = cache
        before = np.concatenate([h0[:, None], h[:, :-1]], axis=1)
        dx = np.zeros_like(x)
        dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(Wh.shape[0])
        carry = np.zeros_like(h0)
        for t in reversed(range(x.shape[1])):
            g = dh[:, t] if mode == "no_carry" else dh[:, t] + carry
            if mode == "last_only":
                g = carry + (dh[:, t] if t == x.shape[1] - 1 else 0.0)
            da = g * (1.0 if mode == "no_deriv" else 1 - h[:, t] ** 2)
            dx[:, t] = da @ Wx.T
            if mode == "overwrite":
                dWx, dWh, db = x[:, t].T @ da, before[:, t].T @ da, da.sum(axis=0)
            else:
                dWx += x[:, t].T @ da
                dWh += (h[:, t] if mode == "h_t" else before[:, t]).T @ da
                db += da.sum(axis=0)
            carry = da @ Wh.T
        return dx, carry, dWx, dWh, db

    return f


def test_own_backward_passes() -> None:
    assert check_rnn_backward(_backward("ok")).passed


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("no_carry", "you ignored the gradient flowing back from step t+1"),
        ("last_only", "you used only dh[:, -1]"),
        ("no_deriv", "without the tanh derivative"),
        ("h_t", "dWh used h_t instead of h_{t-1}"),
        ("overwrite", "accumulate dWx, dWh, db with += over all steps"),
    ],
)
def test_rnn_backward_mistakes(mode, expected) -> None:
    fb = check_rnn_backward(_backward(mode))
    assert not fb.passed
    assert expected in fb.text


def _truncated(window_start):
    """A per-loss-term truncated BPTT whose window for the loss at t starts at window_start(t, k)."""

    def f(dh, cache, k):
        x, h0, Wx, Wh, h, _ = cache
        before = np.concatenate([h0[:, None], h[:, :-1]], axis=1)
        dx, dh0 = np.zeros_like(x), np.zeros_like(h0)
        dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(Wh.shape[0])
        for t in range(x.shape[1]):
            g, lo = dh[:, t], window_start(t, k)
            for s in range(t, lo - 1, -1):
                da = g * (1 - h[:, s] ** 2)
                dx[:, s] += da @ Wx.T
                dWx += x[:, s].T @ da
                dWh += before[:, s].T @ da
                db += da.sum(axis=0)
                g = da @ Wh.T
            if lo == 0:
                dh0 += g
        return dx, dh0, dWx, dWh, db

    return f


def test_own_truncated_passes() -> None:
    assert check_truncated_rnn_backward(_truncated(lambda t, k: max(0, t - k + 1))).passed


@pytest.mark.parametrize(
    ("fn", "expected"),
    [
        (lambda dh, cache, k: rnn_backward(dh, cache), "your gradients equal full BPTT: the truncation is ignored"),
        (_truncated(lambda t, k: max(0, t - k)), "each loss term went back truncation + 1 steps"),
        (_truncated(lambda t, k: max(0, t - k + 2)), "each loss term went back truncation - 1 steps"),
        (_truncated(lambda t, k: (t // k) * k), "you cut the sequence into chunks of `truncation` steps"),
    ],
)
def test_truncated_mistakes(fn, expected) -> None:
    fb = check_truncated_rnn_backward(fn)
    assert not fb.passed
    assert expected in fb.text


def _norm(grads):
    return float(np.sqrt(sum(float((g**2).sum()) for g in grads.values())))


@pytest.mark.parametrize(
    ("fn", "expected"),
    [
        (
            lambda grads, m: ({k: g * min(1, m / (np.linalg.norm(g) + 1e-6)) for k, g in grads.items()}, _norm(grads)),
            "you clipped each parameter separately",
        ),
        (
            lambda grads, m: ({k: g * m / _norm(grads) for k, g in grads.items()}, _norm(grads)),
            "you rescaled even though the norm",
        ),
        (
            lambda grads, m: (clip_grad_norm(grads, m)[0], min(_norm(grads), m)),
            "return the norm measured BEFORE clipping",
        ),
        (lambda grads, m: ({k: np.clip(g, -m, m) for k, g in grads.items()}, _norm(grads)), "that is clip_grad_value"),
        (
            lambda grads, m: clip_grad_norm(grads, m)[0],
            "It returned a dict; expected a tuple of 2 values (clipped, total_norm).",
        ),
        (lambda grads, m: ({"W": 0}, 1.0), "clipped must have the same keys as the input: missing keys"),
    ],
)
def test_clip_mistakes(fn, expected) -> None:
    fb = check_clip_grad_norm(fn)
    assert not fb.passed
    assert expected in fb.text


def test_clip_norm_without_square_root() -> None:
    def squared(grads, m):
        total = _norm(grads) ** 2
        return {k: g * min(1.0, m / (total + 1e-6)) for k, g in grads.items()}, total

    assert "you forgot the square root in the norm" in check_clip_grad_norm(squared).text


# -- forward= runs the learner's forward protected ---------------------------------------------


def _step_forward_ok(x, h_prev, Wx, Wh, b):
    h = np.tanh(x @ Wx + h_prev @ Wh + b)
    return h, (x, h_prev, Wx, Wh, h, "tanh")


def test_forward_returning_no_cache_is_explained() -> None:
    fb = check_rnn_step_backward(own(rnn_step_backward), forward=lambda x, h, Wx, Wh, b: (np.tanh(x @ Wx + h @ Wh + b), None))
    assert not fb.passed
    assert "Your rnn_step_forward (passed as forward=) returned cache=None on case 1 of 5" in fb.text
    assert "that is why unpacking it fails" in fb.text
    assert "e.g. (x, h_prev, Wx, Wh, h_next)" in fb.text
    fb = check_rnn_backward(own(rnn_backward), forward=lambda x, h0, Wx, Wh, b: (own(rnn_forward)(x, h0, Wx, Wh, b)[0], None))
    assert "Your rnn_forward (passed as forward=) returned cache=None on case 1 of 4" in fb.text


def test_forward_that_raises_is_reported_not_raised() -> None:
    def broken(x, h_prev, Wx, Wh, b):
        raise RuntimeError("my forward is broken")

    fb = check_rnn_step_backward(own(rnn_step_backward), forward=broken)
    assert "Your rnn_step_forward does not pass its own check yet" in fb.text
    assert "  It raised RuntimeError on case 1 of 5 (N=3, D=4, H=5): my forward is broken" in fb.text

    calls = []

    def breaks_later(*args):  # passes its own check (5 calls), then fails when the caches are built
        calls.append(1)
        if len(calls) > 5:
            raise RuntimeError("later")
        return _step_forward_ok(*args)

    fb = check_rnn_step_backward(own(rnn_step_backward), forward=breaks_later)
    assert "Your rnn_step_forward (passed as forward=) raised RuntimeError on case 1 of 5: later" in fb.text


def test_forward_that_hangs_is_stopped() -> None:
    def hangs(*args):
        while True:
            pass

    fb = check_rnn_backward(own(rnn_backward), forward=hangs, time_limit=0.1)
    assert "Your rnn_forward does not pass its own check yet" in fb.text
    assert "  rnn_forward: stopped, too slow." in fb.text


def test_reference_forward_is_refused() -> None:
    fb = check_rnn_step_backward(own(rnn_step_backward), forward=rnn_step_forward)
    assert not fb.passed
    assert "The forward= you passed is the course's reference rnn_step_forward" in fb.text
    assert "companion.numpy.rnn.rnn_step_forward" in fb.text


def test_own_forward_cache_is_used_and_mentioned_in_errors() -> None:
    assert check_rnn_step_backward(own(rnn_step_backward), forward=_step_forward_ok).passed

    def unpacks_five(dh_next, cache):
        x, h_prev, Wx, Wh, h_next = cache  # the learner's cache has six items
        return None

    fb = check_rnn_step_backward(unpacks_five, forward=_step_forward_ok)
    assert "It raised ValueError" in fb.text
    assert "Hint: The cache came from your own rnn_step_forward (forward=)" in fb.text


def test_one_dimensional_shapes_print_with_a_comma() -> None:
    def db_short(dh_next, cache):
        dx, dh_prev, dWx, dWh, db = rnn_step_backward(dh_next, cache)
        return dx, dh_prev, dWx, dWh, db[:-1]

    assert "db has the wrong shape: expected (H,) = (5,), got (4,)." in check_rnn_step_backward(db_short).text


# -- clip_grad_norm: a new dict of new arrays --------------------------------------------------


def _clip_returning(kind):
    def f(grads, m):
        norm = _norm(grads)
        scale = min(1.0, m / (norm + 1e-6))
        if norm <= m:
            if kind == "same_dict":
                return grads, norm
            if kind == "same_arrays":
                return dict(grads), norm
            if kind == "views":
                return {k: g[...] for k, g in grads.items()}, norm
        return {k: g * scale for k, g in grads.items()}, norm

    return f


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("same_dict", "It returned the input dict itself as clipped (here the norm is below max_norm"),
        ("same_arrays", "clipped['Wx'] is the input array grads['Wx'] (here the norm is below max_norm"),
        ("views", "clipped['Wx'] shares memory with (is a view of) grads['Wx']"),
    ],
)
def test_clip_must_return_new_arrays(kind, expected) -> None:
    fb = check_clip_grad_norm(_clip_returning(kind))
    assert not fb.passed
    assert "On case 2 of 4 (3 arrays, global norm below max_norm, max_norm=50.0):" in fb.text
    assert expected in fb.text


def test_clip_copies_pass() -> None:
    def copies_when_small(grads, m):
        norm = _norm(grads)
        if norm <= m:
            return {k: g.copy() for k, g in grads.items()}, norm
        return {k: g * (m / (norm + 1e-6)) for k, g in grads.items()}, norm

    assert check_clip_grad_norm(copies_when_small).passed
