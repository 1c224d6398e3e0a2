"""Vanilla RNN in NumPy: finite differences, torch parity, properties, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _numpy_reference import max_abs, t64, torch_rnn_grads, torch_rnn_like
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.numpy.gradcheck import grad_check
from companion.numpy.rnn import (
    count_rnn_parameters,
    init_rnn_params,
    rnn_backward,
    rnn_forward,
    rnn_step_backward,
    rnn_step_forward,
)

STEP_TOL = 1e-8  # relative error of finite differences for a single step
SEQ_TOL = 1e-6  # ... and for a whole sequence (more operations, more rounding)
TORCH_TOL = 1e-10  # max abs difference to torch in float64
SAME_TOL = 1e-14  # the same float64 computation organised differently: a few units in the last place
# Five-point stencil with h = 1e-3: truncation and rounding errors both ~1e-12, so the
# thresholds above measure the backward pass, not the finite differences.
FD = {"h": 1e-3, "order": 4}


def make_step(rng, N=3, D=4, H=5):
    return (
        rng.standard_normal((N, D)),
        rng.standard_normal((N, H)),
        rng.standard_normal((D, H)) * 0.5,
        rng.standard_normal((H, H)) * 0.5,
        rng.standard_normal(H) * 0.5,
    )


def make_seq(rng, N=2, T=6, D=3, H=4):
    return (
        rng.standard_normal((N, T, D)),
        rng.standard_normal((N, H)),
        rng.standard_normal((D, H)) * 0.5,
        rng.standard_normal((H, H)) * 0.5,
        rng.standard_normal(H) * 0.5,
    )


# -- finite differences --------------------------------------------------------------------


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_step_backward_matches_finite_differences(rng, nonlinearity):
    x, h_prev, Wx, Wh, b = make_step(rng)
    G = rng.standard_normal((3, 5))  # loss = sum(G * h_next) so dL/dh_next = G

    def loss():
        return float(np.sum(G * rnn_step_forward(x, h_prev, Wx, Wh, b, nonlinearity)[0]))

    _, cache = rnn_step_forward(x, h_prev, Wx, Wh, b, nonlinearity)
    dx, dh_prev, dWx, dWh, db = rnn_step_backward(G, cache)
    errors = grad_check(
        loss,
        {"x": x, "h_prev": h_prev, "Wx": Wx, "Wh": Wh, "b": b},
        {"x": dx, "h_prev": dh_prev, "Wx": dWx, "Wh": dWh, "b": db},
        **FD,
    )
    assert max(errors.values()) <= STEP_TOL, errors


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_sequence_backward_matches_finite_differences(rng, nonlinearity):
    x, h0, Wx, Wh, b = make_seq(rng)
    G = rng.standard_normal((2, 6, 4))

    def loss():
        return float(np.sum(G * rnn_forward(x, h0, Wx, Wh, b, nonlinearity)[0]))

    _, cache = rnn_forward(x, h0, Wx, Wh, b, nonlinearity)
    dx, dh0, dWx, dWh, db = rnn_backward(G, cache)
    errors = grad_check(
        loss,
        {"x": x, "h0": h0, "Wx": Wx, "Wh": Wh, "b": b},
        {"x": dx, "h0": dh0, "Wx": dWx, "Wh": dWh, "b": db},
        **FD,
    )
    assert max(errors.values()) <= SEQ_TOL, errors


# -- torch parity --------------------------------------------------------------------------


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_step_matches_torch_rnn_cell(rng, nonlinearity):
    x, h_prev, Wx, Wh, b = make_step(rng)
    G = rng.standard_normal((3, 5))
    cell = torch.nn.RNNCell(4, 5, nonlinearity=nonlinearity).double()
    with torch.no_grad():
        cell.weight_ih.copy_(t64(Wx.T))
        cell.weight_hh.copy_(t64(Wh.T))
        cell.bias_ih.copy_(t64(b))
        cell.bias_hh.zero_()
    xt, ht = t64(x, grad=True), t64(h_prev, grad=True)
    out = cell(xt, ht)
    (out * t64(G)).sum().backward()

    h_next, cache = rnn_step_forward(x, h_prev, Wx, Wh, b, nonlinearity)
    dx, dh_prev, dWx, dWh, db = rnn_step_backward(G, cache)
    assert max_abs(h_next, out) <= TORCH_TOL
    assert max_abs(dx, xt.grad) <= TORCH_TOL
    assert max_abs(dh_prev, ht.grad) <= TORCH_TOL
    assert max_abs(dWx, cell.weight_ih.grad.T) <= TORCH_TOL
    assert max_abs(dWh, cell.weight_hh.grad.T) <= TORCH_TOL
    assert max_abs(db, cell.bias_ih.grad) <= TORCH_TOL


def _compare_with_torch_rnn(x, h0, Wx, Wh, b, G, nonlinearity) -> dict[str, float]:
    rnn = torch_rnn_like(Wx, Wh, b, nonlinearity)
    xt, h0t = t64(x, grad=True), t64(h0, grad=True)
    out, h_last = rnn(xt, h0t[None])
    (out * t64(G)).sum().backward()

    h, cache = rnn_forward(x, h0, Wx, Wh, b, nonlinearity)
    dx, dh0, dWx, dWh, db = rnn_backward(G, cache)
    tWx, tWh, tb = torch_rnn_grads(rnn)
    return {
        "h": max_abs(h, out),
        "h_last": max_abs(h[:, -1], h_last[0]),
        "dx": max_abs(dx, xt.grad),
        "dh0": max_abs(dh0, h0t.grad),
        "dWx": max_abs(dWx, tWx),
        "dWh": max_abs(dWh, tWh),
        "db": max_abs(db, tb),
    }


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_forward_and_backward_match_torch_nn_rnn(rng, nonlinearity):
    x, h0, Wx, Wh, b = make_seq(rng, N=3, T=12, D=5, H=7)
    G = rng.standard_normal((3, 12, 7))
    diffs = _compare_with_torch_rnn(x, h0, Wx, Wh, b, G, nonlinearity)
    assert max(diffs.values()) <= TORCH_TOL, diffs


@settings(max_examples=25, deadline=None)
@given(
    N=st.integers(1, 4),
    T=st.integers(1, 6),
    D=st.integers(1, 4),
    H=st.integers(1, 5),
    nonlinearity=st.sampled_from(["tanh", "relu"]),
    seed=st.integers(0, 2**16),
)
def test_property_matches_torch_for_any_shape(N, T, D, H, nonlinearity, seed):
    rng = np.random.default_rng(seed)
    x, h0, Wx, Wh, b = make_seq(rng, N, T, D, H)
    G = rng.standard_normal((N, T, H))
    diffs = _compare_with_torch_rnn(x, h0, Wx, Wh, b, G, nonlinearity)
    assert max(diffs.values()) <= TORCH_TOL, diffs


@settings(max_examples=25, deadline=None)
@given(N=st.integers(1, 3), T=st.integers(1, 5), D=st.integers(1, 3), H=st.integers(1, 4), seed=st.integers(0, 999))
def test_property_sequence_is_the_step_repeated(N, T, D, H, seed):
    x, h0, Wx, Wh, b = make_seq(np.random.default_rng(seed), N, T, D, H)
    h, cache = rnn_forward(x, h0, Wx, Wh, b)
    h_t = h0
    for t in range(T):
        h_t, _ = rnn_step_forward(x[:, t], h_t, Wx, Wh, b)
        # not bit-identical in general: the sequence computes x_t Wx of all steps in one product,
        # and BLAS may round that differently (for N = 1 the step's product is a matrix-vector one)
        assert max_abs(h[:, t], h_t) <= SAME_TOL
    # gradient of the final state alone equals chaining the step backward passes by hand
    dh = np.zeros_like(h)
    dh[:, -1] = 1.0
    dx, dh0, *_ = rnn_backward(dh, cache)
    assert np.all(dx.shape == x.shape) and dh0.shape == h0.shape
    assert max_abs(dx[:, -1], (1.0 - h[:, -1] ** 2) @ Wx.T) <= 1e-12


def test_backward_only_sees_the_past(rng):
    """dL/dx_s is zero for s > t when the loss only reads h_t: the RNN is causal."""
    x, h0, Wx, Wh, b = make_seq(rng, T=6)
    h, cache = rnn_forward(x, h0, Wx, Wh, b)
    dh = np.zeros_like(h)
    dh[:, 2] = 1.0
    dx, *_ = rnn_backward(dh, cache)
    assert np.all(dx[:, 3:] == 0.0)
    assert np.all(np.abs(dx[:, :3]).sum(axis=(0, 2)) > 0)


def test_float32_inputs_stay_float32(rng):
    x, h0, Wx, Wh, b = (a.astype(np.float32) for a in make_seq(rng))
    h, cache = rnn_forward(x, h0, Wx, Wh, b)
    grads = rnn_backward(np.ones_like(h), cache)
    assert h.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)


# -- parameters ----------------------------------------------------------------------------


@pytest.mark.parametrize("D,H,O", [(1, 1, 1), (10, 20, 5), (65, 128, 65)])
def test_count_rnn_parameters_matches_torch_modules(D, H, O):
    rnn, head = torch.nn.RNN(D, H), torch.nn.Linear(H, O)
    torch_count = sum(p.numel() for p in rnn.parameters()) - H  # torch keeps two bias vectors, we keep one
    torch_count += sum(p.numel() for p in head.parameters())
    assert count_rnn_parameters(D, H, O) == torch_count == H * D + H * H + H + O * H + O


def test_count_rnn_parameters_rejects_bad_sizes():
    with pytest.raises(ValueError, match="hidden_size must be >= 1, got 0"):
        count_rnn_parameters(3, 0, 2)
    with pytest.raises(TypeError, match="input_size must be an int, got float"):
        count_rnn_parameters(3.0, 4, 2)


def test_init_rnn_params_shapes_range_and_reproducibility():
    p = init_rnn_params(3, 16, np.random.default_rng(0))
    q = init_rnn_params(3, 16, np.random.default_rng(0))
    assert {k: v.shape for k, v in p.items()} == {"Wx": (3, 16), "Wh": (16, 16), "b": (16,)}
    assert all(np.array_equal(p[k], q[k]) for k in p)
    assert np.abs(p["Wh"]).max() <= 0.25 and np.all(p["b"] == 0)
    assert np.abs(init_rnn_params(3, 16, np.random.default_rng(0), scale=0.01)["Wx"]).max() <= 0.01
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        init_rnn_params(3, 16, 0)


# -- bad inputs ----------------------------------------------------------------------------


def test_bad_inputs_raise_clear_errors(rng):
    x, h0, Wx, Wh, b = make_seq(rng, N=2, T=6, D=3, H=4)
    with pytest.raises(ValueError, match=r"x must have 3 dimensions \(N, T, D\), got 2"):
        rnn_forward(x[:, 0], h0, Wx, Wh, b)
    with pytest.raises(ValueError, match=r"Wx axis 0 should be D=3 to match x \(D=3\), got 5"):
        rnn_forward(x, h0, rng.standard_normal((5, 4)), Wh, b)
    with pytest.raises(ValueError, match=r"h0 axis 0 should be N=2 to match x \(N=2\), got 3"):
        rnn_forward(x, rng.standard_normal((3, 4)), Wx, Wh, b)
    with pytest.raises(ValueError, match=r"Wh axis 1 should be H=4 to match h0 \(H=4\), got 5"):
        rnn_forward(x, h0, Wx, rng.standard_normal((4, 5)), b)
    with pytest.raises(TypeError, match="x must be a floating-point array"):
        rnn_forward(x.astype(int), h0, Wx, Wh, b)
    with pytest.raises(TypeError, match="h0 must be a numpy.ndarray, got list"):
        rnn_forward(x, h0.tolist(), Wx, Wh, b)
    bad = x.copy()
    bad[1, 2, 0] = np.nan
    with pytest.raises(ValueError, match=r"x contains NaN or inf \(first at index \(1, 2, 0\)"):
        rnn_forward(bad, h0, Wx, Wh, b)
    with pytest.raises(ValueError, match="Wh contains NaN or inf"):
        rnn_forward(x, h0, Wx, np.full_like(Wh, np.inf), b)
    with pytest.raises(ValueError, match="x is empty"):
        rnn_forward(x[:, :0], h0, Wx, Wh, b)  # T = 0
    with pytest.raises(ValueError, match="x is empty"):
        rnn_forward(x[:0], h0[:0], Wx, Wh, b)  # N = 0
    with pytest.raises(ValueError, match=r"nonlinearity must be one of \('tanh', 'relu'\), got 'sigmoid'"):
        rnn_forward(x, h0, Wx, Wh, b, nonlinearity="sigmoid")


def test_bad_upstream_gradients_raise(rng):
    x, h0, Wx, Wh, b = make_seq(rng, N=2, T=6, D=3, H=4)
    h, cache = rnn_forward(x, h0, Wx, Wh, b)
    with pytest.raises(ValueError, match=r"dh axis 1 should be T=6 to match h \(T=6\), got 5"):
        rnn_backward(h[:, :5], cache)
    with pytest.raises(ValueError, match="dh contains NaN"):
        rnn_backward(np.full_like(h, np.nan), cache)
    h1, step_cache = rnn_step_forward(x[:, 0], h0, Wx, Wh, b)
    with pytest.raises(ValueError, match=r"dh_next axis 1 should be H=4 to match h_next \(H=4\), got 3"):
        rnn_step_backward(h1[:, :3], step_cache)
    with pytest.raises(ValueError, match=r"x must have 2 dimensions \(N, D\), got 3"):
        rnn_step_forward(x, h0, Wx, Wh, b)


def test_backward_rejects_another_cells_cache(rng):
    """An LSTM or GRU cache handed to rnn_backward is named in a TypeError, not misread as an RNN's."""
    from companion.numpy.gru import gru_forward
    from companion.numpy.lstm import lstm_forward

    N, T, D, H = 2, 3, 4, 5
    x, h0 = rng.standard_normal((N, T, D)), np.zeros((N, H))
    h, lstm_cache = lstm_forward(x, h0, rng.standard_normal((D, 4 * H)), rng.standard_normal((H, 4 * H)), np.zeros(4 * H))
    _, gru_cache = gru_forward(x, h0, rng.standard_normal((D, 3 * H)), rng.standard_normal((H, 3 * H)), *np.zeros((2, 3 * H)))
    for cache, name in ((lstm_cache, "LSTMCache"), (gru_cache, "GRUCache"), (tuple(lstm_cache), "tuple")):
        with pytest.raises(TypeError, match=f"cache must be the RNNCache returned by rnn_forward, got {name}"):
            rnn_backward(np.ones_like(h), cache)


def test_sequence_arrays_are_time_major_and_keep_the_dtype(rng):
    """Each step's block is contiguous (the speed of the loop depends on it), and float32 stays float32."""
    x, h0, Wx, Wh, b = (a.astype(np.float32) for a in make_seq(rng, N=3, T=5, D=2, H=4))
    h, cache = rnn_forward(x, h0, Wx, Wh, b)
    assert h[:, 2].flags.c_contiguous and cache.x[:, 2].flags.c_contiguous
    dx, dh0, dWx, dWh, db = rnn_backward(np.ones_like(h), cache)
    assert {a.dtype for a in (h, cache.x, dx, dh0, dWx, dWh, db)} == {np.dtype(np.float32)}
