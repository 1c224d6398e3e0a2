"""Chapter 6 (applications) exercises: sampling, padding-aware classification, forecasting, decoding."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from companion.data.timeseries import seasonal_naive_forecast, sliding_windows
from companion.exercises._common import copies, generator, log_softmax, normal, softmax
from companion.exercises.feedback import Feedback
from companion.exercises.runner import (
    Array,
    Case,
    Exercise,
    Integer,
    IntList,
    LoopFree,
    Output,
    Problem,
    Scalar,
    Tuple,
    Variant,
    _type_name,
    fmt,
    run,
)
from companion.exercises.solutions import bag_of_words, beam_search
from companion.numpy.classifier import classifier_forward, last_hidden
from companion.numpy.sampling import sample_next, softmax_with_temperature, top_p_filter

__all__ = [
    "check_softmax_with_temperature",
    "check_sample_next",
    "check_top_p_filter",
    "check_last_hidden",
    "check_classifier_forward",
    "check_sliding_windows",
    "check_seasonal_naive",
    "check_beam_search",
    "check_bag_of_words",
]


# -- softmax with temperature ------------------------------------------------------------------


def _temperature_variant(kind: str) -> Callable[[Case], np.ndarray]:
    def variant(case: Case) -> np.ndarray:
        z, T = case.raw["logits"], case.raw["temperature"]
        if kind == "multiply":
            return softmax(z * T)
        if kind == "no_temperature":
            return softmax(z)
        if kind == "unstable":
            e = np.exp(z / T)
            return e / e.sum(axis=-1, keepdims=True)
        if kind == "axis0":
            return softmax(z / T, axis=0)
        if kind == "power_unnormalised":
            return softmax(z) ** (1.0 / T)
        if kind == "global":
            e = np.exp(z / T - (z / T).max())
            return e / e.sum()
        raise ValueError(kind)

    return variant


def _rows_sum_to_one(case: Case, got: Any, problem: Problem) -> str | None:
    if problem.kind == "nonfinite":
        return "exp overflowed: subtract each row's maximum of logits / temperature before np.exp."
    if isinstance(got, np.ndarray) and got.shape == case.raw["logits"].shape:
        sums = got.sum(axis=-1)
        if not np.allclose(sums, 1.0, atol=1e-6):
            return "each row (last axis) must sum to 1: normalise with e / e.sum(axis=-1, keepdims=True)."
    return None


def check_softmax_with_temperature(learner_fn: Callable, *, time_limit: float | None = None) -> Feedback:
    """Check ``softmax_with_temperature(logits, temperature)``: softmax(logits / temperature) over the last axis."""
    rng = generator("softmax_with_temperature")
    specs = [((4, 6), 0.5, 0.0), ((5,), 2.0, 0.0), ((2, 3, 7), 1.0, 0.0), ((3, 5), 0.7, 1e3), ((1, 4), 10.0, 0.0)]
    cases = []
    for shape, T, offset in specs:
        z = offset + normal(rng, *shape, scale=2.0)
        label = f"logits {shape}, temperature={T}" + (", logits near 1000" if offset else "")
        cases.append(
            Case(
                args=copies(z, T),
                expected=softmax_with_temperature(*copies(z, T)),
                label=label,
                raw={"logits": z.copy(), "temperature": T},
            )
        )
    ex = Exercise(
        name="softmax_with_temperature",
        signature="softmax_with_temperature(logits, temperature)",
        returns=Array("probs"),
        variants=(
            Variant(
                "you multiplied by the temperature; divide: softmax(logits / temperature) (T > 1 flattens).",
                _temperature_variant("multiply"),
            ),
            Variant("the temperature is missing: use logits / temperature.", _temperature_variant("no_temperature")),
            Variant(
                "exp overflowed: subtract each row's maximum of logits / temperature before np.exp.",
                _temperature_variant("unstable"),
            ),
            Variant(
                "you normalised along axis 0; the vocabulary is the LAST axis (axis=-1, keepdims=True).",
                _temperature_variant("axis0"),
            ),
            Variant(
                "softmax(logits) ** (1 / T) must be renormalised to sum to 1; simpler: softmax(logits / T).",
                _temperature_variant("power_unnormalised"),
            ),
            Variant(
                "you normalised over the whole array; each row (last axis) is its own distribution.",
                _temperature_variant("global"),
            ),
        ),
        hints=(_rows_sum_to_one,),
    )
    return run(ex, learner_fn, cases, time_limit=time_limit)


# -- sampling the next token -------------------------------------------------------------------


class TokenIds(Output):
    """An int for 1-D logits, an int array (N,) for 2-D logits: whatever the reference returned."""

    name = "the sampled token(s)"

    def check(self, got: Any, exp: Any, case: Case, key: tuple = ()) -> Problem | None:
        if isinstance(exp, (int, np.integer)):
            p = Integer("sampled token (1-D logits give one int)").check(got, exp, case, key)
            if p is not None and p.kind == "values":
                p.lines = [f"Wrong sampled token: expected token {int(exp)}, got token {int(got)}."]
            return p
        p = Array("tokens", axes="N", dtype="int").check(got, exp, case, key)
        if p is not None and p.kind == "values":
            g, e = np.asarray(got), np.asarray(exp)
            rows = np.flatnonzero(g != e)
            n = int(rows[0])
            p.lines = [
                f"Wrong sampled tokens: {len(rows)} of {len(e)} rows differ; the first is row {n}: expected token "
                f"{int(e[n])}, got token {int(g[n])}."
            ]
        return p

    def same(self, got: Any, exp: Any) -> bool:
        try:
            return bool(np.array_equal(np.asarray(got), np.asarray(exp)))
        except Exception:
            return False


def _filtered_probs(r: dict[str, Any], kind: str = "ok") -> np.ndarray:
    """Rows of probabilities as the reference forms them, or with one known mistake."""
    z = np.atleast_2d(r["logits"]).astype(float)
    T, k = r["temperature"], r["top_k"]
    if k is not None and kind not in ("ignore_top_k", "top_k_after_softmax"):
        if kind == "smallest_k":
            kth = np.sort(z, axis=-1)[:, k - 1 : k]
            z = np.where(z <= kth, z, -np.inf)
        else:
            kk = min(k + 1, z.shape[1]) if kind == "top_k_plus_one" else k
            kth = np.sort(z, axis=-1)[:, -kk][:, None]
            z = np.where(z >= kth, z, -np.inf)
    scaled = z * T if kind == "multiply" else (z if kind == "no_temperature" else z / T)
    p = softmax(scaled)
    if kind == "top_k_after_softmax" and k is not None:
        kth = np.sort(z, axis=-1)[:, -k][:, None]
        p = np.where(z >= kth, p, 0.0)  # not renormalised
    return p


def _sample_variant(kind: str) -> Callable[[Case], Any]:
    def variant(case: Case) -> Any:
        r = case.raw
        p = _filtered_probs(r, kind)
        rng = np.random.default_rng(r["seed"])
        if kind == "greedy":
            out = p.argmax(axis=-1)
        else:
            u = np.full(p.shape[0], rng.random()) if kind == "one_u" else rng.random(p.shape[0])
            cdf = np.cumsum(p, axis=-1)
            total = (lambda c: 1.0) if kind == "top_k_after_softmax" else (lambda c: c[-1])
            out = np.array(
                [min(np.searchsorted(c, ui * total(c), side="right"), len(c) - 1) for c, ui in zip(cdf, u)]
            )
        return int(out[0]) if np.ndim(r["logits"]) == 1 else out.astype(np.int64)

    return variant


def _outside_top_k(case: Case, got: Any, problem: Problem) -> str | None:
    k = case.raw["top_k"]
    if k is None:
        return None
    z = np.atleast_2d(case.raw["logits"])
    tokens = np.atleast_1d(np.asarray(got))
    if tokens.shape != (z.shape[0],) or not np.issubdtype(tokens.dtype, np.integer):
        return None
    kth = np.sort(z, axis=-1)[:, -k]
    for n, v in enumerate(tokens):
        if not 0 <= v < z.shape[1] or z[n, v] < kth[n]:
            return (
                f"row {n} sampled token {int(v)}, which is not among its top_k={k} logits: "
                "set the other logits to -inf first."
            )
    return None


def _draws(seed: int, after: dict[str, Any], most: int) -> int | None:
    """How many ``rng.random()`` numbers a generator seeded with ``seed`` gave to reach state ``after``."""
    g = np.random.default_rng(seed)
    for d in range(most + 1):
        if g.bit_generator.state == after:
            return d
        g.random()
    return None


def _sampling_diagnosis(case: Case, got: Any, problem: Problem, ask: Callable[[Case], Any]) -> list[str]:
    """Which draw went wrong: generator not used, too many or too few uniforms, or the row where it differs."""
    r = case.raw
    z = np.atleast_2d(r["logits"])
    N, V = z.shape

    def fresh() -> tuple[Case, np.random.Generator]:
        rng = np.random.default_rng(r["seed"])
        kwargs = {**case.kwargs, "rng": rng}
        return Case(args=copies(*case.args), kwargs=kwargs, expected=case.expected, label=case.label), rng

    probe1, rng1 = fresh()
    first = ask(probe1)
    probe2, _ = fresh()
    second = ask(probe2)
    if first is None or second is None:
        return []
    if not TokenIds().same(first, second):
        return [
            "Two calls with generators in the same state gave different tokens, so your function draws from "
            "another source of randomness (np.random.*, random.random, a new default_rng()): draw from the rng "
            "argument only."
        ]
    d = _draws(r["seed"], rng1.bit_generator.state, 4 * N * V + 16)
    rows = f"one per row, u = rng.random({N})" if np.ndim(r["logits"]) == 2 else "one, u = rng.random()"
    if d == 0:
        return [f"It never drew a number from rng: the reference draws {rows}, and uses them for the inverse CDF."]
    if d is None:
        return [f"It used rng differently from the reference, which draws exactly {rows} (nothing else)."]
    if d != N:
        extra = " (one per token?)" if d == N * V else (" (one for all rows?)" if d == 1 else "")
        return [f"It drew {d} uniform numbers from rng{extra}; the reference draws exactly {rows}."]
    u = np.random.default_rng(r["seed"]).random(N)
    g, e = np.atleast_1d(np.asarray(got)), np.atleast_1d(np.asarray(case.expected))
    n = int(np.flatnonzero(g != e)[0])
    return [
        f"It drew the right number of uniforms ({d}). For row {n} the generator gives u = {u[n]:.4f}, and the "
        f"reference's cumulative probabilities of that row (after top-k and temperature) first exceed it at token "
        f"{int(e[n])}; yours gave token {int(g[n])}, so the probabilities or the search differ: p = "
        "softmax(top-k-filtered logits / temperature), then np.searchsorted(np.cumsum(p), u * cdf[-1], "
        "side=\"right\")."
    ]


def check_sample_next(learner_fn: Callable, *, time_limit: float | None = None) -> Feedback:
    """Check ``sample_next(logits, temperature=..., top_k=..., rng=...)``.

    For every row: keep the ``top_k`` largest logits (others -> -inf) if ``top_k`` is not
    None, ``p = softmax(logits / temperature)``, draw ONE ``u = rng.random()`` per row
    (``rng.random(N)``) and return the first index whose cumulative probability exceeds
    ``u`` (``np.searchsorted(np.cumsum(p), u * total, side="right")``).  1-D logits (V,)
    give an int, 2-D logits (N, V) an int array (N,).
    """
    rng = generator("sample_next")
    specs = [
        ((20, 6), 0.7, None),
        ((20, 8), 1.5, 3),
        ((5,), 1.0, None),
        ((1, 4), 1.0, 1),
        ((30, 10), 0.5, 2),
        ((25, 5), 3.0, None),
    ]
    cases = []
    for i, (shape, T, k) in enumerate(specs):
        z = normal(rng, *shape, scale=1.5)
        seed = 100 + i
        kwargs = {"temperature": T, "top_k": k}
        label = f"logits {shape}, temperature={T}, top_k={k}"
        cases.append(
            Case(
                args=(z.copy(),),
                kwargs={**kwargs, "rng": np.random.default_rng(seed)},
                expected=sample_next(z.copy(), **kwargs, rng=np.random.default_rng(seed)),
                label=label,
                dims={"N": shape[0]} if len(shape) == 2 else {},
                raw={"logits": z.copy(), "temperature": T, "top_k": k, "seed": seed},
            )
        )
    ex = Exercise(
        name="sample_next",
        signature="sample_next(logits, temperature=..., top_k=..., rng=...)",
        returns=TokenIds(),
        variants=(
            Variant(
                "you multiplied by the temperature; divide: softmax(logits / temperature).",
                _sample_variant("multiply"),
            ),
            Variant(
                "top_k was ignored: keep only the top_k largest logits of each row (others -> -inf).",
                _sample_variant("ignore_top_k"),
            ),
            Variant("you kept the k SMALLEST logits; keep the k largest.", _sample_variant("smallest_k")),
            Variant(
                "you took the argmax (greedy decoding); sample with u = rng.random() and the cumulative probabilities.",
                _sample_variant("greedy"),
            ),
            Variant(
                "the temperature is missing: p = softmax(logits / temperature).",
                _sample_variant("no_temperature"),
            ),
            Variant(
                "you kept top_k + 1 tokens: the k-th largest logit is np.sort(z)[..., -top_k].",
                _sample_variant("top_k_plus_one"),
            ),
            Variant(
                "you zeroed the probabilities outside the top k AFTER the softmax without renormalising: set those "
                "logits to -inf before the softmax (or search for u * cdf[-1], the remaining total).",
                _sample_variant("top_k_after_softmax"),
            ),
            Variant(
                "you drew ONE uniform for all rows; draw one per row, u = rng.random(N).",
                _sample_variant("one_u"),
            ),
        ),
        hints=(_outside_top_k,),
        diagnose=_sampling_diagnosis,
    )
    return run(ex, learner_fn, cases, time_limit=time_limit)


# -- nucleus (top-p) filtering -----------------------------------------------------------------


class FilteredLogits(Output):
    """Logits of shape (..., V): the kept ones unchanged, the others -inf."""

    name = "the filtered logits"

    def check(self, got: Any, exp: Any, case: Case, key: tuple = ()) -> Problem | None:
        p = Array("the filtered logits", axes=case.raw["axes"]).check(
            np.where(np.isfinite(got), got, 0.0) if isinstance(got, np.ndarray) and got.dtype.kind == "f" else got,
            np.where(np.isfinite(exp), exp, 0.0),
            case,
            key,
        )
        if p is not None and p.kind in ("type", "shape"):
            return p
        if np.isnan(got).any() or np.isposinf(got).any():
            return Problem("nonfinite", key, ["The filtered logits contain NaN or +inf; dropped tokens get -inf."], self)
        kept_g, kept_e = np.isfinite(got), np.isfinite(exp)
        wrong = np.argwhere(kept_g != kept_e)
        if len(wrong):
            idx = tuple(int(i) for i in wrong[0])
            row = f"row {idx[:-1]}" if len(idx) > 1 else "the logits"
            row = row.replace("(", "").replace(",)", "").replace(")", "")
            should = "be kept (its logit unchanged)" if kept_e[idx] else "be dropped (-inf)"
            n_kept = int(kept_e[idx[:-1]].sum())
            return Problem(
                "values",
                key,
                [
                    f"Wrong set of kept tokens: in {row}, token {idx[-1]} should {should}, but it is "
                    f"{fmt(got[idx])} (entries that differ: {int((kept_g != kept_e).sum())}; that row's nucleus has "
                    f"{_count(n_kept, 'token')}).",
                ],
                self,
            )
        if not np.allclose(got[kept_e], exp[kept_e], rtol=1e-12, atol=1e-12):
            idx = tuple(int(i) for i in np.argwhere(kept_e & ~np.isclose(got, exp, rtol=1e-12, atol=1e-12))[0])
            return Problem(
                "values",
                key,
                [
                    "The right tokens are kept, but their logits changed: at index "
                    f"{idx} expected {fmt(exp[idx])}, got {fmt(got[idx])}. Return the kept logits unchanged."
                ],
                self,
            )
        return None

    def same(self, got: Any, exp: Any) -> bool:
        try:
            g, e = np.asarray(got, dtype=float), np.asarray(exp, dtype=float)
            if g.shape != e.shape or not np.array_equal(np.isfinite(g), np.isfinite(e)):
                return False
            return bool(np.allclose(g[np.isfinite(e)], e[np.isfinite(e)], rtol=1e-9, atol=1e-12))
        except Exception:
            return False


def _nucleus_variant(kind: str) -> Callable[[Case], np.ndarray]:
    """What a function with one known mistake returns (rows sorted by argsort, no tie care unless "ok")."""

    def variant(case: Case) -> np.ndarray:
        z, p = case.raw["logits"], case.raw["p"]
        if kind == "percentage":
            return top_p_filter(z.copy(), p / 100)
        if kind == "global":
            q = np.exp(z - z.max())
            q = q / q.sum()
        elif kind == "no_softmax":
            q = z
        elif kind == "exp_unnormalised":
            q = np.exp(z)
        else:
            q = softmax(z)
        order = np.argsort(q if kind == "ascending" else -q, axis=-1, kind="stable")
        q_sorted = np.take_along_axis(q, order, axis=-1)
        cum = np.cumsum(q_sorted, axis=-1)
        keep_sorted = cum < p if kind == "exclude_crossing" else cum - q_sorted < p
        keep = np.empty_like(keep_sorted)
        np.put_along_axis(keep, order, keep_sorted, axis=-1)
        if kind in ("probs", "probs_unnormalised"):
            kept = np.where(keep, softmax(z), 0.0)
            return kept / kept.sum(axis=-1, keepdims=True) if kind == "probs" else kept
        out = np.where(keep, z, -np.inf)
        if kind == "log_renormalised":
            out = np.where(keep, z - np.log(np.where(keep, np.exp(z), 0.0).sum(axis=-1, keepdims=True)), -np.inf)
        return out

    return variant


def _nucleus_hint(case: Case, got: Any, problem: Problem) -> str | None:
    """Probabilities where logits were expected; a tie split in two."""
    if not isinstance(got, np.ndarray) or got.shape != case.expected.shape:
        return None
    if np.all(np.isfinite(got)) and np.all(got >= 0) and (got == 0).any() and not np.isfinite(case.expected).all():
        return (
            "you returned probabilities (0 outside the nucleus); return the LOGITS with -inf outside the nucleus, "
            "as top_k_filter does: the softmax in sample_next renormalises what is left."
        )
    z = case.raw["logits"]
    kept_g, kept_e = np.isfinite(got), np.isfinite(case.expected)
    for idx in np.argwhere(kept_e & ~kept_g):
        idx = tuple(int(i) for i in idx)
        row = z[idx[:-1]]
        if (kept_g[idx[:-1]] & (row == row[idx[-1]])).any():
            return (
                f"token {idx[-1]} is tied with a kept token (the same logit) and was dropped: a tie at the crossing "
                "is kept whole. Keep token i iff the tokens strictly MORE likely than i hold less than p, so the "
                "result does not depend on the order of the vocabulary."
            )
    return None


def _nucleus_cases() -> list[Case]:
    """Seeded cases; no cumulative probability lies within 1e-6 of p (rounding cannot decide a token)."""
    rng = generator("top_p_filter")
    # First a case on which every known mistake gives a different nucleus (5 of 8 tokens are right):
    # exp(z) sums to 2, all logits are negative, and the most likely token holds less than 1 - p.
    q = np.array([0.11, 0.22, 0.03, 0.16, 0.2, 0.09, 0.13, 0.06])
    cases = [(np.log(2.0 * q), 0.75, "logits (8,), p=0.75")]
    specs = [((6, 10), 0.8, 2.0), ((5, 7), 0.5, 1.0), ((4, 12), 0.3, 3.0), ((3, 6), 1.0, 1.5),
             ((4, 9), 0.05, 2.5), ((8,), 0.9, 1.5)]
    for shape, p, scale in specs:
        while True:
            z = normal(rng, *shape, scale=scale)
            cum = np.cumsum(np.sort(softmax(z), axis=-1)[..., ::-1], axis=-1)
            if p == 1.0 or np.abs(cum - p).min() > 1e-6:
                break
        cases.append((z, p, f"logits {shape}, p={p}" + (" (keeps every token)" if p == 1.0 else "")))
    z = np.array([[2.0, 1.0, 0.0, 1.0, -1.0], [0.5, -np.inf, 3.0, 0.5, 0.5]])  # ties at the crossing, a -inf
    cases.append((z, 0.6, "logits (2, 5), p=0.6, tied logits where p is crossed and a -inf logit"))
    out = []
    for z, p, label in cases:
        axes = "V" if z.ndim == 1 else "N V"
        out.append(
            Case(
                args=copies(z, p),
                expected=top_p_filter(*copies(z, p)),
                label=label,
                dims={"N": z.shape[0], "V": z.shape[-1]} if z.ndim == 2 else {"V": z.shape[0]},
                raw={"logits": z.copy(), "p": p, "axes": axes},
            )
        )
    return out


def check_top_p_filter(learner_fn: Callable, *, time_limit: float | None = None) -> Feedback:
    """Check ``top_p_filter(logits, p)``: nucleus filtering over the last axis of (V,) or (N, V) logits.

    With ``probs = softmax(logits)`` per row, token ``i`` is kept iff the tokens strictly
    more likely than ``i`` have total probability below ``p``: the most likely tokens up to
    and including the one whose cumulative probability first reaches ``p``, ties with it
    included.  Kept logits are returned unchanged, the others are ``-inf``; the input is
    not modified; ``p`` is a probability in (0, 1].
    """
    ex = Exercise(
        name="top_p_filter",
        signature="top_p_filter(logits, p)",
        returns=FilteredLogits(),
        variants=(
            Variant(
                "you normalised over the whole array; each row (last axis) is its own distribution "
                "(softmax over axis=-1); with all rows together, the 1-D cases pass and the batches fail.",
                _nucleus_variant("global"),
            ),
            Variant(
                "you sorted from the LEAST likely token up; the nucleus starts at the most likely tokens: "
                "np.argsort(-probs) (descending).",
                _nucleus_variant("ascending"),
            ),
            Variant(
                "you dropped the token that crosses p: the nucleus is the shortest prefix whose total REACHES p, so "
                "keep a token if the probability sorted before it is below p (cumsum - p_sorted < p).",
                _nucleus_variant("exclude_crossing"),
            ),
            Variant(
                "p is a probability (0.9 means 90 %), not a percentage: do not divide it by 100.",
                _nucleus_variant("percentage"),
            ),
            Variant(
                "the nucleus is defined on probabilities: take the softmax of the logits before summing them.",
                _nucleus_variant("no_softmax"),
            ),
            Variant(
                "exp(logits) must be normalised to probabilities that sum to 1 in each row (softmax) before the "
                "cumulative sum is compared with p.",
                _nucleus_variant("exp_unnormalised"),
            ),
            Variant(
                "you returned renormalised probabilities; return the LOGITS with -inf outside the nucleus (the "
                "softmax in sample_next renormalises what is left).",
                _nucleus_variant("probs"),
            ),
            Variant(
                "you returned probabilities with zeros outside the nucleus (not even renormalised); return the "
                "LOGITS with -inf outside the nucleus.",
                _nucleus_variant("probs_unnormalised"),
            ),
            Variant(
                "you renormalised the kept logits (subtracted their log-sum-exp); return them unchanged: the softmax "
                "that follows renormalises, and the exercise compares logits.",
                _nucleus_variant("log_renormalised"),
            ),
        ),
        hints=(_nucleus_hint,),
    )
    return run(ex, learner_fn, _nucleus_cases(), time_limit=time_limit)


# -- the last real hidden state ----------------------------------------------------------------


def _index_hint(exc: BaseException, case: Any) -> str | None:
    if isinstance(exc, IndexError):
        return "lengths[n] counts the real steps, so the last real step of sequence n is lengths[n] - 1."
    return None


def _last_hidden_probe(N: int) -> Case:
    """A valid input with N sequences, for the "no Python loop over the batch" check (values not graded)."""
    rng = generator(f"last_hidden-loop-{N}")
    T, H = 5, 3
    h, lengths = normal(rng, N, T, H), rng.integers(1, T + 1, size=N)
    return Case(args=(h, lengths), expected=None, label=f"N={N}, T={T}, H={H}", dims={"N": N, "T": T, "H": H})


def check_last_hidden(learner_fn: Callable, *, time_limit: float | None = None) -> Feedback:
    """Check ``last_hidden(h, lengths) -> (N, H)``: ``out[n] = h[n, lengths[n] - 1]``, without a Python loop.

    After the values, the checker runs the function on batches of 4 and 260 sequences
    and fails it if its Python work grows with the batch (a loop, a comprehension, a
    ``map`` over the sequences): see :class:`~companion.exercises.runner.LoopFree`.
    """
    rng = generator("last_hidden")
    specs = [
        ((4, 6, 3), (6, 2, 4, 1)),
        ((1, 5, 2), (3,)),
        ((3, 1, 4), (1, 1, 1)),
        ((2, 4, 2), (4, 4)),
        ((3, 5, 3), (2, 5, 3)),
    ]
    cases = []
    for (N, T, H), lengths in specs:
        h, lengths = normal(rng, N, T, H), np.array(lengths)
        cases.append(
            Case(
                args=copies(h, lengths),
                expected=last_hidden(*copies(h, lengths)),
                label=f"N={N}, T={T}, H={H}, lengths={[int(n) for n in lengths]}",
                dims={"N": N, "T": T, "H": H},
                raw={"h": h.copy(), "lengths": lengths.copy()},
            )
        )

    def pick(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Callable[[Case], np.ndarray]:
        return lambda case: fn(case.raw["h"], case.raw["lengths"])

    ex = Exercise(
        name="last_hidden",
        signature="last_hidden(h, lengths)",
        returns=Array("out", axes="N H"),
        variants=(
            Variant(
                "you took h[:, -1], the state after the PADDING for every shorter sequence; use each sequence's own "
                "last real step, h[n, lengths[n] - 1].",
                pick(lambda h, L: h[:, -1]),
            ),
            Variant("off by one: lengths[n] counts steps, so the last real step is lengths[n] - 1.",
                    pick(lambda h, L: h[np.arange(len(L)), np.minimum(L, h.shape[1] - 1)])),
            Variant("off by one: you took step lengths[n] - 2; the last real step is lengths[n] - 1.",
                    pick(lambda h, L: h[np.arange(len(L)), L - 2])),
            Variant(
                "h[:, lengths - 1] picks every listed step for EVERY sequence, shape (N, N, H); pair the indices: "
                "h[np.arange(N), lengths - 1].",
                pick(lambda h, L: h[:, L - 1]),
            ),
            Variant("you returned the first step h[:, 0]; return the last real one.", pick(lambda h, L: h[:, 0])),
            Variant(
                "you averaged over the real steps (that is masked_mean_pool); here return the state at the last real "
                "step.",
                pick(lambda h, L: np.stack([h[n, : L[n]].mean(axis=0) for n in range(len(L))])),
            ),
        ),
        exception_hint=_index_hint,
        loop_free=LoopFree(
            over="the batch",
            symbol="N",
            probe=_last_hidden_probe,
            sizes=(4, 260),
            advice="pick all the states in one indexing expression, pairing an array of batch indices with an "
            "array of time indices (advanced indexing).",
        ),
    )
    return run(ex, learner_fn, cases, time_limit=time_limit)


# -- the padding-aware classifier ----------------------------------------------------------------


def _classifier_variant(kind: str) -> Callable[[Case], np.ndarray]:
    def variant(case: Case) -> np.ndarray:
        r = case.raw
        p, x, L = r["params"], r["x"], r["lengths"]
        inputs = p["W_embed"][x]
        N, T = x.shape
        h_t, hs = np.zeros((N, p["Wh"].shape[0])), []
        for t in range(T):
            h_t = np.tanh(inputs[:, t] @ p["Wx"] + h_t @ p["Wh"] + p["b"])
            hs.append(h_t)
        h = np.stack(hs, axis=1)
        if kind == "last_padded":
            summary = h[:, -1]
        elif kind == "mean":
            summary = np.stack([h[n, : L[n]].mean(axis=0) for n in range(N)])
        else:
            summary = h[np.arange(N), L - 1]
        logits = summary @ p["W_out"] + (0.0 if kind == "no_b_out" else p["b_out"])
        return softmax(logits) if kind == "probs" else logits

    return variant


def _classifier_exception_hint(exc: BaseException, case: Any) -> str | None:
    if isinstance(exc, KeyError):
        return "params is a dict with keys W_embed, Wx, Wh, b, W_out, b_out."
    return _index_hint(exc, case)


def check_classifier_forward(learner_fn: Callable, *, time_limit: float | None = None) -> Feedback:
    """Check ``classifier_forward(x, lengths, params) -> logits (N, C)``.

    x (N, T) token ids padded after each sequence; ``params`` holds ``W_embed`` (V, D),
    ``Wx`` (D, H), ``Wh`` (H, H), ``b`` (H,), ``W_out`` (H, C), ``b_out`` (C,).  Embed, run
    a tanh RNN from h0 = 0, take the state at each sequence's last real step, apply
    the output layer.  You may use ``embedding_forward``, ``rnn_forward``, ``last_hidden``.
    """
    rng = generator("classifier_forward")
    specs = [
        (4, 6, 10, 3, 5, 2, (6, 2, 4, 1)),
        (1, 3, 8, 2, 3, 3, (2,)),
        (3, 1, 6, 4, 2, 2, (1, 1, 1)),
        (2, 5, 7, 3, 3, 4, (5, 3)),
    ]
    cases = []
    for N, T, V, D, H, C, lengths in specs:
        params = {
            "W_embed": normal(rng, V, D),
            "Wx": normal(rng, D, H, scale=0.6),
            "Wh": normal(rng, H, H, scale=0.5),
            "b": normal(rng, H, scale=0.5),
            "W_out": normal(rng, H, C),
            "b_out": normal(rng, C),
        }
        x, lengths = rng.integers(0, V, size=(N, T)), np.array(lengths)
        cases.append(
            Case(
                args=copies(x, lengths, params),
                expected=classifier_forward(*copies(x, lengths, params)),
                label=f"N={N}, T={T}, V={V}, D={D}, H={H}, C={C}, lengths={[int(n) for n in lengths]}",
                dims={"N": N, "C": C},
                raw={"x": x.copy(), "lengths": lengths.copy(), "params": copies(params)[0]},
            )
        )
    ex = Exercise(
        name="classifier_forward",
        signature="classifier_forward(x, lengths, params)",
        returns=Array("logits", axes="N C"),
        variants=(
            Variant(
                "you classified from h[:, -1]: for a padded sequence that state has read the padding. Use the state "
                "at each sequence's last real step (last_hidden(h, lengths)).",
                _classifier_variant("last_padded"),
            ),
            Variant(
                "you averaged the states over the real steps; this exercise uses the last real state.",
                _classifier_variant("mean"),
            ),
            Variant(
                "the output bias b_out is missing: logits = summary @ W_out + b_out.",
                _classifier_variant("no_b_out"),
            ),
            Variant(
                "you returned probabilities; return the raw scores (logits), the loss applies the softmax.",
                _classifier_variant("probs"),
            ),
        ),
        exception_hint=_classifier_exception_hint,
    )
    return run(ex, learner_fn, cases, time_limit=time_limit)


# -- sliding windows ---------------------------------------------------------------------------


def _windows(series: np.ndarray, W: int, H: int, *, start_shift: int = 0, y_shift: int = 0, drop_last: bool = False,
             y_len: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    x = series[:, None] if series.ndim == 1 else series
    n = len(x) - W - H + 1 - (1 if drop_last else 0)
    hl = H if y_len is None else y_len
    X = np.stack([x[s + start_shift : s + start_shift + W] for s in range(n)])
    Y = np.stack([x[s + W + y_shift : s + W + y_shift + hl] for s in range(n)])
    return X, Y


def _window_variant(kind: str) -> Callable[[Case], tuple]:
    def variant(case: Case) -> tuple:
        s, W, H = case.raw["series"], case.raw["window"], case.raw["horizon"]
        if kind == "target_in_input":
            return _windows(s, W, H, y_shift=-1)
        if kind == "input_reaches_target":
            return _windows(s, W, H, start_shift=1)
        if kind == "drop_last":
            return _windows(s, W, H, drop_last=True)
        if kind == "one_step_target":
            return _windows(s, W, H, y_len=1)
        if kind == "no_feature_axis":
            X, Y = _windows(s, W, H)
            return (X[..., 0], Y[..., 0]) if s.ndim == 1 else (X, Y)
        raise ValueError(kind)

    return variant


def check_sliding_windows(learner_fn: Callable, *, time_limit: float | None = None) -> Feedback:
    """Check ``sliding_windows(series, window, horizon) -> (X, Y)``.

    ``X[i] = series[i : i + window]``, ``Y[i] = series[i + window : i + window + horizon]``
    for every ``i`` with ``i + window + horizon <= L``; a 1-D series gets a feature axis,
    so X is (N, window, F) and Y is (N, horizon, F).
    """
    specs = [(12, 3, 1, 1), (10, 4, 2, 1), (5, 3, 2, 1), (9, 2, 3, 2), (8, 1, 1, 1)]
    cases = []
    for L, W, H, F in specs:
        t = np.arange(L, dtype=float)
        series = t if F == 1 else np.stack([t, 100.0 + t], axis=1)  # values = time index: errors read easily
        n = L - W - H + 1
        cases.append(
            Case(
                args=copies(series, W, H),
                expected=sliding_windows(*copies(series, W, H)),
                label=f"L={L}, window={W}, horizon={H}" + (", 1-D series" if F == 1 else f", series (L, F={F})"),
                dims={"M": n, "W": W, "K": H, "F": F},
                raw={"series": series.copy(), "window": W, "horizon": H},
            )
        )
    ex = Exercise(
        name="sliding_windows",
        signature="sliding_windows(series, window, horizon)",
        returns=Tuple(Array("X", axes="M W F"), Array("Y", axes="M K F")),
        variants=(
            Variant(
                "off by one: your target starts at the LAST input step, so the model is shown the value it must "
                "predict (leakage). The target starts right after the window: series[i + window].",
                _window_variant("target_in_input"),
            ),
            Variant(
                "off by one: your input window ends ON the target step, so the answer leaks into the input. "
                "X[i] = series[i : i + window], Y[i] = series[i + window : i + window + horizon].",
                _window_variant("input_reaches_target"),
            ),
            Variant(
                "you stopped one window early: there are L - window - horizon + 1 windows.",
                _window_variant("drop_last"),
            ),
            Variant("Y must hold `horizon` steps, not just the next one.", _window_variant("one_step_target")),
            Variant(
                "keep a feature axis: for a 1-D series X is (N, window, 1) and Y is (N, horizon, 1).",
                _window_variant("no_feature_axis"),
            ),
        ),
    )
    return run(ex, learner_fn, cases, time_limit=time_limit)


# -- seasonal naive baseline -------------------------------------------------------------------


def _seasonal_variant(kind: str) -> Callable[[Case], np.ndarray]:
    def variant(case: Case) -> np.ndarray:
        X, m, H = case.raw["X"], case.raw["season"], case.raw["horizon"]
        W = X.shape[1]
        if kind == "naive":
            idx = np.full(H, W - 1)
        elif kind == "late":
            idx = W - m + 1 + (np.arange(H) % m)
        elif kind == "first_season":
            idx = np.arange(H) % m
        elif kind == "reversed":
            idx = W - 1 - (np.arange(H) % m)
        elif kind == "no_wrap":
            idx = np.minimum(W - m + np.arange(H), W - 1)
        else:
            raise ValueError(kind)
        if (idx < 0).any() or (idx >= W).any():
            raise IndexError(kind)
        return X[:, idx, :]

    return variant


def _wrap_hint(exc: BaseException, case: Any) -> str | None:
    if isinstance(exc, IndexError):
        return "for horizon > season the index must wrap: W - season + ((h - 1) mod season)."
    return None


def check_seasonal_naive(learner_fn: Callable, *, time_limit: float | None = None) -> Feedback:
    """Check ``seasonal_naive_forecast(X, season, horizon)``: X (N, W, F) -> (N, horizon, F).

    The forecast for step h = 1..horizon repeats the value one season earlier that was
    observed: index ``W - season + ((h - 1) mod season)`` of the window.
    """
    rng = generator("seasonal_naive")
    specs = [(3, 8, 1, 4, 2), (1, 12, 2, 12, 5), (2, 6, 1, 3, 7), (2, 4, 1, 4, 4), (2, 5, 1, 1, 3)]
    cases = []
    for N, W, F, m, H in specs:
        X = np.round(normal(rng, N, W, F, scale=10.0), 1)
        cases.append(
            Case(
                args=copies(X, m, H),
                expected=seasonal_naive_forecast(*copies(X, m, H)),
                label=f"N={N}, W={W}, F={F}, season={m}, horizon={H}",
                dims={"N": N, "K": H, "F": F},
                raw={"X": X.copy(), "season": m, "horizon": H},
            )
        )
    ex = Exercise(
        name="seasonal_naive_forecast",
        signature="seasonal_naive_forecast(X, season, horizon)",
        returns=Array("forecast", axes="N K F"),
        variants=(
            Variant(
                "you repeated the last value (the naive forecast); seasonal naive repeats the value one season "
                "earlier.",
                _seasonal_variant("naive"),
            ),
            Variant(
                "off by one: step h = 1 repeats index W - season of the window (0-based), not W - season + 1.",
                _seasonal_variant("late"),
            ),
            Variant(
                "you repeated the FIRST season of the window; use the LAST one (index W - season + ((h - 1) mod "
                "season)).",
                _seasonal_variant("first_season"),
            ),
            Variant(
                "you walked the season backwards; step h repeats index W - season + ((h - 1) mod season).",
                _seasonal_variant("reversed"),
            ),
            Variant(
                "for horizon > season, wrap around the last season again: use (h - 1) mod season.",
                _seasonal_variant("no_wrap"),
            ),
        ),
        exception_hint=_wrap_hint,
    )
    return run(ex, learner_fn, cases, time_limit=time_limit)


# -- beam search -------------------------------------------------------------------------------


def _is_pair(x: Any) -> bool:
    """``(tokens, score)``: a sequence of ints and a number."""
    if not isinstance(x, (list, tuple)) or len(x) != 2:
        return False
    tokens, score = x
    seq = isinstance(tokens, (list, tuple)) or (isinstance(tokens, np.ndarray) and tokens.ndim == 1)
    number = isinstance(score, (int, float, np.integer, np.floating)) and not isinstance(score, bool)
    return seq and number


class Beams(Output):
    """A list of (tokens, score) hypotheses, best first."""

    name = "the list of (tokens, score) hypotheses"

    def check(self, got: Any, exp: Any, case: Case, key: tuple = ()) -> Problem | None:
        k = case.raw["beam_width"]
        if _is_pair(got) and not (len(got) == len(exp) and all(_is_pair(g) for g in got)):
            return Problem(
                "type",
                key,
                [
                    "It returned a single (tokens, score) pair; return the LIST of surviving hypotheses, best "
                    f"first: [(tokens, score), ...], {_count(len(exp), 'pair')} here (beam_width={k}).",
                ],
            )
        if not isinstance(got, (list, tuple)):
            msg = f"It should return a list of (tokens, score) pairs, but it returned {_type_name(got)}."
            return Problem("type", key, [msg])
        if len(got) != len(exp):
            lines = [
                f"It returned {_count(len(got), 'hypothesis', 'hypotheses')}; expected {len(exp)} "
                f"(beam_width={k})."
            ]
            if len(got) > len(exp):
                lines.append(
                    "Keep only the beam_width best candidates after every step (sorted best first, then [:beam_width])."
                )
            else:
                lines.append(
                    "Keep the beam_width best candidates at every step, finished hypotheses included (they compete "
                    "with their score); only if there are fewer candidates than beam_width are fewer returned."
                )
            return Problem("values", key, lines, self)
        start, end, max_len = case.raw["start"], case.raw["end"], case.raw["max_len"]
        for j, (g, e) in enumerate(zip(got, exp)):
            where = f"Hypothesis {j}" + (" (the best)" if j == 0 else "")
            if not _is_pair(g):
                return Problem("type", key, [f"{where} should be a pair (tokens, score), but it is {_type_name(g)}."])
            p = IntList(f"{where}").check(g[0], e[0], case, key)
            if p is not None:
                p.leaf = self
                if p.kind == "values":
                    p.lines.extend(_token_advice([int(t) for t in g[0]], start, end, max_len))
                return p
            p = Scalar(f"the score of {where.lower()}").check(g[1], e[1], case, key)
            if p is not None:
                p.leaf = self
                return p
        return None

    def same(self, got: Any, exp: Any) -> bool:
        try:
            return len(got) == len(exp) and all(
                [int(t) for t in g[0]] == [int(t) for t in e[0]] and abs(float(g[1]) - float(e[1])) < 1e-6
                for g, e in zip(got, exp)
            )
        except Exception:
            return False


def _count(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def _token_advice(tokens: list[int], start: int, end: int, max_len: int) -> list[str]:
    """Why a hypothesis's tokens may be wrong: the start token, tokens after the end, too many steps."""
    if not tokens or tokens[0] != start:
        return [f"Every hypothesis starts with start_token ({start}): tokens = [start_token, generated ...]."]
    if end in tokens[:-1]:
        return [
            f"It continues after end_token ({end}): a finished hypothesis is carried over unchanged, never extended."
        ]
    if len(tokens) > max_len + 1:
        return [f"It has {len(tokens) - 1} generated tokens; at most max_len = {max_len} are generated after the start."]
    return []


def _step_fn(table: np.ndarray) -> Callable[[list[int]], np.ndarray]:
    """Next-token log-probabilities that depend on the position and the last token."""

    def step_fn(tokens: list[int]) -> np.ndarray:
        tokens = list(tokens)
        return table[(len(tokens) - 1) % table.shape[0], int(tokens[-1])].copy()

    return step_fn


def _beam_variant(kind: str) -> Callable[[Case], list]:
    def variant(case: Case) -> list:
        r = case.raw
        step, end, k, max_len = _step_fn(r["table"]), r["end"], r["beam_width"], r["max_len"]
        beams: list[tuple[list[int], float]] = [([r["start"]], 0.0)]
        for _ in range(max_len):
            cand = []
            for tokens, score in beams:
                if tokens[-1] == end and kind != "extend_finished":
                    cand.append((tokens, score))
                    continue
                lp = step(tokens)
                for v, x in enumerate(lp):
                    cand.append((tokens + [v], (x if kind == "no_accumulate" else score + x)))
            width = 1 if kind == "greedy" else k
            beams = sorted(cand, key=lambda c: -c[1])[:width]
            if kind != "extend_finished" and all(t[-1] == end for t, _ in beams):
                break
        if kind == "ascending":
            beams = beams[::-1]
        return beams

    return variant


def check_beam_search(learner_fn: Callable, *, time_limit: float | None = None) -> Feedback:
    """Check ``beam_search(step_fn, start_token, end_token, beam_width, max_len)``.

    Returns the surviving hypotheses ``[(tokens, score), ...]`` best first; ``tokens``
    starts with ``start_token``, ``score`` is the sum of the log-probabilities
    ``step_fn(tokens)[v]`` of the generated tokens; finished hypotheses (last token
    ``end_token``) are carried over unchanged; stop after ``max_len`` steps or when
    all survivors are finished.
    """
    rng = generator("beam_search")
    specs = [(5, 2, 4), (4, 1, 5), (6, 3, 3), (3, 3, 1), (5, 4, 6)]
    cases = []
    for V, k, max_len in specs:
        logits = normal(rng, 3, V, V, scale=1.5)
        logits[..., 0] += 0.8  # token 0 is the end token: make finishing likely enough to matter
        table = log_softmax(logits)
        start, end = 1, 0
        cases.append(
            Case(
                args=(_step_fn(table), start, end, k, max_len),
                expected=beam_search(_step_fn(table), start, end, k, max_len),
                label=f"V={V}, beam_width={k}, max_len={max_len}",
                raw={"table": table, "start": start, "end": end, "beam_width": k, "max_len": max_len},
            )
        )
    ex = Exercise(
        name="beam_search",
        signature="beam_search(step_fn, start_token, end_token, beam_width, max_len)",
        returns=Beams(),
        variants=(
            Variant(
                "you kept only one hypothesis per step (greedy decoding); keep the beam_width best.",
                _beam_variant("greedy"),
            ),
            Variant(
                "a hypothesis's score must ADD the new token's log-probability to its parent's score "
                "(sum of log-probs = log of the product of probabilities).",
                _beam_variant("no_accumulate"),
            ),
            Variant(
                "a finished hypothesis (last token end_token) must be carried over unchanged, not extended.",
                _beam_variant("extend_finished"),
            ),
            Variant("sort the hypotheses best first (highest score first).", _beam_variant("ascending")),
        ),
    )
    return run(ex, learner_fn, cases, time_limit=time_limit)


# -- bag of words ------------------------------------------------------------------------------


def _bow_variant(kind: str) -> Callable[[Case], np.ndarray]:
    def variant(case: Case) -> np.ndarray:
        idx, L, V = case.raw["idx"], case.raw["lengths"], case.raw["V"]
        out = np.zeros((idx.shape[0], V))
        for n in range(idx.shape[0]):
            full = kind in ("padding", "skip_zero")
            stop = idx.shape[1] if full else (L[n] - 1 if kind == "off_by_one" else L[n])
            toks = idx[n, :stop]
            if kind in ("skip_zero", "drop_zero"):
                toks = toks[toks != 0]
            if kind == "presence":
                out[n, toks] = 1.0
            else:
                np.add.at(out[n], toks, 1.0)
            if kind == "frequency":
                out[n] /= max(L[n], 1)
        return out

    return variant


def check_bag_of_words(learner_fn: Callable, *, time_limit: float | None = None) -> Feedback:
    """Check ``bag_of_words(idx, lengths, V) -> counts (N, V)`` over the real (unpadded) tokens.

    Token 0 also occurs as a real token, and in the first case the padding positions
    hold non-zero ids: only ``lengths`` tells real tokens from padding.
    """
    rng = generator("bag_of_words")
    specs = [(3, 6, 5, (6, 3, 1)), (1, 4, 3, (4,)), (2, 1, 4, (1, 1)), (4, 5, 7, (5, 2, 4, 3))]
    cases = []
    for N, T, V, lengths in specs:
        lengths = np.array(lengths)
        idx = rng.integers(1, V, size=(N, T))
        idx[0, : min(T, 2)] = 2 % V  # a repeated token
        idx[np.arange(T)[None, :] >= lengths[:, None]] = 0  # padding id 0 (also a vocabulary entry)
        note = ""
        if T > 3:
            idx[0, 3] = 0  # ... and a real token: skipping id 0 is not the same as using lengths
            note = ", a real token 0"
        cases.append((idx, lengths, V, f"N={N}, T={T}, V={V}, lengths={[int(n) for n in lengths]}{note}"))
    N, T, V, lengths = 3, 6, 4, np.array([2, 6, 4])
    idx = rng.integers(0, V, size=(N, T))
    idx[0, 0] = 0
    pad = np.arange(T)[None, :] >= lengths[:, None]
    idx[pad] = rng.integers(1, V, size=int(pad.sum()))  # padding that is not id 0
    label = f"N={N}, T={T}, V={V}, lengths={[int(n) for n in lengths]}, a real token 0, padding holds non-zero ids"
    cases.insert(0, (idx, lengths, V, label))  # first: it tells "ignored lengths" from "dropped token 0"
    cases = [
        Case(
            args=copies(idx, lengths, V),
            expected=bag_of_words(*copies(idx, lengths, V)),
            label=label,
            dims={"N": idx.shape[0], "V": V},
            raw={"idx": idx.copy(), "lengths": lengths.copy(), "V": V},
        )
        for idx, lengths, V, label in cases
    ]
    ex = Exercise(
        name="bag_of_words",
        signature="bag_of_words(idx, lengths, V)",
        returns=Array("counts", axes="N V", dtype="number"),
        variants=(
            Variant(
                "repeated tokens were counted once: out[n, idx] = 1 (or += 1) with repeated indices writes once. "
                "Use np.add.at(counts[n], tokens, 1) or np.bincount(tokens, minlength=V).",
                _bow_variant("presence"),
            ),
            Variant("you counted the padding: only positions t < lengths[n] are real tokens.", _bow_variant("padding")),
            Variant(
                "you skipped id 0 instead of using lengths: here token 0 is also a real word and the padding may "
                "hold any id, so only lengths tells them apart: count idx[n, :lengths[n]].",
                _bow_variant("skip_zero"),
            ),
            Variant(
                "you dropped token 0 from the real tokens; it is a vocabulary entry like any other, count it.",
                _bow_variant("drop_zero"),
            ),
            Variant("you divided by the length (frequencies); return raw counts.", _bow_variant("frequency")),
            Variant(
                "off by one: the real tokens are idx[n, :lengths[n]] (lengths[n] of them).",
                _bow_variant("off_by_one"),
            ),
        ),
    )
    return run(ex, learner_fn, cases, time_limit=time_limit)
