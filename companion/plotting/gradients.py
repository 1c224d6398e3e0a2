"""Figures of chapter 3 (backpropagation through time): the unrolled graph, gradient norms, eigenvalues, the cliff.

Every function draws on a Matplotlib ``Axes`` (created if not given) and returns it,
so a notebook cell can add a title or combine panels without touching the helper.
The numbers come from :mod:`companion.numpy.gradient_flow`; nothing here computes
a gradient.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Circle, FancyArrowPatch

from companion.plotting._axes import new_axes

__all__ = ["draw_unrolled_graph", "plot_gradient_norms", "plot_eigenvalues", "plot_loss_cliff"]

_FORWARD = "#222222"
_BACKWARD = "#c0392b"


def _node(ax: Axes, xy: tuple[float, float], label: str, color: str) -> None:
    ax.add_patch(Circle(xy, 0.36, facecolor=color, edgecolor="#333333", linewidth=1.2, zorder=3))
    ax.text(*xy, label, ha="center", va="center", fontsize=12, zorder=4)


def _arrow(
    ax: Axes, start: tuple[float, float], end: tuple[float, float], *, color: str, style: str = "-",
    rad: float = 0.0, label: str | None = None, label_offset: tuple[float, float] = (0.0, 0.0),
) -> None:
    ax.add_patch(
        FancyArrowPatch(
            start, end, arrowstyle="-|>", mutation_scale=13, color=color, linestyle=style, linewidth=1.4,
            shrinkA=14, shrinkB=14, connectionstyle=f"arc3,rad={rad}", zorder=2,
        )
    )
    if label:
        mx, my = (start[0] + end[0]) / 2 + label_offset[0], (start[1] + end[1]) / 2 + label_offset[1]
        ax.text(mx, my, label, ha="center", va="center", fontsize=10, color=color)


def draw_unrolled_graph(steps: int = 3, ax: Axes | None = None, *, show_backward: bool = True) -> Axes:
    """Draw the unrolled RNN ``h_t = f(W x_t + U h_{t-1} + b)``, ``o_t = V h_t + c``, ``L = sum_t L_t``.

    Forward edges are black and labelled with the weight they use (the same
    ``W``, ``U``, ``V`` at every step); backward edges (red, dashed) show the two
    routes by which the gradient reaches each ``h_t``: from its own output
    ``o_t`` and from the next state ``h_{t+1}``.

    Parameters
    ----------
    steps : int
        Number of time steps drawn (2 to 6 fit on a page).
    ax : matplotlib Axes, optional
    show_backward : bool
        Whether to draw the gradient edges.

    Returns
    -------
    matplotlib Axes
    """
    if not 1 <= steps <= 8:
        raise ValueError(f"steps must be between 1 and 8, got {steps}")
    ax = new_axes(ax, (2.3 * steps + 2.5, 5.2))
    rows = {"x": 0.0, "h": 1.7, "o": 3.4, "L": 5.1}
    colors = {"x": "#d6eaf8", "h": "#fdebd0", "o": "#e8daef", "L": "#f9e79f"}
    _node(ax, (0.0, rows["h"]), "$h_0$", colors["h"])
    for t in range(1, steps + 1):
        cx = 2.2 * t
        for kind in ("x", "h", "o", "L"):
            _node(ax, (cx, rows[kind]), f"${kind}_{{{t}}}$", colors[kind])
        _arrow(ax, (cx, rows["x"]), (cx, rows["h"]), color=_FORWARD, label="$W$", label_offset=(-0.28, 0.0))
        _arrow(ax, (cx - 2.2, rows["h"]), (cx, rows["h"]), color=_FORWARD, label="$U$", label_offset=(0.0, 0.2))
        _arrow(ax, (cx, rows["h"]), (cx, rows["o"]), color=_FORWARD, label="$V$", label_offset=(0.28, 0.0))
        _arrow(ax, (cx, rows["o"]), (cx, rows["L"]), color=_FORWARD, label=f"$y_{{{t}}}$", label_offset=(0.32, 0.0))
        if show_backward:
            _arrow(ax, (cx, rows["L"]), (cx, rows["o"]), color=_BACKWARD, style="--", rad=0.45)
            _arrow(ax, (cx, rows["o"]), (cx, rows["h"]), color=_BACKWARD, style="--", rad=0.45)
            _arrow(ax, (cx, rows["h"]), (cx - 2.2, rows["h"]), color=_BACKWARD, style="--", rad=0.45)
    ax.text(
        2.2 * steps + 0.6, rows["L"], r"$L=\sum_t L_t$", ha="left", va="center", fontsize=12,
    )
    if show_backward:
        ax.plot([], [], color=_FORWARD, label="forward (same W, U, V at every step)")
        ax.plot([], [], color=_BACKWARD, linestyle="--", label="backward (gradient flow)")
        ax.legend(loc="lower right", fontsize=9, frameon=False, bbox_to_anchor=(1.0, -0.12))
    ax.set_xlim(-0.7, 2.2 * steps + 2.3)
    ax.set_ylim(-0.9, 5.8)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def plot_gradient_norms(
    norms: Mapping[str, Sequence[float] | np.ndarray],
    ax: Axes | None = None,
    *,
    title: str = r"Gradient norm $\|\partial L/\partial h_{T-k}\|$ versus distance $k$",
) -> Axes:
    """Gradient norm against distance from the loss, one line per setting, log-scaled.

    Parameters
    ----------
    norms : mapping label -> sequence of length K + 1
        ``norms[label][k]`` is the norm ``k`` steps before the loss (as returned
        by :func:`companion.numpy.gradient_flow.hidden_gradient_norms`).
    ax : matplotlib Axes, optional
    title : str

    Returns
    -------
    matplotlib Axes
    """
    ax = new_axes(ax, (6.4, 4.2))
    cmap = plt.get_cmap("viridis")
    for i, (label, values) in enumerate(norms.items()):
        values = np.asarray(values, dtype=float)
        ax.semilogy(np.arange(len(values)), values, label=label, color=cmap(i / max(len(norms) - 1, 1)), lw=2)
    ax.set_xlabel("distance $k$ (time steps back from the loss)")
    ax.set_ylabel(r"$\|\partial L / \partial h_{T-k}\|$ (log scale)")
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=9)
    return ax


def plot_eigenvalues(matrices: Mapping[str, np.ndarray], ax: Axes | None = None, *, title: str | None = None) -> Axes:
    """Eigenvalues of square matrices in the complex plane, with the unit circle.

    Inside the circle a direction shrinks at every multiplication by the matrix,
    outside it grows: repeated products (the backward pass of an RNN) amplify
    that difference exponentially.

    Parameters
    ----------
    matrices : mapping label -> ndarray (H, H)
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib Axes
    """
    ax = new_axes(ax, (5.0, 5.0))
    theta = np.linspace(0.0, 2.0 * np.pi, 400)
    ax.plot(np.cos(theta), np.sin(theta), color="black", lw=1.5, label="unit circle $|\\lambda| = 1$")
    markers = ["o", "s", "^", "D", "v", "P"]
    radius = 1.0
    for i, (label, m) in enumerate(matrices.items()):
        m = np.asarray(m)
        if m.ndim != 2 or m.shape[0] != m.shape[1]:
            raise ValueError(f"matrix {label!r} must be square, got shape {m.shape}")
        eig = np.linalg.eigvals(m)
        radius = max(radius, float(np.abs(eig).max()))
        ax.scatter(eig.real, eig.imag, s=14, marker=markers[i % len(markers)], alpha=0.75, label=label)
    lim = 1.12 * radius
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.axhline(0, color="grey", lw=0.5)
    ax.axvline(0, color="grey", lw=0.5)
    ax.set_xlabel(r"Re $\lambda$")
    ax.set_ylabel(r"Im $\lambda$")
    ax.set_title(title or "Eigenvalues of the recurrent matrix $U$")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))  # outside: the points fill the disc
    return ax


def plot_loss_cliff(
    values: np.ndarray,
    loss: np.ndarray,
    grad: np.ndarray,
    axes: Sequence[Axes] | None = None,
    *,
    param_name: str = "w",
    steps: Mapping[str, tuple[float, float, float, float]] | None = None,
) -> Sequence[Axes]:
    """A one-parameter slice of a loss surface (top) and the gradient magnitude along it (bottom, log).

    Parameters
    ----------
    values : ndarray, shape (K,)
        Parameter values along the slice.
    loss, grad : ndarray, shape (K,)
        Loss and its derivative with respect to the parameter at each value.
    axes : pair of matplotlib Axes, optional
        Top and bottom panels; a new figure with shared x-axis if omitted.
    param_name : str
        Name of the parameter, used in axis labels (LaTeX allowed without ``$``).
    steps : mapping label -> (p0, loss0, p1, loss1), optional
        Gradient-descent steps to draw as arrows on the top panel, from
        ``(p0, loss0)`` to ``(p1, loss1)``.  A step that leaves the plotted range
        is drawn to the edge and its landing point written in the label.

    Returns
    -------
    sequence of two matplotlib Axes
    """
    values, loss, grad = (np.asarray(a, dtype=float) for a in (values, loss, grad))
    if not values.shape == loss.shape == grad.shape or values.ndim != 1:
        raise ValueError(f"values, loss and grad must be 1-D of equal length, got {values.shape}, {loss.shape}, {grad.shape}")
    if axes is None:
        _, axes = plt.subplots(2, 1, figsize=(7.0, 5.6), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    top, bottom = axes
    top.plot(values, loss, color="#1f4e79", lw=2)
    top.set_ylabel(f"loss $L({param_name})$")
    top.grid(True, alpha=0.3)
    lo, hi = float(values.min()), float(values.max())
    colors = ["#c0392b", "#27ae60", "#8e44ad", "#d35400"]
    for i, (label, (p0, l0, p1, l1)) in enumerate((steps or {}).items()):
        color = colors[i % len(colors)]
        end_x = min(max(p1, lo), hi)
        if end_x != p1:  # the step jumps off the plot: draw to the edge, say where it lands
            end_y = l0 + (l1 - l0) * (end_x - p0) / (p1 - p0)
        else:
            end_y = l1
        top.annotate(
            "", xy=(end_x, end_y), xytext=(p0, l0),
            arrowprops={"arrowstyle": "-|>", "color": color, "lw": 2, "shrinkA": 0, "shrinkB": 0},
        )
        top.plot([p0], [l0], "o", color=color, label=label)
    if steps:
        top.legend(fontsize=9, loc="best")
    bottom.semilogy(values, np.abs(grad) + 1e-300, color="#7f8c8d", lw=1.5)
    bottom.set_xlabel(f"${param_name}$")
    bottom.set_ylabel(f"$|\\partial L/\\partial {param_name}|$ (log)")
    bottom.grid(True, alpha=0.3)
    return axes
