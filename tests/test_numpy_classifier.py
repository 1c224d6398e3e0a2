"""Padding-aware many-to-one classifier: pooling, gradients, invariance to padding, torch parity."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from _numpy_reference import max_abs, t64, torch_rnn_grads, torch_rnn_like
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.numpy.classifier import (
    classifier_forward,
    classifier_loss_and_grads,
    init_classifier_params,
    last_hidden,
    last_hidden_backward,
    masked_mean_pool,
    masked_mean_pool_backward,
)
from companion.numpy.gradcheck import grad_check

STEP_TOL = 1e-8
SEQ_TOL = 1e-6
TORCH_TOL = 1e-10
FD = {"h": 1e-3, "order": 4}


def test_last_hidden_picks_the_last_real_step(rng):
    h = rng.standard_normal((3, 5, 2))
    lengths = np.array([5, 1, 3])
    out = last_hidden(h, lengths)
    assert np.array_equal(out, np.stack([h[0, 4], h[1, 0], h[2, 2]]))


@pytest.mark.parametrize(
    "pool,backward", [(last_hidden, last_hidden_backward), (masked_mean_pool, masked_mean_pool_backward)]
)
def test_pooling_backward_matches_finite_differences(rng, pool, backward):
    h = rng.standard_normal((3, 5, 2))
    lengths = np.array([5, 1, 3])
    G = rng.standard_normal((3, 2))
    dh = backward(G, lengths, 5)
    errors = grad_check(lambda: float(np.sum(G * pool(h, lengths))), {"h": h}, {"h": dh}, **FD)
    assert errors["h"] <= STEP_TOL
    assert np.all(dh[1, 1:] == 0.0) and np.all(dh[2, 3:] == 0.0)  # padding gets no gradient


def test_masked_mean_pool_values(rng):
    h = rng.standard_normal((2, 4, 3))
    out = masked_mean_pool(h, np.array([4, 2]))
    assert max_abs(out, np.stack([h[0].mean(0), h[1, :2].mean(0)])) <= 1e-15


@pytest.mark.parametrize("pool", ["last", "mean"])
@pytest.mark.parametrize("vocab_size", [None, 7])
def test_classifier_loss_and_grads_match_finite_differences(rng, pool, vocab_size):
    params = init_classifier_params(3, 4, 2, np.random.default_rng(0), vocab_size=vocab_size)
    lengths, y = np.array([5, 2, 3]), np.array([1, 0, 1])
    x = rng.integers(0, 7, (3, 5)) if vocab_size else rng.standard_normal((3, 5, 3))
    loss, grads = classifier_loss_and_grads(x, lengths, y, params, pool=pool)
    assert set(grads) == set(params)
    errors = grad_check(lambda: classifier_loss_and_grads(x, lengths, y, params, pool=pool)[0], params, grads, **FD)
    assert max(errors.values()) <= SEQ_TOL, errors


@pytest.mark.parametrize("pool", ["last", "mean"])
def test_padding_does_not_change_logits_or_gradients(rng, pool):
    params = init_classifier_params(3, 4, 2, np.random.default_rng(1), vocab_size=9)
    lengths, y = np.array([4, 2]), np.array([0, 1])
    x = rng.integers(1, 9, (2, 4))
    x_other_padding = x.copy()
    x_other_padding[1, 2:] = [8, 3]  # garbage where sequence 1 is padded
    logits = classifier_forward(x, lengths, params, pool=pool)
    assert max_abs(logits, classifier_forward(x_other_padding, lengths, params, pool=pool)) == 0.0
    _, g1 = classifier_loss_and_grads(x, lengths, y, params, pool=pool)
    _, g2 = classifier_loss_and_grads(x_other_padding, lengths, y, params, pool=pool)
    assert all(max_abs(g1[k], g2[k]) == 0.0 for k in g1)
    # ...and the result equals running sequence 1 alone, unpadded
    alone = classifier_forward(x[1:, :2], lengths[1:], params, pool=pool)
    assert max_abs(logits[1], alone[0]) <= 1e-15


def torch_classifier(x, lengths, y, params):
    """Reference: embedding -> nn.RNN over the padded batch -> gather at lengths-1 -> linear -> CE."""
    emb = t64(params["W_embed"], grad=True)
    rnn = torch_rnn_like(params["Wx"], params["Wh"], params["b"])
    W_out, b_out = t64(params["W_out"], grad=True), t64(params["b_out"], grad=True)
    h, _ = rnn(emb[torch.from_numpy(x)])
    last = h[torch.arange(len(lengths)), torch.from_numpy(lengths - 1)]
    logits = last @ W_out + b_out
    loss = F.cross_entropy(logits, torch.from_numpy(y))
    loss.backward()
    dWx, dWh, db = torch_rnn_grads(rnn)
    grads = {"W_embed": emb.grad, "Wx": dWx, "Wh": dWh, "b": db, "W_out": W_out.grad, "b_out": b_out.grad}
    return logits, loss.item(), grads


@settings(max_examples=25, deadline=None)
@given(
    N=st.integers(1, 4),
    T=st.integers(1, 6),
    H=st.integers(1, 4),
    C=st.integers(2, 3),
    seed=st.integers(0, 2**16),
)
def test_property_classifier_matches_torch(N, T, H, C, seed):
    rng = np.random.default_rng(seed)
    params = init_classifier_params(3, H, C, rng, vocab_size=6)
    x, lengths, y = rng.integers(0, 6, (N, T)), rng.integers(1, T + 1, N), rng.integers(0, C, N)
    logits, loss, ref_grads = torch_classifier(x, lengths, y, params)
    assert max_abs(classifier_forward(x, lengths, params), logits) <= TORCH_TOL
    our_loss, grads = classifier_loss_and_grads(x, lengths, y, params)
    assert abs(our_loss - loss) <= TORCH_TOL
    for k in params:
        assert max_abs(grads[k], ref_grads[k]) <= TORCH_TOL, k


def test_classifier_bad_inputs(rng):
    params = init_classifier_params(3, 4, 2, rng, vocab_size=5)
    x = rng.integers(0, 5, (2, 4))
    with pytest.raises(ValueError, match="lengths has value 0 below the allowed minimum 1"):
        classifier_forward(x, np.array([0, 2]), params)
    with pytest.raises(ValueError, match="lengths has value 5 but must be < 5"):
        classifier_forward(x, np.array([5, 2]), params)
    with pytest.raises(ValueError, match=r"lengths must have shape \(N,\) = \(2,\), got \(3,\)"):
        classifier_forward(x, np.array([1, 2, 3]), params)
    with pytest.raises(TypeError, match="lengths must be an integer array"):
        last_hidden(rng.standard_normal((2, 4, 3)), np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"h must have 3 dimensions \(N, T, H\), got 2"):
        masked_mean_pool(rng.standard_normal((2, 4)), np.array([1, 2]))
    with pytest.raises(ValueError, match="pool must be one of"):
        classifier_forward(x, np.array([1, 2]), params, pool="max")
    with pytest.raises(KeyError, match=r"params is missing \['W_out'\]"):
        classifier_forward(x, np.array([1, 2]), {k: v for k, v in params.items() if k != "W_out"})
    no_embed = {k: v for k, v in params.items() if k != "W_embed"}
    with pytest.raises(TypeError, match="x must be a floating-point array"):
        classifier_forward(x, np.array([1, 2]), no_embed)
    with pytest.raises(ValueError, match="T must be a positive int"):
        last_hidden_backward(np.ones((2, 4)), np.array([1, 2]), 0)
