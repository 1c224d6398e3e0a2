"""Figure of the appendix on linear recurrences: the rounds of a Hillis-Steele parallel scan.

The helper draws the data flow of :func:`companion.torch.linear_recurrence.linear_recurrence_scan`
(it computes nothing that is printed) and returns the ``Axes``.
"""

from __future__ import annotations

import math

from matplotlib.axes import Axes
from matplotlib.patches import FancyBboxPatch

from companion.plotting._axes import new_axes

__all__ = ["draw_scan_rounds"]


def _span(t: int, rnd: int) -> tuple[int, int]:
    """Steps (1-based) covered by position ``t`` after ``rnd`` rounds: the last ``2**rnd`` maps up to t."""
    return max(1, t - 2**rnd + 1), t


def draw_scan_rounds(T: int = 8, ax: Axes | None = None, *, title: str | None = None) -> Axes:
    """Draw which positions a Hillis-Steele scan combines in each round, for a sequence of length ``T``.

    Row ``k`` shows the sequence after ``k`` rounds; the box of step ``t`` is labelled with the steps
    whose affine maps it has composed so far (``s..t`` means ``M_t o ... o M_s``).  In round ``k`` each
    position ``t > 2**(k-1)`` combines with position ``t - 2**(k-1)`` (slanted arrows); the others
    keep their map (vertical arrows).  After ``ceil(log2 T)`` rounds every box reads ``1..t``:
    the composed map sends ``h_0`` to ``h_t``.

    Parameters
    ----------
    T : int
        Sequence length, 1 to 16 (larger figures become unreadable).
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib Axes
    """
    if isinstance(T, bool) or not isinstance(T, int) or not 1 <= T <= 16:
        raise ValueError(f"T must be an integer from 1 to 16, got {T!r}")
    rounds = math.ceil(math.log2(T)) if T > 1 else 0
    ax = new_axes(ax, (1.0 + 0.95 * T, 1.2 + 1.25 * rounds))
    w, h = 0.78, 0.46
    for k in range(rounds + 1):
        y = -1.25 * k
        for t in range(1, T + 1):
            lo, hi = _span(t, k)
            done = lo == 1
            ax.add_patch(
                FancyBboxPatch(
                    (t - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02",
                    facecolor="#cfe8cf" if done else "#f2f2f2", edgecolor="#444444", lw=1.0,
                )
            )
            ax.text(t, y, f"{lo}..{hi}" if lo < hi else f"{t}", ha="center", va="center", fontsize=9)
            if k > 0:
                shift = 2 ** (k - 1)
                ax.annotate("", xy=(t, y + h / 2), xytext=(t, y + 1.25 - h / 2),
                            arrowprops=dict(arrowstyle="->", color="#999999", lw=0.8))
                if t > shift:
                    ax.annotate("", xy=(t - 0.1, y + h / 2), xytext=(t - shift + 0.1, y + 1.25 - h / 2),
                                arrowprops=dict(arrowstyle="->", color="#1f77b4", lw=1.2))
        label = "inputs $(a_t, b_t)$" if k == 0 else f"round {k}: shift {2 ** (k - 1)}"
        ax.text(0.3, y, label, ha="right", va="center", fontsize=9)
    ax.set_xlim(-1.9, T + 0.6)
    ax.set_ylim(-1.25 * rounds - 0.5, 0.5)
    ax.set_xticks(range(1, T + 1))
    ax.set_xlabel("time step t")
    ax.set_yticks([])
    ax.set_ylabel("scan round (top to bottom)")
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.set_title(title if title is not None else f"Hillis-Steele scan of T = {T} affine maps: {rounds} rounds")
    return ax
