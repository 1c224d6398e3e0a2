"""Sequence-to-sequence exercises (Section 6d): the decoder inputs of scheduled sampling, in NumPy.

The learner writes ``scheduled_inputs(step_fn, tgt_in, teacher_forcing, rng)``: run a decoder
step by step and choose, for every sequence and step, whether the next input is the true token
(probability ``teacher_forcing``) or the decoder's own most probable token -- the rule of
``Seq2Seq.forward(..., teacher_forcing=p)`` (Bengio et al., 2015).  The checker's decoder step
is a fixed table of logits, so every choice and every random draw shows in the result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from companion.exercises._common import generator, normal
from companion.exercises.feedback import Feedback
from companion.exercises.runner import Array, Case, Exercise, Variant, run

__all__ = ["check_scheduled_inputs", "scheduled_inputs"]


def scheduled_inputs(
    step_fn: Callable,
    tgt_in: np.ndarray,
    teacher_forcing: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """The tokens (N, T) a decoder reads under scheduled sampling."""
    N, T = tgt_in.shape
    inputs = np.empty((N, T), dtype=np.int64)
    inputs[:, 0] = tgt_in[:, 0]                      # <bos>
    for t in range(T - 1):
        logits = step_fn(inputs[:, t], t)            # (N, V), from what it read
        own = logits.argmax(axis=-1)                 # the decoder's own guess
        use_truth = rng.random(N) < teacher_forcing  # one draw per sequence
        inputs[:, t + 1] = np.where(use_truth, tgt_in[:, t + 1], own)
    return inputs


def _make_step(T: int, V: int, seed: int) -> Callable[[np.ndarray, int], np.ndarray]:
    """A fixed decoder step: logits (N, V) from the previous token and the step index."""
    table = normal(generator(f"scheduled_inputs-step-{seed}"), T, V, V, scale=2.0)

    def step_fn(tokens: Any, t: Any) -> np.ndarray:
        tokens = np.asarray(tokens)
        if tokens.ndim != 1 or tokens.dtype.kind not in "iu":
            raise ValueError(f"step_fn takes the previous tokens as an int array (N,), got {tokens.dtype} "
                             f"array of shape {tokens.shape}")
        if not isinstance(t, (int, np.integer)) or not 0 <= t < T:
            raise ValueError(f"step_fn's second argument is the step index t in 0 .. {T - 1}, got {t!r}")
        return table[int(t)][tokens]                  # (N, V)

    return step_fn


def _variant(kind: str) -> Callable[[Case], np.ndarray]:
    def variant(case: Case) -> np.ndarray:
        r = case.raw
        step, y, p = r["step"], r["tgt_in"], r["teacher_forcing"]
        rng = np.random.default_rng(r["seed"])
        N, T = y.shape
        inputs = np.empty((N, T), dtype=np.int64)
        inputs[:, 0] = y[:, 0]
        if kind == "extra_draw":
            rng.random(N)
        for t in range(T - 1):
            read = y[:, t] if kind == "truth_prefix" else inputs[:, t]
            own = step(read, t).argmax(axis=-1)
            u = np.full(N, rng.random()) if kind == "one_draw" else rng.random(N)
            use_truth = u >= p if kind == "inverted" else u < p
            truth = y[:, t] if kind == "off_by_one" else y[:, t + 1]
            inputs[:, t + 1] = np.where(use_truth, truth, own)
        return inputs

    return variant


def check_scheduled_inputs(learner_fn: Callable, *, time_limit: float | None = None) -> Feedback:
    """Check ``scheduled_inputs(step_fn, tgt_in, teacher_forcing, rng) -> inputs (N, T)``.

    ``inputs[:, 0] = tgt_in[:, 0]``; for ``t = 0 .. T - 2``: ``logits = step_fn(inputs[:, t], t)``
    (N, V), draw ``u = rng.random(N)`` and set ``inputs[:, t + 1]`` to ``tgt_in[:, t + 1]`` where
    ``u < teacher_forcing``, else to ``logits.argmax(-1)``.  No other draws from ``rng``.
    """
    specs = [(6, 5, 7, 0.5), (4, 6, 5, 0.8), (1, 4, 6, 0.3), (5, 3, 4, 1.0), (3, 5, 8, 0.0)]
    cases = []
    for k, (N, T, V, p) in enumerate(specs):
        g = generator(f"scheduled_inputs-{k}")
        y = g.integers(2, V, size=(N, T))
        y[:, 0] = 0                                    # token 0 plays <bos>
        step, seed = _make_step(T, V, k), 100 + k
        expected = scheduled_inputs(step, y.copy(), p, np.random.default_rng(seed))
        cases.append(
            Case(
                args=(step, y.copy(), p, np.random.default_rng(seed)),
                expected=expected,
                label=f"N={N}, T={T}, V={V}, teacher_forcing={p}",
                dims={"N": N, "T": T} if N != T else {},
                raw={"step": step, "tgt_in": y.copy(), "teacher_forcing": p, "seed": seed},
            )
        )
    ex = Exercise(
        name="scheduled_inputs",
        signature="scheduled_inputs(step_fn, tgt_in, teacher_forcing, rng)",
        returns=Array("inputs", axes="N T", dtype="int"),
        variants=(
            Variant(
                "the probabilities are swapped: teacher_forcing is the probability of the TRUE token "
                "(u < teacher_forcing -> tgt_in), so teacher_forcing=1 is plain teacher forcing.",
                _variant("inverted"),
            ),
            Variant(
                "you drew one number for the whole batch at each step; each sequence makes its own choice, "
                "u = rng.random(N).",
                _variant("one_draw"),
            ),
            Variant(
                "off by one: the true input for step t + 1 is tgt_in[:, t + 1], not tgt_in[:, t].",
                _variant("off_by_one"),
            ),
            Variant(
                "the decoder's guess must come from what it actually read: call step_fn(inputs[:, t], t), "
                "not step_fn(tgt_in[:, t], t). Otherwise its own mistakes never reach it, which is the point.",
                _variant("truth_prefix"),
            ),
            Variant(
                "you drew random numbers for step 0 too; the first input is always tgt_in[:, 0] (<bos>), so "
                "draw only for t + 1 = 1 .. T - 1.",
                _variant("extra_draw"),
            ),
        ),
    )
    return run(ex, learner_fn, cases, time_limit=time_limit)
