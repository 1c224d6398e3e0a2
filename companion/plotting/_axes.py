"""Small helpers every plotting module shares: get an Axes, and finish one the same way."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
from matplotlib.axes import Axes


def new_axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    """Return ``ax``, or the Axes of a new figure of ``figsize`` inches when it is None."""
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def finish_axes(ax: Axes, xlabel: str, ylabel: str, title: str | None = None, **legend: Any) -> Axes:
    """Axis labels, optional title, a light grid and a legend (``legend`` are its keyword arguments)."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(**legend)
    return ax
