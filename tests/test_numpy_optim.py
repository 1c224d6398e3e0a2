"""NumPy optimisers and clipping against torch.optim / torch.nn.utils on identical gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _numpy_reference import max_abs, t64
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.numpy.optim import SGD, Adagrad, Adam, RMSProp, clip_grad_norm, clip_grad_value

STEP_TOL = 1e-12  # float64, same update rule, same order of operations

CASES = [
    (lambda: SGD(lr=0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
    (lambda: SGD(lr=0.05, momentum=0.9), lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
    (lambda: Adagrad(lr=0.1), lambda p: torch.optim.Adagrad(p, lr=0.1)),
    (lambda: Adagrad(lr=0.1, eps=1e-6), lambda p: torch.optim.Adagrad(p, lr=0.1, eps=1e-6)),
    (lambda: RMSProp(lr=0.01), lambda p: torch.optim.RMSprop(p, lr=0.01)),
    (lambda: RMSProp(lr=0.02, alpha=0.9, eps=1e-6), lambda p: torch.optim.RMSprop(p, lr=0.02, alpha=0.9, eps=1e-6)),
    (lambda: Adam(lr=1e-3), lambda p: torch.optim.Adam(p, lr=1e-3)),
    (
        lambda: Adam(lr=0.01, betas=(0.8, 0.99), eps=1e-6),
        lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.99), eps=1e-6),
    ),
]
IDS = ["sgd", "sgd-momentum", "adagrad", "adagrad-eps", "rmsprop", "rmsprop-alpha", "adam", "adam-betas"]


def run_both(make_ours, make_torch, rng, shapes, steps) -> float:
    """Apply the same gradient sequence to NumPy and torch parameters; return the worst difference."""
    params = {f"p{i}": rng.standard_normal(s) for i, s in enumerate(shapes)}
    tparams = {k: t64(v, grad=True) for k, v in params.items()}
    ours, theirs = make_ours(), make_torch(list(tparams.values()))
    worst = 0.0
    for _ in range(steps):
        grads = {k: rng.standard_normal(v.shape) * rng.uniform(0.01, 10) for k, v in params.items()}
        for k, g in grads.items():
            tparams[k].grad = t64(g)
        before = {k: v for k, v in params.items()}  # same objects: step must update in place
        ours.step(params, grads)
        theirs.step()
        assert all(params[k] is before[k] for k in params)
        worst = max(worst, *(max_abs(params[k], tparams[k]) for k in params))
    return worst


@pytest.mark.parametrize("make_ours,make_torch", CASES, ids=IDS)
def test_optimisers_match_torch_step_by_step(rng, make_ours, make_torch):
    assert run_both(make_ours, make_torch, rng, [(3, 4), (4,), (2, 2, 2)], steps=20) <= STEP_TOL


@settings(max_examples=25, deadline=None)
@given(
    case=st.integers(0, len(CASES) - 1),
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=3),
    seed=st.integers(0, 2**16),
)
def test_property_optimisers_match_torch_any_shape(case, shape, seed):
    make_ours, make_torch = CASES[case]
    assert run_both(make_ours, make_torch, np.random.default_rng(seed), [tuple(shape)], steps=5) <= STEP_TOL


def test_optimiser_bad_inputs(rng):
    params, grads = {"W": rng.standard_normal((2, 3))}, {"W": rng.standard_normal((2, 3))}
    with pytest.raises(ValueError, match="lr must be finite and > 0, got -0.1"):
        SGD(lr=-0.1)
    with pytest.raises(ValueError, match=r"betas\[1\] must be in \[0, 1\), got 1.0"):
        Adam(betas=(0.9, 1.0))
    with pytest.raises(ValueError, match=r"params and grads must have the same keys, got \['W'\] and \['V'\]"):
        SGD(0.1).step(params, {"V": grads["W"]})
    with pytest.raises(ValueError, match=r"grads\['W'\] has shape \(3, 2\) but params\['W'\] has \(2, 3\)"):
        SGD(0.1).step(params, {"W": grads["W"].T})
    with pytest.raises(ValueError, match=r"grads\['W'\] contains NaN or inf"):
        Adam().step(params, {"W": np.full((2, 3), np.nan)})
    with pytest.raises(TypeError, match="grads must be a non-empty dict"):
        Adam().step(params, [grads["W"]])


# -- clipping ------------------------------------------------------------------------------------


@pytest.mark.parametrize("max_norm", [0.5, 3.0, 100.0])
def test_clip_grad_norm_matches_torch_and_leaves_inputs_untouched(rng, max_norm):
    grads = {"Wx": rng.standard_normal((3, 4)), "Wh": rng.standard_normal((4, 4)), "b": rng.standard_normal(4)}
    copies = {k: v.copy() for k, v in grads.items()}
    clipped, total = clip_grad_norm(grads, max_norm)

    tensors = [t64(g, grad=True) for g in grads.values()]
    for t, g in zip(tensors, grads.values()):
        t.grad = t64(g)
    torch_total = torch.nn.utils.clip_grad_norm_(tensors, max_norm)
    assert abs(total - torch_total.item()) <= 1e-12
    for (k, c), t in zip(clipped.items(), tensors):
        assert max_abs(c, t.grad) <= 1e-14
        assert np.array_equal(grads[k], copies[k]) and c is not grads[k]

    new_norm = np.sqrt(sum(np.sum(c**2) for c in clipped.values()))
    assert new_norm <= max_norm + 1e-9
    if total > max_norm:  # direction is preserved: clipped = scale * original
        scale = clipped["b"][0] / grads["b"][0]
        assert all(max_abs(clipped[k], scale * grads[k]) <= 1e-14 for k in grads)


def test_clip_grad_value_clips_elementwise_and_copies(rng):
    grads = {"W": rng.standard_normal((5, 5)) * 3}
    out = clip_grad_value(grads, 1.0)
    t = t64(grads["W"], grad=True)
    t.grad = t64(grads["W"])
    torch.nn.utils.clip_grad_value_([t], 1.0)
    assert max_abs(out["W"], t.grad) == 0.0 and np.abs(grads["W"]).max() > 1.0


def test_clip_bad_inputs(rng):
    with pytest.raises(ValueError, match="max_norm must be finite and > 0, got 0"):
        clip_grad_norm({"W": np.ones(2)}, 0)
    with pytest.raises(ValueError, match=r"grads\['W'\] contains NaN or inf"):
        clip_grad_norm({"W": np.array([1.0, np.inf])}, 1.0)
    with pytest.raises(TypeError, match="grads must be a non-empty dict"):
        clip_grad_value({}, 1.0)
