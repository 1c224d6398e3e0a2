"""Losses and metrics: finite differences, torch parity, stability at huge logits, token weighting."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from _numpy_reference import max_abs, t64
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.numpy.gradcheck import grad_check
from companion.numpy.losses import (
    bits_per_char,
    log_softmax,
    mae_loss,
    mse_loss,
    perplexity,
    perplexity_from_logits,
    sigmoid_binary_cross_entropy,
    softmax_cross_entropy,
    temporal_softmax_cross_entropy,
)

LOSS_TOL = 1e-8  # finite differences, relative
TORCH_TOL = 1e-10
FD = {"h": 1e-3, "order": 4}


def torch_masked_ce(logits, y, mask):
    """Token-weighted masked cross-entropy and its gradient, by torch autograd."""
    lt = t64(logits, grad=True)
    nll = F.cross_entropy(lt.reshape(-1, lt.shape[-1]), torch.from_numpy(y.reshape(-1)), reduction="none")
    m = t64(mask.reshape(-1).astype(np.float64))
    loss = (nll * m).sum() / m.sum()
    loss.backward()
    return loss.item(), lt.grad.numpy()


# -- softmax cross-entropy ------------------------------------------------------------------


def test_softmax_cross_entropy_matches_finite_differences_and_torch(rng):
    logits, y = rng.standard_normal((5, 4)), rng.integers(0, 4, 5)
    loss, dlogits = softmax_cross_entropy(logits, y)
    errors = grad_check(lambda: softmax_cross_entropy(logits, y)[0], {"logits": logits}, {"logits": dlogits}, **FD)
    assert errors["logits"] <= LOSS_TOL
    lt = t64(logits, grad=True)
    ref = F.cross_entropy(lt, torch.from_numpy(y))
    ref.backward()
    assert abs(loss - ref.item()) <= TORCH_TOL and max_abs(dlogits, lt.grad) <= TORCH_TOL


def test_temporal_cross_entropy_with_mask_matches_finite_differences_and_torch(rng):
    logits, y = rng.standard_normal((3, 4, 5)), rng.integers(0, 5, (3, 4))
    mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]], dtype=bool)
    loss, dlogits = temporal_softmax_cross_entropy(logits, y, mask)
    errors = grad_check(
        lambda: temporal_softmax_cross_entropy(logits, y, mask)[0], {"logits": logits}, {"logits": dlogits}, **FD
    )
    assert errors["logits"] <= LOSS_TOL
    ref_loss, ref_grad = torch_masked_ce(logits, y, mask)
    assert abs(loss - ref_loss) <= TORCH_TOL and max_abs(dlogits, ref_grad) <= TORCH_TOL
    assert np.all(dlogits[~mask] == 0.0)  # padding gets no gradient
    # bool and 0/1 float masks mean the same; padded logits do not matter
    assert temporal_softmax_cross_entropy(logits, y, mask.astype(float))[0] == loss
    noisy = logits.copy()
    noisy[~mask] = 1e3
    assert temporal_softmax_cross_entropy(noisy, y, mask)[0] == pytest.approx(loss, abs=1e-14)


def test_temporal_cross_entropy_without_mask_is_the_plain_mean(rng):
    logits, y = rng.standard_normal((2, 3, 4)), rng.integers(0, 4, (2, 3))
    loss, dlogits = temporal_softmax_cross_entropy(logits, y)
    flat_loss, flat_grad = softmax_cross_entropy(logits.reshape(6, 4), y.reshape(6))
    assert loss == pytest.approx(flat_loss, abs=1e-15) and max_abs(dlogits.reshape(6, 4), flat_grad) <= 1e-16


@settings(max_examples=25, deadline=None)
@given(N=st.integers(1, 4), T=st.integers(1, 5), V=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_property_temporal_cross_entropy_matches_torch(N, T, V, seed):
    rng = np.random.default_rng(seed)
    logits, y = rng.standard_normal((N, T, V)) * 3, rng.integers(0, V, (N, T))
    mask = rng.random((N, T)) < 0.7
    mask[0, 0] = True  # at least one real token
    loss, dlogits = temporal_softmax_cross_entropy(logits, y, mask)
    ref_loss, ref_grad = torch_masked_ce(logits, y, mask)
    assert abs(loss - ref_loss) <= TORCH_TOL and max_abs(dlogits, ref_grad) <= TORCH_TOL


def test_cross_entropy_is_stable_for_logits_of_1e4(rng):
    logits = np.array([[[1e4, 0.0, -1e4], [1e4, 1e4 - 1.0, 0.0]]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss0, _ = temporal_softmax_cross_entropy(logits, np.array([[0, 0]]))
        loss1, grad1 = temporal_softmax_cross_entropy(logits, np.array([[1, 1]]))
    # step 0: p(class 0) = 1 exactly in float64; step 1: two logits 1 apart -> log(1 + e^-1) and 1 + log(1 + e^-1)
    assert loss0 == pytest.approx(0.5 * math.log1p(math.exp(-1.0)), rel=1e-12)
    assert loss1 == pytest.approx(0.5 * (1e4 + 1.0 + math.log1p(math.exp(-1.0))), rel=1e-12)
    assert np.all(np.isfinite(grad1))

    big = rng.standard_normal((2, 5, 7)) * 1e4
    y = rng.integers(0, 7, (2, 5))
    loss, dlogits = temporal_softmax_cross_entropy(big, y)
    ref_loss, ref_grad = torch_masked_ce(big, y, np.ones((2, 5)))
    assert np.isfinite(loss) and abs(loss - ref_loss) <= 1e-12 * abs(ref_loss) and max_abs(dlogits, ref_grad) <= 1e-12
    assert np.all(np.isfinite(log_softmax(big)))


def test_cross_entropy_bad_inputs(rng):
    logits, y = rng.standard_normal((2, 3, 4)), rng.integers(0, 4, (2, 3))
    with pytest.raises(ValueError, match=r"mask selects no tokens \(all zeros\)"):
        temporal_softmax_cross_entropy(logits, y, np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"y axis 1 should be T=3 to match logits \(T=3\), got 2"):
        temporal_softmax_cross_entropy(logits, y[:, :2])
    with pytest.raises(ValueError, match=r"mask axis 0 should be N=2 to match y \(N=2\), got 1"):
        temporal_softmax_cross_entropy(logits, y, np.ones((1, 3)))
    with pytest.raises(ValueError, match="y has value 4 but must be < 4"):
        temporal_softmax_cross_entropy(logits, np.full((2, 3), 4))
    with pytest.raises(TypeError, match="y must be an integer array"):
        temporal_softmax_cross_entropy(logits, y.astype(float))
    with pytest.raises(ValueError, match="mask must be non-negative"):
        temporal_softmax_cross_entropy(logits, y, -np.ones((2, 3)))
    with pytest.raises(TypeError, match="mask must be boolean or numeric"):
        temporal_softmax_cross_entropy(logits, y, np.full((2, 3), "x"))
    bad = logits.copy()
    bad[0, 1, 2] = np.inf
    with pytest.raises(ValueError, match=r"logits contains NaN or inf \(first at index \(0, 1, 2\)"):
        temporal_softmax_cross_entropy(bad, y)
    with pytest.raises(ValueError, match=r"logits must have 3 dimensions \(N, T, V\), got 2"):
        temporal_softmax_cross_entropy(logits[0], y)
    with pytest.raises(ValueError, match=r"y axis 0 should be N=3 to match logits \(N=3\), got 2"):
        softmax_cross_entropy(logits[0], y[:, 0])
    with pytest.raises(ValueError, match="logits is empty"):
        softmax_cross_entropy(np.zeros((0, 4)), np.zeros(0, dtype=int))


# -- perplexity and bits per character ---------------------------------------------------------


def test_perplexity_and_bits_per_char_of_a_uniform_model():
    assert perplexity(math.log(65)) == pytest.approx(65.0, rel=1e-14)
    assert bits_per_char(math.log(256)) == pytest.approx(8.0, rel=1e-14)
    logits, y = np.zeros((2, 3, 10)), np.zeros((2, 3), dtype=int)
    assert perplexity_from_logits(logits, y) == pytest.approx(10.0, rel=1e-14)


def test_perplexity_is_exp_of_the_token_weighted_mean():
    """One short and one long sequence: exp(mean over tokens) != mean over sequences of exp."""
    V = 4
    logits = np.zeros((2, 5, V))
    logits[1, :, 0] = 3.0  # sequence 1 predicts token 0 confidently, and it is right
    y = np.zeros((2, 5), dtype=int)
    mask = np.array([[1, 0, 0, 0, 0], [1, 1, 1, 1, 1]], dtype=bool)  # 1 token vs 5 tokens
    nll_short = math.log(V)  # uniform prediction
    nll_long = -log_softmax(logits[1, 0])[0]
    token_weighted = math.exp((1 * nll_short + 5 * nll_long) / 6)
    per_sequence_mean = 0.5 * (math.exp(nll_short) + math.exp(nll_long))
    assert perplexity_from_logits(logits, y, mask) == pytest.approx(token_weighted, rel=1e-13)
    assert abs(token_weighted - per_sequence_mean) > 0.5  # the two definitions really differ here


def test_perplexity_bad_inputs():
    with pytest.raises(ValueError, match="mean_nll must be finite and >= 0, got -0.1"):
        perplexity(-0.1)
    with pytest.raises(ValueError, match="mean_nll must be finite and >= 0, got nan"):
        bits_per_char(float("nan"))
    with pytest.raises(TypeError, match="mean_nll must be a number, got str"):
        perplexity("2.0")


# -- regression losses ---------------------------------------------------------------------------


def test_mse_matches_finite_differences_and_torch(rng):
    pred, target = rng.standard_normal((3, 4, 2)), rng.standard_normal((3, 4, 2))
    loss, dpred = mse_loss(pred, target)
    assert grad_check(lambda: mse_loss(pred, target)[0], {"p": pred}, {"p": dpred}, **FD)["p"] <= LOSS_TOL
    pt = t64(pred, grad=True)
    ref = F.mse_loss(pt, t64(target))
    ref.backward()
    assert abs(loss - ref.item()) <= TORCH_TOL and max_abs(dpred, pt.grad) <= TORCH_TOL


def test_mse_with_a_step_mask_averages_over_real_elements(rng):
    pred, target = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 4, 3))
    mask = np.array([[1, 1, 1, 0], [1, 0, 0, 0]], dtype=bool)  # (N, T) mask for (N, T, D) predictions
    loss, dpred = mse_loss(pred, target, mask)
    assert loss == pytest.approx(np.mean((pred[mask] - target[mask]) ** 2), rel=1e-14)
    assert np.all(dpred[~mask] == 0.0)
    assert grad_check(lambda: mse_loss(pred, target, mask)[0], {"p": pred}, {"p": dpred}, **FD)["p"] <= LOSS_TOL
    full_mask = np.broadcast_to(mask[..., None], pred.shape)
    assert max_abs(mse_loss(pred, target, full_mask)[1], dpred) == 0.0


def test_mae_matches_finite_differences_and_torch(rng):
    pred, target = rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
    loss, dpred = mae_loss(pred, target)
    # |p - t| is linear away from p = t; h = 1e-3 never crosses the kink for these random values
    assert np.min(np.abs(pred - target)) > 4e-3
    assert grad_check(lambda: mae_loss(pred, target)[0], {"p": pred}, {"p": dpred}, **FD)["p"] <= LOSS_TOL
    pt = t64(pred, grad=True)
    ref = F.l1_loss(pt, t64(target))
    ref.backward()
    assert abs(loss - ref.item()) <= TORCH_TOL and max_abs(dpred, pt.grad) <= TORCH_TOL
    assert mae_loss(pred, pred)[1].sum() == 0.0  # sign(0) = 0, like torch


def test_regression_loss_bad_inputs(rng):
    pred = rng.standard_normal((2, 3))
    with pytest.raises(ValueError, match=r"target axis 1 should be d1=3 to match pred \(d1=3\), got 2"):
        mse_loss(pred, pred[:, :2])
    with pytest.raises(ValueError, match="mask selects no tokens"):
        mae_loss(pred, pred, np.zeros(2))
    with pytest.raises(ValueError, match=r"mask axis 0 should be d0=2 to match pred \(d0=2\), got 3"):
        mse_loss(pred, pred, np.ones(3))
    with pytest.raises(ValueError, match="mask must be an ndarray whose shape is a prefix"):
        mse_loss(pred, pred, np.ones((2, 3, 1)))
    with pytest.raises(ValueError, match="target contains NaN"):
        mse_loss(pred, np.full_like(pred, np.nan))


# -- binary cross-entropy ------------------------------------------------------------------------


def test_sigmoid_bce_matches_finite_differences_and_torch(rng):
    logits, targets = rng.standard_normal((4, 3)) * 2, rng.random((4, 3))
    loss, dlogits = sigmoid_binary_cross_entropy(logits, targets)
    errors = grad_check(lambda: sigmoid_binary_cross_entropy(logits, targets)[0], {"z": logits}, {"z": dlogits}, **FD)
    assert errors["z"] <= LOSS_TOL
    lt = t64(logits, grad=True)
    ref = F.binary_cross_entropy_with_logits(lt, t64(targets))
    ref.backward()
    assert abs(loss - ref.item()) <= TORCH_TOL and max_abs(dlogits, lt.grad) <= TORCH_TOL


def test_sigmoid_bce_is_stable_for_logits_of_1e4():
    logits = np.array([1e4, -1e4, 1e4, -1e4])
    targets = np.array([1.0, 0.0, 0.0, 1.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss, dlogits = sigmoid_binary_cross_entropy(logits, targets)
    assert loss == pytest.approx(0.25 * (0 + 0 + 1e4 + 1e4), rel=1e-15)
    assert max_abs(dlogits, [0.0, 0.0, 0.25, -0.25]) == 0.0
    ref = F.binary_cross_entropy_with_logits(t64(logits), t64(targets))
    assert abs(loss - ref.item()) <= TORCH_TOL


def test_sigmoid_bce_bad_inputs(rng):
    z = rng.standard_normal(3)
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 1\]"):
        sigmoid_binary_cross_entropy(z, np.array([0.0, 1.5, 1.0]))
    with pytest.raises(ValueError, match=r"targets axis 0 should be d0=3 to match logits \(d0=3\), got 2"):
        sigmoid_binary_cross_entropy(z, np.ones(2))


def test_perplexity_of_a_diverged_model_is_inf():
    assert perplexity(710.0) == math.inf
    assert perplexity(709.0) == pytest.approx(math.exp(709.0))
