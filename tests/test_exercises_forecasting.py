"""check_iterated_forecast: the reference passes, realistic mistakes are named, the stub is "not implemented"."""

from __future__ import annotations

import numpy as np
import pytest

from companion.data.timeseries import sliding_windows
from companion.exercises.forecasting import check_iterated_forecast, iterated_forecast


@pytest.fixture(autouse=True)
def _private_progress(tmp_path, monkeypatch):
    """Passes are recorded under a temporary cache, never in the developer's own."""
    monkeypatch.setenv("COMPANION_CACHE", str(tmp_path))


def own(fn):
    """The reference wrapped in a function defined here, as a learner's solution that calls it would be."""
    return lambda *args, **kwargs: fn(*args, **kwargs)


def _learner(mode: str):
    """A learner's iterated_forecast, written with sliding_windows, with one mistake (or none)."""

    def iterated(step_fn, series, window, horizon):
        X, Y = sliding_windows(series, window, horizon)  # X (N, W, F), Y (N, H, F): Y is the truth
        if mode == "shifted":
            X = np.concatenate([X[:, 1:], Y[:, :1]], axis=1)[:-1]
        w, preds = X, []
        for h in range(horizon):
            if mode == "leak":  # "teacher forcing" at test time: the observed values go back in
                w = np.concatenate([X[:, h:], Y[:, :h]], axis=1)
            y = step_fn(w)
            preds.append(y)
            if mode == "replace_newest":
                w = w.copy()
                w[:, -1] = y
            elif mode == "prepend":
                w = np.concatenate([y[:, None], w[:, :-1]], axis=1)
            elif mode == "grow":
                w = np.concatenate([w, y[:, None]], axis=1)
            elif mode == "no_slide":
                pass
            else:
                w = np.concatenate([w[:, 1:], y[:, None]], axis=1)
        if mode == "last_only":
            return preds[-1]
        if mode == "time_major":
            return np.stack(preds)
        if mode == "reversed":
            return np.stack(preds[::-1], axis=1)
        if mode == "one_window":  # passes a single window without the batch axis
            return step_fn(X[0])
        return np.stack(preds, axis=1)

    return iterated


def test_reference_and_a_learner_solution_pass() -> None:
    assert check_iterated_forecast(own(iterated_forecast)).passed
    assert check_iterated_forecast(_learner("ok")).passed


def test_the_reference_itself_is_refused() -> None:
    fb = check_iterated_forecast(iterated_forecast)
    assert fb.status == "refused" and "reference implementation" in fb.text


def test_the_stub_is_not_implemented() -> None:
    def iterated_forecast(step_fn, series, window, horizon):
        raise NotImplementedError("replace this line with your solution")

    fb = check_iterated_forecast(iterated_forecast)
    assert fb.status == "not_implemented" and "not implemented yet" in fb.text


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("leak", "you fed the OBSERVED values back (a leak)"),
        ("shifted", "ends ON the first target"),
        ("replace_newest", "you overwrote the NEWEST observation"),
        ("prepend", "the prediction went to the START of the window"),
        ("no_slide", "every step repeats the first forecast"),
        ("last_only", "you returned only the last step"),
        ("time_major", "stack the steps along axis 1"),
        ("reversed", "the steps are in reverse order"),
        ("grow", "the window grew by one"),
        ("one_window", "call step_fn with a batch of windows"),
    ],
)
def test_realistic_mistakes_are_rejected_with_a_diagnosis(mode: str, expected: str) -> None:
    fb = check_iterated_forecast(_learner(mode))
    assert not fb.passed, mode
    assert expected in fb.text, fb.text


def test_an_unknown_wrong_update_gets_the_first_step_hint() -> None:
    def doubled(step_fn, series, window, horizon):
        out = _learner("ok")(step_fn, series, window, horizon)
        out[:, 1:] *= 2.0
        return out

    fb = check_iterated_forecast(doubled)
    assert not fb.passed and "the first step is right, the later ones are not" in fb.text


def test_a_hung_solution_is_stopped() -> None:
    def hangs(step_fn, series, window, horizon):
        while True:
            pass

    fb = check_iterated_forecast(hangs, time_limit=0.5)
    assert fb.status == "timed_out"


def test_modifying_the_series_in_place_is_reported() -> None:
    def mutates(step_fn, series, window, horizon):
        out = _learner("ok")(step_fn, series, window, horizon)
        series[0] = 0.0
        return out

    fb = check_iterated_forecast(mutates)
    assert not fb.passed and "modified its input `series`" in fb.text


def test_the_reference_reads_no_value_after_each_origin() -> None:
    # Origin i may only use series[i : i + window]: changing later values changes no forecast of origin 0.
    rng = np.random.default_rng(0)
    series = rng.standard_normal(12)
    step = lambda w: 0.5 * w[:, -1] + 0.2 * w[:, 0]  # noqa: E731
    base = iterated_forecast(step, series, 4, 3)
    changed = series.copy()
    changed[4:] = 100.0
    assert np.array_equal(iterated_forecast(step, changed, 4, 3)[0], base[0])
    assert base.shape == (12 - 4 - 3 + 1, 3, 1)
