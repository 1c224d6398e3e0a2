"""Checkers of chapters 1-2: one_hot, count_rnn_parameters, rnn_step_forward, rnn_forward."""

from __future__ import annotations

import numpy as np
import pytest

from companion.exercises import check_count_rnn_parameters, check_one_hot, check_rnn_forward, check_rnn_step_forward
from companion.numpy.layers import one_hot
from companion.numpy.rnn import count_rnn_parameters, rnn_forward, rnn_step_forward

@pytest.fixture(autouse=True)
def _private_progress(tmp_path, monkeypatch):
    """Passes are recorded under a temporary cache, never in the developer's own."""
    monkeypatch.setenv("COMPANION_CACHE", str(tmp_path))


def own(fn):
    """The reference wrapped in a function defined here, as a learner's solution that calls it would be."""
    return lambda *args, **kwargs: fn(*args, **kwargs)


def test_references_pass() -> None:
    assert check_one_hot(own(one_hot)).passed
    assert check_count_rnn_parameters(own(count_rnn_parameters)).passed
    assert check_rnn_step_forward(own(rnn_step_forward)).passed
    assert check_rnn_forward(own(rnn_forward)).passed


def test_other_correct_solutions_pass() -> None:
    assert check_one_hot(lambda idx, V: np.eye(V)[idx]).passed
    assert check_one_hot(lambda idx, V: np.eye(V, dtype=int)[idx]).passed  # integer one-hot is fine
    assert check_count_rnn_parameters(lambda D, H, O: (D + H + 1) * H + (H + 1) * O).passed

    def loop_forward(x, h0, Wx, Wh, b):
        h, hs = h0, []
        for t in range(x.shape[1]):
            h, _ = rnn_step_forward(x[:, t], h, Wx, Wh, b)
            hs.append(h)
        return np.stack(hs, axis=1), None

    assert check_rnn_forward(loop_forward).passed
    assert check_rnn_step_forward(lambda x, h, Wx, Wh, b: (np.tanh(x @ Wx + h @ Wh + b).astype(np.float32), {})).passed


def _column_per_sample(idx, V):
    out = np.zeros(idx.shape + (V,))
    out[:, :, idx] = 1.0
    return out


@pytest.mark.parametrize(
    ("fn", "expected"),
    [
        (lambda idx, V: np.eye(V)[idx - 1], "the 1 sits one position too far left"),
        (lambda idx, V: np.moveaxis(np.eye(V)[idx], -1, 0), "the vocabulary axis must come last"),
        (_column_per_sample, "out[0, 0] has 6 nonzero entries"),
        (
            lambda idx, V: np.eye(V)[idx][..., :-1],
            "out has the wrong shape: expected (N, T, V) = (3, 4, 6), got (3, 4, 5)",
        ),
    ],
)
def test_one_hot_mistakes(fn, expected) -> None:
    fb = check_one_hot(fn)
    assert not fb.passed
    assert expected in fb.text


@pytest.mark.parametrize(
    ("fn", "expected"),
    [
        (lambda D, H, O: H * D + H * H + O * H, "you left out both biases"),
        (lambda D, H, O: H * D + H * H + H, "you left out the output layer V and c"),
        (lambda D, H, O: H * D + 2 * H + O * H + O + H * H, "you counted two hidden biases"),
        (lambda D, H, O: H * D + H + O * H + O, "you left out the recurrent matrix U"),
        (
            lambda D, H, O: float(H * D + H * H + H + O * H + O),
            "should be an int, but it is a float (convert it with int(...))",
        ),
    ],
)
def test_count_mistakes(fn, expected) -> None:
    fb = check_count_rnn_parameters(fn)
    assert not fb.passed
    assert expected in fb.text


def _sig(a):
    return 1 / (1 + np.exp(-a))


@pytest.mark.parametrize(
    ("fn", "expected"),
    [
        (lambda x, h, Wx, Wh, b: (np.tanh(x @ Wx + h @ Wh), None), "without the bias b: did you forget `+ b`?"),
        (lambda x, h, Wx, Wh, b: (np.tanh(x @ Wx + h @ Wh.T + b), None), "with Wh transposed"),
        (
            lambda x, h, Wx, Wh, b: (np.maximum(x @ Wx + h @ Wh + b, 0), None),
            "you applied ReLU; this exercise uses tanh",
        ),
        (lambda x, h, Wx, Wh, b: (_sig(x @ Wx + h @ Wh + b), None), "you applied the sigmoid"),
        (lambda x, h, Wx, Wh, b: (x @ Wx + h @ Wh + b, None), "you forgot the nonlinearity"),
        (lambda x, h, Wx, Wh, b: (np.tanh(x @ Wx + b), None), "your output ignores h_prev"),
        (
            lambda x, h, Wx, Wh, b: (np.tanh(x @ Wh + h @ Wx + b), None),
            "The checker uses D != H, so swapping Wx and Wh",
        ),
        (lambda x, h, Wx, Wh, b: (np.tanh(Wx.T @ x.T + Wh.T @ h.T + b[:, None]), None), "It looks transposed"),
    ],
)
def test_rnn_step_forward_mistakes(fn, expected) -> None:
    fb = check_rnn_step_forward(fn)
    assert not fb.passed
    assert expected in fb.text


def _forward(mode):
    def f(x, h0, Wx, Wh, b):
        h, hs = h0, ([h0] if mode == "with_h0" else [])
        for t in range(x.shape[1]):
            new = np.tanh(x[:, t] @ Wx + (h0 if mode == "stuck" else h) @ Wh + (0 if mode == "no_bias" else b))
            hs.append(h if mode == "before" else new)
            h = new
        return np.stack(hs, axis=0 if mode == "time_major" else 1), None

    return f


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("before", "your h[:, t] is the state *before* step t"),
        ("with_h0", "you returned T+1 states including h0"),
        ("time_major", "your states are time-major (T, N, H)"),
        ("stuck", "every step used h0 instead of the previous step's state"),
        ("no_bias", "did you forget `+ b`?"),
    ],
)
def test_rnn_forward_mistakes(mode, expected) -> None:
    fb = check_rnn_forward(_forward(mode))
    assert not fb.passed
    assert expected in fb.text


def test_rnn_forward_time_major_shape_message() -> None:
    fb = check_rnn_forward(_forward("time_major"))
    assert "h has the wrong shape: expected (N, T, H) = (3, 6, 5), got (6, 3, 5)." in fb.text
    assert "The sizes are right but the axes are in the wrong order: you have (T, N, H)." in fb.text


# -- hints that point the right way ------------------------------------------------------------


def test_a_type_error_inside_learner_code_is_not_a_signature_problem() -> None:
    def zeros_wrong(x, h_prev, Wx, Wh, b):
        h = np.zeros(x.shape[0], Wh.shape[0])  # TypeError inside numpy: the shape must be a tuple
        return np.tanh(x @ Wx + h_prev @ Wh + b + h), None

    fb = check_rnn_step_forward(zeros_wrong)
    assert "It raised TypeError on case 1 of 5" in fb.text
    assert "in zeros_wrong, line" in fb.text and "np.zeros(x.shape[0], Wh.shape[0])" in fb.text
    assert "parameters" not in fb.text and "cannot be called" not in fb.text


def test_a_builtin_with_the_wrong_arity_gets_the_signature_hint() -> None:
    fb = check_rnn_step_forward(np.tanh)
    assert "check your function's parameters" in fb.text or "It cannot be called the way the checker calls it" in fb.text


def test_the_matrix_hint_only_for_matrix_products() -> None:
    matmul = check_rnn_step_forward(lambda x, h, Wx, Wh, b: (np.tanh(x @ Wh + h @ Wx + b), None))
    assert "a shape mismatch in a matrix product" in matmul.text
    broadcast = check_rnn_step_forward(lambda x, h, Wx, Wh, b: (np.tanh(x @ Wx + h @ Wh + b[:-1]), None))
    assert "could not be broadcast" in broadcast.text
    assert "matrix product" not in broadcast.text
    assert "an element-wise operation (+, -, *, /) met two arrays whose shapes do not fit together" in broadcast.text


def test_numbers_print_without_a_negative_zero() -> None:
    from companion.exercises.runner import fmt

    assert fmt(-0.0) == "0" and fmt(0.0) == "0" and fmt(-1e-300) == "-1e-300" and fmt(2.5) == "2.5"
