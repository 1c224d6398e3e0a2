"""Layer normalisation in NumPy: forward against torch, backward against finite differences and autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _numpy_reference import max_abs, t64

from companion.numpy.gradcheck import grad_check
from companion.numpy.normalisation import layer_norm_backward, layer_norm_forward

FD = {"h": 1e-4, "order": 4}


def _inputs(shape, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    D = shape[-1]
    x = 0.5 + scale * rng.standard_normal(shape)
    return x, 1.0 + 0.3 * rng.standard_normal(D), 0.2 * rng.standard_normal(D), rng.standard_normal(shape)


@pytest.mark.parametrize("shape", [(7,), (4, 5), (3, 6, 4)])
def test_forward_normalises_each_vector_and_matches_torch(shape):
    x, gamma, beta, _ = _inputs(shape)
    out, cache = layer_norm_forward(x, gamma, beta)
    assert out.shape == x.shape
    assert np.allclose(cache.xhat.mean(axis=-1), 0.0, atol=1e-12)
    assert np.all((cache.xhat.var(axis=-1) < 1.0) & (cache.xhat.var(axis=-1) > 0.999))  # var / (var + eps)
    ref = torch.nn.functional.layer_norm(t64(x), (shape[-1],), t64(gamma), t64(beta), eps=1e-5)
    assert max_abs(out, ref) <= 1e-12


def test_eps_is_inside_the_square_root_and_a_constant_vector_gives_beta():
    x, gamma, beta, _ = _inputs((3, 5), scale=1e-2)
    out, _ = layer_norm_forward(x, gamma, beta, eps=0.1)
    ref = torch.nn.functional.layer_norm(t64(x), (5,), t64(gamma), t64(beta), eps=0.1)
    assert max_abs(out, ref) <= 1e-12
    const, _ = layer_norm_forward(np.full((2, 5), 3.0), gamma, beta)
    assert np.allclose(const, beta)


@pytest.mark.parametrize("shape", [(6,), (3, 5), (2, 4, 3)])
def test_backward_matches_finite_differences(shape):
    x, gamma, beta, G = _inputs(shape, seed=1)
    _, cache = layer_norm_forward(x, gamma, beta)
    dx, dgamma, dbeta = layer_norm_backward(G, cache)

    def loss() -> float:
        return float(np.sum(G * layer_norm_forward(x, gamma, beta)[0]))

    errors = grad_check(loss, {"x": x, "gamma": gamma, "beta": beta}, {"x": dx, "gamma": dgamma, "beta": dbeta}, **FD)
    assert max(errors.values()) <= 1e-7, errors


def test_backward_matches_torch_autograd():
    x, gamma, beta, G = _inputs((3, 7, 6), seed=2)
    _, cache = layer_norm_forward(x, gamma, beta, eps=1e-3)
    dx, dgamma, dbeta = layer_norm_backward(G, cache)
    xt, gt, bt = t64(x, grad=True), t64(gamma, grad=True), t64(beta, grad=True)
    (torch.nn.functional.layer_norm(xt, (6,), gt, bt, eps=1e-3) * t64(G)).sum().backward()
    assert max_abs(dx, xt.grad) <= 1e-12
    assert max_abs(dgamma, gt.grad) <= 1e-12
    assert max_abs(dbeta, bt.grad) <= 1e-12


def test_bad_inputs_have_clear_errors():
    x, gamma, beta, _ = _inputs((2, 3, 4))
    with pytest.raises(ValueError, match=r"gamma must have shape \(D,\) = \(4,\).*got \(3,\)"):
        layer_norm_forward(x, gamma[:3], beta)
    with pytest.raises(ValueError, match=r"beta must have shape \(D,\) = \(4,\)"):
        layer_norm_forward(x, gamma, beta[None])
    with pytest.raises(ValueError, match="x contains NaN"):
        layer_norm_forward(np.full((2, 4), np.nan), gamma, beta)
    with pytest.raises(ValueError, match="gamma contains NaN"):
        layer_norm_forward(x, np.full(4, np.nan), beta)
    with pytest.raises(TypeError, match="floating-point"):
        layer_norm_forward(np.ones((2, 4), dtype=int), gamma, beta)
    with pytest.raises(ValueError, match="eps must be finite and > 0"):
        layer_norm_forward(x, gamma, beta, eps=0.0)
    with pytest.raises(ValueError, match="at least one axis"):
        layer_norm_forward(np.array(1.0), gamma[:1], beta[:1])
    _, cache = layer_norm_forward(x, gamma, beta)
    with pytest.raises(ValueError, match="dout has shape"):
        layer_norm_backward(np.ones((2, 3, 5)), cache)
