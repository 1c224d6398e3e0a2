"""Learning-rate schedules defined on the fraction of a *time* budget, not on a step count.

A step-count schedule (``CosineAnnealingLR(T_max=steps)``) needs the number of
steps in advance; when training is limited by the clock that number depends on
how fast the machine is today.  Defined on the fraction ``f`` of the budget
used, the same schedule finishes its decay exactly when the time runs out: a
slower (or busier) machine takes fewer, larger-spaced steps along the same
curve instead of being cut off at a high learning rate.

The shapes are multipliers of the peak learning rate:

- warm-up, ``0 <= f < w``: ``m(f) = f / w`` (linear from 0 to 1);
- then, with ``u = (f - w) / (1 - w)`` the fraction of the decay done,
  cosine ``m = final + (1 - final) (1 + cos(pi u)) / 2``,
  linear ``m = 1 - (1 - final) u``, or constant ``m = 1``;
- ``f >= 1``: ``m = final`` (constant: 1).

:class:`BudgetSchedule` applies one of them to an optimizer, reading a clock.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch

__all__ = ["SHAPES", "warmup_cosine", "warmup_linear", "warmup_constant", "BudgetSchedule"]


def _check_shape_args(fraction: float, warmup: float, final: float) -> None:
    if not isinstance(fraction, (int, float)) or isinstance(fraction, bool) or math.isnan(fraction):
        raise ValueError(f"fraction must be a number, got {fraction!r}")
    if not 0 <= warmup < 1:
        raise ValueError(f"warmup must be a fraction of the budget in [0, 1), got {warmup!r}")
    if not 0 <= final <= 1:
        raise ValueError(f"final must be a multiplier of the peak in [0, 1], got {final!r}")


def _warmup_then(fraction: float, warmup: float, decay: Callable[[float], float]) -> float:
    """``f / warmup`` during the warm-up, then ``decay(u)`` with u the fraction of the decay phase done."""
    f = max(float(fraction), 0.0)
    if f < warmup:
        return f / warmup
    return decay(min((f - warmup) / (1.0 - warmup), 1.0))


def warmup_cosine(fraction: float, warmup: float = 0.0, final: float = 0.0) -> float:
    """Linear warm-up over ``[0, warmup)``, then half a cosine from 1 down to ``final`` at ``fraction = 1``."""
    _check_shape_args(fraction, warmup, final)
    return _warmup_then(fraction, warmup, lambda u: final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * u)))


def warmup_linear(fraction: float, warmup: float = 0.0, final: float = 0.0) -> float:
    """Linear warm-up over ``[0, warmup)``, then a straight line from 1 down to ``final`` at ``fraction = 1``."""
    _check_shape_args(fraction, warmup, final)
    return _warmup_then(fraction, warmup, lambda u: 1.0 - (1.0 - final) * u)


def warmup_constant(fraction: float, warmup: float = 0.0, final: float = 0.0) -> float:
    """Linear warm-up over ``[0, warmup)``, then 1 (``final`` is accepted and ignored)."""
    _check_shape_args(fraction, warmup, final)
    return _warmup_then(fraction, warmup, lambda u: 1.0)


SHAPES: dict[str, Callable[..., float]] = {
    "cosine": warmup_cosine,
    "linear": warmup_linear,
    "constant": warmup_constant,
}


class BudgetSchedule:
    """Set every parameter group's learning rate from the fraction of a time budget used.

    ``lr = base_lr * shape(elapsed / seconds, warmup, final)`` for each group,
    where ``base_lr`` is the group's learning rate when the schedule is made
    (the peak).  Call :meth:`step` before each optimizer step (e.g. from the
    batch generator that feeds :func:`companion.torch.trainer.fit`).

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
    seconds : float
        The length of the schedule (the training part of the budget), > 0.
    shape : {"cosine", "linear", "constant"} or callable
        ``shape(fraction, warmup, final) -> multiplier``; see ``SHAPES``.
    warmup : float
        Fraction of ``seconds`` spent warming up, in [0, 1).
    final : float
        Multiplier of the peak reached at the end of the budget, in [0, 1].
    clock : callable
        Seconds as a float (default ``time.perf_counter``); the schedule
        starts at the clock's value when it is made, or at ``start``.
    start : float, optional
        Clock value of the budget's start.

    Examples
    --------
    >>> model = torch.nn.Linear(2, 1)
    >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> now = [0.0]
    >>> sched = BudgetSchedule(opt, 100.0, "linear", clock=lambda: now[0])
    >>> now[0] = 25.0
    >>> round(sched.step(), 3), round(opt.param_groups[0]["lr"], 4)
    (0.75, 0.075)
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        seconds: float,
        shape: str | Callable[..., float] = "cosine",
        *,
        warmup: float = 0.0,
        final: float = 0.0,
        clock: Callable[[], float] = time.perf_counter,
        start: float | None = None,
    ) -> None:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not seconds > 0:
            raise ValueError(f"seconds must be a number > 0, got {seconds!r}")
        if isinstance(shape, str):
            if shape not in SHAPES:
                raise ValueError(f"shape must be one of {sorted(SHAPES)} or a callable, got {shape!r}")
            shape = SHAPES[shape]
        elif not callable(shape):
            raise TypeError(f"shape must be a name or a callable, got {type(shape).__name__}")
        _check_shape_args(0.0, warmup, final)
        self.optimizer = optimizer
        self.seconds = float(seconds)
        self.shape = shape
        self.warmup, self.final = float(warmup), float(final)
        self.clock = clock
        self.start = clock() if start is None else float(start)
        self.base_lrs = [float(group["lr"]) for group in optimizer.param_groups]

    def fraction(self) -> float:
        """Fraction of the budget used so far (may exceed 1 once the budget is spent)."""
        return (self.clock() - self.start) / self.seconds

    def multiplier(self) -> float:
        """The shape's value now."""
        return float(self.shape(self.fraction(), self.warmup, self.final))

    def step(self) -> float:
        """Set the learning rates for the next optimizer step; returns the multiplier applied."""
        m = self.multiplier()
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base * m
        return m
