"""Smoke tests for companion.plotting.scans."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from companion.plotting.scans import draw_scan_rounds


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.mark.parametrize("T, rounds", [(1, 0), (5, 3), (8, 3)])
def test_draw_scan_rounds_has_one_box_per_step_and_round(T: int, rounds: int) -> None:
    ax = draw_scan_rounds(T)
    assert len(ax.patches) == T * (rounds + 1)
    labels = [t.get_text() for t in ax.texts]
    assert f"1..{T}" in labels or T == 1  # after the last round the final position covers every step
    assert f"{rounds} rounds" in ax.get_title()
    assert ax.get_xlabel() == "time step t"


def test_draw_scan_rounds_rejects_sizes_it_cannot_draw() -> None:
    for bad in (0, 17, 2.0, True):
        with pytest.raises(ValueError):
            draw_scan_rounds(bad)
