"""Smoke tests for companion.plotting.gradients: each figure draws, labels its axes and returns its Axes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from companion.numpy.gradient_flow import scaled_orthogonal, single_unit_rnn_loss
from companion.plotting.gradients import draw_unrolled_graph, plot_eigenvalues, plot_gradient_norms, plot_loss_cliff


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_draw_unrolled_graph_draws_four_nodes_per_step_plus_h0():
    ax = draw_unrolled_graph(steps=3)
    assert len(ax.patches) >= 3 * 4 + 1
    texts = {t.get_text() for t in ax.texts}
    assert {"$h_0$", "$h_{3}$", "$o_{2}$", "$x_{1}$"} <= texts
    with pytest.raises(ValueError):
        draw_unrolled_graph(steps=0)


def test_plot_gradient_norms_is_log_scaled_with_one_line_per_setting():
    norms = {f"rho={r}": r ** np.arange(11) for r in (0.5, 1.0, 1.5)}
    ax = plot_gradient_norms(norms)
    assert ax.get_yscale() == "log"
    assert len(ax.get_lines()) == 3
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()


def test_plot_eigenvalues_draws_unit_circle_and_points(rng):
    ax = plot_eigenvalues({"orthogonal x 1.5": scaled_orthogonal(10, 1.5, rng)})
    assert ax.get_xlim()[1] >= 1.5
    assert len(ax.collections) == 1
    with pytest.raises(ValueError, match="square"):
        plot_eigenvalues({"bad": np.zeros((2, 3))})


def test_plot_loss_cliff_two_panels_and_off_plot_steps():
    w = np.linspace(1.8, 2.1, 301)
    loss, dw, _ = single_unit_rnn_loss(w, -0.5, h0=0.9)
    top, bottom = plot_loss_cliff(w, loss, dw, steps={"unclipped": (1.95, 1.0, 50.0, 0.1), "clipped": (1.95, 1.0, 2.0, 0.0)})
    assert bottom.get_yscale() == "log"
    assert top.get_ylabel() and bottom.get_xlabel()
    assert len(top.texts) == 2  # the two arrows
    with pytest.raises(ValueError):
        plot_loss_cliff(w, loss[:-1], dw)
