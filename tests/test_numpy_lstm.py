"""LSTM in NumPy: finite differences, torch parity, step/sequence agreement, init, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _recurrent_reference import lstm_by_steps, max_abs, module_with_params, torch_grads_as_params
from hypothesis import example, given, settings
from hypothesis import strategies as st

from companion.numpy.gradcheck import grad_check
from companion.numpy.lstm import (
    init_lstm_params,
    lstm_backward,
    lstm_backward_with_cell,
    lstm_final_state,
    lstm_forward,
    lstm_step_backward,
    lstm_step_forward,
)

STEP_TOL = 1e-8  # relative error of finite differences, one step
SEQ_TOL = 1e-6  # ... a whole sequence
TORCH_TOL = 1e-10  # max abs difference to torch.nn.LSTM in float64
SAME_TOL = 1e-12  # optimised sequence functions vs the step functions (same maths, other order of sums)
FD = {"h": 1e-3, "order": 4}  # five-point stencil: FD error ~1e-12, far below the thresholds


def make_params(rng, D, H, scale=0.5):
    return rng.standard_normal((D, 4 * H)) * scale, rng.standard_normal((H, 4 * H)) * scale, rng.standard_normal(4 * H)


# -- finite differences --------------------------------------------------------------------


def test_step_backward_matches_finite_differences(rng):
    N, D, H = 3, 4, 5
    x, h_prev, c_prev = rng.standard_normal((N, D)), rng.standard_normal((N, H)), rng.standard_normal((N, H))
    Wx, Wh, b = make_params(rng, D, H)
    Gh, Gc = rng.standard_normal((N, H)), rng.standard_normal((N, H))

    def loss():  # uses both outputs, so the dc_next path is checked too
        h, c, _ = lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b)
        return float(np.sum(Gh * h) + np.sum(Gc * c))

    _, _, cache = lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b)
    dx, dh_prev, dc_prev, dWx, dWh, db = lstm_step_backward(Gh, Gc, cache)
    errors = grad_check(
        loss,
        {"x": x, "h_prev": h_prev, "c_prev": c_prev, "Wx": Wx, "Wh": Wh, "b": b},
        {"x": dx, "h_prev": dh_prev, "c_prev": dc_prev, "Wx": dWx, "Wh": dWh, "b": db},
        **FD,
    )
    assert max(errors.values()) <= STEP_TOL, errors


def test_sequence_backward_matches_finite_differences(rng):
    N, T, D, H = 2, 5, 3, 4
    x, h0, c0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, H)), rng.standard_normal((N, H))
    Wx, Wh, b = make_params(rng, D, H)
    G, Gc = rng.standard_normal((N, T, H)), rng.standard_normal((N, H))

    def loss():  # every h_t and the final cell state
        h, cache = lstm_forward(x, h0, Wx, Wh, b, c0)
        return float(np.sum(G * h) + np.sum(Gc * cache.c_T))

    _, cache = lstm_forward(x, h0, Wx, Wh, b, c0)
    dx, dh0, dc0, dWx, dWh, db = lstm_backward_with_cell(G, cache, Gc)
    errors = grad_check(
        loss,
        {"x": x, "h0": h0, "c0": c0, "Wx": Wx, "Wh": Wh, "b": b},
        {"x": dx, "h0": dh0, "c0": dc0, "Wx": dWx, "Wh": dWh, "b": db},
        **FD,
    )
    assert max(errors.values()) <= SEQ_TOL, errors


def test_lstm_backward_is_with_cell_without_dc0(rng):
    x, h0 = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 5))
    _, cache = lstm_forward(x, h0, *make_params(rng, 3, 5))
    dh = rng.standard_normal((2, 4, 5))
    short = lstm_backward(dh, cache)
    full = lstm_backward_with_cell(dh, cache)
    assert len(short) == 5
    for a, b in zip(short, (full[0], full[1], full[3], full[4], full[5])):
        assert max_abs(a, b) == 0.0


# -- torch parity ---------------------------------------------------------------------------


@pytest.mark.parametrize("with_state", [False, True])
def test_matches_torch_lstm_forward_and_backward(rng, with_state):
    N, T, D, H = 3, 7, 4, 5
    x = rng.standard_normal((N, T, D))
    Wx, Wh, b = make_params(rng, D, H)
    h0 = rng.standard_normal((N, H)) if with_state else np.zeros((N, H))
    c0 = rng.standard_normal((N, H)) if with_state else None
    G, Gh, Gc = rng.standard_normal((N, T, H)), rng.standard_normal((N, H)), rng.standard_normal((N, H))

    h, cache = lstm_forward(x, h0, Wx, Wh, b, c0)
    h_T, c_T = lstm_final_state(cache)
    dh = G.copy()
    dh[:, -1] += Gh  # the loss also uses h_n (= h[:, -1])
    dx, dh0, dc0, dWx, dWh, db = lstm_backward_with_cell(dh, cache, Gc)

    module = module_with_params("lstm", {"Wx_l0": Wx, "Wh_l0": Wh, "b_l0": b})
    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0[None], requires_grad=True)
    c0t = torch.tensor((np.zeros((N, H)) if c0 is None else c0)[None], requires_grad=True)
    out, (h_n, c_n) = module(xt, (h0t, c0t))
    loss = (out * torch.tensor(G)).sum() + (h_n[0] * torch.tensor(Gh)).sum() + (c_n[0] * torch.tensor(Gc)).sum()
    loss.backward()
    tg = torch_grads_as_params(module, "lstm", 1, False)

    errors = {
        "h": max_abs(h, out),
        "h_T": max_abs(h_T, h_n[0]),
        "c_T": max_abs(c_T, c_n[0]),
        "dx": max_abs(dx, xt.grad),
        "dh0": max_abs(dh0, h0t.grad[0]),
        "dc0": max_abs(dc0, c0t.grad[0]),
        "dWx": max_abs(dWx, tg["Wx_l0"]),
        "dWh": max_abs(dWh, tg["Wh_l0"]),
        "db": max_abs(db, tg["b_l0"]),
    }
    assert max(errors.values()) <= TORCH_TOL, errors


# -- the optimised sequence functions are the step functions ---------------------------------


@settings(max_examples=25, deadline=None)
@given(
    N=st.integers(1, 4),
    T=st.integers(1, 9),
    D=st.integers(1, 5),
    H=st.integers(1, 6),
    seed=st.integers(0, 2**16),
    use_c0=st.booleans(),
)
@example(N=1, T=1, D=1, H=1, seed=0, use_c0=False)
@example(N=1, T=1, D=3, H=2, seed=1, use_c0=True)
def test_sequence_equals_loop_of_steps(N, T, D, H, seed, use_c0):
    rng = np.random.default_rng(seed)
    x, h0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, H))
    c0 = rng.standard_normal((N, H)) if use_c0 else None
    Wx, Wh, b = make_params(rng, D, H, scale=1.0)
    dh, dc_T = rng.standard_normal((N, T, H)), rng.standard_normal((N, H))

    h, cache = lstm_forward(x, h0, Wx, Wh, b, c0)
    grads = lstm_backward_with_cell(dh, cache, dc_T)
    h_ref, c_ref, grads_ref = lstm_by_steps(x, h0, np.zeros((N, H)) if c0 is None else c0, Wx, Wh, b, dh, dc_T)
    assert h.shape == (N, T, H)
    assert max_abs(h, h_ref) <= SAME_TOL
    assert max_abs(cache.c_T, c_ref) <= SAME_TOL
    for name, got, want in zip(("dx", "dh0", "dc0", "dWx", "dWh", "db"), grads, grads_ref):
        assert got.shape == want.shape, name
        assert max_abs(got, want) <= SAME_TOL * max(1.0, float(np.abs(want).max())), name


def test_long_sequence_crosses_backward_chunks(rng, monkeypatch):
    """The backward pass prepares gate factors a block of steps at a time: block edges must not matter."""
    import companion.numpy.lstm as lstm_module

    N, T, D, H = 2, 11, 3, 4
    x, h0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, H))
    Wx, Wh, b = make_params(rng, D, H)
    dh = rng.standard_normal((N, T, H))
    _, cache = lstm_forward(x, h0, Wx, Wh, b)
    whole = lstm_backward_with_cell(dh, cache)
    monkeypatch.setattr(lstm_module, "_CHUNK_ELEMENTS", 3 * N * 4 * H)  # blocks of 3 steps: 11 = 3+3+3+2
    blocks = lstm_backward_with_cell(dh, cache)
    for a, b_ in zip(whole, blocks):
        assert max_abs(a, b_) <= SAME_TOL


def test_float32_stays_float32(rng):
    f32 = np.float32
    x, h0 = rng.standard_normal((2, 3, 4)).astype(f32), np.zeros((2, 5), f32)
    Wx, Wh, b = (a.astype(f32) for a in make_params(rng, 4, 5))
    h, cache = lstm_forward(x, h0, Wx, Wh, b)
    grads = lstm_backward_with_cell(np.ones_like(h), cache)
    assert h.dtype == f32 and cache.c_T.dtype == f32
    assert all(g.dtype == f32 for g in grads)
    h64, _ = lstm_forward(x.astype(float), h0.astype(float), Wx.astype(float), Wh.astype(float), b.astype(float))
    assert max_abs(h, h64) <= 1e-5


def test_c0_none_means_zeros_and_backward_is_repeatable(rng):
    x, h0 = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 5))
    Wx, Wh, b = make_params(rng, 3, 5)
    h1, cache = lstm_forward(x, h0, Wx, Wh, b)
    h2, _ = lstm_forward(x, h0, Wx, Wh, b, np.zeros((2, 5)))
    assert max_abs(h1, h2) == 0.0
    dh = rng.standard_normal(h1.shape)
    first = lstm_backward(dh, cache)
    h1[:] = 123.0  # the returned h is a copy: changing it must not corrupt the cache
    second = lstm_backward(dh, cache)
    for a, b_ in zip(first, second):
        assert max_abs(a, b_) == 0.0


def test_final_state_is_last_step(rng):
    x, h0, c0 = rng.standard_normal((3, 6, 2)), rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    h, cache = lstm_forward(x, h0, *make_params(rng, 2, 4), c0=c0)
    h_T, c_T = lstm_final_state(cache)
    assert max_abs(h_T, h[:, -1]) == 0.0
    assert c_T.shape == (3, 4)
    c_T[:] = 0.0  # copies
    assert np.any(cache.c_T != 0.0)


# -- initialisation and the forget-gate bias ---------------------------------------------------


def test_init_shapes_and_forget_bias(rng):
    p = init_lstm_params(3, 5, rng)
    assert p["Wx"].shape == (3, 20) and p["Wh"].shape == (5, 20) and p["b"].shape == (20,)
    assert np.all(np.abs(p["Wx"]) <= 1 / np.sqrt(5)) and np.all(np.abs(p["Wh"]) <= 1 / np.sqrt(5))
    assert np.all(p["b"][5:10] == 1.0)  # the forget block [i, f, g, o]
    assert np.all(p["b"][:5] == 0.0) and np.all(p["b"][10:] == 0.0)
    p0 = init_lstm_params(3, 5, rng, forget_bias=0.0)
    assert np.all(p0["b"] == 0.0)
    p2 = init_lstm_params(3, 5, np.random.default_rng(7), forget_bias=2.5)
    assert np.all(p2["b"][5:10] == 2.5)


def test_forget_bias_sets_initial_forget_gate(rng):
    """With zero weights the forget gate is sigmoid(forget_bias): the cell keeps that fraction per step."""
    p = init_lstm_params(2, 3, rng, forget_bias=1.0, scale=1e-12)
    x, h0, c0 = np.zeros((1, 1, 2)), np.zeros((1, 3)), np.ones((1, 3))
    _, cache = lstm_forward(x, h0, p["Wx"], p["Wh"], p["b"], c0)
    assert np.allclose(cache.c_T, 1 / (1 + np.exp(-1.0)), atol=1e-10)  # f * c0 + i * g with g = tanh(0) = 0


def test_forget_bias_keeps_gradient_alive_longer(rng):
    """The reason for forget_bias = 1: gradient from the last step reaches c0 undamped far more."""
    T = 30
    x, h0 = rng.standard_normal((1, T, 4)) * 0.1, np.zeros((1, 8))
    norms = {}
    for fb in (0.0, 1.0):
        p = init_lstm_params(4, 8, np.random.default_rng(0), forget_bias=fb)
        _, cache = lstm_forward(x, h0, p["Wx"], p["Wh"], p["b"])
        dh = np.zeros((1, T, 8))
        _, _, dc0, *_ = lstm_backward_with_cell(dh, cache, np.ones((1, 8)))
        norms[fb] = np.linalg.norm(dc0)
    assert norms[1.0] > 100 * norms[0.0]


def test_init_rejects_bad_arguments(rng):
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        init_lstm_params(3, 4, 0)
    with pytest.raises(ValueError, match="hidden_size must be >= 1, got 0"):
        init_lstm_params(3, 0, rng)
    with pytest.raises(TypeError, match="input_size must be an int"):
        init_lstm_params(2.5, 4, rng)
    with pytest.raises(ValueError, match="forget_bias must be finite"):
        init_lstm_params(3, 4, rng, forget_bias=float("nan"))


# -- bad inputs -----------------------------------------------------------------------------------


def good_inputs(rng):
    x, h0 = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5))
    return x, h0, *make_params(rng, 4, 5)


def test_forward_rejects_wrong_rank(rng):
    x, h0, Wx, Wh, b = good_inputs(rng)
    with pytest.raises(ValueError, match=r"x must have 3 dimensions \(N, T, D\), got 2"):
        lstm_forward(x[:, 0], h0, Wx, Wh, b)
    with pytest.raises(ValueError, match=r"x must have 2 dimensions \(N, D\), got 3"):
        lstm_step_forward(x, h0, h0, Wx, Wh, b)


def test_forward_rejects_mismatched_sizes(rng):
    x, h0, Wx, Wh, b = good_inputs(rng)
    with pytest.raises(ValueError, match=r"Wx axis 1 should be 4H=20 to match h0 \(H=5\), got 16"):
        lstm_forward(x, h0, Wx[:, :16], Wh, b)
    with pytest.raises(ValueError, match=r"h0 axis 0 should be N=2 to match x \(N=2\), got 3"):
        lstm_forward(x, np.zeros((3, 5)), Wx, Wh, b)
    with pytest.raises(ValueError, match=r"c0 axis 1 should be H=5 to match h0 \(H=5\), got 4"):
        lstm_forward(x, h0, Wx, Wh, b, c0=np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"Wx axis 0 should be D=4 to match x \(D=4\), got 3"):
        lstm_forward(x, h0, Wx[:3], Wh, b)
    with pytest.raises(ValueError, match=r"b axis 0 should be 4H=20 to match h_prev \(H=5\), got 16"):
        lstm_step_forward(x[:, 0], h0, h0, Wx, Wh, b[:16])
    with pytest.raises(ValueError, match=r"b axis 0 is 4H=19, which is not a multiple of 4"):
        lstm_forward(x, h0, Wx, Wh, b[:19])


def test_forward_rejects_dtype_nan_and_empty(rng):
    x, h0, Wx, Wh, b = good_inputs(rng)
    with pytest.raises(TypeError, match="x must be a floating-point array"):
        lstm_forward(x.astype(int), h0, Wx, Wh, b)
    with pytest.raises(TypeError, match="Wh must be a numpy.ndarray, got list"):
        lstm_forward(x, h0, Wx, Wh.tolist(), b)
    bad = h0.copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"h0 contains NaN or inf \(first at index \(1, 2\)"):
        lstm_forward(x, bad, Wx, Wh, b)
    with pytest.raises(ValueError, match="x is empty"):
        lstm_forward(x[:, :0], h0, Wx, Wh, b)


def test_backward_rejects_bad_gradients_and_caches(rng):
    x, h0, Wx, Wh, b = good_inputs(rng)
    h, cache = lstm_forward(x, h0, Wx, Wh, b)
    with pytest.raises(ValueError, match=r"dh axis 1 should be T=3 to match h \(T=3\), got 2"):
        lstm_backward(h[:, :2], cache)
    with pytest.raises(ValueError, match=r"dc_T axis 1 should be H=5 to match c_T \(H=5\), got 4"):
        lstm_backward_with_cell(h, cache, np.zeros((2, 4)))
    bad = h.copy()
    bad[0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="dh contains NaN or inf"):
        lstm_backward(bad, cache)
    with pytest.raises(TypeError, match="cache must be the LSTMCache returned by lstm_forward, got tuple"):
        lstm_backward(h, tuple(cache))
    _, _, step_cache = lstm_step_forward(x[:, 0], h0, h0, Wx, Wh, b)
    with pytest.raises(ValueError, match=r"dc_next axis 1 should be H=5 to match h_next \(H=5\), got 4"):
        lstm_step_backward(h0, np.zeros((2, 4)), step_cache)
    with pytest.raises(TypeError, match="cache must be the LSTMStepCache"):
        lstm_step_backward(h0, h0, cache)
    as_tuple = lstm_step_backward(h0, h0, tuple(step_cache))  # a plain tuple in the same order also works
    assert all(max_abs(a, b_) == 0.0 for a, b_ in zip(as_tuple, lstm_step_backward(h0, h0, step_cache)))
