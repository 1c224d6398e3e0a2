"""Multi-layer and bidirectional RNN / LSTM / GRU in NumPy against torch.nn, finite differences, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _recurrent_reference import max_abs, randomize_, torch_grads_as_params, torch_module
from hypothesis import example, given, settings
from hypothesis import strategies as st

from companion.numpy.gradcheck import grad_check
from companion.numpy.lstm import lstm_forward
from companion.numpy.stacked import stacked_backward, stacked_forward
from companion.numpy.torch_io import params_from_state_dict

TORCH_TOL = 1e-10
SEQ_TOL = 1e-6
FD = {"h": 1e-3, "order": 4}
MODES = ["rnn_tanh", "rnn_relu", "lstm", "gru"]


def compare_with_torch(mode, N, T, D, H, num_layers, bidirectional, seed, with_state=True):
    """Run numpy and torch on the same weights/inputs/upstream gradients; return every max abs difference."""
    rng = np.random.default_rng(seed)
    module = randomize_(torch_module(mode, D, H, num_layers, bidirectional), seed)
    params = params_from_state_dict(module.state_dict(), mode, num_layers, bidirectional)
    dirs = 2 if bidirectional else 1
    x = rng.standard_normal((N, T, D))
    h0 = rng.standard_normal((num_layers * dirs, N, H)) if with_state else np.zeros((num_layers * dirs, N, H))
    c0 = rng.standard_normal(h0.shape) if with_state else np.zeros(h0.shape)
    dout = rng.standard_normal((N, T, dirs * H))
    dh_n, dc_n = rng.standard_normal(h0.shape), rng.standard_normal(h0.shape)

    lstm = mode == "lstm"
    hx = None if not with_state else ((h0, c0) if lstm else h0)
    out, final, cache = stacked_forward(x, params, mode, num_layers, bidirectional, hx)
    dx, grads, dhx = stacked_backward(dout, cache, (dh_n, dc_n) if lstm else dh_n)

    xt, h0t, c0t = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
    out_t, final_t = module(xt, (h0t, c0t) if lstm else h0t)
    loss = (out_t * torch.tensor(dout)).sum()
    if lstm:
        loss = loss + (final_t[0] * torch.tensor(dh_n)).sum() + (final_t[1] * torch.tensor(dc_n)).sum()
    else:
        loss = loss + (final_t * torch.tensor(dh_n)).sum()
    loss.backward()
    torch_grads = torch_grads_as_params(module, mode, num_layers, bidirectional)

    errors = {"out": max_abs(out, out_t), "dx": max_abs(dx, xt.grad)}
    if lstm:
        errors.update(h_n=max_abs(final[0], final_t[0]), c_n=max_abs(final[1], final_t[1]))
        errors.update(dh0=max_abs(dhx[0], h0t.grad), dc0=max_abs(dhx[1], c0t.grad))
    else:
        errors.update(h_n=max_abs(final, final_t), dh0=max_abs(dhx, h0t.grad))
    assert list(grads) == list(params)
    errors.update({f"d{k}": max_abs(grads[k], torch_grads[k]) for k in params})
    return errors


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_matches_torch(mode, num_layers, bidirectional):
    errors = compare_with_torch(mode, 3, 5, 4, 6, num_layers, bidirectional, seed=num_layers + 10 * bidirectional)
    assert max(errors.values()) <= TORCH_TOL, errors


@pytest.mark.parametrize("mode", ["lstm", "gru"])
def test_matches_torch_from_zero_state(mode):
    errors = compare_with_torch(mode, 2, 4, 3, 5, 2, True, seed=3, with_state=False)
    assert max(errors.values()) <= TORCH_TOL, errors


@settings(max_examples=25, deadline=None)
@given(
    mode=st.sampled_from(MODES),
    N=st.integers(1, 3),
    T=st.integers(1, 6),
    D=st.integers(1, 4),
    H=st.integers(1, 5),
    num_layers=st.integers(1, 3),
    bidirectional=st.booleans(),
    seed=st.integers(0, 1000),
)
@example(mode="lstm", N=1, T=1, D=1, H=1, num_layers=2, bidirectional=True, seed=0)
@example(mode="gru", N=1, T=1, D=2, H=1, num_layers=1, bidirectional=True, seed=1)
def test_matches_torch_property(mode, N, T, D, H, num_layers, bidirectional, seed):
    errors = compare_with_torch(mode, N, T, D, H, num_layers, bidirectional, seed)
    assert max(errors.values()) <= TORCH_TOL, errors


@pytest.mark.parametrize("mode", ["lstm", "gru"])
def test_two_layer_bidirectional_matches_finite_differences(rng, mode):
    N, T, D, H = 2, 3, 2, 3
    module = randomize_(torch_module(mode, D, H, 2, True), 5)
    params = params_from_state_dict(module.state_dict(), mode, 2, True)
    x = rng.standard_normal((N, T, D))
    G, Gh = rng.standard_normal((N, T, 2 * H)), rng.standard_normal((4, N, H))

    def loss():
        out, final, _ = stacked_forward(x, params, mode, 2, True)
        h_n = final[0] if mode == "lstm" else final
        return float(np.sum(G * out) + np.sum(Gh * h_n))

    _, _, cache = stacked_forward(x, params, mode, 2, True)
    dfinal = (Gh, None) if mode == "lstm" else Gh
    dx, grads, _ = stacked_backward(G, cache, dfinal)
    # every parameter of the lower layer's reverse direction and the upper layer's forward one, and x
    chosen = [k for k in params if k.endswith("_l0_reverse") or (k.endswith("_l1"))]
    inputs = {"x": x, **{k: params[k] for k in chosen}}
    errors = grad_check(loss, inputs, {"x": dx, **{k: grads[k] for k in chosen}}, **FD)
    assert max(errors.values()) <= SEQ_TOL, errors


def test_single_layer_equals_lstm_forward(rng):
    x, h0, c0 = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 5)), rng.standard_normal((2, 5))
    params = {"Wx_l0": rng.standard_normal((3, 20)), "Wh_l0": rng.standard_normal((5, 20))}
    params["b_l0"] = rng.standard_normal(20)
    out, (h_n, c_n), _ = stacked_forward(x, params, "lstm", hx=(h0[None], c0[None]))
    h, cache = lstm_forward(x, h0, params["Wx_l0"], params["Wh_l0"], params["b_l0"], c0)
    assert max_abs(out, h) == 0.0 and max_abs(c_n[0], cache.c_T) == 0.0
    assert out.shape == (2, 4, 5) and h_n.shape == (1, 2, 5)


def test_bidirectional_layout(rng):
    """out[..., :H] reads left to right, out[..., H:] right to left: the reverse half at t=0 saw the whole sequence."""
    module = randomize_(torch_module("gru", 2, 3, 1, True), 1)
    params = params_from_state_dict(module.state_dict(), "gru", 1, True)
    x = rng.standard_normal((1, 5, 2))
    out, h_n, _ = stacked_forward(x, params, "gru", 1, True)
    x2 = x.copy()
    x2[:, -1] += 1.0  # change only the last input
    out2, _, _ = stacked_forward(x2, params, "gru", 1, True)
    assert max_abs(out[0, :-1, :3], out2[0, :-1, :3]) == 0.0  # forward half before t = T-1: unchanged
    assert np.all(np.abs(out[0, :, 3:] - out2[0, :, 3:]) > 0)  # reverse half: everything changed
    assert max_abs(h_n[0], out[:, -1, :3]) == 0.0 and max_abs(h_n[1], out[:, 0, 3:]) == 0.0


def test_rejects_bad_inputs(rng):
    module = randomize_(torch_module("lstm", 3, 4, 2, True), 0)
    params = params_from_state_dict(module.state_dict(), "lstm", 2, True)
    x = rng.standard_normal((2, 5, 3))
    with pytest.raises(KeyError, match="params has no entry 'Wh_l1_reverse'"):
        stacked_forward(x, {k: v for k, v in params.items() if k != "Wh_l1_reverse"}, "lstm", 2, True)
    with pytest.raises(KeyError, match="params has no entry 'Wx_l2'"):
        stacked_forward(x, params, "lstm", 3, True)
    with pytest.raises(ValueError, match=r"Wx_l1 axis 0 should be 2H=8 to match Wh_l0 \(H=4\), got 4"):
        stacked_forward(x, {**params, "Wx_l1": params["Wx_l1"][:4]}, "lstm", 2, True)
    with pytest.raises(ValueError, match=r"Wx_l0 axis 0 should be D=2 to match x \(D=2\), got 3"):
        stacked_forward(x[..., :2], params, "lstm", 2, True)
    with pytest.raises(ValueError, match="mode must be one of"):
        stacked_forward(x, params, "elman", 2, True)
    with pytest.raises(TypeError, match=r"hx for the LSTM must be a pair \(h_0, c_0\)"):
        stacked_forward(x, params, "lstm", 2, True, hx=np.zeros((4, 2, 4)))
    with pytest.raises(ValueError, match=r"h_0 axis 0 must have size 4, got 2"):
        stacked_forward(x, params, "lstm", 2, True, hx=(np.zeros((2, 2, 4)), np.zeros((2, 2, 4))))
    with pytest.raises(ValueError, match=r"c_0 axis 1 should be N=2 to match x \(N=2\), got 3"):
        stacked_forward(x, params, "lstm", 2, True, hx=(np.zeros((4, 2, 4)), np.zeros((4, 3, 4))))
    with pytest.raises(TypeError, match="x must be a floating-point array"):
        stacked_forward(x.astype(np.int32), params, "lstm", 2, True)
    with pytest.raises(ValueError, match=r"x is empty \(shape \(2, 0, 3\)\)"):
        stacked_forward(x[:, :0], params, "lstm", 2, True)
    with pytest.raises(ValueError, match=r"Wh_l1 contains NaN or inf"):
        stacked_forward(x, {**params, "Wh_l1": params["Wh_l1"] * np.nan}, "lstm", 2, True)
    out, _, cache = stacked_forward(x, params, "lstm", 2, True)
    with pytest.raises(ValueError, match=r"dout axis 2 should be DH=8 to match out \(DH=8\), got 4"):
        stacked_backward(out[..., :4], cache)
    with pytest.raises(ValueError, match=r"dh_n must have shape \(num_layers\*dirs, N, H\) = \(4, 2, 4\), got \(2, 2"):
        stacked_backward(out, cache, (np.zeros((2, 2, 4)), None))
    with pytest.raises(TypeError, match=r"dfinal for the LSTM must be a pair"):
        stacked_backward(out, cache, np.zeros((4, 2, 4)))
    with pytest.raises(ValueError, match="dout contains NaN"):
        stacked_backward(out * np.nan, cache)
