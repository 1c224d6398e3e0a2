"""Chapter 2 (recurrence) exercises: one RNN step and a whole sequence, forward."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from companion.exercises._common import copies, generator, matmul_hint, normal, sigmoid
from companion.exercises.feedback import Feedback
from companion.exercises.runner import Anything, Array, Case, Exercise, Tuple, Variant, run
from companion.numpy.rnn import rnn_forward, rnn_step_forward

__all__ = ["check_rnn_step_forward", "check_rnn_forward", "rnn_weights"]

#: (N, D, H) of the step cases: a general one first, then N=1, D < H, D > H, D == H.
STEP_SIZES = ((3, 4, 5), (1, 3, 2), (2, 2, 6), (4, 6, 3), (2, 3, 3))
#: (N, T, D, H) of the sequence cases, including N=1 and T=1.
SEQ_SIZES = ((3, 6, 4, 5), (1, 4, 3, 2), (2, 1, 2, 3), (2, 5, 3, 3))


def rnn_weights(rng: np.random.Generator, D: int, H: int, gates: int = 1) -> dict[str, np.ndarray]:
    """Weights large enough that every term (and the bias) visibly changes the output."""
    return {
        "Wx": normal(rng, D, gates * H, scale=0.5),
        "Wh": normal(rng, H, gates * H, scale=0.4),
        "b": normal(rng, gates * H, scale=0.5),
    }


# -- one step ----------------------------------------------------------------------------------


def step_cases(name: str = "rnn_step_forward") -> list[dict[str, Any]]:
    """Named inputs of the step cases (shared with the step backward checker)."""
    rng = generator(name)
    out = []
    for N, D, H in STEP_SIZES:
        w = rnn_weights(rng, D, H)
        out.append(
            {
                "x": normal(rng, N, D),
                "h_prev": normal(rng, N, H, scale=0.8),
                **w,
                "dh": normal(rng, N, H),
                "N": N, "D": D, "H": H,
            }
        )
    return out


def _step(f: Callable[[np.ndarray], np.ndarray] = np.tanh, bias: bool = True, Wh_T: bool = False, use_h: bool = True,
          swap: bool = False) -> Callable[[Case], tuple]:
    def variant(case: Case) -> tuple:
        r = case.raw
        Wx, Wh = (r["Wh"], r["Wx"]) if swap else (r["Wx"], r["Wh"])
        a = r["x"] @ Wx + (r["h_prev"] @ (Wh.T if Wh_T else Wh) if use_h else 0.0) + (r["b"] if bias else 0.0)
        return f(a), None

    return variant


STEP_VARIANTS = (
    Variant("your output equals the reference without the bias b: did you forget `+ b`?", _step(bias=False)),
    Variant(
        "your output equals the reference with Wh transposed: with row vectors the recurrent term is "
        "h_prev @ Wh (Wh is the book's U transposed).",
        _step(Wh_T=True),
    ),
    Variant("you applied ReLU; this exercise uses tanh.", _step(f=lambda a: np.maximum(a, 0.0))),
    Variant("you applied the sigmoid; this exercise uses tanh.", _step(f=sigmoid)),
    Variant("you forgot the nonlinearity: apply np.tanh to x @ Wx + h_prev @ Wh + b.", _step(f=lambda a: a)),
    Variant("your output ignores h_prev: the recurrent term h_prev @ Wh is missing.", _step(use_h=False)),
    Variant("you swapped Wx and Wh: x goes with Wx (D, H), h_prev with Wh (H, H).", _step(swap=True)),
)


def _step_case(r: dict[str, Any]) -> Case:
    args = (r["x"], r["h_prev"], r["Wx"], r["Wh"], r["b"])
    return Case(
        args=copies(*args),
        expected=rnn_step_forward(*copies(*args)),
        label=f"N={r['N']}, D={r['D']}, H={r['H']}",
        dims={"N": r["N"], "D": r["D"], "H": r["H"]},
        raw=r,
    )


def check_rnn_step_forward(learner_fn: Callable, *, time_limit: float | None = None) -> Feedback:
    """Check ``rnn_step_forward(x, h_prev, Wx, Wh, b) -> (h_next, cache)``.

    ``h_next = tanh(x @ Wx + h_prev @ Wh + b)`` with x (N, D), h_prev (N, H), Wx (D, H),
    Wh (H, H), b (H,).  The cache is not graded (any object).
    """
    ex = Exercise(
        name="rnn_step_forward",
        signature="rnn_step_forward(x, h_prev, Wx, Wh, b)",
        returns=Tuple(Array("h_next", axes="N H"), Anything("cache")),
        variants=STEP_VARIANTS,
        exception_hint=matmul_hint,
    )
    return run(ex, learner_fn, [_step_case(r) for r in step_cases()], time_limit=time_limit)


# -- a whole sequence -------------------------------------------------------------------------


def seq_cases(name: str = "rnn_forward") -> list[dict[str, Any]]:
    """Named inputs of the sequence cases (shared with the backward checkers)."""
    rng = generator(name)
    out = []
    for N, T, D, H in SEQ_SIZES:
        w = rnn_weights(rng, D, H)
        out.append(
            {"x": normal(rng, N, T, D), "h0": normal(rng, N, H, scale=0.8), **w, "dh": normal(rng, N, T, H),
             "N": N, "T": T, "D": D, "H": H}
        )
    return out


def run_rnn(r: dict[str, Any], *, bias: bool = True, Wh_T: bool = False, stuck: bool = False) -> np.ndarray:
    """States h_1..h_T of a tanh RNN, optionally with a known mistake (for the variants)."""
    h_t, hs = r["h0"], []
    for t in range(r["x"].shape[1]):
        h_in = r["h0"] if stuck else h_t
        h_t = np.tanh(r["x"][:, t] @ r["Wx"] + h_in @ (r["Wh"].T if Wh_T else r["Wh"]) + (r["b"] if bias else 0.0))
        hs.append(h_t)
    return np.stack(hs, axis=1)


def _seq(**kw: bool) -> Callable[[Case], tuple]:
    return lambda case: (run_rnn(case.raw, **kw), None)


def _states_before(case: Case) -> tuple:
    h = run_rnn(case.raw)
    return np.concatenate([case.raw["h0"][:, None], h[:, :-1]], axis=1), None


def _with_h0(case: Case) -> tuple:
    return np.concatenate([case.raw["h0"][:, None], run_rnn(case.raw)], axis=1), None


def _final_only(case: Case) -> tuple:
    return run_rnn(case.raw)[:, -1], None


def _time_major(case: Case) -> tuple:
    return run_rnn(case.raw).transpose(1, 0, 2), None


def check_rnn_forward(learner_fn: Callable, *, time_limit: float | None = None) -> Feedback:
    """Check ``rnn_forward(x, h0, Wx, Wh, b) -> (h, cache)``: x (N, T, D), h0 (N, H) -> h (N, T, H)."""
    ex = Exercise(
        name="rnn_forward",
        signature="rnn_forward(x, h0, Wx, Wh, b)",
        returns=Tuple(Array("h", axes="N T H"), Anything("cache")),
        variants=(
            Variant(
                "your h[:, t] is the state *before* step t (h_{t-1}, starting with h0): store the new state "
                "h_t after computing it.",
                _states_before,
            ),
            Variant("you returned T+1 states including h0; h must hold h_1 ... h_T only, shape (N, T, H).", _with_h0),
            Variant("you returned only the final state; return every state, shape (N, T, H).", _final_only),
            Variant(
                "your states are time-major (T, N, H); the course is batch-first: stack the steps along axis 1.",
                _time_major,
            ),
            Variant(
                "every step used h0 instead of the previous step's state: update h inside the loop.",
                _seq(stuck=True),
            ),
            Variant("your output equals the reference without the bias b: did you forget `+ b`?", _seq(bias=False)),
            Variant(
                "your output equals the reference with Wh transposed: the recurrent term is h @ Wh.",
                _seq(Wh_T=True),
            ),
        ),
        exception_hint=matmul_hint,
    )
    cases = []
    for r in seq_cases():
        args = (r["x"], r["h0"], r["Wx"], r["Wh"], r["b"])
        cases.append(
            Case(
                args=copies(*args),
                expected=rnn_forward(*copies(*args)),
                label=f"N={r['N']}, T={r['T']}, D={r['D']}, H={r['H']}",
                dims={"N": r["N"], "T": r["T"], "D": r["D"], "H": r["H"]},
                raw=r,
            )
        )
    return run(ex, learner_fn, cases, time_limit=time_limit)
