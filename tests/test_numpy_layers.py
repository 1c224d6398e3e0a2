"""Affine, temporal affine, embedding and one-hot layers; plus the shared activations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _numpy_reference import max_abs, t64
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.numpy.activations import (
    relu,
    relu_grad_from_output,
    sigmoid,
    sigmoid_grad_from_output,
    tanh,
    tanh_grad_from_output,
)
from companion.numpy.gradcheck import grad_check
from companion.numpy.layers import (
    affine_backward,
    affine_forward,
    embedding_backward,
    embedding_forward,
    one_hot,
    temporal_affine_backward,
    temporal_affine_forward,
)

STEP_TOL = 1e-8
TORCH_TOL = 1e-10
FD = {"h": 1e-3, "order": 4}  # five-point stencil: finite-difference error ~1e-12


# -- activations ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "f,f_prime_from_output,torch_f",
    [(sigmoid, sigmoid_grad_from_output, torch.sigmoid), (tanh, tanh_grad_from_output, torch.tanh)],
)
def test_smooth_activations_match_torch_and_finite_differences(rng, f, f_prime_from_output, torch_f):
    # |x| <= 2.5 keeps f' >= 0.03, so rounding in the summed loss (~1e-15 / h) stays far below 1e-8 relative
    x = rng.uniform(-2.5, 2.5, 20)
    xt = t64(x, grad=True)
    torch_f(xt).sum().backward()
    assert max_abs(f(x), torch_f(t64(x))) <= 1e-15
    assert max_abs(f_prime_from_output(f(x)), xt.grad) <= 1e-15
    errors = grad_check(lambda: float(f(x).sum()), {"x": x}, {"x": f_prime_from_output(f(x))}, **FD)
    assert errors["x"] <= STEP_TOL


def test_relu_and_its_subgradient_match_torch():
    x = np.array([-2.0, -1e-300, 0.0, 1e-300, 3.0])
    xt = t64(x, grad=True)
    torch.relu(xt).sum().backward()
    assert max_abs(relu(x), torch.relu(t64(x))) == 0.0
    assert max_abs(relu_grad_from_output(relu(x)), xt.grad) == 0.0  # includes 0 at x == 0


def test_sigmoid_is_stable_for_huge_inputs():
    x = np.array([-1e4, -800.0, -30.0, 0.0, 30.0, 800.0, 1e4])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        s = sigmoid(x)
    assert np.all(np.isfinite(s)) and s[0] == 0.0 and s[-1] == 1.0 and s[3] == 0.5
    assert max_abs(s, torch.sigmoid(t64(x))) <= 1e-15
    assert sigmoid(np.float32(-1e4) * np.ones(2, dtype=np.float32)).dtype == np.float32


# -- affine ----------------------------------------------------------------------------------


def test_affine_matches_finite_differences_and_torch(rng):
    x, W, b = rng.standard_normal((4, 5)), rng.standard_normal((5, 3)), rng.standard_normal(3)
    G = rng.standard_normal((4, 3))
    out, cache = affine_forward(x, W, b)
    dx, dW, db = affine_backward(G, cache)
    errors = grad_check(
        lambda: float(np.sum(G * affine_forward(x, W, b)[0])),
        {"x": x, "W": W, "b": b},
        {"x": dx, "W": dW, "b": db},
        **FD,
    )
    assert max(errors.values()) <= STEP_TOL, errors

    xt, Wt, bt = t64(x, True), t64(W, True), t64(b, True)
    ot = xt @ Wt + bt
    (ot * t64(G)).sum().backward()
    assert max(max_abs(out, ot), max_abs(dx, xt.grad), max_abs(dW, Wt.grad), max_abs(db, bt.grad)) <= TORCH_TOL


def test_temporal_affine_matches_finite_differences(rng):
    x, W, b = rng.standard_normal((2, 4, 3)), rng.standard_normal((3, 5)), rng.standard_normal(5)
    G = rng.standard_normal((2, 4, 5))
    _, cache = temporal_affine_forward(x, W, b)
    dx, dW, db = temporal_affine_backward(G, cache)
    errors = grad_check(
        lambda: float(np.sum(G * temporal_affine_forward(x, W, b)[0])),
        {"x": x, "W": W, "b": b},
        {"x": dx, "W": dW, "b": db},
        **FD,
    )
    assert max(errors.values()) <= STEP_TOL, errors


@settings(max_examples=25, deadline=None)
@given(
    N=st.integers(1, 4), T=st.integers(1, 5), D=st.integers(1, 4), M=st.integers(1, 4), seed=st.integers(0, 2**16)
)
def test_property_temporal_affine_matches_torch_linear(N, T, D, M, seed):
    rng = np.random.default_rng(seed)
    x, W, b = rng.standard_normal((N, T, D)), rng.standard_normal((D, M)), rng.standard_normal(M)
    G = rng.standard_normal((N, T, M))
    out, cache = temporal_affine_forward(x, W, b)
    dx, dW, db = temporal_affine_backward(G, cache)
    lin = torch.nn.Linear(D, M).double()
    with torch.no_grad():
        lin.weight.copy_(t64(W.T))
        lin.bias.copy_(t64(b))
    xt = t64(x, True)
    ot = lin(xt)
    (ot * t64(G)).sum().backward()
    assert max(
        max_abs(out, ot), max_abs(dx, xt.grad), max_abs(dW, lin.weight.grad.T), max_abs(db, lin.bias.grad)
    ) <= TORCH_TOL


def test_affine_bad_inputs(rng):
    x, W, b = rng.standard_normal((4, 5)), rng.standard_normal((5, 3)), rng.standard_normal(3)
    with pytest.raises(ValueError, match=r"W axis 0 should be D=5 to match x \(D=5\), got 4"):
        affine_forward(x, W[:4], b)
    with pytest.raises(ValueError, match=r"b axis 0 should be M=3 to match W \(M=3\), got 2"):
        affine_forward(x, W, b[:2])
    with pytest.raises(ValueError, match=r"x must have 3 dimensions \(N, T, D\), got 2"):
        temporal_affine_forward(x, W, b)
    with pytest.raises(TypeError, match="W must be a floating-point array"):
        affine_forward(x, W.astype(np.int64), b)
    with pytest.raises(ValueError, match="x is empty"):
        affine_forward(x[:0], W, b)
    _, cache = affine_forward(x, W, b)
    with pytest.raises(ValueError, match=r"dout axis 1 should be M=3 to match W \(M=3\), got 2"):
        affine_backward(np.ones((4, 2)), cache)
    with pytest.raises(ValueError, match=r"dout axis 0 should be N=4 to match x \(N=4\), got 3"):
        affine_backward(np.ones((3, 3)), cache)


# -- embedding and one-hot ---------------------------------------------------------------------


def test_embedding_equals_one_hot_times_W_and_matches_finite_differences(rng):
    V, D = 6, 3
    idx = np.array([[0, 2, 2, 5], [2, 1, 0, 0]])  # repeated tokens must accumulate in dW
    W = rng.standard_normal((V, D))
    G = rng.standard_normal((2, 4, D))
    out, cache = embedding_forward(idx, W)
    assert max_abs(out, one_hot(idx, V) @ W) == 0.0
    dW = embedding_backward(G, cache)
    assert max_abs(dW, np.einsum("ntv,ntd->vd", one_hot(idx, V), G)) <= 1e-14
    assert np.all(dW[[3, 4]] == 0.0)  # tokens that never occur get no gradient
    errors = grad_check(lambda: float(np.sum(G * embedding_forward(idx, W)[0])), {"W": W}, {"W": dW}, **FD)
    assert errors["W"] <= STEP_TOL

    emb = torch.nn.Embedding(V, D).double()
    with torch.no_grad():
        emb.weight.copy_(t64(W))
    (emb(torch.from_numpy(idx)) * t64(G)).sum().backward()
    assert max_abs(dW, emb.weight.grad) <= TORCH_TOL


def test_one_hot_matches_torch():
    idx = np.array([[0, 3, 1], [2, 2, 0]])
    oh = one_hot(idx, 4)
    assert oh.shape == (2, 3, 4) and oh.dtype == np.float64
    assert np.array_equal(oh, torch.nn.functional.one_hot(torch.from_numpy(idx), 4).double().numpy())
    assert np.array_equal(oh.argmax(-1), idx) and np.all(oh.sum(-1) == 1.0)


def test_embedding_and_one_hot_bad_inputs(rng):
    W = rng.standard_normal((5, 3))
    with pytest.raises(ValueError, match="idx has value 5 but must be < 5"):
        embedding_forward(np.array([[0, 5]]), W)
    with pytest.raises(ValueError, match="idx has value -1 below the allowed minimum 0"):
        one_hot(np.array([[0, -1]]), 4)
    with pytest.raises(TypeError, match="idx must be an integer array"):
        embedding_forward(np.array([[0.0, 1.0]]), W)
    with pytest.raises(ValueError, match=r"idx must have 2 dimensions \(N, T\), got 1"):
        embedding_forward(np.array([0, 1]), W)
    with pytest.raises(ValueError, match="idx is empty"):
        one_hot(np.zeros((0, 3), dtype=int), 4)
    with pytest.raises(TypeError, match="V must be an int, got float"):
        one_hot(np.array([[0]]), 4.0)
    _, cache = embedding_forward(np.array([[0, 1]]), W)
    with pytest.raises(ValueError, match=r"dout axis 2 should be D=3 to match W \(D=3\), got 2"):
        embedding_backward(np.ones((1, 2, 2)), cache)


def test_embedding_backward_accumulates_every_repeat_where_fancy_index_plus_equals_does_not(rng):
    V, D = 4, 3
    idx = np.array([[2, 2, 2], [2, 0, 2]])  # token 2 five times
    W = rng.standard_normal((V, D))
    G = rng.standard_normal((2, 3, D))
    _, cache = embedding_forward(idx, W)
    dW = embedding_backward(G, cache)
    assert max_abs(dW[2], G[idx == 2].sum(axis=0)) <= 1e-14
    buffered = np.zeros_like(W)
    buffered[idx] += G  # keeps one write per repeated index: the classic mistake
    assert max_abs(buffered[2], dW[2]) > 0.1
    emb = torch.nn.Embedding(V, D).double()
    with torch.no_grad():
        emb.weight.copy_(t64(W))
    (emb(torch.from_numpy(idx)) * t64(G)).sum().backward()
    assert max_abs(dW, emb.weight.grad) <= TORCH_TOL
