"""Smoke tests for companion.plotting.forecasts."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from companion.plotting.forecasts import plot_error_by_horizon, plot_forecasts, plot_series_splits


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_plot_series_splits_draws_one_line_per_piece_and_counts_steps():
    t = np.arange(20.0)
    ax = plot_series_splits(t, np.sin(t), [12, 16], ylabel="ppm", title="splits")
    assert len(ax.get_lines()) == 3 + 2  # three pieces + two cut markers
    labels = [x.get_text() for x in ax.get_legend().get_texts()]
    assert labels == ["train (12 steps)", "validation (4 steps)", "test (4 steps)"]
    assert ax.get_ylabel() == "ppm" and ax.get_title() == "splits"


def test_plot_series_splits_rejects_bad_cuts_and_labels():
    t = np.arange(10.0)
    with pytest.raises(ValueError, match="strictly increasing"):
        plot_series_splits(t, t, [5, 5])
    with pytest.raises(ValueError, match="labels"):
        plot_series_splits(t, t, [5], labels=("a", "b", "c"))


def test_plot_forecasts_draws_actual_context_and_each_method():
    t = np.arange(5.0)
    ax = plot_forecasts(t, t, {"naive": t - 1, "model": t + 0.1}, context=(np.arange(-3.0, 0.0), np.zeros(3)),
                        title="f")
    labels = [x.get_text() for x in ax.get_legend().get_texts()]
    assert labels == ["observed before", "actual", "naive", "model"]


def test_plot_forecasts_checks_lengths():
    with pytest.raises(ValueError, match="has 2 values"):
        plot_forecasts(np.arange(3.0), np.arange(3.0), {"bad": [1.0, 2.0]})
    with pytest.raises(ValueError, match="empty"):
        plot_forecasts(np.arange(3.0), np.arange(3.0), {})


def test_plot_error_by_horizon_uses_lead_times_from_one():
    ax = plot_error_by_horizon({"a": [1.0, 2.0, 3.0], "b": [0.5, 0.6, 0.7]})
    assert list(ax.get_lines()[0].get_xdata()) == [1, 2, 3]
    assert ax.get_ylim()[0] == 0.0
    with pytest.raises(ValueError, match="same number of lead times"):
        plot_error_by_horizon({"a": [1.0, 2.0], "b": [1.0]})
