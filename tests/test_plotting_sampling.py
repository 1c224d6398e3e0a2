"""Smoke tests for companion.plotting.sampling."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from companion.plotting.sampling import display_token, plot_next_token_distributions


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_display_token_makes_whitespace_visible():
    assert display_token("\n") == "\\n" and display_token(" ") == "␣" and display_token("a") == "a"


def test_distributions_show_top_tokens_of_the_first_and_the_rest_as_other():
    p1 = np.array([0.1, 0.6, 0.2, 0.1])
    p2 = np.array([0.25, 0.25, 0.25, 0.25])
    ax = plot_next_token_distributions({"T=0.5": p1, "T=2": p2}, ["a", "b", " ", "\n"], top=2, title="t")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["b", "␣", "other"]
    heights = [round(p.get_height(), 6) for p in ax.patches]
    assert heights == [0.6, 0.2, 0.2, 0.25, 0.25, 0.5]


def test_distributions_validate_shapes_and_sums():
    with pytest.raises(ValueError, match="expected \\(3,\\)"):
        plot_next_token_distributions({"x": [0.5, 0.5]}, ["a", "b", "c"])
    with pytest.raises(ValueError, match="not a probability vector"):
        plot_next_token_distributions({"x": [0.5, 0.6, 0.1]}, ["a", "b", "c"])
