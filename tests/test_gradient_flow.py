"""Tests for companion.numpy.gradient_flow (the numbers behind chapter 3's vanishing/exploding figures)."""

from __future__ import annotations

import numpy as np
import pytest

from companion.numpy.gradient_flow import (
    hidden_gradient_norms,
    input_gradient_norms,
    latch_task,
    rnn_regressor_loss,
    scaled_orthogonal,
    single_unit_rnn_loss,
    spectral_radius,
)
from companion.numpy.gradcheck import grad_check
from companion.numpy.rnn import rnn_backward, rnn_forward


@pytest.mark.parametrize("rho", [0.5, 1.0, 1.5])
def test_scaled_orthogonal_has_every_eigenvalue_and_singular_value_at_rho(rng, rho):
    U = scaled_orthogonal(12, rho, rng)
    np.testing.assert_allclose(U @ U.T, rho**2 * np.eye(12), atol=1e-12)
    np.testing.assert_allclose(np.abs(np.linalg.eigvals(U)), rho, atol=1e-10)
    assert abs(spectral_radius(U) - rho) < 1e-10


def test_scaled_orthogonal_rejects_bad_arguments(rng):
    with pytest.raises(ValueError, match="size"):
        scaled_orthogonal(0, 1.0, rng)
    with pytest.raises(ValueError, match="spectral_radius"):
        scaled_orthogonal(3, -1.0, rng)


@pytest.mark.parametrize("rho", [0.5, 0.9, 1.0, 1.1, 1.5])
def test_linear_rnn_with_scaled_orthogonal_weights_scales_gradient_by_rho_per_step(rng, rho):
    Wh = scaled_orthogonal(8, rho, rng)
    drive = rng.standard_normal((3, 20, 8))
    norms = hidden_gradient_norms(Wh, drive, nonlinearity="linear")
    assert norms.shape == (21,)
    np.testing.assert_allclose(norms, norms[0] * rho ** np.arange(21), rtol=1e-10)


def test_tanh_norms_match_full_bptt_of_the_rnn_layer(rng):
    N, T, D, H = 2, 7, 3, 5
    x = rng.standard_normal((N, T, D))
    Wx, Wh, b = rng.standard_normal((D, H)), rng.standard_normal((H, H)), rng.standard_normal(H)
    h0 = rng.standard_normal((N, H))
    upstream = rng.standard_normal((N, H))
    norms = hidden_gradient_norms(Wh, x @ Wx + b, nonlinearity="tanh", h0=h0, upstream=upstream)
    # The same quantity from the layer's own backward pass: loss = sum(upstream * h_T).
    _, cache = rnn_forward(x, h0, Wx, Wh, b)
    dh = np.zeros((N, T, H))
    dh[:, -1] = upstream
    _, dh0, *_ = rnn_backward(dh, cache)
    assert abs(norms[T] - np.linalg.norm(dh0)) < 1e-12 * max(1.0, norms[T])
    assert abs(norms[0] - np.linalg.norm(upstream)) < 1e-12


def test_tanh_saturation_keeps_gradients_from_exploding(rng):
    # With |f'| <= 1 the norm can grow by at most ||Wh||_2 per step; in saturation it shrinks instead.
    Wh = scaled_orthogonal(16, 3.0, rng)
    drive = rng.standard_normal((4, 60, 16))
    lin = hidden_gradient_norms(Wh, drive, nonlinearity="linear")
    sat = hidden_gradient_norms(Wh, drive, nonlinearity="tanh")
    assert np.all(sat[1:] <= 3.0 * sat[:-1] * (1 + 1e-12))
    assert sat[-1] < 1e-3 * lin[-1]


def test_hidden_gradient_norms_validates(rng):
    with pytest.raises(ValueError, match="nonlinearity"):
        hidden_gradient_norms(np.eye(3), np.zeros((1, 4, 3)), nonlinearity="softplus")
    with pytest.raises(ValueError, match="drive"):
        hidden_gradient_norms(np.eye(3), np.zeros((1, 4, 2)))
    with pytest.raises(TypeError):
        hidden_gradient_norms(np.eye(3), np.zeros((1, 4, 3), dtype=int))


def test_single_unit_gradient_matches_finite_differences():
    w = np.array([0.5, 1.5, 2.2, 3.0])
    b = np.array([-0.5, 0.1, -0.5, 0.3])
    loss, dw, db = single_unit_rnn_loss(w, b, steps=20)
    eps = 1e-6
    num_dw = (single_unit_rnn_loss(w + eps, b, steps=20)[0] - single_unit_rnn_loss(w - eps, b, steps=20)[0]) / (2 * eps)
    num_db = (single_unit_rnn_loss(w, b + eps, steps=20)[0] - single_unit_rnn_loss(w, b - eps, steps=20)[0]) / (2 * eps)
    np.testing.assert_allclose(dw, num_dw, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(db, num_db, rtol=1e-6, atol=1e-9)
    assert loss.shape == (4,)


def test_single_unit_loss_has_a_cliff():
    # Started above the unstable fixed point, h_T stays near the positive attractor until the attractor
    # vanishes (a saddle-node bifurcation in w); there the loss falls off a wall about 1e-4 wide.
    w = np.linspace(1.8, 2.1, 3001)
    loss, dw, _ = single_unit_rnn_loss(w, -0.5, h0=0.9)
    assert np.abs(np.diff(loss)).max() > 0.3  # one grid step of 1e-4 in w changes the loss by more than 0.3
    assert np.abs(dw).max() > 1e3 * np.median(np.abs(dw))


def test_single_unit_validates():
    with pytest.raises(ValueError, match="steps"):
        single_unit_rnn_loss(1.0, 0.0, steps=0)
    with pytest.raises(ValueError, match="w"):
        single_unit_rnn_loss(np.nan, 0.0)


def test_latch_task_targets_are_the_latest_pulse(rng):
    x, y = latch_task(rng, 5, 40, pulse_prob=0.2)
    assert x.shape == y.shape == (5, 40, 1)
    assert set(np.unique(x)) <= {-1.0, 0.0, 1.0}
    for n in range(5):
        latest = 0.0
        for t in range(40):
            latest = x[n, t, 0] if x[n, t, 0] != 0 else latest
            assert y[n, t, 0] == latest
    with pytest.raises(ValueError):
        latch_task(rng, 2, 3, pulse_prob=1.5)


def test_rnn_regressor_loss_gradients_pass_a_finite_difference_check(rng):
    N, T, D, H, M = 2, 6, 1, 4, 1
    params = {
        "Wx": rng.standard_normal((D, H)), "Wh": 0.5 * rng.standard_normal((H, H)), "b": rng.standard_normal(H),
        "Wy": rng.standard_normal((H, M)), "by": rng.standard_normal(M),
    }
    x, y = rng.standard_normal((N, T, D)), rng.standard_normal((N, T, M))
    h0 = rng.standard_normal((N, H))
    loss, grads, h_last = rnn_regressor_loss(params, x, y, h0)
    assert h_last.shape == (N, H)
    errors = grad_check(lambda: rnn_regressor_loss(params, x, y, h0)[0], params, grads)
    assert max(errors.values()) < 1e-7, errors


@pytest.mark.parametrize("mode", ["rnn_tanh", "lstm", "gru"])
@pytest.mark.parametrize("num_layers, bidirectional", [(1, False), (2, True)])
def test_input_gradient_norms_match_autograd(rng, mode, num_layers, bidirectional):
    import torch
    from _recurrent_reference import randomize_, torch_module

    from companion.numpy.torch_io import params_from_state_dict

    N, T, D, H = 3, 6, 2, 4
    module = torch_module(mode, D, H, num_layers, bidirectional)
    randomize_(module, 0)
    readout = rng.standard_normal(H * (2 if bidirectional else 1))
    x = rng.standard_normal((N, T, D))
    params = params_from_state_dict(module.state_dict(), mode, num_layers=num_layers, bidirectional=bidirectional)
    norms = input_gradient_norms(x, params, mode, readout, num_layers, bidirectional)

    xt = torch.tensor(x, requires_grad=True)
    (module(xt)[0][:, -1] @ torch.from_numpy(readout)).sum().backward()
    expected = xt.grad.norm(dim=2).mean(dim=0).flip(0).numpy()  # [k] = k steps before the read-out
    assert norms.shape == (T,)
    np.testing.assert_allclose(norms, expected, rtol=1e-10, atol=1e-14)


def test_input_gradient_norms_accept_float32_params_and_check_shapes(rng):
    params = {"Wx_l0": rng.standard_normal((2, 3)).astype(np.float32),
              "Wh_l0": rng.standard_normal((3, 3)).astype(np.float32), "b_l0": np.zeros(3, dtype=np.float32)}
    x = rng.standard_normal((2, 5, 2))
    norms = input_gradient_norms(x, params, "rnn_tanh", np.ones(3))
    assert norms.dtype == np.float64 and norms.shape == (5,) and np.all(norms >= 0)
    with pytest.raises(ValueError, match="readout"):
        input_gradient_norms(x, params, "rnn_tanh", np.ones(4))
    with pytest.raises(ValueError, match="x must have 3 dimensions"):
        input_gradient_norms(x[0], params, "rnn_tanh", np.ones(3))
    with pytest.raises(ValueError, match="NaN"):
        input_gradient_norms(np.full((2, 5, 2), np.nan), params, "rnn_tanh", np.ones(3))
