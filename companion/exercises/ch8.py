"""Chapter 8 (attention) exercises: masked softmax, additive attention, its backward pass, scaled dot product."""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from companion.exercises._common import copies, generator, normal, softmax
from companion.exercises.feedback import Feedback
from companion.exercises.runner import Array, Case, Exercise, Problem, Tuple, Variant, run
from companion.numpy.attention import (
    additive_attention_forward,
    attention_backward,
    masked_softmax,
    padding_mask,
    scaled_dot_product_attention_forward,
)

__all__ = [
    "check_masked_softmax",
    "check_additive_attention",
    "check_attention_backward",
    "check_scaled_dot_product_attention",
]


def _lengths(rng: np.random.Generator, N: int, S: int) -> np.ndarray:
    """Lengths with one full row and at least one padded row (when N > 1)."""
    lengths = rng.integers(1, S + 1, size=N)
    lengths[0] = S
    if N > 1:
        lengths[-1] = max(1, S // 2)
    return lengths


def _wrong_softmax(e: np.ndarray, mask: np.ndarray | None, kind: str, axis: int = -1) -> np.ndarray:
    """The known mistakes of a masked softmax, on scores ``e`` and a broadcastable boolean mask."""
    allowed = np.ones(e.shape, bool) if mask is None else np.broadcast_to(mask, e.shape)
    if kind == "no_mask":
        return softmax(e, axis=axis)
    if kind == "after":  # softmax first, then zero the padding without renormalising
        return softmax(e, axis=axis) * allowed
    if kind == "zero_fill":  # padded scores set to 0 (still exp(0) = 1 each)
        return softmax(np.where(allowed, e, 0.0), axis=axis)
    if kind == "wrong_axis":
        return softmax(np.where(allowed, e, -np.inf), axis=0)
    if kind == "unstable":
        x = np.exp(np.where(allowed, e, -np.inf))
        with np.errstate(invalid="ignore"):
            return x / x.sum(axis=axis, keepdims=True)
    if kind == "inverted":  # True taken as "blocked" (torch's key_padding_mask convention)
        return softmax(np.where(~allowed, e, -1e9), axis=axis)
    if kind == "big_negative_axis":  # -1e9 fill, softmax over the given axis
        return softmax(np.where(allowed, e, -1e9), axis=axis)
    raise ValueError(kind)


def _softmax_variants(kinds: tuple[str, ...], pick: Callable[[Case, Callable], Any]) -> tuple[Variant, ...]:
    hints = {
        "no_mask": "the padding got weight: the mask is ignored. Set the masked scores to -inf (np.where(mask, "
                   "scores, -np.inf)) BEFORE the softmax.",
        "after": "you zeroed the padding AFTER the softmax, so the weights no longer sum to 1. Mask the scores "
                 "(-inf) before the softmax, so the real positions share all the mass.",
        "zero_fill": "masked scores set to 0 still get exp(0) = 1 each: fill them with -inf (or a huge negative "
                     "number), not 0.",
        "wrong_axis": "the softmax ran over axis 0 (the batch); each query's weights are over the SOURCE "
                      "positions, the last axis (axis=-1, keepdims=True).",
        "unstable": "exp overflowed: subtract each row's maximum (of the allowed scores) before np.exp.",
        "inverted": "you attended to the padding and masked the real positions: here mask is True where "
                    "attention is ALLOWED (torch's key_padding_mask uses the opposite convention).",
    }
    return tuple(Variant(hints[k], pick(k)) for k in kinds)


def _sums_to_one(case: Case, got: Any, problem: Problem) -> str | None:
    w = got[1] if isinstance(got, tuple) and len(got) == 2 else got
    if isinstance(w, np.ndarray) and problem.kind == "values" and w.shape[-1:] == case.raw["scores_shape"][-1:]:
        if not np.allclose(w.sum(axis=-1), 1.0, atol=1e-6):
            return "the weights of each query must sum to 1 over the source positions (the last axis)."
        allowed = np.broadcast_to(case.raw["mask"], w.shape) if case.raw.get("mask") is not None else None
        if allowed is not None and np.any(w[~allowed] != 0):
            return "padded positions must get weight exactly 0."
    return None


# -- masked softmax ----------------------------------------------------------------------------


def check_masked_softmax(learner_fn: Callable, *, time_limit: float | None = None) -> Feedback:
    """Check ``masked_softmax(scores, mask)``: softmax over the last axis of the positions where mask is True."""
    rng = generator("masked_softmax")
    specs = [((4, 6), 0.0), ((1, 5), 0.0), ((3, 7), 1e3), ((2, 3, 5), 0.0), ((5, 1), 0.0)]
    cases = []
    for shape, offset in specs:
        e = offset + normal(rng, *shape, scale=2.0)
        N, S = shape[0], shape[-1]
        mask = padding_mask(_lengths(rng, N, S), S)
        if len(shape) == 3:
            mask = mask[:, None, :]  # one mask per sequence, shared by its queries
        label = f"scores {shape}, mask {mask.shape}" + (", scores near 1000" if offset else "")
        cases.append(Case(args=copies(e, mask), expected=masked_softmax(*copies(e, mask)), label=label,
                          raw={"scores": e.copy(), "mask": mask.copy(), "scores_shape": shape}))

    def pick(kind: str) -> Callable[[Case], np.ndarray]:
        return lambda case: _wrong_softmax(case.raw["scores"], case.raw["mask"], kind)

    ex = Exercise(
        name="masked_softmax",
        signature="masked_softmax(scores, mask)",
        returns=Array("weights", rtol=1e-6, atol=1e-9),
        variants=_softmax_variants(("no_mask", "after", "zero_fill", "inverted", "wrong_axis", "unstable"), pick),
        hints=(_sums_to_one,),
    )
    return run(ex, learner_fn, cases, time_limit=time_limit)


# -- additive attention ------------------------------------------------------------------------


def _additive(case: Case, kind: str) -> tuple[np.ndarray, np.ndarray]:
    r = case.raw
    q, k, mask, Wq, Wk, v = r["query"], r["keys"], r["mask"], r["Wq"], r["Wk"], r["v"]
    pre = (q @ Wq)[:, None, :] + k @ Wk
    e = (np.tanh(pre) if kind != "no_tanh" else pre) @ v
    if kind in ("no_mask", "after", "wrong_axis", "zero_fill"):
        w = _wrong_softmax(e, mask, kind)
    else:
        w = masked_softmax(e, mask)
    ctx = np.einsum("ns,nsh->nh", w, k)
    if kind == "mean_keys":
        ctx = (k * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    return ctx, w


def check_additive_attention(learner_fn: Callable, *, time_limit: float | None = None) -> Feedback:
    """Check ``additive_attention(query, keys, mask, Wq, Wk, v) -> (context (N, Hk), weights (N, S))``."""
    rng = generator("additive_attention")
    specs = [(3, 5, 4, 6, 7), (1, 4, 3, 3, 2), (4, 6, 5, 3, 4), (2, 1, 2, 4, 3)]
    cases = []
    for N, S, Hq, Hk, A in specs:
        q, k = normal(rng, N, Hq), normal(rng, N, S, Hk)
        Wq, Wk, v = normal(rng, Hq, A, scale=0.7), normal(rng, Hk, A, scale=0.7), normal(rng, A, scale=1.5)
        mask = padding_mask(_lengths(rng, N, S), S)
        args = copies(q, k, mask, Wq, Wk, v)
        ctx, w, _ = additive_attention_forward(*copies(q, k, mask, Wq, Wk, v))
        cases.append(Case(args=args, expected=(ctx, w), label=f"N={N}, S={S}, Hq={Hq}, Hk={Hk}, A={A}",
                          dims={"N": N, "S": S},
                          raw={"query": q.copy(), "keys": k.copy(), "mask": mask.copy(), "Wq": Wq.copy(),
                               "Wk": Wk.copy(), "v": v.copy(), "scores_shape": (N, S)}))
    ex = Exercise(
        name="additive_attention",
        signature="additive_attention(query, keys, mask, Wq, Wk, v)",
        returns=Tuple(Array("context"), Array("weights")),
        variants=(
            *_softmax_variants(("no_mask", "after", "zero_fill", "wrong_axis"),
                               lambda kind: (lambda case: _additive(case, kind))),
            Variant("the tanh is missing: e_s = v . tanh(q Wq + k_s Wk).", lambda case: _additive(case, "no_tanh")),
            Variant("the context is the plain mean of the keys: weight each key by its attention weight, "
                    "c = sum_s alpha_s k_s.", lambda case: _additive(case, "mean_keys")),
        ),
        hints=(_sums_to_one,),
    )
    return run(ex, learner_fn, cases, time_limit=time_limit)


# -- attention backward ------------------------------------------------------------------------


def _backward_variant(kind: str) -> Callable[[Case], tuple[np.ndarray, np.ndarray]]:
    def variant(case: Case) -> tuple[np.ndarray, np.ndarray]:
        dc, w, vals = case.raw["dcontext"], case.raw["weights"], case.raw["values"]
        dw = np.einsum("nd,nsd->ns", dc, vals)
        dv = w[..., None] * dc[:, None, :]
        if kind == "no_softmax":
            return dw, dv
        if kind == "diag_only":
            return w * dw, dv
        if kind == "inner_axis0":
            return w * (dw - (w * dw).sum(axis=0, keepdims=True)), dv
        if kind == "dv_unweighted":
            return w * (dw - (w * dw).sum(axis=1, keepdims=True)), np.broadcast_to(dc[:, None, :], vals.shape).copy()
        raise ValueError(kind)

    return variant


def check_attention_backward(learner_fn: Callable, *, time_limit: float | None = None) -> Feedback:
    """Check ``attention_backward(dcontext, weights, values) -> (dscores (N, S), dvalues (N, S, D))``."""
    rng = generator("attention_backward")
    specs = [(3, 5, 4), (1, 3, 2), (4, 6, 3), (2, 1, 5)]
    cases = []
    for N, S, D in specs:
        mask = padding_mask(_lengths(rng, N, S), S)
        w = masked_softmax(normal(rng, N, S, scale=1.5), mask)
        vals, dc = normal(rng, N, S, D), normal(rng, N, D)
        cases.append(Case(args=copies(dc, w, vals), expected=attention_backward(*copies(dc, w, vals)),
                          label=f"N={N}, S={S}, D={D} (padded rows have weight 0)", dims={"N": N, "S": S, "D": D},
                          raw={"dcontext": dc.copy(), "weights": w.copy(), "values": vals.copy()}))
    ex = Exercise(
        name="attention_backward",
        signature="attention_backward(dcontext, weights, values)",
        returns=Tuple(Array("dscores", gradient=True), Array("dvalues", gradient=True)),
        variants=(
            Variant("dscores is dL/dalpha: the softmax's own backward step is missing, "
                    "de_s = alpha_s (dalpha_s - sum_s' alpha_s' dalpha_s').", _backward_variant("no_softmax")),
            Variant("only the diagonal of the softmax Jacobian: subtract alpha_s * sum_s' alpha_s' dalpha_s' "
                    "(every weight depends on every score).", _backward_variant("diag_only")),
            Variant("the sum in alpha_s (dalpha_s - sum_s' alpha_s' dalpha_s') runs over the SOURCE positions of "
                    "each row (axis=1, keepdims=True), not over the batch.", _backward_variant("inner_axis0")),
            Variant("dvalues: each value is scaled by its weight, dv_s = alpha_s dc (padding gets 0).",
                    _backward_variant("dv_unweighted")),
        ),
    )
    return run(ex, learner_fn, cases, time_limit=time_limit)


# -- scaled dot-product attention ------------------------------------------------------------


def _sdpa_variant(kind: str) -> Callable[[Case], tuple[np.ndarray, np.ndarray]]:
    def variant(case: Case) -> tuple[np.ndarray, np.ndarray]:
        Q, K, V, mask = case.raw["Q"], case.raw["K"], case.raw["V"], case.raw["mask"]
        d = Q.shape[-1]
        scale = {"no_scale": 1.0, "by_d": d}.get(kind, math.sqrt(d))
        e = Q @ K.swapaxes(-1, -2) / scale
        if kind in ("no_mask", "after"):
            w = _wrong_softmax(e, mask, kind)
        elif kind == "query_axis":
            w = _wrong_softmax(e, mask, "big_negative_axis", axis=-2)
        else:
            w = masked_softmax(e, mask)
        return w @ V, w

    return variant


def check_scaled_dot_product_attention(learner_fn: Callable, *, time_limit: float | None = None) -> Feedback:
    """Check ``scaled_dot_product_attention(Q, K, V, mask) -> (out (N, T, dv), weights (N, T, S))``."""
    rng = generator("scaled_dot_product_attention")
    specs = [(2, 4, 5, 16, 3), (1, 3, 3, 9, 2), (3, 2, 6, 4, 5), (2, 5, 4, 25, 1)]
    cases = []
    for N, T, S, d, dv in specs:
        Q, K, V = normal(rng, N, T, d), normal(rng, N, S, d), normal(rng, N, S, dv)
        mask = padding_mask(_lengths(rng, N, S), S)[:, None, :]  # (N, 1, S): padded keys
        out, w, _ = scaled_dot_product_attention_forward(*copies(Q, K, V, mask))
        cases.append(Case(args=copies(Q, K, V, mask), expected=(out, w), label=f"N={N}, T={T}, S={S}, d={d}, dv={dv}",
                          raw={"Q": Q.copy(), "K": K.copy(), "V": V.copy(), "mask": mask.copy(),
                               "scores_shape": (N, T, S)}))
    ex = Exercise(
        name="scaled_dot_product_attention",
        signature="scaled_dot_product_attention(Q, K, V, mask)",
        returns=Tuple(Array("out"), Array("weights")),
        variants=(
            Variant("the scores are not scaled: divide Q K^T by sqrt(d), d = Q.shape[-1].", _sdpa_variant("no_scale")),
            Variant("you divided by d; the scale is sqrt(d) (it keeps the scores' variance at 1).",
                    _sdpa_variant("by_d")),
            Variant("the padded keys got weight: apply the mask (-inf) to the scores before the softmax.",
                    _sdpa_variant("no_mask")),
            Variant("you zeroed the padding AFTER the softmax, so the weights no longer sum to 1. Mask the scores "
                    "before the softmax.", _sdpa_variant("after")),
            Variant("the softmax ran over the queries (axis -2); each query's weights are over the keys, the last "
                    "axis.", _sdpa_variant("query_axis")),
        ),
        hints=(_sums_to_one,),
    )
    return run(ex, learner_fn, cases, time_limit=time_limit)
