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


# -- gates named in the messages -----------------------------------------------------------------


def _lstm_backward_da(mode):
    def f(dh_next, dc_next, cache):
        x, h_prev, c_prev, Wx, Wh, i, f_, g, o, tanh_c = cache
        dc = dc_next + dh_next * o * (1 - tanh_c**2)
        parts = {
            "i": dc * g * i * (1 - i),
            "f": dc * c_prev * f_ * (1 - f_),
            "g": dc * i * (1 - g**2),
            "o": dh_next * tanh_c * o * (1 - o),
        }
        if mode == "f":
            parts["f"] = dc * f_ * (1 - f_)  # forgot c_prev
        if mode == "o":
            parts["o"] = dh_next * o * (1 - o)  # forgot tanh_c
        da = np.concatenate([parts[k] for k in "ifgo"], axis=1)
        dx = da @ Wx.T * (2.0 if mode == "dx" else 1.0)
        dc_prev = dc * f_ + (1.0 if mode == "dc_prev" else 0.0)
        return dx, da @ Wh.T, dc_prev, x.T @ da, h_prev.T @ da, da.sum(axis=0)

    return f


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("f", "i (input) right, f (forget) WRONG, g (candidate) right, o (output) right."),
        ("f", "Check da_f = dc * c_prev * f * (1 - f)"),
        ("f", "Largest error at index (8,) (gate f (forget) unit 3)"),
        ("o", "o (output) WRONG"),
        ("o", "Check da_o = dh_next * tanh_c * o * (1 - o)"),
        ("dx", "Gradient mismatch in dx (dL/dx_t, the gradient for this step's input)."),
        ("dx", "So the error is in the last products: dx = da @ Wx.T and dh_prev = da @ Wh.T"),
        ("dc_prev", "Gradient mismatch in dc_prev (dL/dc_{t-1}, sent back to the previous step's cell state)."),
    ],
)
def test_lstm_backward_names_gate_step_and_quantity(mode, expected) -> None:
    assert check_lstm_step_backward(_lstm_backward_da("ok")).passed
    fb = check_lstm_step_backward(_lstm_backward_da(mode))
    assert not fb.passed
    assert expected in fb.text


def _lstm_forward_gate(mode):
    def f(x, h_prev, c_prev, Wx, Wh, b):
        H = h_prev.shape[1]
        a = x @ Wx + h_prev @ Wh + b
        blk = [a[:, k * H : (k + 1) * H] for k in range(4)]
        i, f_, g, o = _sig(blk[0]), _sig(blk[1]), np.tanh(blk[2]), _sig(blk[3])
        if mode == "f":
            f_ = _sig(blk[1] - 1.0)
        if mode == "g":
            g = np.tanh(0.5 * blk[2])
        if mode == "i":
            i = _sig(2.0 * blk[0])
        if mode == "o":
            o = 0.5 * (np.tanh(blk[3]) + 1)
        c = f_ * c_prev + i * g
        return o * np.tanh(c), c, None

    return f


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("f", "check the forget gate f = sigmoid of block 1 (columns H:2H)"),
        ("g", "check g = tanh of block 2 (columns 2H:3H)"),
        ("i", "check i = sigmoid of block 0 (columns 0:H)"),
        ("o", "check the output gate o = sigmoid of block 3"),
    ],
)
def test_lstm_forward_names_the_gate(mode, expected) -> None:
    assert check_lstm_step_forward(_lstm_forward_gate("ok")).passed
    fb = check_lstm_step_forward(_lstm_forward_gate(mode))
    assert "Gate by gate" in fb.text
    assert expected in fb.text


def _gru_gate(mode):
    def f(x, h, Wx, Wh, bx, bh):
        H = h.shape[1]
        ax, ah = x @ Wx + bx, h @ Wh + bh
        r = _sig(ax[:, :H] + (0.0 if mode == "r" else ah[:, :H]))
        z = _sig(ax[:, H : 2 * H] + ah[:, H : 2 * H])
        if mode == "z":
            z = np.tanh(ax[:, H : 2 * H] + ah[:, H : 2 * H])
        n = np.tanh((ax[:, 2 * H :] - (bx[2 * H :] if mode == "n" else 0.0)) + r * ah[:, 2 * H :])
        if mode == "reset_partial":  # right for r = 1, keeps part of the hidden side for r = 0
            n = np.tanh(ax[:, 2 * H :] + r * ah[:, 2 * H :] + (1 - r) * 0.5 * ah[:, 2 * H :])
        return (1 - z) * n + z * h, None

    return f


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("r", "check the reset gate r = sigmoid of block 0"),
        ("z", "with the candidate n = 0 (its weights and biases zeroed), h_next must equal z * h_prev"),
        ("n", "check n."),
        ("reset_partial", "the reset gate multiplies the whole hidden side"),
    ],
)
def test_gru_messages_name_r_z_n(mode, expected) -> None:
    fb = check_gru_step_forward(_gru_gate(mode))
    assert not fb.passed
    assert expected in fb.text


def test_lstm_forward_without_cache_is_explained() -> None:
    fb = check_lstm_step_backward(
        own(lstm_step_backward), forward=lambda *a: own(lstm_step_forward)(*a)[:2] + (None,)
    )
    assert "Your lstm_step_forward (passed as forward=) returned cache=None on case 1 of 5" in fb.text
    assert "e.g. (x, h_prev, c_prev, Wx, Wh, i, f, g, o, tanh_c)" in fb.text


# -- the promises of the chapter's exercise texts ----------------------------------------------------

CHECKS = {
    "lstm_step_forward": (check_lstm_step_forward, lstm_step_forward),
    "lstm_step_backward": (check_lstm_step_backward, lstm_step_backward),
    "gru_step_forward": (check_gru_step_forward, gru_step_forward),
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


def _lstm_forward_more(mode):
    """The gate orders and the missing tanh(c) that the exercise text says the checker recognises."""

    def f(x, h_prev, c_prev, Wx, Wh, b):
        H = h_prev.shape[1]
        a = x @ Wx + h_prev @ Wh + b
        blk = dict(zip({"igfo": "igfo", "fiog": "fiog"}.get(mode, "ifgo"),
                       (a[:, k * H : (k + 1) * H] for k in range(4))))
        i, f_, g, o = _sig(blk["i"]), _sig(blk["f"]), np.tanh(blk["g"]), _sig(blk["o"])
        c = f_ * c_prev + i * g
        h = o * np.tanh(c_prev) if mode == "h_from_c_prev" else o * np.tanh(c)
        return h, c, None

    return f


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("igfo", "you read the gates in the order i, g, f, o"),
        ("fiog", "you swapped the input and forget gates"),
        ("h_from_c_prev", "h_next must use the NEW cell state"),
    ],
)
def test_more_lstm_forward_mistakes(mode, expected) -> None:
    assert check_lstm_step_forward(_lstm_forward_more("ok")).passed
    fb = check_lstm_step_forward(_lstm_forward_more(mode))
    assert not fb.passed
    assert expected in fb.text


def test_lstm_forward_that_assumes_d_equals_h_gets_the_shape_hint() -> None:
    """The cases include D != H (and N = 1): mixing up Wx and Wh fails there with a clear hint."""

    def swapped_weights(x, h_prev, c_prev, Wx, Wh, b):
        return _lstm_forward("ok")(x, h_prev, c_prev, Wh, Wx, b)

    fb = check_lstm_step_forward(swapped_weights)
    assert not fb.passed
    assert "The checker uses D != H" in fb.text


def _lstm_backward_more(mode):
    def f(dh_next, dc_next, cache):
        x, h_prev, c_prev, Wx, Wh, i, f_, g, o, tanh_c = cache
        dc = dh_next * o * (1 - tanh_c**2) + (0.0 if mode == "no_dc_next" else dc_next)
        dg = g * (1 - g) if mode == "g_sigmoid_derivative" else 1 - g**2
        da = np.concatenate(
            [dc * g * i * (1 - i), dc * c_prev * f_ * (1 - f_), dc * i * dg, dh_next * tanh_c * o * (1 - o)],
            axis=1,
        )
        return da @ Wx.T, da @ Wh.T, dc * f_, x.T @ da, h_prev.T @ da, da.sum(axis=0)

    return f


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("no_dc_next", "you forgot dc_next"),
        ("g_sigmoid_derivative", "g is a tanh: its derivative is 1 - g**2"),
    ],
)
def test_more_lstm_backward_mistakes(mode, expected) -> None:
    assert check_lstm_step_backward(_lstm_backward_more("ok")).passed
    fb = check_lstm_step_backward(_lstm_backward_more(mode))
    assert not fb.passed
    assert expected in fb.text


def test_lstm_backward_on_own_forward_passes_and_a_wrong_forward_is_named() -> None:
    """`forward=` (the option the exercise text offers) grades the backward on the learner's own cache."""
    def forward_with_cache(x, h_prev, c_prev, Wx, Wh, b):
        H = h_prev.shape[1]
        a = x @ Wx + h_prev @ Wh + b
        i, f_, g, o = (_sig(a[:, :H]), _sig(a[:, H : 2 * H]), np.tanh(a[:, 2 * H : 3 * H]),
                       _sig(a[:, 3 * H :]))
        c = f_ * c_prev + i * g
        return o * np.tanh(c), c, (x, h_prev, c_prev, Wx, Wh, i, f_, g, o, np.tanh(c))

    assert check_lstm_step_backward(_lstm_backward("ok"), forward=forward_with_cache).passed

    def wrong_forward(x, h_prev, c_prev, Wx, Wh, b):
        h, c, cache = forward_with_cache(x, h_prev, c_prev, Wx, Wh, b)
        return 2 * h, c, cache

    fb = check_lstm_step_backward(_lstm_backward("ok"), forward=wrong_forward)
    assert not fb.passed
    assert "Your lstm_step_forward does not pass its own check yet" in fb.text


def _gru_more(mode):
    def f(x, h, Wx, Wh, bx, bh):
        H = h.shape[1]
        ax, ah = x @ Wx + bx, h @ Wh + (0.0 if mode == "no_bh" else bh)
        rz = (1, 0) if mode == "order_zrn" else (0, 1)
        r = _sig(ax[:, rz[0] * H : (rz[0] + 1) * H] + ah[:, rz[0] * H : (rz[0] + 1) * H])
        z = _sig(ax[:, rz[1] * H : (rz[1] + 1) * H] + ah[:, rz[1] * H : (rz[1] + 1) * H])
        act = _sig if mode == "n_sigmoid" else np.tanh
        n = act(ax[:, 2 * H :] + r * ah[:, 2 * H :])
        return (1 - z) * n + z * h, None

    return f


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("order_zrn", "you read the blocks as [z, r, n]"),
        ("no_bh", "you left out the hidden bias bh"),
        ("n_sigmoid", "the candidate n uses tanh, not the sigmoid"),
    ],
)
def test_more_gru_mistakes(mode, expected) -> None:
    assert check_gru_step_forward(_gru_more("ok")).passed
    fb = check_gru_step_forward(_gru_more(mode))
    assert not fb.passed
    assert expected in fb.text
