"""Smoke tests for companion.plotting.gates: the LSTM schematic and the gate heatmaps draw and label themselves."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from companion.numpy.lstm import init_lstm_params, lstm_forward
from companion.plotting.gates import draw_lstm_cell, plot_gate_heatmaps


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_draw_lstm_cell_names_every_state_and_gate():
    ax = draw_lstm_cell()
    texts = {t.get_text() for t in ax.texts}
    assert {"$c_{t-1}$", "$c_t$", "$h_{t-1}$", "$x_t$", "$f_t$", "$i_t$", "$g_t$", "$o_t$"} <= texts
    assert ax.get_title() == "One LSTM step"
    assert len(ax.patches) >= 1 + 4 + 5  # frame, four gate layers, five point-wise operations


def test_plot_gate_heatmaps_draws_the_gates_of_a_real_lstm_on_a_fixed_scale():
    rng = np.random.default_rng(0)
    N, T, D, H = 2, 12, 3, 5
    p = init_lstm_params(D, H, rng)
    _, cache = lstm_forward(rng.normal(size=(N, T, D)), np.zeros((N, H)), p["Wx"], p["Wh"], p["b"])
    gates = cache.gates[0]  # (T, 4H), blocks [i, f, g, o]
    panels = {"i": gates[:, :H], "f": gates[:, H : 2 * H], "c": cache.c[1:, 0]}
    axes = plot_gate_heatmaps(panels, marks=[2, 7], signed=["c"], title="gates")
    assert len(axes) == 3
    assert [ax.get_title() for ax in axes] == ["i", "f", "c"]
    assert axes[-1].get_xlabel() and all(ax.get_ylabel() == "unit" for ax in axes)
    image = axes[0].get_images()[0]
    assert image.get_clim() == (0.0, 1.0)  # gates share one scale
    assert image.get_array().shape == (H, T)  # units on the y-axis, time on the x-axis
    lo, hi = axes[2].get_images()[0].get_clim()
    assert lo == pytest.approx(-hi)  # signed panel centred on 0
    assert len(axes[1].get_lines()) == 2  # the two marks


def test_plot_gate_heatmaps_rejects_mismatched_or_wrong_inputs():
    with pytest.raises(ValueError):
        plot_gate_heatmaps({})
    with pytest.raises(ValueError):
        plot_gate_heatmaps({"i": np.zeros((4, 3)), "f": np.zeros((5, 3))})
    with pytest.raises(ValueError):
        plot_gate_heatmaps({"i": np.zeros(4)})
    with pytest.raises(ValueError):
        plot_gate_heatmaps({"i": np.zeros((4, 3))}, signed=["c"])
