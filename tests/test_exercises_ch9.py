"""Checkers of chapter 9 / appendix: time-major -> batch-first, h_n, linear recurrence in parallel; and their solutions."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from companion.exercises import check_linear_recurrence_scan, check_min_gru_coefficients, check_time_major_to_batch_first
from companion.exercises.ch9 import _last_layer_state, check_last_layer_state
from companion.exercises.solutions import (
    bag_of_words,
    beam_search,
    linear_recurrence_scan,
    min_gru_coefficients,
    time_major_to_batch_first,
)


@pytest.fixture(autouse=True)
def _private_progress(tmp_path, monkeypatch):
    """Passes are recorded under a temporary cache, never in the developer's own."""
    monkeypatch.setenv("COMPANION_CACHE", str(tmp_path))


def own(fn):
    """The reference wrapped in a function defined here, as a learner's solution that calls it would be."""
    return lambda *args, **kwargs: fn(*args, **kwargs)


def test_references_pass() -> None:
    assert check_time_major_to_batch_first(own(time_major_to_batch_first)).passed
    assert check_linear_recurrence_scan(own(linear_recurrence_scan)).passed
    assert check_time_major_to_batch_first(lambda x: np.swapaxes(x, 0, 1).copy()).passed


@pytest.mark.parametrize(
    ("fn", "expected"),
    [
        (lambda x: x.reshape((x.shape[1], x.shape[0]) + x.shape[2:]), "you used reshape"),
        (lambda x: x.T, "x.T reverses ALL the axes"),
        (lambda x: x, "you returned the input unchanged"),
        (lambda x: x.transpose(1, 0, 2), "It raised ValueError on case 4 of 5 (token ids (T, N) of shape (6, 3))"),
    ],
)
def test_time_major_mistakes(fn, expected) -> None:
    fb = check_time_major_to_batch_first(fn)
    assert not fb.passed
    assert expected in fb.text


def _scan(mode):
    def f(a, b, h0):
        P = np.cumprod(a, axis=1)
        if mode == "no_h0":
            return P * np.cumsum(b / P, axis=1)
        if mode == "a_inside":
            return P * (h0[:, None] + np.cumsum(b / P * a, axis=1))
        if mode == "no_a":
            return h0[:, None] + np.cumsum(b, axis=1)
        h = P * (h0[:, None] + np.cumsum(b / P, axis=1))
        if mode == "with_h0":
            return np.concatenate([h0[:, None], h], axis=1)
        return h

    return f


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("no_h0", "h0 is missing"),
        ("a_inside", "you computed h_t = a_t * (h_{t-1} + b_t)"),
        ("no_a", "the decays a_t are missing"),
        ("with_h0", "you returned T+1 states including h0"),
    ],
)
def test_linear_recurrence_mistakes(mode, expected) -> None:
    assert check_linear_recurrence_scan(_scan("ok")).passed  # the cumprod form is accepted too
    fb = check_linear_recurrence_scan(_scan(mode))
    assert not fb.passed
    assert expected in fb.text


# -- the exercise-only reference solutions themselves ---------------------------------------------


def test_scan_equals_the_loop(rng) -> None:
    a, b, h0 = rng.uniform(-1, 1, (3, 37, 4)), rng.standard_normal((3, 37, 4)), rng.standard_normal((3, 4))
    h, expected = h0, []
    for t in range(37):
        h = a[:, t] * h + b[:, t]
        expected.append(h)
    np.testing.assert_allclose(linear_recurrence_scan(a, b, h0), np.stack(expected, axis=1), rtol=1e-10, atol=1e-12)


def test_scan_validates_shapes() -> None:
    with pytest.raises(ValueError, match="h0 axis 1 should be H=4"):
        linear_recurrence_scan(np.ones((2, 3, 4)), np.ones((2, 3, 4)), np.ones((2, 5)))


def test_time_major_is_a_view_and_rejects_1d() -> None:
    x = np.arange(24.0).reshape(4, 3, 2)
    y = time_major_to_batch_first(x)
    assert y.shape == (3, 4, 2) and np.shares_memory(x, y) and y[1, 2, 0] == x[2, 1, 0]
    with pytest.raises(ValueError, match="at least 2 axes"):
        time_major_to_batch_first(np.zeros(3))


def test_beam_search_width_one_is_greedy_and_wide_beam_is_exhaustive(rng) -> None:
    table = np.log(rng.dirichlet(np.ones(4), size=(4, 4)))  # (position, last token) -> log-probs

    def step(tokens):
        return table[len(tokens) - 1, tokens[-1]]

    (seq, score), = beam_search(step, 1, 0, 1, 3)
    greedy = [1]
    for _ in range(3):
        if greedy[-1] == 0:
            break
        greedy.append(int(np.argmax(step(greedy))))
    assert seq == greedy
    # a beam as wide as all 4**3 sequences finds the best-scoring one among finished/unfinished paths
    best = beam_search(step, 1, 0, 64, 3)[0]
    assert best[1] >= score - 1e-12


def test_bag_of_words_counts_real_tokens_only() -> None:
    idx = np.array([[2, 2, 1, 0], [3, 0, 0, 0]])
    counts = bag_of_words(idx, np.array([3, 1]), 4)
    np.testing.assert_array_equal(counts, [[0, 1, 2, 0], [0, 0, 0, 1]])
    with pytest.raises(ValueError, match="idx has value 4 but must be < 4"):
        bag_of_words(np.array([[4]]), np.array([1]), 4)


def test_min_gru_coefficients_reference_passes() -> None:
    fb = check_min_gru_coefficients(own(min_gru_coefficients))
    assert fb.passed, fb.text


def _min_gru(kind):
    def f(x, Wz, bz, Wh, bh):
        z = 1.0 / (1.0 + np.exp(-(x @ Wz + bz)))
        h_tilde = x @ Wh + bh
        if kind == "swapped":
            return z, (1.0 - z) * h_tilde
        if kind == "tanh":
            return 1.0 - z, z * np.tanh(h_tilde)
        if kind == "no_gate_on_b":
            return 1.0 - z, h_tilde
        if kind == "only_a":
            return 1.0 - z
        if kind == "transposed":
            return (1.0 - z).transpose(0, 2, 1), (z * h_tilde).transpose(0, 2, 1)
        raise AssertionError(kind)

    f.__name__ = "min_gru_coefficients"
    return f


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("swapped", "gate's roles exchanged"),
        ("tanh", "the minGRU candidate has no tanh"),
        ("no_gate_on_b", "b_t must be gated too"),
        ("only_a", "expected a tuple of 2 values"),
        ("transposed", "shape"),
    ],
)
def test_min_gru_coefficients_mistakes(kind, expected) -> None:
    fb = check_min_gru_coefficients(_min_gru(kind))
    assert not fb.passed
    assert expected in fb.text, fb.text


# -- "do not loop over time" is checked ------------------------------------------------------------


def _sequential(a, b, h0):
    h, out = h0, []
    for t in range(a.shape[1]):
        h = a[:, t] * h + b[:, t]
        out.append(h)
    return np.stack(out, axis=1)


def _recursive(a, b, h0):
    def go(t):
        return h0 if t < 0 else a[:, t] * go(t - 1) + b[:, t]

    return np.stack([go(t) for t in range(a.shape[1])], axis=1)


@pytest.mark.parametrize("fn", [_sequential, _recursive], ids=["loop", "recursion"])
def test_scan_that_loops_over_time_is_rejected(fn) -> None:
    fb = check_linear_recurrence_scan(fn)
    assert not fb.passed
    assert "Its values are right, but it loops over time in Python: with T=512 your code executed" in fb.text
    assert "Hint: loop over the ceil(log2 T) rounds of a scan" in fb.text


def test_scan_rounds_and_closed_forms_pass() -> None:
    def hillis_steele(a, b, h0):
        A, B, shift = a.copy(), b.copy(), 1
        while shift < a.shape[1]:
            B[:, shift:] = B[:, shift:] + A[:, shift:] * B[:, :-shift]
            A[:, shift:] = A[:, shift:] * A[:, :-shift]
            shift *= 2
        return A * h0[:, None, :] + B

    assert check_linear_recurrence_scan(hillis_steele).passed
    assert check_linear_recurrence_scan(_scan("ok")).passed


# -- the last layer's final state from h_n (chapter 9) --------------------------------------------


def _written_solution(label: str) -> str:
    """The code block of the solution ``label`` in book/09_faq.ipynb (a written solution, not a literalinclude)."""
    nb = json.loads((Path(__file__).resolve().parents[1] / "book" / "09_faq.ipynb").read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and f"{{solution}} {label}" in text:
            return re.search(r"```python\n(.*?)```", text, re.S).group(1)
    raise AssertionError(f"no solution {label} in 09_faq.ipynb")


def test_last_layer_state_book_solution_and_reference_pass() -> None:
    ns: dict = {"np": np}
    exec(_written_solution("ex-last_layer_state"), ns)
    fb = check_last_layer_state(ns["last_layer_state"])
    assert fb.passed, fb.text
    assert check_last_layer_state(own(_last_layer_state)).passed
    refused = check_last_layer_state(_last_layer_state)
    assert not refused.passed and "this is the reference implementation, not yours" in refused.text


@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_last_layer_state_reads_what_torch_returns(num_layers, bidirectional) -> None:
    # The checker's reference agrees with the layer's own output: forward state at the last step,
    # backward state at the first step.
    torch.manual_seed(0)
    H = 4
    gru = torch.nn.GRU(3, H, num_layers=num_layers, bidirectional=bidirectional, batch_first=True)
    with torch.no_grad():
        output, h_n = gru(torch.randn(5, 7, 3))
    expected = output[:, -1, :H]
    if bidirectional:
        expected = torch.cat([expected, output[:, 0, H:]], dim=-1)
    got = _last_layer_state(h_n.numpy(), bidirectional)
    np.testing.assert_allclose(got, expected.numpy(), rtol=0, atol=1e-6)


def _layer_state(kind):
    def f(h_n, bidirectional):
        if kind == "backward_only":
            return h_n[-1]
        if kind == "always_pair":
            return np.concatenate([h_n[-2], h_n[-1]], axis=-1)
        if not bidirectional:
            return h_n[0] if kind == "first_layer" else h_n[-1]
        if kind == "swapped":
            return np.concatenate([h_n[-1], h_n[-2]], axis=-1)
        if kind == "reshape":
            return h_n[-2:].reshape(h_n.shape[1], -1)
        if kind == "added":
            return h_n[-2] + h_n[-1]
        if kind == "first_layer":
            return np.concatenate([h_n[0], h_n[1]], axis=-1)
        if kind == "backward_doubled":
            return np.concatenate([h_n[-2], 2 * h_n[-1]], axis=-1)
        raise AssertionError(kind)

    f.__name__ = "last_layer_state"
    return f


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("backward_only", "h_n[-1] is only the BACKWARD direction of the last layer"),
        ("swapped", "the two halves are swapped"),
        ("reshape", "reshape keeps the memory order"),
        ("added", "you added the two directions"),
        ("first_layer", "you read the FIRST layer"),
        ("always_pair", "with bidirectional=False there is one row per layer"),
        ("backward_doubled", "the forward half (columns 0..H-1) is right"),
    ],
)
def test_last_layer_state_mistakes(kind, expected) -> None:
    fb = check_last_layer_state(_layer_state(kind))
    assert not fb.passed
    assert expected in fb.text, fb.text


def test_last_layer_state_batch_first_mistake_all_layers_stub_and_hang() -> None:
    fb = check_last_layer_state(lambda h_n, bidirectional: h_n[:, -1])
    assert not fb.passed and "h_n is never batch-first" in fb.text, fb.text
    fb = check_last_layer_state(lambda h_n, bidirectional: h_n.transpose(1, 0, 2).reshape(h_n.shape[1], -1))
    assert not fb.passed and "you kept every layer" in fb.text, fb.text

    def stub(h_n, bidirectional):
        raise NotImplementedError("replace this line with your solution")

    assert "not implemented yet" in check_last_layer_state(stub).text

    def hangs(h_n, bidirectional):
        while True:
            pass

    fb = check_last_layer_state(hangs, time_limit=0.3)
    assert not fb.passed and "time limit" in fb.text.lower()


def test_min_gru_coefficients_that_loop_over_time_are_rejected() -> None:
    def per_step(x, Wz, bz, Wh, bh):
        steps = []
        for t in range(x.shape[1]):
            z = 1.0 / (1.0 + np.exp(-(x[:, t] @ Wz + bz)))
            steps.append((1.0 - z, z * (x[:, t] @ Wh + bh)))
        return np.stack([a for a, _ in steps], axis=1), np.stack([b for _, b in steps], axis=1)

    fb = check_min_gru_coefficients(per_step)
    assert not fb.passed
    assert "Its values are right, but it loops over time in Python" in fb.text, fb.text
    assert "Hint: the coefficients depend on x_t alone" in fb.text
