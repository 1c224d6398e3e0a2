"""Figures of what a recurrence does to its hidden state: activations, trajectories, norms, saturation.

Each function takes arrays that were computed elsewhere (by ``companion.numpy.rnn.rnn_forward``,
for instance), draws them on a Matplotlib ``Axes`` (a new one if none is given) and returns that
``Axes``.  No function here computes a model: the numbers in a figure are the numbers the chapter
printed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes

from companion._checks import check_array
from companion.numpy.activations import ACTIVATIONS
from companion.plotting._axes import new_axes

__all__ = ["plot_activations", "plot_state_trajectories", "plot_state_norms", "plot_state_histograms"]


def plot_activations(
    names: Sequence[str] = ("tanh", "relu", "sigmoid"),
    ax: Axes | None = None,
    *,
    derivative: bool = False,
    x_range: tuple[float, float] = (-4.0, 4.0),
    title: str | None = None,
) -> Axes:
    """Plot activation functions ``f(a)`` (or their derivatives ``f'(a)``).

    The functions are those of ``companion.numpy.activations.ACTIVATIONS``.

    Parameters
    ----------
    names : tuple of str
        Keys of ``ACTIVATIONS``.
    ax : Axes, optional
    derivative : bool
        Plot ``f'(a)`` (computed from the output, as the backward passes do) instead of ``f(a)``.
    x_range : tuple of float
        Range of the pre-activation ``a``.
    title : str, optional
        Defaults to "activation functions" or "their derivatives".

    Returns
    -------
    Axes
        One line per name, labelled with the name.
    """
    unknown = [n for n in names if n not in ACTIVATIONS]
    if unknown or not names:
        raise ValueError(f"names must be a non-empty subset of {sorted(ACTIVATIONS)}, got {list(names)}")
    ax = new_axes(ax, (5.0, 3.4))
    a = np.linspace(*x_range, 401)
    for name in names:
        f, f_prime = ACTIVATIONS[name]
        out = f(a)
        ax.plot(a, f_prime(out) if derivative else out, label=name, linewidth=2)
    ax.axhline(0.0, color="grey", linewidth=0.6)
    ax.axvline(0.0, color="grey", linewidth=0.6)
    ax.set_xlabel("pre-activation $a$")
    ax.set_ylabel("$f'(a)$" if derivative else "$f(a)$")
    ax.set_title(title or ("their derivatives" if derivative else "activation functions"))
    ax.legend(frameon=False)
    return ax


def plot_state_trajectories(
    h: np.ndarray,
    ax: Axes | None = None,
    *,
    units: Sequence[int] | None = None,
    bounds: tuple[float, float] | None = None,
    logy: bool = False,
    title: str | None = None,
) -> Axes:
    """Plot hidden units over time, one line per unit.

    Parameters
    ----------
    h : ndarray
        States of one sequence, shape ``(T, H)`` (e.g. ``h[0]`` from ``rnn_forward``).
    ax : Axes, optional
    units : list of int, optional
        Which units to draw (default: the first ``min(H, 6)``).
    bounds : tuple of float, optional
        The activation's range, drawn as dashed horizontal lines (``(-1, 1)`` for tanh).
    logy : bool
        Symmetric-log y axis, for states that grow without bound.
    title : str, optional

    Returns
    -------
    Axes
        One ``Line2D`` per unit, labelled ``h[i]``.
    """
    check_array("h", h)
    if h.ndim != 2:
        raise ValueError(f"h must have 2 dimensions (T, H), got shape {h.shape}")
    T, H = h.shape
    units = list(range(min(H, 6))) if units is None else list(units)
    bad = [u for u in units if not 0 <= u < H]
    if bad or not units:
        raise ValueError(f"units must be a non-empty list of indices in [0, {H}), got {units}")
    ax = new_axes(ax, (5.0, 3.4))
    t = np.arange(1, T + 1)
    for u in units:
        ax.plot(t, h[:, u], linewidth=1.2, label=f"h[{u}]")
    if bounds is not None:
        for level in bounds:
            ax.axhline(level, color="black", linestyle="--", linewidth=0.8)
    if logy:
        ax.set_yscale("symlog", linthresh=1.0)
    ax.set_xlabel("time step $t$")
    ax.set_ylabel("hidden unit value")
    ax.set_title(title or "hidden state over time")
    return ax


def plot_state_norms(
    norms: Mapping[str, np.ndarray],
    ax: Axes | None = None,
    *,
    logy: bool = True,
    reference: float | None = None,
    reference_label: str = "bound",
    title: str | None = None,
) -> Axes:
    """Plot ``||h_t||`` against ``t`` for several runs.

    Parameters
    ----------
    norms : dict
        Label (str) -> Euclidean norm of the state at every step, an ndarray of shape ``(T,)``.
    ax : Axes, optional
    logy : bool
        Logarithmic y axis (geometric growth becomes a straight line).
    reference : float, optional
        A horizontal dashed line, e.g. ``sqrt(H)``, the largest norm a tanh state can have.
    reference_label : str
        Legend entry of the reference line.
    title : str, optional

    Returns
    -------
    Axes
        One line per entry of ``norms``, labelled with its key.
    """
    if not norms:
        raise ValueError("norms must hold at least one run")
    ax = new_axes(ax, (5.0, 3.4))
    for label, n in norms.items():
        check_array(f"norms[{label!r}]", n)
        if n.ndim != 1:
            raise ValueError(f"norms[{label!r}] must be 1-D (T,), got shape {n.shape}")
        ax.plot(np.arange(1, n.size + 1), n, linewidth=1.6, label=label)
    if reference is not None:
        ax.axhline(reference, color="black", linestyle="--", linewidth=0.9, label=reference_label)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("time step $t$")
    ax.set_ylabel(r"$\|h_t\|_2$")
    ax.set_title(title or "size of the hidden state")
    ax.legend(frameon=False, fontsize=9)
    return ax


def plot_state_histograms(
    states: Mapping[str, np.ndarray],
    ax: Axes | None = None,
    *,
    bins: int = 41,
    value_range: tuple[float, float] = (-1.0, 1.0),
    title: str | None = None,
) -> Axes:
    """Overlay histograms of hidden-unit values (all units, all steps) for several runs.

    A saturated tanh network shows up as two spikes at -1 and +1, where ``tanh' = 1 - h^2``
    is close to zero.

    Parameters
    ----------
    states : dict
        Label (str) -> ndarray of hidden values, any shape (flattened).
    ax : Axes, optional
    bins : int
        Number of equal-width bins over ``value_range``.
    value_range : tuple of float
        Range covered by the bins.
    title : str, optional

    Returns
    -------
    Axes
        One step histogram per run, labelled with its key; the y axis is a fraction of values.
    """
    if not states:
        raise ValueError("states must hold at least one run")
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    ax = new_axes(ax, (5.0, 3.4))
    edges = np.linspace(*value_range, bins + 1)
    for label, values in states.items():
        check_array(f"states[{label!r}]", values)
        flat = values.ravel()
        weights = np.full(flat.size, 1.0 / flat.size)
        ax.hist(flat, bins=edges, weights=weights, histtype="step", linewidth=1.8, label=label)
    ax.set_xlabel("hidden unit value $h$")
    ax.set_ylabel("fraction of values")
    ax.set_title(title or "distribution of hidden-unit values")
    ax.legend(frameon=False, fontsize=9)
    return ax
