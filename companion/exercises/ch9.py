"""Chapter 9 (FAQ) and appendix exercises: tensor layouts and a linear recurrence computed in parallel."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from companion.exercises._common import copies, generator, normal, sigmoid
from companion.exercises.feedback import Feedback
from companion.exercises.runner import Array, Case, Exercise, LoopFree, Problem, Tuple, Variant, run
from companion.exercises.solutions import linear_recurrence_scan, min_gru_coefficients, time_major_to_batch_first

__all__ = ["check_time_major_to_batch_first", "check_min_gru_coefficients", "check_linear_recurrence_scan"]


def _layout_hint(case: Case, got: Any, problem: Problem) -> str | None:
    x = case.raw["x"]
    if isinstance(got, np.ndarray) and problem.kind == "shape" and got.shape == x.shape:
        return "you returned the input unchanged: swap the first two axes (np.swapaxes(x, 0, 1))."
    return None


def check_time_major_to_batch_first(learner_fn: Callable, *, time_limit: float | None = None) -> Feedback:
    """Check ``time_major_to_batch_first(x)``: (T, N) or (T, N, D) -> (N, T) or (N, T, D)."""
    rng = generator("time_major_to_batch_first")
    specs = [(5, 3, 4), (1, 2, 3), (4, 1, 2), (6, 3), (3, 2, 2)]
    cases = []
    for shape in specs:
        x = normal(rng, *shape) if len(shape) == 3 else rng.integers(0, 50, size=shape)
        T, N = shape[:2]
        dims = {"N": N, "T": T} if len(shape) == 2 else {"N": N, "T": T, "D": shape[2]}
        kind = "token ids (T, N)" if len(shape) == 2 else "features (T, N, D)"
        cases.append(
            Case(
                args=copies(x),
                expected=np.array(time_major_to_batch_first(x.copy())),
                label=f"{kind} of shape {shape}",
                dims=dims,
                raw={"x": x.copy()},
            )
        )
    ex = Exercise(
        name="time_major_to_batch_first",
        signature="time_major_to_batch_first(x)",
        returns=Array("out", dtype="number"),
        variants=(
            Variant(
                "you used reshape: it keeps the memory order, so time steps and samples get mixed up. Move axes "
                "with np.swapaxes(x, 0, 1) (or x.transpose(1, 0, 2) for 3-D input).",
                lambda c: c.raw["x"].reshape((c.raw["x"].shape[1], c.raw["x"].shape[0]) + c.raw["x"].shape[2:]),
            ),
            Variant(
                "x.T reverses ALL the axes; only the first two (time and batch) must be swapped: np.swapaxes(x, 0, 1).",
                lambda c: c.raw["x"].T,
            ),
        ),
        hints=(_layout_hint,),
    )
    return run(ex, learner_fn, cases, time_limit=time_limit)


# -- linear recurrence in parallel ------------------------------------------------------------


def _sequential(a: np.ndarray, b: np.ndarray, h0: np.ndarray, kind: str = "ok") -> np.ndarray:
    h, out = (np.zeros_like(h0) if kind == "no_h0" else h0), []
    for t in range(a.shape[1]):
        if kind == "a_inside":
            h = a[:, t] * (h + b[:, t])
        elif kind == "no_a":
            h = h + b[:, t]
        elif kind == "b_prev":
            h = a[:, t] * h + (b[:, t - 1] if t > 0 else 0.0)
        else:
            h = a[:, t] * h + b[:, t]
        out.append(h)
    states = np.stack(out, axis=1)
    if kind == "with_h0":
        return np.concatenate([h0[:, None], states], axis=1)
    if kind == "shifted":
        return np.concatenate([h0[:, None], states[:, :-1]], axis=1)
    return states


def _scan_probe(T: int) -> Case:
    """A valid input of length T, for the "no loop over time" check (values not graded)."""
    rng = generator(f"linear_recurrence_scan-loop-{T}")
    N, H = 2, 3
    a, b, h0 = rng.uniform(0.95, 1.0, size=(N, T, H)), normal(rng, N, T, H), normal(rng, N, H)
    return Case(args=(a, b, h0), expected=None, label=f"N={N}, T={T}, H={H}", dims={"N": N, "T": T, "H": H})


def check_linear_recurrence_scan(learner_fn: Callable, *, time_limit: float | None = None) -> Feedback:
    """Check ``linear_recurrence_scan(a, b, h0) -> h`` with ``h_t = a_t * h_{t-1} + b_t``, not looping over time.

    a, b (N, T, H), h0 (N, H) -> h (N, T, H) (h0 not included).  After the values, the
    checker runs the function with T = 16 and T = 512 and fails it if its Python work
    grows like T (a loop over the steps); a loop over the ``ceil(log2 T)`` rounds of a
    scan adds only a few lines (:class:`~companion.exercises.runner.LoopFree`).
    """
    rng = generator("linear_recurrence_scan")
    specs = [(3, 8, 4), (1, 5, 2), (2, 1, 3), (2, 13, 1), (2, 6, 5)]
    cases = []
    for N, T, H in specs:
        a, b, h0 = rng.uniform(0.3, 1.0, size=(N, T, H)), normal(rng, N, T, H), normal(rng, N, H)
        cases.append(
            Case(
                args=copies(a, b, h0),
                expected=linear_recurrence_scan(*copies(a, b, h0)),
                label=f"N={N}, T={T}, H={H}",
                dims={"N": N, "T": T, "H": H},
                raw={"a": a.copy(), "b": b.copy(), "h0": h0.copy()},
            )
        )

    def var(kind: str) -> Callable[[Case], np.ndarray]:
        return lambda c: _sequential(c.raw["a"], c.raw["b"], c.raw["h0"], kind)

    ex = Exercise(
        name="linear_recurrence_scan",
        signature="linear_recurrence_scan(a, b, h0)",
        returns=Array("h", axes="N T H"),
        variants=(
            Variant(
                "h0 is missing: the first state is h_0 = a_0 * h0 + b_0 (the products of a also multiply h0).",
                var("no_h0"),
            ),
            Variant("you returned T+1 states including h0; return h_1 ... h_T only, shape (N, T, H).", var("with_h0")),
            Variant("your h[:, t] is the state before step t: h[:, t] must include a_t and b_t.", var("shifted")),
            Variant(
                "you computed h_t = a_t * (h_{t-1} + b_t): b_t is added AFTER the decay, so the product that "
                "multiplies b_s runs over a_{s+1} ... a_t (not from a_s).",
                var("a_inside"),
            ),
            Variant("the decays a_t are missing: h_t = a_t * h_{t-1} + b_t, not a running sum of b.", var("no_a")),
            Variant("off by one: step t adds b_t, not b_{t-1}.", var("b_prev")),
        ),
        loop_free=LoopFree(
            over="time",
            symbol="T",
            probe=_scan_probe,
            sizes=(16, 512),
            advice="loop over the ceil(log2 T) rounds of a scan, each round vectorised over all steps (as in the "
            "figure), or use another parallel formulation.",
        ),
    )
    return run(ex, learner_fn, cases, time_limit=time_limit)


# -- minGRU as a linear recurrence ---------------------------------------------------------


def _min_gru_variant(c: Case, kind: str) -> tuple[np.ndarray, np.ndarray]:
    x, Wz, bz, Wh, bh = (c.raw[k] for k in ("x", "Wz", "bz", "Wh", "bh"))
    z, h_tilde = sigmoid(x @ Wz + bz), x @ Wh + bh
    if kind == "swapped":  # a = z, b = (1 - z) h~: the roles of keeping and writing exchanged
        return z, (1.0 - z) * h_tilde
    if kind == "tanh":  # the GRU's tanh candidate, which the minGRU drops
        return 1.0 - z, z * np.tanh(h_tilde)
    if kind == "no_gate_on_b":
        return 1.0 - z, h_tilde
    raise ValueError(kind)


def check_min_gru_coefficients(learner_fn: Callable, *, time_limit: float | None = None) -> Feedback:
    """Check ``min_gru_coefficients(x, Wz, bz, Wh, bh) -> (a, b)`` with ``a = 1 - z``, ``b = z * h~``.

    x (N, T, D), Wz and Wh (D, H), bz and bh (H,) -> a, b (N, T, H).
    """
    rng = generator("min_gru_coefficients")
    specs = [(2, 5, 3, 4), (1, 1, 2, 3), (3, 4, 4, 2), (2, 6, 1, 5)]
    cases = []
    for N, T, D, H in specs:
        raw = {"x": normal(rng, N, T, D), "Wz": normal(rng, D, H), "bz": normal(rng, H),
               "Wh": normal(rng, D, H), "bh": normal(rng, H)}
        args = copies(*raw.values())
        cases.append(
            Case(
                args=args,
                expected=min_gru_coefficients(*copies(*raw.values())),
                label=f"N={N}, T={T}, D={D}, H={H}",
                dims={"N": N, "T": T, "D": D, "H": H},
                raw={k: v.copy() for k, v in raw.items()},
            )
        )
    ex = Exercise(
        name="min_gru_coefficients",
        signature="min_gru_coefficients(x, Wz, bz, Wh, bh)",
        returns=Tuple(Array("a", axes="N T H"), Array("b", axes="N T H")),
        variants=(
            Variant(
                "a and b have the gate's roles exchanged: a_t = 1 - z_t keeps the old state, b_t = z_t * h~_t "
                "writes the new candidate.",
                lambda c: _min_gru_variant(c, "swapped"),
            ),
            Variant("the minGRU candidate has no tanh: h~_t = x_t Wh + bh.", lambda c: _min_gru_variant(c, "tanh")),
            Variant("b_t must be gated too: b_t = z_t * h~_t, not h~_t.", lambda c: _min_gru_variant(c, "no_gate_on_b")),
        ),
    )
    return run(ex, learner_fn, cases, time_limit=time_limit)
