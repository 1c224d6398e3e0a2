"""The gradient checker itself: it must be right before it can judge anything else."""

from __future__ import annotations

import numpy as np
import pytest

from companion.numpy.gradcheck import grad_check, numerical_gradient, rel_error


@pytest.mark.parametrize("order,h,tol", [(2, 1e-6, 1e-8), (4, 1e-3, 1e-10)])
def test_numerical_gradient_of_known_functions(rng, order, h, tol):
    x = rng.standard_normal((3, 4))
    before = x.copy()
    g = numerical_gradient(lambda: float(np.sum(np.sin(x) * x**2)), x, h=h, order=order)
    assert rel_error(g, np.cos(x) * x**2 + 2 * x * np.sin(x)) <= tol
    assert np.array_equal(x, before)  # every entry restored bit for bit


def test_numerical_gradient_ignores_unused_inputs_exactly(rng):
    x, unused = rng.standard_normal(4), rng.standard_normal(3)
    for order in (2, 4):
        assert np.all(numerical_gradient(lambda: float(np.sum(x**3)), unused, order=order) == 0.0)


def test_rel_error_uses_the_floor_for_zeros():
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert rel_error(np.array([1e-12]), np.array([0.0])) == pytest.approx(1e-4)  # 1e-12 / floor 1e-8
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.2])) == pytest.approx(0.2 / 4.2)
    with pytest.raises(ValueError, match=r"equal shapes, got \(2,\) and \(3,\)"):
        rel_error(np.ones(2), np.ones(3))


def test_grad_check_reports_per_input_and_catches_a_wrong_gradient(rng):
    W, b = rng.standard_normal((2, 3)), rng.standard_normal(3)

    def f():
        return float(np.sum((W.sum(axis=0) + b) ** 2))

    good = {"W": np.broadcast_to(2 * (W.sum(axis=0) + b), W.shape).copy(), "b": 2 * (W.sum(axis=0) + b)}
    errors = grad_check(f, {"W": W, "b": b}, good)
    assert set(errors) == {"W", "b"} and max(errors.values()) <= 1e-8
    bad = dict(good, b=good["b"] * 1.01)  # a 1% mistake is far above the threshold
    assert grad_check(f, {"W": W, "b": b}, bad)["b"] > 1e-3


def test_gradcheck_bad_inputs(rng):
    x = rng.standard_normal(3)
    with pytest.raises(TypeError, match="x must be float64 for finite differences"):
        numerical_gradient(lambda: 0.0, x.astype(np.float32))
    with pytest.raises(ValueError, match=r"order must be one of \[2, 4\], got 3"):
        numerical_gradient(lambda: 0.0, x, order=3)
    with pytest.raises(ValueError, match=r"same keys, got \['x'\] and \['y'\]"):
        grad_check(lambda: 0.0, {"x": x}, {"y": x})
    with pytest.raises(ValueError, match=r"analytic\['x'\] has shape \(2,\), expected \(3,\)"):
        grad_check(lambda: 0.0, {"x": x}, {"x": x[:2]})


def _lstm_problem(rng, wrong: bool = False):
    from companion.numpy.lstm import lstm_backward, lstm_forward

    N, T, D, H = 3, 5, 4, 6
    inputs = {"x": rng.standard_normal((N, T, D)), "h0": rng.standard_normal((N, H)),
              "Wx": 0.5 * rng.standard_normal((D, 4 * H)), "Wh": 0.5 * rng.standard_normal((H, 4 * H)),
              "b": 0.5 * rng.standard_normal(4 * H)}
    G = rng.standard_normal((N, T, H))

    def loss() -> float:
        return float(np.sum(G * lstm_forward(**inputs)[0]))

    _, cache = lstm_forward(**inputs)
    analytic = dict(zip(inputs, lstm_backward(G, cache)))
    if wrong:
        analytic["Wh"] = analytic["Wh"] * 1.001  # a 0.1 % mistake
    return loss, inputs, analytic


def test_the_defaults_keep_the_documented_threshold(rng):
    """The module docstring: at the defaults, below ~1e-7 means right; correct gradients stay below 4e-9."""
    errors = grad_check(*_lstm_problem(rng))
    assert max(errors.values()) < 4e-9
    assert grad_check(*_lstm_problem(np.random.default_rng(1234), wrong=True))["Wh"] > 1e-7
