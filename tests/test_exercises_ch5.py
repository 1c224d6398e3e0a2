"""Checkers of chapter 5: LSTM step forward/backward, GRU step forward (PyTorch form)."""

from __future__ import annotations

import numpy as np
import pytest

from companion.exercises import check_gru_step_forward, check_lstm_step_backward, check_lstm_step_forward
from companion.numpy.gru import gru_step_forward
from companion.numpy.lstm import lstm_step_backward, lstm_step_forward

@pytest.fixture(autouse=True)
def _private_progress(tmp_path, monkeypatch):
    """Passes are recorded under a temporary cache, never in the developer's own."""
    monkeypatch.setenv("COMPANION_CACHE", str(tmp_path))


def own(fn):
    """The reference wrapped in a function defined here, as a learner's solution that calls it would be."""
    return lambda *args, **kwargs: fn(*args, **kwargs)



def _sig(a):
    return 1.0 / (1.0 + np.exp(-a))


def test_lstm_references_pass() -> None:
    assert check_lstm_step_forward(own(lstm_step_forward)).passed
    assert check_lstm_step_backward(own(lstm_step_backward)).passed
    assert check_lstm_step_backward(own(lstm_step_backward), forward=own(lstm_step_forward)).passed


def _lstm_forward(mode):
    def f(x, h_prev, c_prev, Wx, Wh, b):
        H = h_prev.shape[1]
        a = x @ Wx + h_prev @ Wh + (0.0 if mode == "no_bias" else b)
        blocks = [a[:, k * H : (k + 1) * H] for k in range(4)]
        if mode == "ifog":
            i, f_, o, g = _sig(blocks[0]), _sig(blocks[1]), _sig(blocks[2]), np.tanh(blocks[3])
        else:
            i, f_, g, o = _sig(blocks[0]), _sig(blocks[1]), np.tanh(blocks[2]), _sig(blocks[3])
        if mode == "g_sigmoid":
            g = _sig(blocks[2])
        c = f_ * c_prev + (g if mode == "no_i" else i * g)
        h = o * c if mode == "no_tanh" else o * np.tanh(c)
        return h, c, None

    return f


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("ifog", "you read the gates in the order i, f, o, g"),
        ("no_tanh", "you forgot the tanh in h_next = o * tanh(c_next)"),
        ("no_i", "you forgot the input gate"),
        ("g_sigmoid", "the candidate g uses tanh"),
        ("no_bias", "did you forget `+ b`?"),
    ],
)
def test_lstm_forward_mistakes(mode, expected) -> None:
    assert check_lstm_step_forward(_lstm_forward("ok")).passed
    fb = check_lstm_step_forward(_lstm_forward(mode))
    assert not fb.passed
    assert expected in fb.text


def _lstm_backward(mode):
    def f(dh_next, dc_next, cache):
        x, h_prev, c_prev, Wx, Wh, i, f_, g, o, tanh_c = cache
        do = dh_next * tanh_c
        if mode == "no_dc_from_h":
            dc = dc_next
        elif mode == "no_tanh_derivative":
            dc = dc_next + dh_next * o
        else:
            dc = dc_next + dh_next * o * (1 - tanh_c**2)
        parts = {
            "i": dc * g * i * (1 - i),
            "f": dc * c_prev * f_ * (1 - f_),
            "g": dc * i * (1 - g**2),
            "o": do * o * (1 - o),
        }
        order = "ifog" if mode == "ifog" else "ifgo"
        da = np.concatenate([parts[k] for k in order], axis=1)
        dc_prev = dc if mode == "no_f" else dc * f_
        return da @ Wx.T, da @ Wh.T, dc_prev, x.T @ da, h_prev.T @ da, da.sum(axis=0)

    return f


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("no_dc_from_h", "the cell gradient misses the path through h"),
        ("no_tanh_derivative", "you forgot the tanh derivative on the way from h to c"),
        ("ifog", "you stacked the gate gradients as [i, f, o, g]"),
        ("no_f", "dc_prev = dc * f"),
    ],
)
def test_lstm_backward_mistakes(mode, expected) -> None:
    assert check_lstm_step_backward(_lstm_backward("ok")).passed
    fb = check_lstm_step_backward(_lstm_backward(mode))
    assert not fb.passed
    assert expected in fb.text


def test_lstm_backward_names_the_gate_block() -> None:
    def wrong_g_only_in_dWx(dh_next, dc_next, cache):
        out = list(lstm_step_backward(dh_next, dc_next, cache))
        H = dh_next.shape[1]
        out[3] = out[3].copy()
        out[3][:, 2 * H :] *= 2.0  # dWx wrong in the g and o blocks only
        return tuple(out)

    fb = check_lstm_step_backward(wrong_g_only_in_dWx)
    assert "Gradient mismatch in dWx (gate blocks [i, f, g, o] along the columns)." in fb.text
    assert "gate g (candidate) unit" in fb.text or "gate o (output) unit" in fb.text


def test_gru_reference_passes() -> None:
    assert check_gru_step_forward(own(gru_step_forward)).passed


def _gru(mode):
    def f(x, h, Wx, Wh, bx, bh):
        H = h.shape[1]
        ax, ah = x @ Wx + bx, h @ Wh + bh
        r = _sig(ax[:, :H] + ah[:, :H])
        z = _sig(ax[:, H : 2 * H] + ah[:, H : 2 * H])
        if mode == "cho":
            n = np.tanh(ax[:, 2 * H :] + (r * h) @ Wh[:, 2 * H :] + bh[2 * H :])
        elif mode == "bias_outside":
            n = np.tanh(ax[:, 2 * H :] + r * (h @ Wh[:, 2 * H :]) + bh[2 * H :])
        else:
            n = np.tanh(ax[:, 2 * H :] + r * ah[:, 2 * H :])
        if mode == "z_swapped":
            return z * n + (1 - z) * h, None
        return (1 - z) * n + z * h, None

    return f


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("cho", "you applied r before the product, (r * h_prev) @ Wh_n"),
        ("bias_outside", "bh_n must sit inside the reset gate's product"),
        ("z_swapped", "z and 1 - z are swapped"),
    ],
)
def test_gru_mistakes(mode, expected) -> None:
    assert check_gru_step_forward(_gru("ok")).passed
    fb = check_gru_step_forward(_gru(mode))
    assert not fb.passed
    assert expected in fb.text
