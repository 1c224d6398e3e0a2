"""companion.torch.linear_recurrence: the parallel scan computes exactly what the loop computes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.exercises.solutions import linear_recurrence_scan as numpy_scan
from companion.torch.linear_recurrence import (
    MinGRU,
    MinGRURegressor,
    linear_recurrence_closed_form,
    linear_recurrence_loop,
    linear_recurrence_scan,
    scan_rounds,
)

torch.set_num_threads(1)


def _inputs(N: int, T: int, H: int, seed: int = 0, dtype: torch.dtype = torch.float64):
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(N, T, H, generator=g, dtype=dtype) * 1.6 - 0.8  # signs of both kinds, |a| < 1
    b = torch.randn(N, T, H, generator=g, dtype=dtype)
    h0 = torch.randn(N, H, generator=g, dtype=dtype)
    return a, b, h0


def _by_hand(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
    """The definition with Python floats, element by element (independent of both implementations)."""
    N, T, H = a.shape
    out = torch.empty(N, T, H, dtype=torch.float64)
    for n in range(N):
        for k in range(H):
            h = float(h0[n, k])
            for t in range(T):
                h = float(a[n, t, k]) * h + float(b[n, t, k])
                out[n, t, k] = h
    return out


def test_loop_follows_the_definition() -> None:
    a, b, h0 = _inputs(2, 5, 3)
    assert (linear_recurrence_loop(a, b, h0) - _by_hand(a, b, h0)).abs().max().item() <= 1e-12


@settings(max_examples=40, deadline=None)
@given(
    N=st.integers(1, 3),
    T=st.integers(1, 70),  # includes T = 1, powers of two and everything in between
    H=st.integers(1, 4),
    seed=st.integers(0, 10_000),
)
def test_scan_equals_loop_for_random_shapes(N: int, T: int, H: int, seed: int) -> None:
    a, b, h0 = _inputs(N, T, H, seed)
    loop, scan = linear_recurrence_loop(a, b, h0), linear_recurrence_scan(a, b, h0)
    assert scan.shape == (N, T, H)
    assert (scan - loop).abs().max().item() <= 1e-10


@pytest.mark.parametrize("T", [1, 2, 3, 8, 13, 64, 100])
def test_scan_matches_the_numpy_reference_of_the_exercise(T: int) -> None:
    a, b, h0 = _inputs(2, T, 3, seed=T)
    expected = numpy_scan(a.numpy(), b.numpy(), h0.numpy())
    assert np.max(np.abs(linear_recurrence_scan(a, b, h0).numpy() - expected)) <= 1e-12


def test_missing_h0_means_zeros() -> None:
    a, b, _ = _inputs(2, 9, 3)
    zeros = torch.zeros(2, 3, dtype=torch.float64)
    assert torch.equal(linear_recurrence_scan(a, b), linear_recurrence_scan(a, b, zeros))
    assert torch.equal(linear_recurrence_loop(a, b), linear_recurrence_loop(a, b, zeros))


def test_t_equal_one_is_a_single_step() -> None:
    a, b, h0 = _inputs(3, 1, 2)
    expected = a[:, 0] * h0 + b[:, 0]
    assert torch.allclose(linear_recurrence_scan(a, b, h0)[:, 0], expected, rtol=0, atol=1e-15)


@pytest.mark.parametrize("T", [1, 6, 16, 33])
def test_gradients_through_scan_equal_gradients_through_loop(T: int) -> None:
    a, b, h0 = _inputs(2, T, 3, seed=100 + T)
    w = torch.randn(2, T, 3, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    grads = []
    for f in (linear_recurrence_loop, linear_recurrence_scan):
        leaves = [t.clone().requires_grad_(True) for t in (a, b, h0)]
        (f(*leaves) * w).sum().backward()
        grads.append([leaf.grad for leaf in leaves])
    for g_loop, g_scan, name in zip(*grads, ("a", "b", "h0")):
        assert (g_loop - g_scan).abs().max().item() <= 1e-10, name


def test_scan_passes_torch_gradcheck() -> None:
    a, b, h0 = (t.requires_grad_(True) for t in _inputs(1, 5, 2, seed=3))
    assert torch.autograd.gradcheck(linear_recurrence_scan, (a, b, h0), eps=1e-6, atol=1e-8)


def test_scan_rounds_is_ceil_log2() -> None:
    assert [scan_rounds(T) for T in (1, 2, 3, 4, 5, 8, 9, 1024, 1025)] == [0, 1, 2, 2, 3, 3, 4, 10, 11]
    with pytest.raises(ValueError):
        scan_rounds(0)


def test_closed_form_is_right_when_short_and_breaks_when_long() -> None:
    a, b, h0 = _inputs(2, 12, 3)
    a = a.abs() + 0.2  # no zeros, products stay moderate
    assert (linear_recurrence_closed_form(a, b, h0) - linear_recurrence_loop(a, b, h0)).abs().max().item() <= 1e-9
    # float32 decays of ~0.5 underflow after ~150 steps: the closed form returns NaN/inf, the scan does not
    g = torch.Generator().manual_seed(0)
    a = torch.rand(1, 400, 4, generator=g) * 0.5 + 0.25
    b = torch.randn(1, 400, 4, generator=g)
    assert not torch.isfinite(linear_recurrence_closed_form(a, b)).all()
    assert (linear_recurrence_scan(a, b) - linear_recurrence_loop(a, b)).abs().max().item() <= 1e-5


@pytest.mark.parametrize(
    "args, error, match",
    [
        ((np.ones((2, 3, 4)), torch.ones(2, 3, 4), None), TypeError, "a must be a torch.Tensor"),
        ((torch.ones(2, 3), torch.ones(2, 3), None), ValueError, "a must have 3 dimensions"),
        ((torch.ones(2, 3, 4), torch.ones(2, 5, 4), None), ValueError, "same shape"),
        ((torch.ones(2, 3, 4), torch.ones(2, 3, 4, dtype=torch.float64), None), TypeError, "same dtype"),
        ((torch.ones(2, 3, 4, dtype=torch.long), torch.ones(2, 3, 4), None), TypeError, "floating-point"),
        ((torch.ones(2, 3, 4), torch.ones(2, 3, 4), torch.ones(3, 4)), ValueError, "h0 axis 0 should be N=2"),
        ((torch.ones(2, 3, 4), torch.ones(2, 3, 4), torch.ones(2, 5)), ValueError, "h0 axis 1 should be H=4"),
        ((torch.ones(2, 3, 4), torch.ones(2, 3, 4), torch.ones(2, 4, dtype=torch.float64)), TypeError, "h0 must have"),
        ((torch.ones(2, 0, 4), torch.ones(2, 0, 4), None), ValueError, "empty"),
    ],
)
@pytest.mark.parametrize("f", [linear_recurrence_loop, linear_recurrence_scan])
def test_bad_inputs_are_rejected(f, args, error, match) -> None:  # noqa: ANN001
    with pytest.raises(error, match=match):
        f(*args)


def test_no_silent_broadcast_of_a_shared_h0() -> None:
    # an h0 of shape (H,) would broadcast over the batch in a naive implementation; here it is refused
    a, b, _ = _inputs(2, 4, 3)
    with pytest.raises(ValueError, match="h0 must have 2 dimensions"):
        linear_recurrence_scan(a, b, torch.zeros(3, dtype=torch.float64))


# --- MinGRU -------------------------------------------------------------------------------------------------------
def test_mingru_follows_its_equations() -> None:
    torch.manual_seed(0)
    cell = MinGRU(3, 4).double()
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    h0 = torch.randn(2, 4, dtype=torch.float64)
    W, bias = cell.linear.weight, cell.linear.bias
    h, expected = h0, []
    for t in range(6):
        pre = x[:, t] @ W.T + bias
        z, h_tilde = torch.sigmoid(pre[:, :4]), pre[:, 4:]
        h = (1 - z) * h + z * h_tilde
        expected.append(h)
    out, last = cell(x, h0)
    assert (out - torch.stack(expected, 1)).abs().max().item() <= 1e-12
    assert torch.equal(last, out[:, -1])


def test_mingru_parallel_sequential_and_stepwise_agree() -> None:
    torch.manual_seed(1)
    cell = MinGRU(2, 5).double()
    x = torch.randn(3, 11, 2, dtype=torch.float64)
    par, _ = cell(x, parallel=True)
    seq, _ = cell(x, parallel=False)
    h = torch.zeros(3, 5, dtype=torch.float64)
    steps = []
    for t in range(11):
        h = cell.step(x[:, t], h)
        steps.append(h)
    assert (par - seq).abs().max().item() <= 1e-12
    assert (par - torch.stack(steps, 1)).abs().max().item() <= 1e-12


def test_mingru_parameter_gradients_are_the_same_for_scan_and_loop() -> None:
    torch.manual_seed(2)
    model = MinGRURegressor(2, 6, 1, num_layers=2).double()
    x = torch.randn(4, 13, 2, dtype=torch.float64)
    y = torch.randn(4, 1, dtype=torch.float64)
    grads = []
    for parallel in (True, False):
        model.zero_grad()
        torch.nn.functional.mse_loss(model(x, parallel=parallel), y).backward()
        grads.append({k: p.grad.clone() for k, p in model.named_parameters()})
    for name in grads[0]:
        assert (grads[0][name] - grads[1][name]).abs().max().item() <= 1e-10, name


def test_mingru_rejects_wrong_inputs() -> None:
    cell = MinGRU(3, 4)
    with pytest.raises(ValueError, match="input_size=3"):
        cell(torch.zeros(2, 5, 4))
    with pytest.raises(TypeError, match="float64"):
        cell(torch.zeros(2, 5, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="h0 axis 1 should be H=4"):
        cell(torch.zeros(2, 5, 3), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="hidden_size=4"):
        cell.step(torch.zeros(2, 3), torch.zeros(2, 5))
    with pytest.raises(ValueError):
        MinGRU(0, 4)


def test_mingru_regressor_learns_a_running_mean_quickly() -> None:
    # a smoke test of trainability: the target (mean of the inputs) is one linear recurrence away
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    model = MinGRURegressor(1, 8, 1, num_layers=1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x = torch.randn(64, 20, 1, generator=g)
    y = x.mean(dim=1)
    first = None
    for _ in range(150):
        loss = torch.nn.functional.mse_loss(model(x), y)
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() <= 0.2 * first
    assert math.isfinite(loss.item())


def test_mingru_regressor_streaming_equals_the_parallel_forward() -> None:
    torch.manual_seed(3)
    model = MinGRURegressor(2, 5, 3, num_layers=3).double()
    x = torch.randn(4, 9, 2, dtype=torch.float64)
    states = None
    for t in range(9):
        y_t, states = model.step(x[:, t], states)
    assert len(states) == 3 and states[0].shape == (4, 5)
    assert (y_t - model(x)).abs().max().item() <= 1e-12
    with pytest.raises(ValueError, match="one tensor per layer"):
        model.step(x[:, 0], states[:2])
