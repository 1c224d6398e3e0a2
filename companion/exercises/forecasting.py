"""Forecasting exercises (Section 6c): the recursive (iterated) multi-step forecast in NumPy.

The learner writes ``iterated_forecast(step_fn, series, window, horizon)``: from every
origin of a series, forecast ``horizon`` steps with a given one-step function, feeding its
predictions back.  The checker's one-step function is a fixed nonlinear map that mixes every
window position, so a window that slides the wrong way, a prediction put in the wrong place
and a forecast fed with the observed future all give different numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from companion.exercises._common import generator, normal
from companion.exercises.feedback import Feedback
from companion.exercises.runner import Array, Case, Exercise, Problem, Variant, run

__all__ = ["check_iterated_forecast", "iterated_forecast", "StepInputError"]


def iterated_forecast(
    step_fn: Callable, series: np.ndarray, window: int, horizon: int
) -> np.ndarray:
    """Recursive forecasts (N, horizon, F) from every origin i of the series."""
    x = np.asarray(series, dtype=float)
    x = x[:, None] if x.ndim == 1 else x                  # (L, F)
    n = len(x) - window - horizon + 1                     # origins
    w = np.stack([x[i : i + window] for i in range(n)])   # (N, W, F): observed only
    preds = []
    for _ in range(horizon):
        y = step_fn(w)                                    # (N, F): the next value
        preds.append(y)
        w = np.concatenate([w[:, 1:], y[:, None]], axis=1)  # drop oldest, append y
    return np.stack(preds, axis=1)                        # (N, horizon, F)


class StepInputError(ValueError):
    """The checker's one-step function was called with something that is not a batch of windows."""


def _make_step(window: int, features: int, seed: int) -> Callable[[np.ndarray], np.ndarray]:
    """A fixed one-step model ``(n, W, F) -> (n, F)``: a damped persistence plus a nonlinear mix of the window."""
    rng = generator(f"iterated_forecast-step-{seed}")
    A = normal(rng, window, features, features, scale=0.8 / window)
    b = normal(rng, features, scale=0.1)

    def step_fn(w: Any) -> np.ndarray:
        if not isinstance(w, np.ndarray):
            raise StepInputError(f"step_fn takes a numpy array of windows (n, {window}, {features}), "
                                 f"got {type(w).__name__}")
        if w.ndim != 3 or w.shape[1:] != (window, features) or w.shape[0] < 1:
            raise StepInputError(f"step_fn takes a batch of windows (n, window={window}, F={features}), "
                                 f"got shape {w.shape}")
        mix = np.tanh(np.einsum("nwf,wfg->ng", w, A) + b)
        return 0.7 * w[:, -1] + 0.5 * mix                       # (n, F)

    return step_fn


def _origins(x: np.ndarray, window: int, n: int, start: int = 0) -> np.ndarray:
    return np.stack([x[start + i: start + i + window] for i in range(n)])


def _roll(step: Callable, w: np.ndarray, horizon: int, update: Callable) -> np.ndarray:
    preds = []
    for _ in range(horizon):
        y = step(w)
        preds.append(y)
        w = update(w, y)
    return np.stack(preds, axis=1)


def _variant(kind: str) -> Callable[[Case], np.ndarray]:
    """What a function with one known mistake returns on ``case``."""

    def variant(case: Case) -> np.ndarray:
        r = case.raw
        step, W, H = r["step"], r["window"], r["horizon"]
        x = r["series"][:, None] if r["series"].ndim == 1 else r["series"]
        N = len(x) - W - H + 1
        slide = lambda w, y: np.concatenate([w[:, 1:], y[:, None]], axis=1)  # noqa: E731
        if kind == "leak":  # step h reads the observed window that ends h - 1 steps after the origin
            return np.stack([step(_origins(x, W, N, start=h)) for h in range(H)], axis=1)
        if kind == "no_slide":
            return _roll(step, _origins(x, W, N), H, lambda w, y: w)
        if kind == "replace_newest":
            return _roll(step, _origins(x, W, N), H, lambda w, y: np.concatenate([w[:, :-1], y[:, None]], axis=1))
        if kind == "prepend":
            return _roll(step, _origins(x, W, N), H, lambda w, y: np.concatenate([y[:, None], w[:, :-1]], axis=1))
        out = _roll(step, _origins(x, W, N), H, slide)
        if kind == "last_only":
            return out[:, -1]
        if kind == "last_only_kept_axis":
            return out[:, -1:]
        if kind == "time_major":
            return out.transpose(1, 0, 2)
        if kind == "reversed":
            return out[:, ::-1]
        if kind == "drop_last":
            return out[:-1]
        if kind == "shifted":  # the first window ends ON the first target: x[i + 1 : i + 1 + W]
            return _roll(step, _origins(x, W, N - 1, start=1), H, slide)
        raise ValueError(kind)

    return variant


def _step_input_hint(exc: BaseException, case: Case) -> str | None:
    if not isinstance(exc, StepInputError):
        return None
    W = case.raw["window"]
    if f"got shape (" in str(exc) and f", {W + 1}," in str(exc):
        return (
            "the window grew by one: when you append the prediction, drop the oldest step too, "
            "w = np.concatenate([w[:, 1:], y[:, None]], axis=1)."
        )
    return (
        f"call step_fn with a batch of windows of shape (n, {W}, F), all origins at once or w[None] for one; "
        "a 1-D series has F = 1 (series[:, None])."
    )


def _first_step_hint(case: Case, got: Any, problem: Problem) -> str | None:
    """Right first step but wrong later ones: the window update is the culprit (and vice versa)."""
    if problem.kind != "values" or not isinstance(got, np.ndarray) or got.shape != case.expected.shape:
        return None
    first_ok = np.allclose(got[:, 0], case.expected[:, 0], rtol=1e-5, atol=1e-7)
    if first_ok:
        return (
            "the first step is right, the later ones are not: after each step drop the oldest value of the window "
            "and append the prediction at the end, w = np.concatenate([w[:, 1:], y[:, None]], axis=1)."
        )
    return "already the first step is wrong: it is step_fn(series[i : i + window]) for origin i (as a batch)."


def check_iterated_forecast(learner_fn: Callable, *, time_limit: float | None = None) -> Feedback:
    """Check ``iterated_forecast(step_fn, series, window, horizon) -> (N, horizon, F)``.

    For every origin ``i`` with ``i + window + horizon <= L`` (the windows of
    ``sliding_windows``), start from ``w = series[i : i + window]`` and repeat ``horizon``
    times: ``y = step_fn(w)`` (a batch ``(n, window, F) -> (n, F)``), record ``y``, then
    ``w = w[1:] + [y]`` (drop the oldest step, append the prediction).  Nothing after
    ``series[i + window - 1]`` may be read for origin ``i``.  A 1-D series has ``F = 1``.
    """
    specs = [(20, 4, 3, 1), (16, 3, 5, 2), (9, 5, 2, 1), (10, 4, 6, 3), (8, 2, 1, 1)]
    cases = []
    for k, (L, W, H, F) in enumerate(specs):
        rng = generator(f"iterated_forecast-{k}")
        t = np.arange(L)
        base = np.sin(2 * np.pi * t / 5.0)[:, None] + normal(rng, L, F, scale=0.3)
        series = base[:, 0] if F == 1 and k != 2 else base             # 1-D, except case 3 (L, 1)
        step = _make_step(W, F, k)
        n = L - W - H + 1
        shape = "1-D series" if series.ndim == 1 else f"series (L, F={F})"
        cases.append(
            Case(
                args=(step, series.copy(), W, H),
                expected=iterated_forecast(step, series.copy(), W, H),
                label=f"L={L}, window={W}, horizon={H}, {shape}" + (" (one origin)" if n == 1 else ""),
                dims={"M": n, "K": H, "F": F, "W": W} if len({n, H, F, W}) == 4 else {},
                raw={"series": series.copy(), "window": W, "horizon": H, "step": step},
            )
        )
    ex = Exercise(
        name="iterated_forecast",
        signature="iterated_forecast(step_fn, series, window, horizon)",
        returns=Array("forecasts", axes="M K F"),
        variants=(
            Variant(
                "you fed the OBSERVED values back (a leak): step h reads series[i + h : i + h + window], which holds "
                "the future. That is h one-step forecasts, not an h-step forecast, and its error looks far too "
                "good. Append your own prediction to the window instead.",
                _variant("leak"),
            ),
            Variant(
                "the window never changes, so every step repeats the first forecast: after each step, drop the "
                "oldest value and append the prediction.",
                _variant("no_slide"),
            ),
            Variant(
                "off by one: you overwrote the NEWEST observation with the prediction (w[:, -1] = y); slide "
                "instead: drop the oldest step, w[:, 1:], then append y at the end.",
                _variant("replace_newest"),
            ),
            Variant(
                "the prediction went to the START of the window; time runs along axis 1, so the newest value "
                "goes at the end: np.concatenate([w[:, 1:], y[:, None]], axis=1).",
                _variant("prepend"),
            ),
            Variant(
                "you returned only the last step; return every step, stacked as (N, horizon, F).",
                _variant("last_only"),
            ),
            Variant(
                "you returned only the last step; return every step, stacked as (N, horizon, F).",
                _variant("last_only_kept_axis"),
            ),
            Variant(
                "the axes are (horizon, N, F): stack the steps along axis 1, np.stack(preds, axis=1).",
                _variant("time_major"),
            ),
            Variant(
                "the steps are in reverse order: forecasts[:, 0] is the step right after the window.",
                _variant("reversed"),
            ),
            Variant(
                "you stopped one origin early: there are L - window - horizon + 1 origins, as in sliding_windows.",
                _variant("drop_last"),
            ),
            Variant(
                "off by one: your first window is series[i + 1 : i + 1 + window], which ends ON the first target; "
                "origin i's window is series[i : i + window].",
                _variant("shifted"),
            ),
        ),
        hints=(_first_step_hint,),
        exception_hint=_step_input_hint,
    )
    return run(ex, learner_fn, cases, time_limit=time_limit)
