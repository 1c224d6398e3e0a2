"""Chapter 3 (backpropagation through time) exercises: step and sequence backward, truncation, clipping."""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from companion.exercises._common import copies, generator, matmul_hint, normal, own_forward_caches
from companion.exercises.ch2 import check_rnn_forward, check_rnn_step_forward, run_rnn, seq_cases, step_cases
from companion.exercises.feedback import Feedback
from companion.exercises.runner import Array, Case, Dict, Exercise, Scalar, Tuple, Variant, run
from companion.numpy.bptt import truncated_rnn_backward
from companion.numpy.optim import clip_grad_norm
from companion.numpy.rnn import rnn_backward, rnn_forward, rnn_step_backward, rnn_step_forward

__all__ = [
    "check_rnn_step_backward",
    "check_rnn_backward",
    "check_truncated_rnn_backward",
    "check_clip_grad_norm",
]


def with_own_cache(hint: Callable[[BaseException, Any], str | None], forward_name: str) -> Callable:
    """An exception hint that also says the cache came from the learner's own forward (``forward=``)."""

    def combined(exc: BaseException, case: Any) -> str | None:
        text = hint(exc, case)
        own = (
            f"the cache came from your own {forward_name} (forward=): check that it holds what your backward "
            "unpacks, in that order."
        )
        return f"{text} Also, {own}" if text else own[0].upper() + own[1:]

    return combined


def _grad_outputs(*names_axes: tuple[str, str]) -> Tuple:
    return Tuple(*(Array(n, axes=a, gradient=True) for n, a in names_axes))


# -- one step ----------------------------------------------------------------------------------

_DERIVATIVES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "ok": lambda h, h_prev: 1.0 - h**2,
    "none": lambda h, h_prev: np.ones_like(h),
    "h_prev": lambda h, h_prev: 1.0 - h_prev**2,
    "tanh_twice": lambda h, h_prev: 1.0 - np.tanh(h) ** 2,
}


def _step_backward_variant(
    deriv: str = "ok",
    dWh_from_h_next: bool = False,
    dWh_T: bool = False,
    dh_prev_Wh: bool = False,
    db_mean: bool = False,
) -> Callable[[Case], tuple]:
    def variant(case: Case) -> tuple:
        r = case.raw
        x, h_prev, Wx, Wh = r["x"], r["h_prev"], r["Wx"], r["Wh"]
        h = np.tanh(x @ Wx + h_prev @ Wh + r["b"])
        da = r["dh"] * _DERIVATIVES[deriv](h, h_prev)
        dWh = (h if dWh_from_h_next else h_prev).T @ da
        return (
            da @ Wx.T,
            da @ (Wh if dh_prev_Wh else Wh.T),
            x.T @ da,
            dWh.T if dWh_T else dWh,
            da.mean(axis=0) if db_mean else da.sum(axis=0),
        )

    return variant


STEP_BACKWARD_VARIANTS = (
    Variant(
        "your gradients equal the ones without the tanh derivative: multiply dh_next by (1 - h_next**2) first.",
        _step_backward_variant(deriv="none"),
    ),
    Variant(
        "you used 1 - h_prev**2: the tanh derivative belongs to this step's output, 1 - h_next**2.",
        _step_backward_variant(deriv="h_prev"),
    ),
    Variant(
        "you applied tanh twice: the cache already holds h_next = tanh(a), so the derivative is 1 - h_next**2, "
        "not 1 - tanh(h_next)**2.",
        _step_backward_variant(deriv="tanh_twice"),
    ),
    Variant(
        "dWh used h_t instead of h_{t-1}: the weight Wh multiplied h_prev in the forward pass, so dWh = h_prev.T @ da.",
        _step_backward_variant(dWh_from_h_next=True),
    ),
    Variant(
        "dWh is transposed: dWh = h_prev.T @ da has shape (H, H) with rows indexed by h_prev.",
        _step_backward_variant(dWh_T=True),
    ),
    Variant("dh_prev used Wh instead of Wh.T: dh_prev = da @ Wh.T.", _step_backward_variant(dh_prev_Wh=True)),
    Variant(
        "db is averaged over the batch; the loss already carries the 1/N, so db = da.sum(axis=0).",
        _step_backward_variant(db_mean=True),
    ),
)


def check_rnn_step_backward(
    learner_fn: Callable, forward: Callable | None = None, *, time_limit: float | None = None
) -> Feedback:
    """Check ``rnn_step_backward(dh_next, cache) -> (dx, dh_prev, dWx, dWh, db)``.

    ``cache`` comes from the reference :func:`~companion.numpy.rnn.rnn_step_forward`
    (a named tuple ``x, h_prev, Wx, Wh, h_next, nonlinearity``) unless you pass your
    own ``forward=rnn_step_forward``, whose cache your backward then receives.
    """
    name = "rnn_step_backward"
    raws = step_cases(name)
    arg_sets = [(r["x"], r["h_prev"], r["Wx"], r["Wh"], r["b"]) for r in raws]
    own = None
    if forward is not None:
        own = own_forward_caches(
            name, "rnn_step_forward", forward, check_rnn_step_forward, arg_sets, 1,
            "(x, h_prev, Wx, Wh, h_next)", time_limit,
        )
        if isinstance(own, Feedback):
            return own
    ex = Exercise(
        name=name,
        signature="rnn_step_backward(dh_next, cache)",
        returns=_grad_outputs(("dx", "N D"), ("dh_prev", "N H"), ("dWx", "D H"), ("dWh", "H H"), ("db", "H")),
        variants=STEP_BACKWARD_VARIANTS,
        exception_hint=matmul_hint if own is None else with_own_cache(matmul_hint, "rnn_step_forward"),
    )
    cases = []
    for k, (r, args) in enumerate(zip(raws, arg_sets)):
        _, ref_cache = rnn_step_forward(*copies(*args))
        cache = ref_cache if own is None else own[k]
        cases.append(
            Case(
                args=copies(r["dh"], cache),
                expected=rnn_step_backward(*copies(r["dh"], ref_cache)),
                label=f"N={r['N']}, D={r['D']}, H={r['H']}",
                dims={"N": r["N"], "D": r["D"], "H": r["H"]},
                raw=r,
            )
        )
    return run(ex, learner_fn, cases, time_limit=time_limit)


# -- a whole sequence -------------------------------------------------------------------------


def windowed_bptt(
    r: dict[str, Any],
    start: Callable[[int], int] = lambda t: 0,
    deriv: str = "ok",
    dWh_from_h_next: bool = False,
    dh: np.ndarray | None = None,
) -> tuple:
    """BPTT where the loss at step t flows back to step ``start(t)`` (0 = full BPTT), with optional mistakes."""
    x, h0, Wx, Wh = r["x"], r["h0"], r["Wx"], r["Wh"]
    dh = r["dh"] if dh is None else dh
    h = run_rnn(r)
    before = np.concatenate([h0[:, None], h[:, :-1]], axis=1)
    dx, dh0 = np.zeros_like(x), np.zeros_like(h0)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(Wh.shape[0])
    for t in range(x.shape[1]):
        g = dh[:, t]
        for s in range(t, start(t) - 1, -1):
            da = g * _DERIVATIVES[deriv](h[:, s], before[:, s])
            dx[:, s] += da @ Wx.T
            dWx += x[:, s].T @ da
            dWh += (h[:, s] if dWh_from_h_next else before[:, s]).T @ da
            db += da.sum(axis=0)
            g = da @ Wh.T
        if start(t) == 0:
            dh0 += g
    return dx, dh0, dWx, dWh, db


def _bptt(**kw: Any) -> Callable[[Case], tuple]:
    return lambda case: windowed_bptt(case.raw, **kw)


def _last_only(case: Case) -> tuple:
    dh = np.zeros_like(case.raw["dh"])
    dh[:, -1] = case.raw["dh"][:, -1]
    return windowed_bptt(case.raw, dh=dh)


def _weights_from_one_step(case: Case) -> tuple:
    """Weight gradients overwritten (=) instead of accumulated (+=): only step 0's survive."""
    r = case.raw
    dx, dh0, _, _, _ = windowed_bptt(r)
    da0 = _grad_at_step(r, 0) * (1.0 - run_rnn(r)[:, 0] ** 2)
    return dx, dh0, r["x"][:, 0].T @ da0, r["h0"].T @ da0, da0.sum(axis=0)


def _grad_at_step(r: dict[str, Any], step: int) -> np.ndarray:
    """Total dL/dh_step (own loss plus everything flowing back from later steps)."""
    h = run_rnn(r)
    g = np.zeros_like(r["h0"])
    for t in reversed(range(step, r["x"].shape[1])):
        g = r["dh"][:, t] + g
        if t > step:
            g = (g * (1.0 - h[:, t] ** 2)) @ r["Wh"].T
    return g


SEQ_BACKWARD_VARIANTS = (
    Variant(
        "you ignored the gradient flowing back from step t+1: the gradient reaching h_t is dh[:, t] PLUS "
        "what came back through h_{t+1} (carry dh_prev into the previous step).",
        _bptt(start=lambda t: t),
    ),
    Variant("you used only dh[:, -1]: every step's loss sends its own dh[:, t] into the backward pass.", _last_only),
    Variant(
        "your gradients equal the ones without the tanh derivative: multiply by (1 - h_t**2).",
        _bptt(deriv="none"),
    ),
    Variant(
        "the tanh derivative used h_{t-1}: it belongs to the step's own output, 1 - h_t**2.", _bptt(deriv="h_prev")
    ),
    Variant(
        "dWh used h_t instead of h_{t-1}: at step t, Wh multiplied the previous state, so dWh += h_{t-1}.T @ da_t.",
        _bptt(dWh_from_h_next=True),
    ),
    Variant(
        "your weight gradients come from one time step only: the same weights act at every step, so accumulate "
        "dWx, dWh, db with += over all steps.",
        _weights_from_one_step,
    ),
)


def _seq_case(r: dict[str, Any], name: str, own_cache: Any = None, truncation: int | None = None) -> Case:
    args = (r["x"], r["h0"], r["Wx"], r["Wh"], r["b"])
    _, ref_cache = rnn_forward(*copies(*args))
    cache = ref_cache if own_cache is None else own_cache
    extra = () if truncation is None else (truncation,)
    if truncation is None:
        expected = rnn_backward(*copies(r["dh"], ref_cache))
    else:
        expected = truncated_rnn_backward(*copies(r["dh"], ref_cache), truncation)
    label = f"N={r['N']}, T={r['T']}, D={r['D']}, H={r['H']}"
    if truncation is not None:
        label += f", truncation={truncation}"
    return Case(
        args=copies(r["dh"], cache) + extra,
        expected=expected,
        label=label,
        dims={"N": r["N"], "T": r["T"], "D": r["D"], "H": r["H"]},
        raw=r,
    )


SEQ_GRADS = (("dx", "N T D"), ("dh0", "N H"), ("dWx", "D H"), ("dWh", "H H"), ("db", "H"))


def check_rnn_backward(
    learner_fn: Callable, forward: Callable | None = None, *, time_limit: float | None = None
) -> Feedback:
    """Check ``rnn_backward(dh, cache) -> (dx, dh0, dWx, dWh, db)`` (full BPTT).

    ``dh`` (N, T, H) is the loss's gradient with respect to every h_t.  ``cache``
    comes from the reference :func:`~companion.numpy.rnn.rnn_forward` (named tuple
    ``x, h0, Wx, Wh, h, nonlinearity``) unless you pass ``forward=rnn_forward``.
    """
    name = "rnn_backward"
    raws = seq_cases(name)
    own: Any = [None] * len(raws)
    if forward is not None:
        arg_sets = [(r["x"], r["h0"], r["Wx"], r["Wh"], r["b"]) for r in raws]
        own = own_forward_caches(
            name, "rnn_forward", forward, check_rnn_forward, arg_sets, 1, "(x, h0, Wx, Wh, h)", time_limit
        )
        if isinstance(own, Feedback):
            return own
    ex = Exercise(
        name=name,
        signature="rnn_backward(dh, cache)",
        returns=_grad_outputs(*SEQ_GRADS),
        variants=SEQ_BACKWARD_VARIANTS,
        exception_hint=matmul_hint if forward is None else with_own_cache(matmul_hint, "rnn_forward"),
    )
    return run(ex, learner_fn, [_seq_case(r, name, c) for r, c in zip(raws, own)], time_limit=time_limit)


# -- truncated BPTT ---------------------------------------------------------------------------

#: truncation per case (T = 6, 4, 1, 5, 7): a short window, k >= T (= full BPTT), T = 1, k = 1, a middle window.
TRUNCATIONS = (2, 4, 1, 1, 3)


def _truncated(shift: int = 0, chunked: bool = False, **kw: Any) -> Callable[[Case], tuple]:
    def variant(case: Case) -> tuple:
        k = case.args[2]
        if chunked:
            return windowed_bptt(case.raw, start=lambda t: (t // k) * k, **kw)
        return windowed_bptt(case.raw, start=lambda t: max(0, t - (k + shift) + 1), **kw)

    return variant


def check_truncated_rnn_backward(learner_fn: Callable, *, time_limit: float | None = None) -> Feedback:
    """Check ``truncated_rnn_backward(dh, cache, truncation)``.

    The loss at step t backpropagates through the steps t, t-1, ..., t - truncation + 1
    only (``dh0`` gets its share only when that window reaches step 0).
    """
    name = "truncated_rnn_backward"
    ex = Exercise(
        name=name,
        signature="truncated_rnn_backward(dh, cache, truncation)",
        returns=_grad_outputs(*SEQ_GRADS),
        variants=(
            Variant(
                "your gradients equal full BPTT: the truncation is ignored. Stop each loss term's backward "
                "walk after `truncation` steps.",
                _truncated(shift=10**6),
            ),
            Variant(
                "each loss term went back truncation + 1 steps: the loss at t reaches steps t, t-1, ..., "
                "t - truncation + 1 (truncation steps, counting t itself).",
                _truncated(shift=1),
            ),
            Variant(
                "each loss term went back truncation - 1 steps: the loss at t reaches steps t, t-1, ..., "
                "t - truncation + 1 (truncation steps, counting t itself).",
                _truncated(shift=-1),
            ),
            Variant(
                "you cut the sequence into chunks of `truncation` steps (that is chunked_bptt, k1 = k2); here "
                "every loss term gets its own window of `truncation` steps ending at its step.",
                _truncated(chunked=True),
            ),
            Variant(
                "your gradients equal the ones without the tanh derivative: multiply by (1 - h_t**2).",
                _truncated(deriv="none"),
            ),
            Variant("dWh used h_t instead of h_{t-1}: dWh += h_{t-1}.T @ da_t.", _truncated(dWh_from_h_next=True)),
        ),
        exception_hint=matmul_hint,
    )
    rng_cases = seq_cases(name)
    extra = dict(rng_cases[0])  # one more: a longer sequence with a middle-sized window
    rng = generator(name + "-long")
    extra.update(
        x=normal(rng, 2, 7, 2),
        h0=normal(rng, 2, 3, scale=0.8),
        Wx=normal(rng, 2, 3, scale=0.5),
        Wh=normal(rng, 3, 3, scale=0.4),
        b=normal(rng, 3, scale=0.5),
        dh=normal(rng, 2, 7, 3),
        N=2, T=7, D=2, H=3,
    )
    cases = [_seq_case(r, name, None, k) for r, k in zip([*rng_cases, extra], TRUNCATIONS)]
    return run(ex, learner_fn, cases, time_limit=time_limit)


# -- gradient clipping ------------------------------------------------------------------------


def _clip_cases() -> list[Case]:
    rng = generator("clip_grad_norm")
    specs = [
        ("3 arrays, global norm above max_norm", {"Wx": (4, 5), "Wh": (5, 5), "b": (5,)}, 3.0, 1.0),
        ("3 arrays, global norm below max_norm", {"Wx": (3, 2), "Wh": (2, 2), "b": (2,)}, 0.5, 50.0),
        ("one 1x1 array above max_norm", {"W": (1, 1)}, 3.0, 2.0),
        ("one large and one small array", {"big": (3, 3), "small": (2,)}, 4.0, 5.0),
    ]
    cases = []
    for label, shapes, scale, max_norm in specs:
        grads = {k: normal(rng, *s, scale=scale) for k, s in shapes.items()}
        if "small" in grads:
            grads["small"] *= 0.05
        cases.append(
            Case(
                args=copies(grads, max_norm),
                expected=clip_grad_norm(*copies(grads, max_norm)),
                label=f"{label}, max_norm={max_norm}",
                raw={"grads": copies(grads)[0], "max_norm": max_norm},
            )
        )
    return cases


def _global_norm(grads: dict[str, np.ndarray]) -> float:
    return math.sqrt(sum(float(np.sum(g * g)) for g in grads.values()))


def _clip_variant(kind: str) -> Callable[[Case], tuple]:
    def variant(case: Case) -> tuple:
        grads, m = case.raw["grads"], case.raw["max_norm"]
        norm = _global_norm(grads)
        if kind == "per_parameter":
            return {k: g * min(1.0, m / (np.linalg.norm(g) + 1e-6)) for k, g in grads.items()}, norm
        if kind == "always":
            return {k: g * (m / (norm + 1e-6)) for k, g in grads.items()}, norm
        if kind == "norm_after":
            s = min(1.0, m / (norm + 1e-6))
            return {k: g * s for k, g in grads.items()}, norm * s
        if kind == "sum_of_norms":
            total = sum(float(np.linalg.norm(g)) for g in grads.values())
            return {k: g * min(1.0, m / (total + 1e-6)) for k, g in grads.items()}, total
        if kind == "squared":
            total = norm**2
            return {k: g * min(1.0, m / (total + 1e-6)) for k, g in grads.items()}, total
        if kind == "value":
            return {k: np.clip(g, -m, m) for k, g in grads.items()}, norm
        raise ValueError(kind)

    return variant


def _new_dict_of_new_arrays(case: Case, got: Any) -> str | None:
    """The exercise promises "a new dict of new arrays": no input dict or array is handed back."""
    grads, clipped = case.args[0], got[0]
    below = _global_norm(grads) <= case.args[1]
    when = " (here the norm is below max_norm, so nothing needed scaling, but the result must still be new)"
    if clipped is grads:
        return (
            "It returned the input dict itself as clipped" + (when if below else "") + ": build a new dict, "
            "e.g. {k: g * scale for k, g in grads.items()}, so the caller's gradients stay as they were."
        )
    for k, g in grads.items():
        if clipped[k] is g or np.shares_memory(clipped[k], g):
            what = "is the input array" if clipped[k] is g else "shares memory with (is a view of)"
            return (
                f"clipped[{k!r}] {what} grads[{k!r}]" + (when if below else "") + ": return new arrays "
                "(g * scale, or g.copy() when no scaling is needed), so changing the clipped gradients later "
                "cannot change the inputs."
            )
    return None


def check_clip_grad_norm(learner_fn: Callable, *, time_limit: float | None = None) -> Feedback:
    """Check ``clip_grad_norm(grads, max_norm) -> (clipped, total_norm)``.

    All gradients are rescaled by one factor ``min(1, max_norm / (total_norm + 1e-6))``
    where ``total_norm = sqrt(sum of squares of every entry of every array)``; the
    inputs are left untouched, ``clipped`` is a new dict of new arrays (neither the
    input dict nor its arrays, nor views of them) and ``total_norm`` is the norm before
    clipping.
    """
    ex = Exercise(
        name="clip_grad_norm",
        signature="clip_grad_norm(grads, max_norm)",
        returns=Tuple(Dict("clipped"), Scalar("total_norm")),
        variants=(
            Variant(
                "you clipped each parameter separately; clip_grad_norm uses ONE global norm over all arrays, "
                "so every gradient is scaled by the same factor and the update keeps its direction.",
                _clip_variant("per_parameter"),
            ),
            Variant(
                "you rescaled even though the norm was already below max_norm: the factor is "
                "min(1, max_norm / (total_norm + 1e-6)).",
                _clip_variant("always"),
            ),
            Variant(
                "return the norm measured BEFORE clipping (it is what you log to spot exploding gradients).",
                _clip_variant("norm_after"),
            ),
            Variant(
                "you added the per-array norms; the global norm is sqrt(sum over arrays of sum(g**2)).",
                _clip_variant("sum_of_norms"),
            ),
            Variant("you forgot the square root in the norm.", _clip_variant("squared")),
            Variant(
                "you clipped every entry to [-max_norm, max_norm] (that is clip_grad_value, which can change the "
                "direction); clip_grad_norm rescales whole arrays.",
                _clip_variant("value"),
            ),
        ),
        requirements=(_new_dict_of_new_arrays,),
    )
    return run(ex, learner_fn, _clip_cases(), time_limit=time_limit)
