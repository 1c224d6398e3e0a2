"""Figures of training runs: loss curves and perplexity against reference baselines.

The helpers draw numbers the caller computed (a metric is never computed inside a
plotting function, so what is plotted is what was printed) and return the ``Axes``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import FormatStrFormatter

from companion.plotting._axes import finish_axes, new_axes

__all__ = ["plot_curves", "plot_perplexity"]

_BASELINE_STYLES = ["--", ":", "-.", (0, (5, 1, 1, 1))]


def plot_curves(
    curves: Mapping[str, Sequence[float] | np.ndarray],
    ax: Axes | None = None,
    *,
    x: Sequence[float] | np.ndarray | None = None,
    xlabel: str = "step",
    ylabel: str = "loss",
    title: str | None = None,
    logy: bool = False,
    logx: bool = False,
    baselines: Mapping[str, float] | None = None,
) -> Axes:
    """One line per named curve, optional horizontal baselines.

    Non-finite values (a run that diverged to ``inf`` or ``nan``) are not drawn;
    the curve simply stops, and the legend says where.

    Parameters
    ----------
    curves : mapping label -> sequence of length K
    ax : matplotlib Axes, optional
    x : sequence of length K, optional
        Positions on the x-axis (default ``1 .. K``).  All curves share it if given;
        otherwise each curve uses its own ``1 .. len``.
    xlabel, ylabel, title : str
    logy, logx : bool
        Log-scaled y-axis / x-axis (a log x-axis spreads out the first steps of training,
        where most of the change happens).
    baselines : mapping label -> float, optional
        Reference levels drawn as horizontal dashed lines.

    Returns
    -------
    matplotlib Axes
    """
    ax = new_axes(ax, (6.4, 4.0))
    for label, values in curves.items():
        values = np.asarray(values, dtype=float)
        xs = np.arange(1, len(values) + 1) if x is None else np.asarray(x, dtype=float)
        if xs.shape != values.shape:
            raise ValueError(f"curve {label!r} has {values.shape[0]} values but x has {xs.shape[0]}")
        finite = np.isfinite(values)
        if not finite.all():
            first_bad = int(np.argmin(finite))
            label = f"{label} (non-finite from {xlabel} {xs[first_bad]:g})"
            values = np.where(np.arange(len(values)) < first_bad, values, np.nan)
        ax.plot(xs, values, lw=1.8, label=label)
    for i, (label, level) in enumerate((baselines or {}).items()):
        ax.axhline(float(level), color="grey", lw=1.4, linestyle=_BASELINE_STYLES[i % len(_BASELINE_STYLES)],
                   label=f"{label} = {float(level):.2f}")
    if logy:
        ax.set_yscale("log")
        low, high = ax.get_ylim()
        if high / low < 100:  # under two decades: label ticks "4, 6, 10, 20" rather than "4x10^0, 6x10^0, ..."
            ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
            ax.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
    if logx:
        ax.set_xscale("log")
    return finish_axes(ax, xlabel, ylabel, title, fontsize=9)


def plot_perplexity(
    perplexity: Mapping[str, Sequence[float] | np.ndarray],
    baselines: Mapping[str, float],
    ax: Axes | None = None,
    *,
    x: Sequence[float] | np.ndarray | None = None,
    xlabel: str = "epoch",
    title: str = "Perplexity during training",
    logx: bool = False,
) -> Axes:
    """Perplexity curves (log scale) with the baselines a model must beat drawn as horizontal lines.

    Parameters
    ----------
    perplexity : mapping label -> sequence of length K
        E.g. ``{"train": [...], "validation": [...]}``.
    baselines : mapping label -> float
        E.g. ``{"uniform": 28.0, "unigram": 17.3, "bigram": 9.9}``.
    ax : matplotlib Axes, optional
    x : sequence of length K, optional
    xlabel, title : str
    logx : bool
        Log-scaled x-axis.

    Returns
    -------
    matplotlib Axes
    """
    for label, v in {**{k: np.nanmin(np.asarray(v, float)) for k, v in perplexity.items()}, **baselines}.items():
        if not v >= 1.0:
            raise ValueError(f"perplexity is at least 1, got {v} for {label!r}")
    return plot_curves(perplexity, ax, x=x, xlabel=xlabel, ylabel="perplexity (log scale)", title=title,
                       logy=True, logx=logx, baselines=baselines)
