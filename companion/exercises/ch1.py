"""Chapter 1 (background) exercises: one-hot encoding and counting an RNN's parameters."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from companion.exercises._common import copies, generator
from companion.exercises.feedback import Feedback
from companion.exercises.runner import Array, Case, Exercise, Integer, Problem, Variant, run
from companion.numpy.layers import one_hot
from companion.numpy.rnn import count_rnn_parameters

__all__ = ["check_one_hot", "check_count_rnn_parameters"]


# -- one_hot -----------------------------------------------------------------------------------


def _one_hot_cases() -> list[Case]:
    rng = generator("one_hot")
    cases = []
    for N, T, V in ((3, 4, 6), (1, 5, 3), (2, 1, 7), (4, 3, 2)):
        idx = rng.integers(0, V, size=(N, T))
        idx[0, 0] = V - 1  # the last token must be encodable (no off-by-one at the top)
        if N * T > 1:
            idx.flat[-1] = 0
        cases.append(
            Case(
                args=copies(idx, V),
                expected=one_hot(*copies(idx, V)),
                label=f"N={N}, T={T}, V={V}",
                dims={"N": N, "T": T, "V": V},
                raw={"idx": idx.copy(), "V": V},
            )
        )
    return cases


def _shifted(case: Case) -> np.ndarray:
    idx, V = case.raw["idx"], case.raw["V"]
    return ((idx[..., None] - 1) % V == np.arange(V)).astype(float)


def _vocab_first(case: Case) -> np.ndarray:
    idx, V = case.raw["idx"], case.raw["V"]
    return np.moveaxis(one_hot(idx, V), -1, 0)


def _one_per_row(case: Case, got: Any, problem: Problem) -> str | None:
    if problem.kind != "values" or not isinstance(got, np.ndarray):
        return None
    ones = (got != 0).sum(axis=-1)
    if (ones != 1).any():
        n, t = (int(i) for i in np.argwhere(ones != 1)[0])
        return (
            f"every position must hold exactly one 1, but out[{n}, {t}] has {int(ones[n, t])} nonzero entries. "
            "Indexing like out[:, :, idx] = 1 sets a whole column for every sample; compare idx[..., None] "
            "with np.arange(V) instead."
        )
    return None


def check_one_hot(learner_fn: Callable, *, time_limit: float | None = None) -> Feedback:
    """Check ``one_hot(idx, V)``: idx (N, T) int -> float array (N, T, V) with one 1 per position."""
    ex = Exercise(
        name="one_hot",
        signature="one_hot(idx, V)",
        returns=Array("out", axes="N T V", dtype="number"),
        variants=(
            Variant(
                "the 1 sits one position too far left: token k must set index k (indices start at 0, "
                "so the vector for token 0 is [1, 0, 0, ...]).",
                _shifted,
            ),
            Variant("the vocabulary axis must come last: out has shape (N, T, V).", _vocab_first),
        ),
        hints=(_one_per_row,),
    )
    return run(ex, learner_fn, _one_hot_cases(), time_limit=time_limit)


# -- count_rnn_parameters ----------------------------------------------------------------------


def _count_cases() -> list[Case]:
    cases = []
    for D, H, O in ((3, 5, 2), (1, 1, 1), (10, 4, 10), (4, 10, 3), (27, 64, 27)):
        cases.append(
            Case(
                args=(D, H, O),
                expected=count_rnn_parameters(D, H, O),
                label=f"input_size={D}, hidden_size={H}, output_size={O}",
                raw={"D": D, "H": H, "O": O},
            )
        )
    return cases


def _count(without: str = "", extra_bias: bool = False) -> Callable[[Case], int]:
    def f(case: Case) -> int:
        D, H, O = case.raw["D"], case.raw["H"], case.raw["O"]
        terms = {"W": H * D, "U": H * H, "b": H, "V": O * H, "c": O}
        total = sum(v for k, v in terms.items() if k not in without)
        return total + (H if extra_bias else 0)

    return f


def check_count_rnn_parameters(learner_fn: Callable, *, time_limit: float | None = None) -> Feedback:
    """Check ``count_rnn_parameters(input_size, hidden_size, output_size) -> int``.

    The model is ``h_t = tanh(W x_t + U h_{t-1} + b)``, ``y_t = V h_t + c``.
    """
    ex = Exercise(
        name="count_rnn_parameters",
        signature="count_rnn_parameters(input_size, hidden_size, output_size)",
        returns=Integer("number of parameters"),
        variants=(
            Variant("you left out both biases b (H numbers) and c (output_size numbers).", _count("bc")),
            Variant("you left out the hidden bias b (hidden_size numbers).", _count("b")),
            Variant("you left out the output bias c (output_size numbers).", _count("c")),
            Variant("you left out the recurrent matrix U (hidden_size x hidden_size).", _count("U")),
            Variant("you left out the output layer V and c: the model also has y_t = V h_t + c.", _count("Vc")),
            Variant(
                "you counted two hidden biases (PyTorch keeps bias_ih and bias_hh); the book's model has one b.",
                _count(extra_bias=True),
            ),
        ),
    )
    return run(ex, learner_fn, _count_cases(), time_limit=time_limit)
