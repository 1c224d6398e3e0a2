"""Smoke tests for companion.plotting.states: each figure draws one artist per run and labels its axes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from companion.plotting.states import (
    plot_activations,
    plot_state_histograms,
    plot_state_norms,
    plot_state_trajectories,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _labelled(ax) -> bool:
    return bool(ax.get_xlabel() and ax.get_ylabel() and ax.get_title())


def test_plot_activations_values_and_derivatives():
    ax = plot_activations()
    assert _labelled(ax)
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert {"tanh", "relu", "sigmoid"} <= set(lines)
    assert np.max(lines["sigmoid"].get_ydata()) < 1.0 and np.min(lines["sigmoid"].get_ydata()) > 0.0
    ax = plot_activations(("tanh", "sigmoid"), derivative=True)
    d = {line.get_label(): line.get_ydata() for line in ax.get_lines()}
    assert np.max(d["tanh"]) == pytest.approx(1.0, abs=1e-3)
    assert np.max(d["sigmoid"]) == pytest.approx(0.25, abs=1e-3)
    with pytest.raises(ValueError, match="names"):
        plot_activations(("softsign",))


def test_plot_state_trajectories_one_line_per_unit(rng):
    h = np.tanh(rng.standard_normal((20, 8)))
    ax = plot_state_trajectories(h, units=[0, 3, 7], bounds=(-1, 1))
    assert _labelled(ax)
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[:3] == ["h[0]", "h[3]", "h[7]"]
    assert len(ax.get_lines()) == 5  # three units and two bound lines
    assert plot_state_trajectories(h * 100, logy=True).get_yscale() == "symlog"
    with pytest.raises(ValueError, match="units"):
        plot_state_trajectories(h, units=[8])
    with pytest.raises(ValueError, match="2 dimensions"):
        plot_state_trajectories(h[None])


def test_plot_state_norms_log_scale_and_reference():
    norms = {f"rho={r}": r ** np.arange(1, 11) for r in (0.9, 1.1)}
    ax = plot_state_norms(norms, reference=3.0, reference_label="sqrt(H)")
    assert _labelled(ax) and ax.get_yscale() == "log"
    assert [line.get_label() for line in ax.get_lines()] == ["rho=0.9", "rho=1.1", "sqrt(H)"]
    with pytest.raises(ValueError):
        plot_state_norms({})
    with pytest.raises(ValueError, match="1-D"):
        plot_state_norms({"bad": np.ones((2, 2))})


def test_plot_state_histograms_fractions_sum_to_one(rng):
    values = np.tanh(3 * rng.standard_normal(500))
    ax = plot_state_histograms({"scale 3": values, "scale 1": np.tanh(rng.standard_normal(500))}, bins=10)
    assert _labelled(ax)
    assert len(ax.patches) == 2
    heights = ax.patches[0].get_path().vertices[:, 1]
    # a step histogram's outline visits each bin height twice
    assert heights.max() <= 1.0 and heights.max() > 0.1
    with pytest.raises(ValueError, match="bins"):
        plot_state_histograms({"x": values}, bins=0)
