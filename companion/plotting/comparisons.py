"""Bar charts that put a model next to its baselines (errors, accuracies) with the numbers written on.

The values are computed by the caller (and printed in the same notebook cell), so the figure and the
table can never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.axes import Axes

from companion.plotting._axes import new_axes

__all__ = ["plot_grouped_bars"]


def plot_grouped_bars(
    values: Mapping[str, Mapping[str, float]],
    ax: Axes | None = None,
    *,
    xlabel: str | None = None,
    ylabel: str = "value",
    title: str | None = None,
    fmt: str = "{:.2f}",
    reference: float | None = None,
    reference_label: str = "reference",
) -> Axes:
    """One group of bars per key of ``values``, one bar per inner key, each labelled with its value.

    Parameters
    ----------
    values : mapping group -> (mapping series -> float)
        E.g. ``{"naive": {"MAE": 1.2, "RMSE": 1.4}, "LSTM": {"MAE": 0.3, "RMSE": 0.4}}``. Every group
        must have the same series, in the same order.
    ax : Axes, optional
    xlabel : str, optional
        Label under the groups.
    ylabel, title : str
    fmt : str
        Format of the number printed above each bar.
    reference : float, optional
        A horizontal line (e.g. chance accuracy 0.5).
    reference_label : str

    Returns
    -------
    Axes
    """
    if not values:
        raise ValueError("values is empty: nothing to draw")
    groups = list(values)
    series = list(values[groups[0]])
    if not series:
        raise ValueError(f"group {groups[0]!r} has no values")
    for g in groups:
        if list(values[g]) != series:
            raise ValueError(f"group {g!r} has series {list(values[g])}, expected {series} (same order in every group)")
    table = np.array([[float(values[g][s]) for s in series] for g in groups])  # (groups, series)
    if not np.all(np.isfinite(table)):
        raise ValueError("values must be finite numbers")
    ax = new_axes(ax, (max(5.0, 1.1 * len(groups) * max(len(series), 1) + 2.0), 3.6))
    width = 0.8 / len(series)
    x = np.arange(len(groups))
    for j, s in enumerate(series):
        bars = ax.bar(x + (j - (len(series) - 1) / 2) * width, table[:, j], width, label=s)
        ax.bar_label(bars, labels=[fmt.format(v) for v in table[:, j]], fontsize=8, padding=2)
    if reference is not None:
        ax.axhline(float(reference), color="grey", lw=1.2, linestyle="--", label=f"{reference_label} = {reference:g}")
    ax.set_xticks(x, groups)
    if xlabel:
        ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    # Head room above the tallest bar for its value label and a one-row legend.
    ax.set_ylim(0.0, max(float(table.max()), reference or 0.0) * 1.3)
    if title:
        ax.set_title(title)
    ax.grid(True, axis="y", alpha=0.3)
    if len(series) > 1 or reference is not None:
        ax.legend(fontsize=9, frameon=False, loc="upper left", ncol=len(series) + (reference is not None))
    return ax
