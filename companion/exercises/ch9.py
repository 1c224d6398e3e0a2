"""Chapter 9 (FAQ) and appendix exercises: tensor layouts, ``h_n`` of a recurrent layer, a linear recurrence in parallel."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from companion.exercises._common import copies, generator, normal, sigmoid
from companion.exercises.feedback import Feedback
from companion.exercises.runner import Array, Case, Exercise, LoopFree, Problem, Tuple, Variant, run
from companion.exercises.solutions import linear_recurrence_scan, min_gru_coefficients, time_major_to_batch_first

__all__ = [
    "check_time_major_to_batch_first",
    "check_last_layer_state",
    "check_min_gru_coefficients",
    "check_linear_recurrence_scan",
]


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


# -- the last layer's final state from h_n ------------------------------------------------------


def _last_layer_state(h_n: np.ndarray, bidirectional: bool) -> np.ndarray:
    """The checker's reference: the last layer's rows of ``h_n``, forward then backward, side by side."""
    directions = 2 if bidirectional else 1
    return np.concatenate(list(h_n[-directions:]), axis=-1)


def _h_n_index_hint(exc: BaseException, case: Case) -> str | None:
    if isinstance(exc, IndexError):
        return (
            "h_n has num_layers * num_directions rows on axis 0 (this case: "
            f"{case.raw['h_n'].shape[0]}); with bidirectional=False there is one row per layer, not two."
        )
    return None


def _halves_hint(case: Case, got: Any, problem: Problem) -> str | None:
    """Bidirectional: say which half (forward or backward) is wrong when the other is right."""
    h_n, expected = case.raw["h_n"], case.expected
    if not case.raw["bidirectional"] or not isinstance(got, np.ndarray) or got.shape != expected.shape:
        return None
    H = h_n.shape[-1]
    forward_ok = np.allclose(got[:, :H], expected[:, :H])
    backward_ok = np.allclose(got[:, H:], expected[:, H:])
    if forward_ok and not backward_ok:
        return "the forward half (columns 0..H-1) is right; the backward half must be the last row, h_n[-1]."
    if backward_ok and not forward_ok:
        return "the backward half (columns H..2H-1) is right; the forward half must be the row before it, h_n[-2]."
    return None


def check_last_layer_state(learner_fn: Callable, *, time_limit: float | None = None) -> Feedback:
    """Check ``last_layer_state(h_n, bidirectional)``: the input of a classifier head, read from ``h_n``.

    ``h_n`` (num_layers * num_directions, N, H), as PyTorch's recurrent layers return it
    (never batch-first, row ``layer * num_directions + direction``) -> (N, H) for one
    direction (``h_n[-1]``), (N, 2H) for two (``h_n[-2]`` and ``h_n[-1]`` side by side:
    forward, then backward).  Cases with 1 to 3 layers, N = 1 and N != rows != H.
    """
    rng = generator("last_layer_state")
    specs = [(1, False, 3, 4), (2, False, 3, 5), (1, True, 4, 3), (3, True, 2, 4), (2, True, 1, 3)]
    cases = []
    for layers, bidirectional, N, H in specs:
        directions = 2 if bidirectional else 1
        h_n = normal(rng, layers * directions, N, H)
        dims = {"N": N, "H": H, "num_layers * num_directions": layers * directions}
        if bidirectional:
            dims["2H"] = 2 * H
        cases.append(
            Case(
                args=(h_n.copy(), bidirectional),
                expected=_last_layer_state(h_n.copy(), bidirectional),
                label=f"num_layers={layers}, bidirectional={bidirectional}, h_n of shape {h_n.shape}",
                dims=dims,
                raw={"h_n": h_n.copy(), "bidirectional": bidirectional},
            )
        )

    def var(fn: Callable[[np.ndarray, int], np.ndarray]) -> Callable[[Case], np.ndarray]:
        return lambda c: fn(c.raw["h_n"], 2 if c.raw["bidirectional"] else 1)

    def cat(*rows: np.ndarray) -> np.ndarray:
        return np.concatenate(rows, axis=-1)

    ex = Exercise(
        name="last_layer_state",
        signature="last_layer_state(h_n, bidirectional)",
        returns=Array("features", axes="N F"),
        variants=(
            Variant(
                "h_n[-1] is only the BACKWARD direction of the last layer; put the forward row h_n[-2] before it: "
                "np.concatenate([h_n[-2], h_n[-1]], axis=-1).",
                var(lambda h, d: h[-1]),
            ),
            Variant(
                "you read the FIRST layer: the rows of h_n go from the bottom layer to the top one, so the last "
                "layer's rows are at the end (h_n[-1], and h_n[-2] for the forward direction of a bidirectional one).",
                var(lambda h, d: cat(*h[:d])),
            ),
            Variant(
                "the two halves are swapped: PyTorch puts the forward direction first, as in output[..., :H], then "
                "the backward one: [h_n[-2], h_n[-1]].",
                var(lambda h, d: cat(h[-1], h[-2])),
            ),
            Variant(
                "reshape keeps the memory order, so h_n[-2:].reshape(N, 2 * H) puts two samples' states side by "
                "side; concatenate along the last axis instead (np.concatenate([h_n[-2], h_n[-1]], axis=-1)).",
                var(lambda h, d: h[-d:].reshape(h.shape[1], d * h.shape[2])),
            ),
            Variant(
                "you kept every layer (and direction); the classifier reads the LAST layer only.",
                var(lambda h, d: h.transpose(1, 0, 2).reshape(h.shape[1], -1)),
            ),
            Variant(
                "you added the two directions; concatenate them instead, so the head sees both: shape (N, 2H).",
                var(lambda h, d: h[-2] + h[-1]),
            ),
            Variant(
                "with bidirectional=False h_n has ONE row per layer: h_n[-2] is the layer below, so the last "
                "layer's state is h_n[-1] alone.",
                var(lambda h, d: cat(h[-2], h[-1])),
            ),
            Variant(
                "h_n is never batch-first: axis 0 is layer x direction and axis 1 the batch, so h_n[:, -1] is the "
                "last SAMPLE of every row.",
                var(lambda h, d: h[:, -1]),
            ),
        ),
        hints=(_halves_hint,),
        exception_hint=_h_n_index_hint,
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


def _min_gru_probe(T: int) -> Case:
    """A valid input of length T, for the "every time step at once" check (values not graded)."""
    rng = generator(f"min_gru_coefficients-loop-{T}")
    N, D, H = 2, 3, 4
    args = (normal(rng, N, T, D), normal(rng, D, H), normal(rng, H), normal(rng, D, H), normal(rng, H))
    return Case(args=args, expected=None, label=f"N={N}, T={T}, D={D}, H={H}", dims={"N": N, "T": T, "D": D, "H": H})


def check_min_gru_coefficients(learner_fn: Callable, *, time_limit: float | None = None) -> Feedback:
    """Check ``min_gru_coefficients(x, Wz, bz, Wh, bh) -> (a, b)`` with ``a = 1 - z``, ``b = z * h~``.

    x (N, T, D), Wz and Wh (D, H), bz and bh (H,) -> a, b (N, T, H).  After the values,
    the checker runs the function with T = 16 and T = 512 and fails it if its Python work
    grows like T: every time step is computed at once (:class:`~companion.exercises.runner.LoopFree`).
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
        loop_free=LoopFree(
            over="time",
            symbol="T",
            probe=_min_gru_probe,
            sizes=(16, 512),
            advice="the coefficients depend on x_t alone, so compute them for all steps with one product each: "
            "x @ Wz has shape (N, T, H) when x is (N, T, D).",
        ),
    )
    return run(ex, learner_fn, cases, time_limit=time_limit)
