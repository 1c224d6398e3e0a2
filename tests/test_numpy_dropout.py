"""Inverted dropout and locked (variational) dropout in NumPy: masks, scaling, backward vs FD and torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _numpy_reference import max_abs, t64

from companion.numpy.dropout import (
    dropout_backward,
    dropout_forward,
    dropout_mask,
    locked_dropout_mask,
)
from companion.numpy.gradcheck import grad_check

FD = {"h": 1e-3, "order": 4}


def test_mask_keeps_with_probability_one_minus_p_and_scaling_preserves_the_mean():
    rng = np.random.default_rng(0)
    keep = dropout_mask((200, 50, 10), 0.3, rng)
    assert keep.dtype == bool and abs(keep.mean() - 0.7) < 0.01
    x = np.ones((200, 50, 10))
    out, _ = dropout_forward(x, 0.3, np.random.default_rng(1))
    assert abs(out.mean() - 1.0) < 0.01
    assert set(np.unique(out).tolist()) == {0.0, 1.0 / 0.7}


def test_locked_mask_is_constant_over_time_and_differs_between_sequences():
    mask = locked_dropout_mask(8, 6, 5, 0.5, np.random.default_rng(3))
    assert mask.shape == (8, 6, 5)
    assert np.all(mask == mask[:, :1])
    assert not np.all(mask == mask[:1])
    keep = np.random.default_rng(3).random((8, 1, 5)) >= 0.5
    assert np.array_equal(mask, np.repeat(keep / 0.5, 6, axis=1))


def test_locked_forward_uses_one_mask_per_sequence_and_eval_is_identity():
    x = np.random.default_rng(0).standard_normal((4, 7, 3))
    out, cache = dropout_forward(x, 0.5, np.random.default_rng(2), locked=True)
    assert cache.keep.shape == (4, 1, 3)
    assert np.array_equal(out, x * cache.keep / 0.5)
    same, cache_eval = dropout_forward(x, 0.5, train=False)
    assert np.array_equal(same, x) and np.array_equal(dropout_backward(x, cache_eval), x)
    zero, _ = dropout_forward(x, 0.0)  # p = 0 needs no generator
    assert np.array_equal(zero, x)


@pytest.mark.parametrize("locked", [False, True])
def test_backward_matches_finite_differences_and_torch(locked):
    rng = np.random.default_rng(5)
    x, G = rng.standard_normal((3, 4, 5)), rng.standard_normal((3, 4, 5))
    out, cache = dropout_forward(x, 0.4, np.random.default_rng(7), locked=locked)
    dx = dropout_backward(G, cache)

    def loss() -> float:  # the mask is fixed (held in the cache), as it is within one training step
        return float(np.sum(G * x * cache.keep / (1 - cache.p)))

    assert grad_check(loss, {"x": x}, {"x": dx}, **FD)["x"] <= 1e-8
    xt = t64(x, grad=True)
    (xt * t64(cache.keep.astype(float)) / 0.6 * t64(G)).sum().backward()
    assert max_abs(dx, xt.grad) <= 1e-14
    assert np.all(dx[np.broadcast_to(~cache.keep, dx.shape)] == 0.0)


def test_bad_inputs_have_clear_errors():
    x = np.ones((2, 3, 4))
    with pytest.raises(ValueError, match=r"p must be a drop probability in \[0, 1\), got 1.0"):
        dropout_forward(x, 1.0, np.random.default_rng(0))
    with pytest.raises(TypeError, match="p must be a number"):
        dropout_forward(x, "0.5", np.random.default_rng(0))
    with pytest.raises(ValueError, match="needs rng"):
        dropout_forward(x, 0.5)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        dropout_mask((2, 3), 0.5, 0)
    with pytest.raises(ValueError, match="x must have 3 dimensions"):
        dropout_forward(np.ones((2, 3)), 0.5, np.random.default_rng(0), locked=True)
    _, cache = dropout_forward(x, 0.5, np.random.default_rng(0), locked=True)
    with pytest.raises(ValueError, match="does not fit the mask"):
        dropout_backward(np.ones((2, 3, 5)), cache)
    with pytest.raises(ValueError, match="NaN"):
        dropout_forward(np.full((2, 3, 4), np.nan), 0.5, np.random.default_rng(0))
