"""Learning-rate schedules on the fraction of a time budget (companion.torch.schedules)."""

from __future__ import annotations

import math

import pytest
import torch

from companion.torch.schedules import SHAPES, BudgetSchedule, warmup_constant, warmup_cosine, warmup_linear


def test_cosine_warms_up_linearly_then_decays_to_final() -> None:
    assert warmup_cosine(0.0, warmup=0.1) == 0.0
    assert warmup_cosine(0.05, warmup=0.1) == pytest.approx(0.5)
    assert warmup_cosine(0.1, warmup=0.1) == pytest.approx(1.0)
    assert warmup_cosine(0.55, warmup=0.1, final=0.2) == pytest.approx(0.2 + 0.8 * 0.5)  # half-way: the mean
    assert warmup_cosine(1.0, warmup=0.1, final=0.2) == pytest.approx(0.2)
    assert warmup_cosine(3.0, warmup=0.1, final=0.2) == pytest.approx(0.2)  # past the budget: stays at final


def test_linear_and_constant_shapes() -> None:
    assert warmup_linear(0.5, final=0.0) == pytest.approx(0.5)
    assert warmup_linear(1.0, final=0.1) == pytest.approx(0.1)
    assert warmup_constant(0.01, warmup=0.02) == pytest.approx(0.5)
    assert warmup_constant(0.9, warmup=0.02, final=0.3) == 1.0
    assert set(SHAPES) == {"cosine", "linear", "constant"}


@pytest.mark.parametrize("shape", [warmup_cosine, warmup_linear])
def test_decaying_shapes_never_increase_after_the_warm_up(shape) -> None:
    values = [shape(f / 100, warmup=0.1, final=0.05) for f in range(10, 121)]
    assert all(a >= b - 1e-15 for a, b in zip(values, values[1:]))


@pytest.mark.parametrize(
    "kwargs, message",
    [({"warmup": 1.0}, "warmup"), ({"final": 1.5}, "final"), ({"final": -0.1}, "final")],
)
def test_bad_shape_arguments_are_named(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        warmup_cosine(0.5, **kwargs)
    with pytest.raises(ValueError, match="fraction"):
        warmup_cosine(math.nan)


def _optimizer(lr: float = 0.1) -> torch.optim.Optimizer:
    w, b = torch.nn.Parameter(torch.zeros(2, 2)), torch.nn.Parameter(torch.zeros(2))
    return torch.optim.SGD([{"params": [w], "lr": lr}, {"params": [b], "lr": lr / 10}])


def test_budget_schedule_follows_the_clock_for_every_group() -> None:
    now = [10.0]
    opt = _optimizer()
    schedule = BudgetSchedule(opt, 100.0, "cosine", warmup=0.0, final=0.0, clock=lambda: now[0])
    assert schedule.step() == pytest.approx(1.0)
    now[0] = 60.0  # half the budget
    assert schedule.fraction() == pytest.approx(0.5)
    assert schedule.step() == pytest.approx(0.5)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.05, 0.005])
    now[0] = 500.0
    assert schedule.step() == pytest.approx(0.0)


def test_a_slower_machine_walks_the_same_curve_in_fewer_steps() -> None:
    def lrs(steps: int) -> list[float]:
        step = [0]
        opt = _optimizer()
        schedule = BudgetSchedule(opt, 10.0, "linear", final=0.1, clock=lambda: 10.0 * step[0] / steps)
        seen = []
        while schedule.fraction() < 1:
            schedule.step()
            seen.append(opt.param_groups[0]["lr"])
            step[0] += 1
        return seen

    fast, slow = lrs(100), lrs(10)  # steps of 0.1 s and of 1 s in a 10 s budget
    assert len(fast) == 10 * len(slow)
    assert fast[::10] == pytest.approx(slow)  # same learning rate at the same point of the budget


def test_budget_schedule_rejects_bad_arguments() -> None:
    with pytest.raises(TypeError, match="optimizer"):
        BudgetSchedule("adam", 10.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="seconds"):
        BudgetSchedule(_optimizer(), 0)
    with pytest.raises(ValueError, match="shape"):
        BudgetSchedule(_optimizer(), 10.0, "exponential")
    with pytest.raises(ValueError, match="warmup"):
        BudgetSchedule(_optimizer(), 10.0, warmup=1.0)
