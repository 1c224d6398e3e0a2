"""The exercise runner: stub, exceptions, wrong types, NaN, mutated inputs; never raises, deterministic text."""

from __future__ import annotations

import numpy as np
import pytest

import companion.exercises as exercises
from companion.exercises import Feedback, check_clip_grad_norm, check_rnn_forward, check_rnn_step_forward
from companion.exercises.runner import Array, Case, Exercise, Scalar, Tuple, describe_index, run
from companion.numpy.rnn import rnn_step_forward

STUB_TEXT = (
    "rnn_step_forward: not implemented yet.\n"
    "Replace the `raise NotImplementedError` line with your solution, run that cell, then run this check again."
)


@pytest.fixture(autouse=True)
def _private_progress(tmp_path, monkeypatch):
    """Passes are recorded under a temporary cache, never in the developer's own."""
    monkeypatch.setenv("COMPANION_CACHE", str(tmp_path))


def own(fn):
    """The reference wrapped in a function defined here, as a learner's solution that calls it would be."""
    return lambda *args, **kwargs: fn(*args, **kwargs)


def stub(x, h_prev, Wx, Wh, b):
    """The notebook's stub, exactly."""
    raise NotImplementedError("replace this line with your solution")


def any_stub(*args, **kwargs):
    raise NotImplementedError("replace this line with your solution")


def test_stub_verdict_is_the_stored_notebook_output() -> None:
    fb = check_rnn_step_forward(stub)
    assert isinstance(fb, Feedback)
    assert not fb.passed and fb.status == "not_implemented"
    assert repr(fb) == str(fb) == fb.text == STUB_TEXT


def test_repr_pretty_matches_text() -> None:
    class Printer:
        def __init__(self) -> None:
            self.out = ""

        def text(self, s: str) -> None:
            self.out += s

    p = Printer()
    check_rnn_step_forward(stub)._repr_pretty_(p, False)
    assert p.out == STUB_TEXT


def test_passed_feedback_is_truthy_and_counts_cases() -> None:
    fb = check_rnn_step_forward(own(rnn_step_forward))
    assert fb.passed and bool(fb) and fb.status == "passed"
    assert fb.text.startswith("rnn_step_forward: passed all 5 test cases (N=3, D=4, H=5; N=1,")


def test_verdicts_are_deterministic() -> None:
    def no_bias(x, h_prev, Wx, Wh, b):
        return np.tanh(x @ Wx + h_prev @ Wh), None

    assert check_rnn_step_forward(no_bias).text == check_rnn_step_forward(no_bias).text


def test_exception_shows_type_message_and_learner_line() -> None:
    def broken(x, h_prev, Wx, Wh, b):
        a = x @ Wx + h_prev @ Wh + b
        return np.tanh(a) + undefined_name, None  # noqa: F821

    fb = check_rnn_step_forward(broken)
    assert not fb.passed and fb.status == "failed"
    assert "It raised NameError on case 1 of 5 (N=3, D=4, H=5): name 'undefined_name' is not defined" in fb.text
    assert "in broken, line" in fb.text and "undefined_name" in fb.lines[2]


def test_exception_inside_numpy_points_at_the_learner_line() -> None:
    def concat_wrong(x, h_prev, Wx, Wh, b):
        z = np.concatenate([x, h_prev], axis=0)  # wrong axis: D != H
        return np.tanh(z), None

    fb = check_rnn_step_forward(concat_wrong)
    assert "It raised ValueError" in fb.text
    assert "in concat_wrong, line" in fb.text and "np.concatenate([x, h_prev], axis=0)" in fb.text


def test_wrong_signature_is_explained() -> None:
    fb = check_rnn_step_forward(lambda x, h_prev: x)
    assert "It cannot be called the way the checker calls it on case 1 of 5 (N=3, D=4, H=5): too many" in fb.text
    assert "The checker calls rnn_step_forward(x, h_prev, Wx, Wh, b); your function is <lambda>(x, h_prev)." in fb.text


@pytest.mark.parametrize(
    ("ret", "expected"),
    [
        (None, "It returned None on case 1 of 5 (N=3, D=4, H=5): did you forget the `return` statement?"),
        ((1, 2, 3), "It returned a tuple of 3 values; expected 2 values (h_next, cache)."),
        ("oops", "It returned a str; expected a tuple of 2 values (h_next, cache)."),
        (([[0.0]], None), "h_next should be a numpy array, but it is a list of 1 value (wrap it"),
        ((np.zeros((3, 5), dtype=int), None), "h_next has dtype int64; expected floating-point values"),
        ((np.zeros((5, 3)), None), "It looks transposed (the axes are in reverse order)."),
        ((np.zeros((3, 4)), None), "Your shape reads as (N, D) with this case's sizes N=3, D=4, H=5."),
        ((np.full((3, 5), np.nan), None), "h_next contains NaN or inf: 15 entries, the first at index (0, 0)"),
    ],
)
def test_wrong_return_values_are_described(ret, expected) -> None:
    fb = check_rnn_step_forward(lambda *args: ret)
    assert not fb.passed
    assert expected in fb.text


def test_a_bare_array_instead_of_a_tuple() -> None:
    fb = check_rnn_step_forward(lambda x, h, Wx, Wh, b: np.tanh(x @ Wx + h @ Wh + b))
    assert "It returned a numpy array of shape (3, 5); expected a tuple of 2 values (h_next, cache)." in fb.text


def test_mutated_input_is_reported_with_its_name() -> None:
    def in_place(x, h_prev, Wx, Wh, b):
        h_prev *= 0.5
        return np.tanh(x @ Wx + h_prev @ Wh + b), None

    fb = check_rnn_step_forward(in_place)
    assert "It modified its input `h_prev` in place on case 1 of 5" in fb.text
    assert "first change at index (0, 0)" in fb.text


def test_mutated_dict_entry_is_reported() -> None:
    def in_place(grads, max_norm):
        norm = float(np.sqrt(sum((g**2).sum() for g in grads.values())))
        for g in grads.values():
            g *= min(1.0, max_norm / (norm + 1e-6))
        return grads, norm

    assert "It modified its input `grads['Wx']` in place" in check_clip_grad_norm(in_place).text


def test_not_a_function() -> None:
    fb = check_rnn_forward(np.zeros(3))
    assert fb.status == "unusable"
    assert "Pass your function itself, e.g. check_rnn_forward(rnn_forward), not a numpy array" in fb.text


def test_warnings_from_learner_code_are_silenced(recwarn) -> None:
    def overflow(x, h_prev, Wx, Wh, b):
        return np.exp(np.full((x.shape[0], Wh.shape[0]), 1e5)), None

    fb = check_rnn_step_forward(overflow)
    assert "contains NaN or inf" in fb.text
    assert len(recwarn) == 0


@pytest.mark.parametrize("name", [n for names in exercises.CHECKERS.values() for n in names])
def test_every_checker_survives_hostile_functions(name) -> None:
    check = getattr(exercises, name)

    def raises_system_like(*args, **kwargs):
        raise RuntimeError("boom")

    for fn in (stub, raises_system_like, lambda *a, **k: None, lambda *a, **k: object(), lambda *a, **k: (np.nan,) * 9,
               lambda *a, **k: {"a": 1}, lambda *a, **k: np.full((2, 2), np.inf), lambda *a, **k: [[1, 2], [3]]):
        fb = check(fn)
        assert isinstance(fb, Feedback) and not fb.passed and fb.text


@pytest.mark.parametrize("name", [n for names in exercises.CHECKERS.values() for n in names])
def test_every_checker_has_the_same_stub_message(name) -> None:
    fb = getattr(exercises, name)(any_stub)
    assert fb.status == "not_implemented"
    assert fb.lines[0].endswith(": not implemented yet.")
    assert fb.lines[1] == STUB_TEXT.splitlines()[1]


def test_the_fixed_list_of_checkers() -> None:
    assert [n for names in exercises.CHECKERS.values() for n in names] == [
        "check_one_hot", "check_count_rnn_parameters", "check_rnn_step_forward", "check_rnn_forward",
        "check_rnn_step_backward", "check_rnn_backward", "check_truncated_rnn_backward", "check_clip_grad_norm",
        "check_temporal_softmax_cross_entropy", "check_perplexity", "check_bits_per_char",
        "check_lstm_step_forward", "check_lstm_step_backward", "check_gru_step_forward",
        "check_softmax_with_temperature", "check_sample_next", "check_top_p_filter", "check_last_hidden",
        "check_classifier_forward", "check_sliding_windows", "check_seasonal_naive", "check_iterated_forecast",
        "check_beam_search", "check_scheduled_inputs", "check_bag_of_words",
        "check_embedding_backward", "check_count_lm_parameters", "check_dropout_backward",
        "check_locked_dropout_mask", "check_count_stacked_lstm_parameters", "check_layer_norm_forward",
        "check_masked_softmax", "check_additive_attention", "check_attention_backward",
        "check_scaled_dot_product_attention",
        "check_time_major_to_batch_first", "check_last_layer_state", "check_min_gru_coefficients",
        "check_linear_recurrence_scan", "check_gru_forward_hoisted", "check_gru_matmul_flops",
    ]


# -- the runner's building blocks ---------------------------------------------------------------


def test_describe_index_names_gates() -> None:
    assert describe_index((1, 7), "D 4H", (3, 12)) == "index (1, 7) (input feature 1, gate g (candidate) unit 1)"
    assert describe_index((0, 4), "N 3H", (2, 6)) == "index (0, 4) (sample 0, gate n (candidate) unit 0)"
    assert describe_index((2,), None, (3,)) == "index (2,)"


def test_runner_reports_the_largest_error_only() -> None:
    exp = np.arange(6.0).reshape(2, 3)
    got = exp.copy()
    got[1, 2] += 5.0
    got[0, 0] += 0.5
    case = Case(args=(), expected=(exp, 1.0), label="toy")
    ex = Exercise("toy", "toy()", Tuple(Array("out", axes="N H", gradient=True), Scalar("s")))
    fb = run(ex, lambda: (got, 2.0), [case])
    assert "Gradient mismatch in out." in fb.text
    assert "Largest error at index (1, 2) (sample 1, hidden unit 2): expected 5, got 10." in fb.text
    assert "Also wrong: s." in fb.text
    assert "expected 0," not in fb.text  # no other reference value is revealed


def test_checker_internal_cases_are_fresh_each_call() -> None:
    def in_place(x, h_prev, Wx, Wh, b):
        x[...] = 0.0
        return np.tanh(h_prev @ Wh + b), None

    first = check_rnn_step_forward(in_place).text
    assert first == check_rnn_step_forward(in_place).text
    assert check_rnn_step_forward(own(rnn_step_forward)).passed
