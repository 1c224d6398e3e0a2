"""Smoke tests for companion.plotting.comparisons."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from companion.plotting.comparisons import plot_grouped_bars


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_grouped_bars_one_bar_per_value_with_labels():
    ax = plot_grouped_bars({"naive": {"MAE": 1.2, "RMSE": 1.4}, "LSTM": {"MAE": 0.3, "RMSE": 0.4}},
                           xlabel="method", ylabel="ppm", title="errors")
    assert len(ax.patches) == 4
    texts = sorted(t.get_text() for t in ax.texts)
    assert texts == ["0.30", "0.40", "1.20", "1.40"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["naive", "LSTM"]
    assert ax.get_xlabel() == "method" and ax.get_ylim()[1] > 1.4


def test_grouped_bars_reference_line_and_format():
    ax = plot_grouped_bars({"BoW": {"accuracy": 0.8}, "GRU": {"accuracy": 0.7}}, reference=0.5,
                           reference_label="chance", fmt="{:.1%}")
    assert sorted(t.get_text() for t in ax.texts) == ["70.0%", "80.0%"]
    assert "chance = 0.5" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_grouped_bars_rejects_mismatched_series():
    with pytest.raises(ValueError, match="same order"):
        plot_grouped_bars({"a": {"x": 1.0}, "b": {"y": 1.0}})
    with pytest.raises(ValueError, match="empty"):
        plot_grouped_bars({})
