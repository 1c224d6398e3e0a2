"""Checkers of the appendix "Where the time goes": the hoisted LSTM forward and the GRU's FLOP count."""

from __future__ import annotations

import numpy as np
import pytest

from companion import bench
from companion.exercises.performance import (
    check_gru_matmul_flops,
    check_lstm_forward_hoisted,
    gru_matmul_flops,
    lstm_forward_hoisted,
)
from companion.numpy.activations import sigmoid
from companion.numpy.lstm import lstm_forward


@pytest.fixture(autouse=True)
def _private_progress(tmp_path, monkeypatch):
    """Passes are recorded under a temporary cache, never in the developer's own."""
    monkeypatch.setenv("COMPANION_CACHE", str(tmp_path))


def own(fn):
    """The reference wrapped in a function defined here, as a learner's solution that calls it would be."""
    return lambda *args, **kwargs: fn(*args, **kwargs)


def _lstm(x, h0, Wx, Wh, b, mode="ok"):
    """A learner's LSTM forward; ``mode`` plants one mistake."""
    N, T, D = x.shape
    H = h0.shape[1]
    xw = None if mode == "per_step" else (x.reshape(N * T, D) @ Wx + b).reshape(N, T, 4 * H)
    h, c, hs = h0, np.zeros_like(h0), []
    for t in range(T):
        inp = x[:, t] @ Wx + b if mode == "per_step" else xw[:, t]
        a = inp + h @ Wh
        i, f, g, o = (sigmoid(a[:, k * H : (k + 1) * H]) for k in range(4))
        g = np.tanh(a[:, 2 * H : 3 * H])
        c = i * g if mode == "no_memory" else f * c + i * g
        h = o * c if mode == "no_tanh_c" else o * np.tanh(c)
        hs.append(h)
    return np.stack(hs, axis=1)


def test_references_pass():
    assert check_lstm_forward_hoisted(own(lstm_forward_hoisted)).passed
    assert check_lstm_forward_hoisted(_lstm).passed
    assert check_lstm_forward_hoisted(lambda x, h0, Wx, Wh, b: lstm_forward(x, h0, Wx, Wh, b)[0]).passed
    assert check_gru_matmul_flops(own(gru_matmul_flops)).passed
    assert check_gru_matmul_flops(lambda N, T, D, H: 18 * N * T * H * (D + H)).passed


def test_reference_flops_agree_with_the_benchmark():
    for N, T, D, H in ((2, 3, 5, 7), (32, 50, 128, 128)):
        assert gru_matmul_flops(N, T, D, H) == bench.matmul_flops("gru", N, T, D, H)


def test_stubs_are_not_implemented_yet():
    def lstm_forward_hoisted(x, h0, Wx, Wh, b):
        raise NotImplementedError("replace this line with your solution")

    def gru_matmul_flops(N, T, D, H):
        raise NotImplementedError("replace this line with your solution")

    assert "not implemented yet" in check_lstm_forward_hoisted(lstm_forward_hoisted).text
    assert "not implemented yet" in check_gru_matmul_flops(gru_matmul_flops).text


def test_a_product_per_step_is_caught():
    fb = check_lstm_forward_hoisted(lambda *args: _lstm(*args, mode="per_step"))
    assert not fb.passed
    assert "multiplied x (or slices of it) by a matrix 5 times for T = 5 steps" in fb.text
    assert "ONE product before the loop" in fb.text


def test_products_on_copies_and_with_np_dot_are_counted_too():
    def via_dot(x, h0, Wx, Wh, b):
        for t in range(x.shape[1]):
            np.dot(x.copy()[:, t], Wx)
        return _lstm(x, h0, Wx, Wh, b)

    fb = check_lstm_forward_hoisted(via_dot)
    assert not fb.passed and "by a matrix 6 times for T = 5 steps" in fb.text  # 5 per step + 1 hoisted


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("no_memory", "the cell forgets its past"),
        ("no_tanh_c", "the tanh of the cell is missing"),
    ],
)
def test_lstm_mistakes(mode, expected):
    fb = check_lstm_forward_hoisted(lambda *args: _lstm(*args, mode=mode))
    assert not fb.passed and expected in fb.text


def test_lstm_bias_and_layout_mistakes():
    no_bias = check_lstm_forward_hoisted(lambda x, h0, Wx, Wh, b: _lstm(x, h0, Wx, Wh, np.zeros_like(b)))
    assert "the bias b is missing" in no_bias.text

    def time_major(x, h0, Wx, Wh, b):
        N, T, D = x.shape
        return lstm_forward_hoisted(x.reshape(N * T, D).reshape(T, N, D).transpose(1, 0, 2), h0, Wx, Wh, b)

    assert "reshape the product back to (N, T, 4H)" in check_lstm_forward_hoisted(time_major).text

    def ifog(x, h0, Wx, Wh, b):
        H = h0.shape[1]
        swap = np.r_[0 : 2 * H, 3 * H : 4 * H, 2 * H : 3 * H]
        return lstm_forward_hoisted(x, h0, Wx[:, swap], Wh[:, swap], b[swap])

    assert "the gate blocks are [i, f, g, o]" in check_lstm_forward_hoisted(ifog).text


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
