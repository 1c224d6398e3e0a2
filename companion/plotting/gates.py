"""Figures of gated cells (chapter 5): a schematic of the LSTM cell and heatmaps of gate activations.

The heatmap helper draws arrays that were computed elsewhere (for instance the
activated gates that :func:`companion.numpy.lstm.lstm_forward` keeps in its
cache, ``cache.gates`` of shape (N, T, 4H), blocks ``[i, f, g, o]``); it never
runs a model.  Every function returns what it drew on.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyBboxPatch

from companion._checks import check_array
from companion.plotting._axes import new_axes

__all__ = ["draw_lstm_cell", "plot_gate_heatmaps"]

_GATE_COLOR = "#f3c98b"  # layers with weights (sigmoid / tanh of an affine map)
_OP_COLOR = "#cfe3f5"  # point-wise operations, no weights
_CELL_COLOR = "#c0392b"  # the cell-state path


def _box(ax: Axes, xy: tuple[float, float], text: str, label: str) -> None:
    """A rounded box holding a weighted layer (``σ`` or ``tanh``), with the gate's symbol beside its output."""
    w, h = 0.9, 0.6
    ax.add_patch(
        FancyBboxPatch(
            (xy[0] - w / 2, xy[1] - h / 2), w, h, boxstyle="round,pad=0.05", fc=_GATE_COLOR, ec="black", lw=1.2, zorder=3
        )
    )
    ax.text(*xy, text, ha="center", va="center", fontsize=12, zorder=4)
    ax.text(xy[0] + 0.12, xy[1] + 0.42, label, ha="left", va="bottom", fontsize=13, zorder=4)


def _op(ax: Axes, xy: tuple[float, float], text: str) -> None:
    """A circle holding a point-wise operation (``×``, ``+``, ``tanh``)."""
    r = 0.3 if text != "tanh" else 0.38
    ax.add_patch(Circle(xy, r, fc=_OP_COLOR, ec="black", lw=1.2, zorder=3))
    ax.text(*xy, text, ha="center", va="center", fontsize=12 if len(text) == 1 else 9, zorder=4)


def _arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float], *, color: str = "black", lw: float = 1.4) -> None:
    ax.annotate(
        "", xy=end, xytext=start, arrowprops={"arrowstyle": "-|>", "color": color, "lw": lw, "shrinkA": 0, "shrinkB": 0},
        zorder=2,
    )


def _line(ax: Axes, xs: Sequence[float], ys: Sequence[float], *, color: str = "black", lw: float = 1.4) -> None:
    ax.plot(xs, ys, color=color, lw=lw, zorder=1, solid_capstyle="round")


def draw_lstm_cell(ax: Axes | None = None, *, title: str | None = "One LSTM step") -> Axes:
    """Schematic of one LSTM step: the four gate layers, the point-wise operations and the cell-state path.

    Orange boxes are layers with weights (each computes ``σ`` or ``tanh`` of
    ``W x_t + U h_{t-1} + b``); blue circles are point-wise operations without
    weights.  The thick red line is the cell state ``c``: along it the only
    operations are a point-wise product with ``f_t`` and the addition of
    ``i_t ⊙ g_t``, which is why gradients can travel along it for many steps.

    Parameters
    ----------
    ax : Axes, optional
        Drawn on a new (8, 4.8) figure if omitted.
    title : str or None

    Returns
    -------
    Axes
    """
    ax = new_axes(ax, (8.0, 4.8))
    ax.add_patch(FancyBboxPatch((0.3, 0.2), 9.4, 5.3, boxstyle="round,pad=0.1", fc="#f7f7f7", ec="grey", lw=1.0, zorder=0))
    y_c, y_gate, y_bus, y_h = 4.8, 2.3, 1.2, 0.7
    x_f, x_i, x_g, x_o = 1.9, 3.5, 5.0, 6.5
    x_mul_f, x_add, x_out = x_f, x_g, 8.0

    # cell state: c_{t-1} -> (x f) -> (+ i g) -> c_t
    _line(ax, [-0.4, x_mul_f - 0.3], [y_c, y_c], color=_CELL_COLOR, lw=3.5)
    _line(ax, [x_mul_f + 0.3, x_add - 0.3], [y_c, y_c], color=_CELL_COLOR, lw=3.5)
    _arrow(ax, (x_add + 0.3, y_c), (10.4, y_c), color=_CELL_COLOR, lw=3.5)
    _op(ax, (x_mul_f, y_c), "×")
    _op(ax, (x_add, y_c), "+")
    ax.text(-0.45, y_c + 0.3, "$c_{t-1}$", ha="left", va="bottom", fontsize=13)
    ax.text(10.4, y_c + 0.3, "$c_t$", ha="right", va="bottom", fontsize=13)

    # inputs: h_{t-1} from the left and x_t from below join on a bus that feeds every gate layer
    _line(ax, [-0.4, x_o], [y_h, y_h])
    _arrow(ax, (1.0, -0.5), (1.0, y_h))
    ax.text(-0.45, y_h - 0.15, "$h_{t-1}$", ha="left", va="top", fontsize=13)
    ax.text(1.1, -0.45, "$x_t$", ha="left", va="bottom", fontsize=13)
    for x in (x_f, x_i, x_g, x_o):
        _line(ax, [x, x], [y_h, y_bus])
        _arrow(ax, (x, y_bus), (x, y_gate - 0.35))
    _box(ax, (x_f, y_gate), "σ", "$f_t$")
    _box(ax, (x_i, y_gate), "σ", "$i_t$")
    _box(ax, (x_g, y_gate), "tanh", "$g_t$")
    _box(ax, (x_o, y_gate), "σ", "$o_t$")

    # forget gate scales the old cell; input gate scales the candidate, and the product is added
    _arrow(ax, (x_f, y_gate + 0.35), (x_f, y_c - 0.3))
    y_ig = 3.6
    _op(ax, (x_g, y_ig), "×")
    _line(ax, [x_i, x_i], [y_gate + 0.35, y_ig])
    _arrow(ax, (x_i, y_ig), (x_g - 0.3, y_ig))
    _arrow(ax, (x_g, y_gate + 0.35), (x_g, y_ig - 0.3))
    _arrow(ax, (x_g, y_ig + 0.3), (x_add, y_c - 0.3))

    # output: h_t = o_t * tanh(c_t)
    y_tanh, y_mul_o = 3.8, y_gate
    _line(ax, [x_out, x_out], [y_c, y_tanh + 0.38])
    _op(ax, (x_out, y_tanh), "tanh")
    _arrow(ax, (x_out, y_tanh - 0.38), (x_out, y_mul_o + 0.3))
    _op(ax, (x_out, y_mul_o), "×")
    _arrow(ax, (x_o + 0.5, y_mul_o), (x_out - 0.3, y_mul_o))
    _line(ax, [x_out, x_out], [y_mul_o - 0.3, y_h])
    _arrow(ax, (x_out, y_h), (10.4, y_h))
    _line(ax, [x_out, 9.0], [y_h, y_h])
    _arrow(ax, (9.0, y_h), (9.0, 6.1))
    ax.text(10.4, y_h - 0.15, "$h_t$", ha="right", va="top", fontsize=13)
    ax.text(9.1, 6.1, "$h_t$ (output)", ha="left", va="top", fontsize=12)

    ax.text(
        (x_mul_f + x_add) / 2, y_c + 0.35, "cell state: only × $f_t$ and + $i_t g_t$",
        ha="center", va="bottom", fontsize=10, color=_CELL_COLOR,
    )
    ax.set_xlim(-0.6, 10.6)
    ax.set_ylim(-0.6, 6.3)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title)
    return ax


def plot_gate_heatmaps(
    panels: Mapping[str, np.ndarray],
    *,
    marks: Sequence[int] = (),
    signed: Collection[str] = (),
    fig: Figure | None = None,
    title: str | None = None,
    xlabel: str = "time step $t$",
) -> list[Axes]:
    """One heatmap per named array of shape (T, H): hidden units on the y-axis, time on the x-axis.

    Parameters
    ----------
    panels : mapping name -> ndarray, shape (T, H)
        E.g. ``{"input gate $i_t$": i, "forget gate $f_t$": f}`` for one sequence;
        all panels must share T and H.  Gate activations lie in (0, 1) and are drawn
        on a fixed 0..1 colour scale, so panels can be compared by eye.
    marks : sequence of int
        Time steps to mark with dashed vertical lines on every panel (for the
        adding problem: the two marked positions).
    signed : collection of str
        Names of panels that are not gates (for instance the cell state ``c_t``):
        drawn with a diverging colour map symmetric around 0.
    fig : Figure, optional
        A new figure sized to the number of panels if omitted.
    title : str, optional
        Figure title.
    xlabel : str
        Label of the bottom panel's x-axis.

    Returns
    -------
    list of Axes
        One per panel, top to bottom.
    """
    if not panels:
        raise ValueError("panels must hold at least one array")
    arrays = {}
    shape = None
    for name, values in panels.items():
        check_array(name, values)
        values = np.asarray(values, dtype=float)
        if values.ndim != 2:
            raise ValueError(f"panel {name!r} must have shape (T, H), got {values.shape}")
        if shape is not None and values.shape != shape:
            raise ValueError(f"panel {name!r} has shape {values.shape}, the first panel has {shape}")
        shape = values.shape
        arrays[name] = values
    unknown = set(signed) - set(arrays)
    if unknown:
        raise ValueError(f"signed names {sorted(unknown)} are not panel names {list(arrays)}")
    T, H = shape
    if fig is None:
        fig = plt.figure(figsize=(9.0, 1.0 + 1.9 * len(arrays)))
    axes = fig.subplots(len(arrays), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (name, values) in zip(axes, arrays.items()):
        if name in signed:
            bound = max(float(np.abs(values).max()), 1e-12)
            im = ax.imshow(values.T, aspect="auto", cmap="RdBu_r", vmin=-bound, vmax=bound, interpolation="nearest",
                           origin="lower", extent=(-0.5, T - 0.5, -0.5, H - 0.5))
        else:
            im = ax.imshow(values.T, aspect="auto", cmap="viridis", vmin=0.0, vmax=1.0, interpolation="nearest",
                           origin="lower", extent=(-0.5, T - 0.5, -0.5, H - 0.5))
        for t in marks:
            ax.axvline(t, color="white", lw=1.2, ls="--")
        ax.set_ylabel("unit")
        ax.set_title(name, fontsize=11)
        fig.colorbar(im, ax=ax, pad=0.01, fraction=0.04)
    axes[-1].set_xlabel(xlabel)
    if title:
        fig.suptitle(title)
    return list(axes)
