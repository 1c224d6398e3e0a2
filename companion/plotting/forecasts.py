"""Figures of forecasts: a series and its splits, forecasts against the truth, errors by lead time.

As everywhere in :mod:`companion.plotting`, the functions draw numbers computed elsewhere (forecasts
and errors come from :mod:`companion.data.timeseries` and the chapter's models) and return the
``Axes``; nothing is fitted or scored inside a plotting function.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes

from companion.plotting._axes import finish_axes, new_axes

__all__ = ["plot_series_splits", "plot_forecasts", "plot_error_by_horizon"]

_SPLIT_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:purple")
_FORECAST_STYLES = ("-", "--", "-.", ":")


def _as_1d(name: str, values: Sequence[float] | np.ndarray) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {arr.shape}")
    return arr


def plot_series_splits(
    time: Sequence[float] | np.ndarray,
    values: Sequence[float] | np.ndarray,
    cuts: Sequence[int],
    ax: Axes | None = None,
    *,
    labels: Sequence[str] = ("train", "validation", "test"),
    xlabel: str = "time",
    ylabel: str = "value",
    title: str | None = None,
) -> Axes:
    """Draw a series with each chronological piece in its own colour.

    Parameters
    ----------
    time, values : (L,) arrays
    cuts : increasing ints ``0 < c_1 < ... < c_k < L``
        Piece ``j`` holds the steps ``[c_j, c_{j+1})`` (with ``c_0 = 0``, ``c_{k+1} = L``), as returned
        by :func:`companion.data.timeseries.chronological_split`.
    labels : one label per piece (``len(cuts) + 1`` of them)
    xlabel, ylabel, title : str

    Returns
    -------
    Axes
    """
    t, y = _as_1d("time", time), _as_1d("values", values)
    if t.shape != y.shape:
        raise ValueError(f"time has {t.size} entries but values has {y.size}")
    bounds = [0, *[int(c) for c in cuts], y.size]
    if any(b >= a_next for b, a_next in zip(bounds[:-1], bounds[1:])):
        raise ValueError(f"cuts must be strictly increasing inside (0, {y.size}), got {list(cuts)}")
    if len(labels) != len(bounds) - 1:
        raise ValueError(f"{len(bounds) - 1} pieces need {len(bounds) - 1} labels, got {len(labels)}")
    ax = new_axes(ax, (7.0, 3.6))
    for j, label in enumerate(labels):
        lo, hi = bounds[j], bounds[j + 1]
        # Start each piece at the previous piece's last point so the line is unbroken.
        sl = slice(max(lo - 1, 0), hi)
        ax.plot(t[sl], y[sl], color=_SPLIT_COLOURS[j % len(_SPLIT_COLOURS)], lw=1.2,
                label=f"{label} ({hi - lo} steps)")
    for c in bounds[1:-1]:
        ax.axvline(t[c], color="grey", lw=0.8, linestyle=":")
    return finish_axes(ax, xlabel, ylabel, title, fontsize=9, frameon=False)


def plot_forecasts(
    time: Sequence[float] | np.ndarray,
    actual: Sequence[float] | np.ndarray,
    forecasts: Mapping[str, Sequence[float] | np.ndarray],
    ax: Axes | None = None,
    *,
    context: tuple[Sequence[float] | np.ndarray, Sequence[float] | np.ndarray] | None = None,
    xlabel: str = "time",
    ylabel: str = "value",
    title: str | None = None,
) -> Axes:
    """Forecasts and the values they tried to predict, on one time axis.

    Parameters
    ----------
    time : (K,) array
        Time of each forecast target.
    actual : (K,) array
        The observed values at ``time`` (drawn in black).
    forecasts : mapping label -> (K,) array
        One line per method, aligned with ``time``.
    context : (time, values), optional
        Earlier observations drawn in grey (what the forecaster had seen).
    xlabel, ylabel, title : str

    Returns
    -------
    Axes
    """
    t, y = _as_1d("time", time), _as_1d("actual", actual)
    if t.shape != y.shape:
        raise ValueError(f"time has {t.size} entries but actual has {y.size}")
    if not forecasts:
        raise ValueError("forecasts is empty: give at least one method to draw")
    ax = new_axes(ax, (7.0, 3.6))
    if context is not None:
        ct, cy = _as_1d("context time", context[0]), _as_1d("context values", context[1])
        if ct.shape != cy.shape:
            raise ValueError(f"context time has {ct.size} entries but context values has {cy.size}")
        ax.plot(ct, cy, color="0.6", lw=1.0, label="observed before")
    ax.plot(t, y, color="black", lw=1.6, label="actual")
    for i, (label, values) in enumerate(forecasts.items()):
        f = _as_1d(f"forecast {label!r}", values)
        if f.shape != t.shape:
            raise ValueError(f"forecast {label!r} has {f.size} values but time has {t.size}")
        ax.plot(t, f, lw=1.3, linestyle=_FORECAST_STYLES[i % len(_FORECAST_STYLES)], label=label)
    return finish_axes(ax, xlabel, ylabel, title, fontsize=9, frameon=False)


def plot_error_by_horizon(
    errors: Mapping[str, Sequence[float] | np.ndarray],
    ax: Axes | None = None,
    *,
    ylabel: str = "MAE",
    title: str | None = None,
) -> Axes:
    """An error metric as a function of the lead time ``h = 1 .. H`` (one line per method).

    Parameters
    ----------
    errors : mapping label -> (H,) array
        ``errors[label][h - 1]`` is the method's error ``h`` steps ahead.
    ylabel, title : str

    Returns
    -------
    Axes
    """
    if not errors:
        raise ValueError("errors is empty: give at least one method to draw")
    ax = new_axes(ax, (6.0, 3.6))
    H = None
    for i, (label, values) in enumerate(errors.items()):
        e = _as_1d(f"errors {label!r}", values)
        if H is not None and e.size != H:
            raise ValueError(f"every method needs the same number of lead times; {label!r} has {e.size}, not {H}")
        H = e.size
        ax.plot(np.arange(1, e.size + 1), e, marker="o", ms=3.5, lw=1.4,
                linestyle=_FORECAST_STYLES[i % len(_FORECAST_STYLES)], label=label)
    ax.set_ylim(bottom=0.0)
    return finish_axes(ax, "lead time $h$ (steps ahead)", ylabel, title, fontsize=9, frameon=False)
