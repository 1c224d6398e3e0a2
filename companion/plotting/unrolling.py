"""Diagrams of a recurrent network: the folded cell, its unrolled chain, and input/output patterns.

Every function draws on a Matplotlib ``Axes`` (a new one if none is given) and returns it, so a
chapter can place the diagrams in any grid.  Nodes are rounded boxes whose text is a LaTeX label
(``$x_t$``, ``$h_2$``); edges are arrows labelled with the weight matrix they stand for
(``$W$`` input-to-hidden, ``$U$`` hidden-to-hidden, ``$V$`` hidden-to-output), the names used by the
book's equations

.. math::

    h_t = f(W x_t + U h_{t-1} + b), \\qquad y_t = g(V h_t + c).

Colours are fixed per role (input, hidden state, output) so that the same role looks the same in
every figure of the book.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle
from matplotlib.path import Path

from companion.plotting._axes import new_axes

__all__ = [
    "ROLE_COLORS",
    "IO_PATTERNS",
    "draw_folded_rnn",
    "draw_unrolled_rnn",
    "draw_folded_and_unrolled",
    "draw_io_pattern",
    "draw_io_patterns",
]

#: Face colour of a node by role.  Encoder and decoder states get two shades of the hidden colour.
ROLE_COLORS: dict[str, str] = {
    "input": "#cfe2f3",
    "hidden": "#fce5cd",
    "encoder": "#fce5cd",
    "decoder": "#f4cccc",
    "output": "#d9ead3",
}

#: The input/output patterns ``draw_io_pattern`` knows, with a one-line example task each.
IO_PATTERNS: dict[str, tuple[str, str]] = {
    "one_to_one": ("one to one", "no recurrence:\nimage classification"),
    "one_to_many": ("one to many", "image captioning,\nmusic generation"),
    "many_to_one": ("many to one", "sentiment,\nsequence classification"),
    "many_to_many_aligned": ("many to many (aligned)", "tagging,\nnext-character prediction"),
    "encoder_decoder": ("many to many (encoder-decoder)", "translation,\nsummarisation"),
}

_BOX_W, _BOX_H = 0.62, 0.46
_EDGE = "#333333"


def _node(ax: Axes, xy: tuple[float, float], label: str, role: str, *, fontsize: float = 12) -> FancyBboxPatch:
    """Draw a rounded box centred at ``xy`` with ``label`` inside; return the patch."""
    x, y = xy
    box = FancyBboxPatch(
        (x - _BOX_W / 2, y - _BOX_H / 2),
        _BOX_W,
        _BOX_H,
        boxstyle="round,pad=0.02,rounding_size=0.08",
        facecolor=ROLE_COLORS[role],
        edgecolor=_EDGE,
        linewidth=1.2,
        zorder=2,
    )
    box.set_gid(f"node:{role}")
    ax.add_patch(box)
    ax.text(x, y, label, ha="center", va="center", fontsize=fontsize, zorder=3)
    return box


def _arrow(
    ax: Axes,
    start: tuple[float, float],
    end: tuple[float, float],
    label: str | None = None,
    *,
    label_offset: tuple[float, float] = (0.0, 0.0),
    connectionstyle: str = "arc3",
    color: str = _EDGE,
    fontsize: float = 11,
) -> FancyArrowPatch:
    """Draw an arrow from ``start`` to ``end`` and write ``label`` near its midpoint."""
    arrow = FancyArrowPatch(
        start,
        end,
        arrowstyle="-|>",
        mutation_scale=13,
        linewidth=1.3,
        color=color,
        connectionstyle=connectionstyle,
        zorder=1,
    )
    arrow.set_gid("edge")
    ax.add_patch(arrow)
    if label:
        mx = (start[0] + end[0]) / 2 + label_offset[0]
        my = (start[1] + end[1]) / 2 + label_offset[1]
        ax.text(mx, my, label, ha="center", va="center", fontsize=fontsize, color="#7f0000", zorder=3)
    return arrow


def _finish(ax: Axes, xlim: tuple[float, float], ylim: tuple[float, float], title: str | None) -> None:
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        ax.set_title(title, fontsize=12)


def draw_folded_rnn(ax: Axes | None = None, *, title: str | None = "folded: one cell with a loop") -> Axes:
    """Draw the recurrent cell in its compact form: ``x_t -> h_t -> y_t`` plus a self-loop ``U``.

    The loop carries ``h_{t-1}`` into the computation of ``h_t``; the small black square on it
    marks a delay of one time step (the notation of Goodfellow et al., *Deep Learning*, ch. 10).

    Parameters
    ----------
    ax : Axes, optional
        Where to draw; a new 3 x 4 inch figure is created if omitted.
    title : str or None
        Axes title.

    Returns
    -------
    Axes
        The axes drawn on (nodes are ``FancyBboxPatch``, edges ``FancyArrowPatch``).
    """
    ax = new_axes(ax, (3.0, 4.0))
    x0 = 0.0
    _node(ax, (x0, 0.0), "$x_t$", "input")
    _node(ax, (x0, 1.2), "$h_t$", "hidden")
    _node(ax, (x0, 2.4), "$y_t$", "output")
    _arrow(ax, (x0, _BOX_H / 2), (x0, 1.2 - _BOX_H / 2), "$W$", label_offset=(-0.18, 0.0))
    _arrow(ax, (x0, 1.2 + _BOX_H / 2), (x0, 2.4 - _BOX_H / 2), "$V$", label_offset=(-0.18, 0.0))
    # Self-loop: a cubic Bezier that leaves the right edge high and re-enters it low.
    right = x0 + _BOX_W / 2
    loop = Path(
        [(right, 1.2 + 0.12), (right + 1.0, 1.2 + 0.75), (right + 1.0, 1.2 - 0.75), (right, 1.2 - 0.12)],
        [Path.MOVETO, Path.CURVE4, Path.CURVE4, Path.CURVE4],
    )
    arrow = FancyArrowPatch(path=loop, arrowstyle="-|>", mutation_scale=13, linewidth=1.3, color=_EDGE, zorder=1)
    arrow.set_gid("edge")
    ax.add_patch(arrow)
    ax.text(right + 0.86, 1.2, "$U$", ha="left", va="center", fontsize=11, color="#7f0000", zorder=3)
    delay = Rectangle((right + 0.75 - 0.06, 1.2 - 0.06), 0.12, 0.12, facecolor="black", zorder=4)
    delay.set_gid("delay")
    ax.add_patch(delay)
    _finish(ax, (-0.7, 1.75), (-0.45, 2.85), title)
    return ax


def draw_unrolled_rnn(
    ax: Axes | None = None,
    *,
    steps: int = 4,
    show_initial_state: bool = True,
    title: str | None = "unrolled: one copy of the cell per time step",
) -> Axes:
    """Draw the chain ``h_0 -> h_1 -> ... -> h_T`` with inputs below and outputs above.

    Every input edge is labelled ``W``, every state-to-state edge ``U`` and every output edge
    ``V``: the *same* three matrices at every step (parameter sharing).

    Parameters
    ----------
    ax : Axes, optional
        Where to draw; a new figure sized to ``steps`` is created if omitted.
    steps : int
        Number of time steps ``T`` to draw (at least 1).
    show_initial_state : bool
        Whether to draw the initial state ``h_0`` on the left.
    title : str or None
        Axes title.

    Returns
    -------
    Axes
        The axes drawn on.
    """
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    ax = new_axes(ax, (1.6 * steps + 1.5, 3.6))
    dx = 1.4
    for t in range(1, steps + 1):
        x = (t - 1) * dx + (dx if show_initial_state else 0.0)
        _node(ax, (x, 0.0), f"$x_{{{t}}}$", "input")
        _node(ax, (x, 1.2), f"$h_{{{t}}}$", "hidden")
        _node(ax, (x, 2.4), f"$y_{{{t}}}$", "output")
        _arrow(ax, (x, _BOX_H / 2), (x, 1.2 - _BOX_H / 2), "$W$", label_offset=(-0.18, 0.0))
        _arrow(ax, (x, 1.2 + _BOX_H / 2), (x, 2.4 - _BOX_H / 2), "$V$", label_offset=(-0.18, 0.0))
        if t > 1 or show_initial_state:
            _arrow(ax, (x - dx + _BOX_W / 2, 1.2), (x - _BOX_W / 2, 1.2), "$U$", label_offset=(0.0, 0.17))
    if show_initial_state:
        _node(ax, (0.0, 1.2), "$h_0$", "hidden")
    last = (steps - 1) * dx + (dx if show_initial_state else 0.0)
    ax.text(
        last / 2,
        -0.55,
        "the same $W$, $U$, $V$ (and $b$, $c$) at every step",
        ha="center",
        va="center",
        fontsize=10,
        style="italic",
    )
    _finish(ax, (-0.55, last + 0.55), (-0.8, 2.85), title)
    return ax


def draw_folded_and_unrolled(
    axes: Sequence[Axes] | None = None, *, steps: int = 4
) -> tuple[Axes, Axes]:
    """Draw the folded cell and its unrolled chain side by side, joined by an "unfold" arrow.

    Parameters
    ----------
    axes : tuple of Axes, optional
        A pair ``(ax_folded, ax_unrolled)``; a new 1 x 2 figure is created if omitted.
    steps : int
        Time steps of the unrolled chain.

    Returns
    -------
    tuple of Axes
        ``(ax_folded, ax_unrolled)``, the folded and the unrolled axes.
    """
    if axes is None:
        _, new = plt.subplots(
            1, 2, figsize=(2.6 + 1.45 * (steps + 1), 3.6), gridspec_kw={"width_ratios": [1.9, steps + 1.0]}
        )
        axes = (new[0], new[1])
    ax_f, ax_u = axes
    draw_folded_rnn(ax_f)
    ax_f.set_xlim(-0.7, 2.8)
    _arrow(ax_f, (1.95, 1.2), (2.75, 1.2), color="#777777")
    ax_f.text(2.35, 1.42, "unfold", ha="center", va="bottom", fontsize=10, color="#555555")
    draw_unrolled_rnn(ax_u, steps=steps)
    return ax_f, ax_u


def draw_io_pattern(kind: str, ax: Axes | None = None, *, steps: int | None = None) -> Axes:
    """Draw one input/output pattern of a recurrent network as a small unrolled grid.

    Columns are time steps; the bottom row holds inputs, the middle row hidden states and the top
    row outputs.  A missing input or output at a step is simply not drawn.

    Parameters
    ----------
    kind : str
        One of the keys of ``IO_PATTERNS``: ``"one_to_one"``, ``"one_to_many"``, ``"many_to_one"``,
        ``"many_to_many_aligned"`` or ``"encoder_decoder"``.
    ax : Axes, optional
        Where to draw; a new figure is created if omitted.
    steps : int, optional
        Number of columns (default 1 for one-to-one, 3 for the aligned patterns, 5 for the
        encoder-decoder: 3 encoder steps that read, 2 decoder steps that write).

    Returns
    -------
    Axes
        The axes drawn on; its title names the pattern and its x-label gives an example task.
    """
    if kind not in IO_PATTERNS:
        raise ValueError(f"kind must be one of {sorted(IO_PATTERNS)}, got {kind!r}")
    default_steps = {"one_to_one": 1, "encoder_decoder": 5}.get(kind, 3)
    T = default_steps if steps is None else steps
    min_steps = 3 if kind == "encoder_decoder" else 1
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < min_steps:
        raise ValueError(f"steps must be an integer >= {min_steps} for {kind!r}, got {steps!r}")
    if kind == "one_to_one" and T != 1:
        raise ValueError("a one-to-one network has exactly one step")

    if kind == "one_to_one":
        has_in, has_out, roles = [True], [True], ["hidden"]
    elif kind == "one_to_many":
        has_in = [t == 0 for t in range(T)]
        has_out, roles = [True] * T, ["hidden"] * T
    elif kind == "many_to_one":
        has_in = [True] * T
        has_out, roles = [t == T - 1 for t in range(T)], ["hidden"] * T
    elif kind == "many_to_many_aligned":
        has_in, has_out, roles = [True] * T, [True] * T, ["hidden"] * T
    else:  # encoder-decoder: read about 60% of the columns, then write
        n_enc = max(2, round(0.6 * T))
        has_in = [t < n_enc for t in range(T)]
        has_out = [t >= n_enc for t in range(T)]
        roles = ["encoder" if t < n_enc else "decoder" for t in range(T)]

    ax = new_axes(ax, (1.2 * T + 0.6, 3.4))
    dx = 1.05
    for t in range(T):
        x = t * dx
        _node(ax, (x, 1.2), "$h$", roles[t], fontsize=10)
        if has_in[t]:
            _node(ax, (x, 0.0), "$x$", "input", fontsize=10)
            _arrow(ax, (x, _BOX_H / 2), (x, 1.2 - _BOX_H / 2))
        if has_out[t]:
            _node(ax, (x, 2.4), "$y$", "output", fontsize=10)
            _arrow(ax, (x, 1.2 + _BOX_H / 2), (x, 2.4 - _BOX_H / 2))
        if t > 0:
            _arrow(ax, (x - dx + _BOX_W / 2, 1.2), (x - _BOX_W / 2, 1.2))
    name, example = IO_PATTERNS[kind]
    _finish(ax, (-0.55, (T - 1) * dx + 0.55), (-0.4, 2.8), name)
    ax.set_xlabel(example, fontsize=9)
    return ax


def draw_io_patterns(
    kinds: Sequence[str] | None = None,
    axes: Sequence[Axes] | None = None,
    *,
    rows: Sequence[Sequence[str]] | None = None,
) -> list[Axes]:
    """Draw several patterns of ``draw_io_pattern`` as a grid of panels.

    Parameters
    ----------
    kinds : list of str, optional
        Which patterns, in reading order (default: all of ``IO_PATTERNS``).
    axes : list of Axes, optional
        One axes per kind.  If omitted, a new figure is made whose panel widths are proportional
        to the number of time steps drawn, laid out in ``rows``.
    rows : list of list of str, optional
        Layout of a new figure, one inner sequence of kinds per row.  Default: all kinds in one
        row if ``kinds`` is given, else the three short patterns on top and the two long ones below.

    Returns
    -------
    list of Axes
        In the order of ``kinds`` (or of ``rows`` read left to right, top to bottom).
    """
    widths = {"one_to_one": 1, "encoder_decoder": 5}
    if axes is not None:
        kinds = list(IO_PATTERNS) if kinds is None else list(kinds)
        if len(axes) != len(kinds):
            raise ValueError(f"got {len(axes)} axes for {len(kinds)} kinds")
        return [draw_io_pattern(k, ax) for k, ax in zip(kinds, axes)]
    if rows is None:
        if kinds is None:
            rows = [["one_to_one", "one_to_many", "many_to_one"], ["many_to_many_aligned", "encoder_decoder"]]
        else:
            rows = [list(kinds)]
    rows = [list(r) for r in rows if len(r)]
    if not rows:
        raise ValueError("at least one pattern must be drawn")
    row_width = [sum(widths.get(k, 3) + 0.6 for k in r) for r in rows]
    fig = plt.figure(figsize=(0.95 * max(row_width) + 0.4, 3.0 * len(rows)))
    subfigs = np.atleast_1d(fig.subfigures(len(rows), 1))
    drawn: list[Axes] = []
    for sub, kinds_in_row in zip(subfigs, rows):
        ratios = [widths.get(k, 3) + 0.6 for k in kinds_in_row]
        row_axes = np.atleast_1d(sub.subplots(1, len(kinds_in_row), gridspec_kw={"width_ratios": ratios}))
        drawn.extend(draw_io_pattern(k, ax) for k, ax in zip(kinds_in_row, row_axes))
    return drawn
