"""Smoke tests for companion.plotting.training."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from companion.plotting.training import plot_curves, plot_perplexity


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_plot_curves_draws_lines_and_baselines():
    ax = plot_curves({"a": [3.0, 2.0, 1.0], "b": [3.0, 2.5, 2.4]}, baselines={"chance": 2.0}, title="t")
    assert len(ax.get_lines()) == 3
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "chance = 2.00" in labels
    assert ax.get_title() == "t"


def test_plot_curves_stops_a_diverged_curve_and_says_where():
    ax = plot_curves({"no clipping": [1.0, 5.0, np.inf, np.nan]}, xlabel="step", logy=True)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["no clipping (non-finite from step 3)"]
    assert ax.get_yscale() == "log"


def test_plot_curves_checks_x_length():
    with pytest.raises(ValueError, match="x has"):
        plot_curves({"a": [1.0, 2.0]}, x=[1, 2, 3])


def test_plot_perplexity_uses_log_axis_and_rejects_impossible_values():
    ax = plot_perplexity({"validation": [20.0, 9.0, 6.0]}, {"unigram": 17.0, "bigram": 10.0}, x=[1, 2, 3])
    assert ax.get_yscale() == "log"
    assert ax.get_xlabel() == "epoch"
    with pytest.raises(ValueError, match="at least 1"):
        plot_perplexity({"validation": [0.5]}, {})


def test_plot_perplexity_log_x_axis():
    ax = plot_perplexity({"validation": [20.0, 9.0, 6.0]}, {"bigram": 10.0}, x=[1, 10, 100], logx=True)
    assert ax.get_xscale() == "log"
