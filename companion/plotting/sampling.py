"""Figures of next-token distributions: what temperature and top-k do to the probabilities sampled from.

The probabilities are computed by the caller, e.g. with
:func:`companion.numpy.sampling.softmax_with_temperature`; the function only draws them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes

from companion.plotting._axes import new_axes

__all__ = ["plot_next_token_distributions", "display_token"]

_VISIBLE = {"\n": "\\n", " ": "␣", "\t": "\\t"}


def display_token(token: str) -> str:
    """A printable label for a token: newline as ``\\n``, space as ``␣``."""
    return _VISIBLE.get(token, token)


def plot_next_token_distributions(
    probs: Mapping[str, Sequence[float] | np.ndarray],
    tokens: Sequence[str],
    ax: Axes | None = None,
    *,
    top: int = 12,
    title: str | None = None,
) -> Axes:
    """Side-by-side bars of several next-token distributions over the same vocabulary.

    The ``top`` tokens are those most probable under the *first* distribution, in decreasing order;
    the remaining probability mass of each distribution is drawn as a last bar, "other".

    Parameters
    ----------
    probs : mapping label -> (V,) probabilities
        E.g. ``{"T = 0.5": p05, "T = 1.0": p10, "T = 1.5": p15}``; each must sum to 1.
    tokens : sequence of V str
        ``tokens[i]`` is the token of index ``i``.
    ax : Axes, optional
    top : int
        Number of individual tokens shown.
    title : str, optional

    Returns
    -------
    Axes
    """
    if not probs:
        raise ValueError("probs is empty: give at least one distribution")
    V = len(tokens)
    table = []
    for label, p in probs.items():
        arr = np.asarray(p, dtype=float)
        if arr.shape != (V,):
            raise ValueError(f"distribution {label!r} has shape {arr.shape}, expected ({V},) (one entry per token)")
        if np.any(arr < 0) or not np.isclose(arr.sum(), 1.0, atol=1e-6):
            raise ValueError(f"distribution {label!r} is not a probability vector (sum {arr.sum():.6f})")
        table.append(arr)
    P = np.stack(table)  # (K, V)
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ValueError(f"top must be a positive integer, got {top!r}")
    top = min(top, V)
    order = np.argsort(-P[0], kind="stable")[:top]
    shown = np.concatenate([P[:, order], 1.0 - P[:, order].sum(axis=1, keepdims=True)], axis=1)  # (K, top+1)
    labels = [display_token(tokens[i]) for i in order] + ["other"]
    ax = new_axes(ax, (7.5, 3.6))
    K = len(table)
    width = 0.8 / K
    x = np.arange(top + 1)
    for k, label in enumerate(probs):
        ax.bar(x + (k - (K - 1) / 2) * width, shown[k], width, label=label)
    ax.set_xticks(x, labels)
    ax.set_xlabel("next token")
    ax.set_ylabel("probability")
    ax.set_ylim(0.0, 1.0)
    if title:
        ax.set_title(title)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=9, frameon=False)
    return ax
