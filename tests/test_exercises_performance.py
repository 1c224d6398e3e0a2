"""Checkers of the appendix "Where the time goes": the hoisted GRU forward and the GRU's FLOP count."""

from __future__ import annotations

import numpy as np
import pytest

from companion import bench
from companion.exercises.performance import (
    check_gru_forward_hoisted,
    check_gru_matmul_flops,
    gru_forward_hoisted,
    gru_matmul_flops,
)
from companion.numpy.activations import sigmoid
from companion.numpy.gru import gru_forward


@pytest.fixture(autouse=True)
def _private_progress(tmp_path, monkeypatch):
    """Passes are recorded under a temporary cache, never in the developer's own."""
    monkeypatch.setenv("COMPANION_CACHE", str(tmp_path))


def own(fn):
    """The reference wrapped in a function defined here, as a learner's solution that calls it would be."""
    return lambda *args, **kwargs: fn(*args, **kwargs)


def _gru(x, h0, Wx, Wh, bx, bh, mode="ok"):
    """A learner's GRU forward; ``mode`` plants one mistake."""
    N, T, D = x.shape
    H = h0.shape[1]
    xw = None if mode == "per_step" else (x.reshape(N * T, D) @ Wx + bx).reshape(N, T, 3 * H)
    h, hs = h0, []
    for t in range(T):
        a = x[:, t] @ Wx + bx if mode == "per_step" else xw[:, t]
        hw = h @ Wh + bh
        r, z = sigmoid(a[:, :H] + hw[:, :H]), sigmoid(a[:, H : 2 * H] + hw[:, H : 2 * H])
        if mode == "cho":
            n = np.tanh(a[:, 2 * H :] + (r * h) @ Wh[:, 2 * H :] + bh[2 * H :])
        elif mode == "bias_outside":
            n = np.tanh(a[:, 2 * H :] + r * (h @ Wh[:, 2 * H :]) + bh[2 * H :])
        else:
            n = np.tanh(a[:, 2 * H :] + r * hw[:, 2 * H :])
        h = z * n + (1 - z) * h if mode == "z_swapped" else (1 - z) * n + z * h
        hs.append(h)
    return np.stack(hs, axis=1)


def test_references_pass():
    assert check_gru_forward_hoisted(own(gru_forward_hoisted)).passed
    assert check_gru_forward_hoisted(_gru).passed
    assert check_gru_forward_hoisted(lambda *args: gru_forward(*args)[0]).passed
    assert check_gru_matmul_flops(own(gru_matmul_flops)).passed
    assert check_gru_matmul_flops(lambda N, T, D, H: 18 * N * T * H * (D + H)).passed


def test_reference_flops_agree_with_the_benchmark():
    for N, T, D, H in ((2, 3, 5, 7), (32, 50, 128, 128)):
        assert gru_matmul_flops(N, T, D, H) == bench.matmul_flops("gru", N, T, D, H)


def test_stubs_are_not_implemented_yet():
    def gru_forward_hoisted(x, h0, Wx, Wh, bx, bh):
        raise NotImplementedError("replace this line with your solution")

    def gru_matmul_flops(N, T, D, H):
        raise NotImplementedError("replace this line with your solution")

    assert "not implemented yet" in check_gru_forward_hoisted(gru_forward_hoisted).text
    assert "not implemented yet" in check_gru_matmul_flops(gru_matmul_flops).text


def test_a_product_per_step_is_caught():
    fb = check_gru_forward_hoisted(lambda *args: _gru(*args, mode="per_step"))
    assert not fb.passed
    assert "multiplied x (or slices of it) by a matrix 5 times for T = 5 steps" in fb.text
    assert "ONE product before the loop" in fb.text


def test_products_on_copies_and_with_np_dot_are_counted_too():
    def via_dot(x, *params):
        for t in range(x.shape[1]):
            np.dot(x.copy()[:, t], params[1])
        return _gru(x, *params)

    fb = check_gru_forward_hoisted(via_dot)
    assert not fb.passed and "by a matrix 6 times for T = 5 steps" in fb.text  # 5 per step + 1 hoisted


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("cho", "that is Cho et al.'s variant"),
        ("bias_outside", "INCLUDING its bias"),
        ("z_swapped", "z keeps the past"),
    ],
)
def test_gru_mistakes(mode, expected):
    fb = check_gru_forward_hoisted(lambda *args: _gru(*args, mode=mode))
    assert not fb.passed and expected in fb.text, fb.text


def test_gru_bias_and_layout_mistakes():
    no_bx = check_gru_forward_hoisted(lambda x, h0, Wx, Wh, bx, bh: _gru(x, h0, Wx, Wh, 0 * bx, bh))
    assert "the input-side bias bx is missing" in no_bx.text
    no_bh = check_gru_forward_hoisted(lambda x, h0, Wx, Wh, bx, bh: _gru(x, h0, Wx, Wh, bx, 0 * bh))
    assert "the hidden-side bias bh is missing" in no_bh.text

    def time_major(x, *params):
        N, T, D = x.shape
        return gru_forward_hoisted(x.reshape(N * T, D).reshape(T, N, D).transpose(1, 0, 2), *params)

    assert "reshape the product back to (N, T, 3H)" in check_gru_forward_hoisted(time_major).text


@pytest.mark.parametrize(
    ("fn", "expected"),
    [
        (lambda N, T, D, H: 6 * N * T * H * (D + H), "that is the forward pass only"),
        (lambda N, T, D, H: 9 * N * T * H * (D + H), "costs 2 m k n FLOPs"),
        (lambda N, T, D, H: 24 * N * T * H * (D + H), "3 gate blocks"),
        (lambda N, T, D, H: 18 * N * T * H * D, "recurrent products h_{t-1} Wh (one per step) are missing"),
        (lambda N, T, D, H: 18 * N * T * H * H, "input projection x_t Wx is missing"),
        (lambda N, T, D, H: 18.0 * N * T * H * (D + H), "should be an int"),
    ],
)
def test_flop_mistakes(fn, expected):
    fb = check_gru_matmul_flops(fn)
    assert not fb.passed and expected in fb.text, fb.text
