"""Smoke tests for companion.plotting.unrolling: the diagrams draw the labelled nodes and edges they promise."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
from matplotlib.axes import Axes
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from companion.plotting.unrolling import (
    IO_PATTERNS,
    draw_folded_and_unrolled,
    draw_folded_rnn,
    draw_io_pattern,
    draw_io_patterns,
    draw_unrolled_rnn,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _texts(ax: Axes) -> list[str]:
    return [t.get_text() for t in ax.texts]


def _count(ax: Axes, kind: type, gid_prefix: str) -> int:
    return sum(isinstance(p, kind) and (p.get_gid() or "").startswith(gid_prefix) for p in ax.patches)


def test_folded_cell_has_three_nodes_a_self_loop_and_a_delay_marker():
    ax = draw_folded_rnn()
    assert isinstance(ax, Axes)
    assert {"$x_t$", "$h_t$", "$y_t$", "$W$", "$U$", "$V$"} <= set(_texts(ax))
    assert _count(ax, FancyBboxPatch, "node:") == 3
    assert _count(ax, FancyArrowPatch, "edge") == 3  # W, V and the loop U
    assert any(p.get_gid() == "delay" for p in ax.patches)
    assert ax.get_title()


@pytest.mark.parametrize("steps", [1, 4])
def test_unrolled_chain_labels_every_step_with_the_same_shared_matrices(steps):
    ax = draw_unrolled_rnn(steps=steps)
    texts = _texts(ax)
    for t in range(1, steps + 1):
        assert {f"$x_{{{t}}}$", f"$h_{{{t}}}$", f"$y_{{{t}}}$"} <= set(texts)
    assert "$h_0$" in texts
    # one W and one V per step, one U per state-to-state edge (including h_0 -> h_1)
    assert texts.count("$W$") == steps and texts.count("$V$") == steps and texts.count("$U$") == steps
    assert _count(ax, FancyBboxPatch, "node:") == 3 * steps + 1
    assert _count(ax, FancyArrowPatch, "edge") == 3 * steps


def test_unrolled_chain_without_initial_state_and_bad_steps():
    ax = draw_unrolled_rnn(steps=3, show_initial_state=False)
    assert "$h_0$" not in _texts(ax)
    assert _texts(ax).count("$U$") == 2
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="steps"):
            draw_unrolled_rnn(steps=bad)


def test_folded_and_unrolled_side_by_side_share_one_figure():
    ax_f, ax_u = draw_folded_and_unrolled(steps=3)
    assert ax_f.figure is ax_u.figure
    assert "unfold" in _texts(ax_f)
    assert "$h_{3}$" in _texts(ax_u)


@pytest.mark.parametrize(
    ("kind", "n_in", "n_out", "n_hidden"),
    [
        ("one_to_one", 1, 1, 1),
        ("one_to_many", 1, 3, 3),
        ("many_to_one", 3, 1, 3),
        ("many_to_many_aligned", 3, 3, 3),
        ("encoder_decoder", 3, 2, 5),
    ],
)
def test_io_pattern_draws_inputs_and_outputs_only_where_the_task_has_them(kind, n_in, n_out, n_hidden):
    ax = draw_io_pattern(kind)
    nodes = [p.get_gid() for p in ax.patches if isinstance(p, FancyBboxPatch)]
    assert nodes.count("node:input") == n_in
    assert nodes.count("node:output") == n_out
    assert sum(g in ("node:hidden", "node:encoder", "node:decoder") for g in nodes) == n_hidden
    # one arrow per input, per output, and between consecutive states
    assert _count(ax, FancyArrowPatch, "edge") == n_in + n_out + n_hidden - 1
    assert ax.get_title() == IO_PATTERNS[kind][0]
    assert ax.get_xlabel() == IO_PATTERNS[kind][1]


def test_encoder_decoder_uses_two_state_colours():
    ax = draw_io_pattern("encoder_decoder", steps=6)
    gids = {p.get_gid() for p in ax.patches}
    assert {"node:encoder", "node:decoder"} <= gids


def test_io_pattern_rejects_unknown_kind_and_bad_steps():
    with pytest.raises(ValueError, match="kind"):
        draw_io_pattern("many_to_few")
    with pytest.raises(ValueError):
        draw_io_pattern("one_to_one", steps=3)
    with pytest.raises(ValueError):
        draw_io_pattern("encoder_decoder", steps=2)


def test_io_patterns_grid_draws_every_pattern_once():
    axes = draw_io_patterns()
    assert [ax.get_title() for ax in axes] == [name for name, _ in IO_PATTERNS.values()]
    fig, given = plt.subplots(1, 2)
    drawn = draw_io_patterns(["many_to_one", "one_to_many"], axes=given)
    assert [ax.get_title() for ax in drawn] == ["many to one", "one to many"]
    with pytest.raises(ValueError, match="axes"):
        draw_io_patterns(["many_to_one"], axes=given)
