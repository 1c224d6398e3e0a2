"""Chapter 4 (losses) exercises: masked sequence cross-entropy, perplexity, bits per character."""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from companion.exercises._common import copies, generator, log_softmax, normal
from companion.exercises.feedback import Feedback
from companion.exercises.runner import Array, Case, Exercise, Problem, Scalar, Tuple, Variant, run
from companion.numpy.losses import bits_per_char, perplexity_from_logits, temporal_softmax_cross_entropy

__all__ = ["check_temporal_softmax_cross_entropy", "check_perplexity", "check_bits_per_char"]

#: (N, T, V, lengths, logit offset): padding of several lengths, N=T=1, logits near 1e4 (naive exp
#: overflows there; softmax does not change when a constant is added), a batch with a length-1 sequence.
LOSS_SIZES = (
    (3, 5, 7, (5, 2, 4), 0.0),
    (1, 1, 4, (1,), 0.0),
    (2, 4, 6, (4, 2), 1e4),
    (4, 3, 5, (3, 3, 1, 2), 0.0),
)


#: The extra case of the masked loss: ``mask=None`` (every token counts), as its exercise text promises.
NO_MASK_SIZE = (2, 3, 5, (3, 3), 0.0)


def _loss_inputs(name: str, with_none: bool = False) -> list[dict[str, Any]]:
    rng = generator(name)
    out = []
    for N, T, V, lengths, offset in LOSS_SIZES + ((NO_MASK_SIZE,) if with_none else ()):
        lengths = np.array(lengths)
        mask = np.arange(T)[None, :] < lengths[:, None]
        out.append(
            {
                "logits": offset + normal(rng, N, T, V, scale=2.0),
                "y": rng.integers(0, V, size=(N, T)),
                "mask": mask,
                "N": N, "T": T, "V": V, "lengths": lengths, "offset": offset,
                "mask_arg": mask,
            }
        )
    if with_none:
        out[-1]["mask_arg"] = None  # the variants keep reading r["mask"] (all True)
    return out


def _label(r: dict[str, Any]) -> str:
    big = ", logits near 1e4" if r["offset"] else ""
    if r["mask_arg"] is None:
        return f"N={r['N']}, T={r['T']}, V={r['V']}, mask=None (every token counts){big}"
    return f"N={r['N']}, T={r['T']}, V={r['V']}, lengths={[int(n) for n in r['lengths']]}{big}"


def _none_mask_hint(exc: BaseException, case: Any) -> str | None:
    if len(case.args) == 3 and case.args[2] is None:
        return (
            "this case passes mask=None, which means every token counts (the exercise says the checker may pass "
            "None): start with `if mask is None: mask = np.ones(y.shape, dtype=bool)`."
        )
    return None


def _loss_variant(kind: str) -> Callable[[Case], tuple]:
    """Known mistakes in the masked mean: each returns (loss, dlogits) like the reference."""

    def variant(case: Case) -> tuple:
        r = case.raw
        logits, y = r["logits"], r["y"]
        m = r["mask"].astype(float)
        N, T, V = logits.shape
        if kind == "unstable":
            e = np.exp(logits)
            p = e / e.sum(axis=-1, keepdims=True)
            logp = np.log(p)
        else:
            logp = log_softmax(logits)
            p = np.exp(logp)
        nll = -np.take_along_axis(logp, y[..., None], axis=-1)[..., 0]
        onehot = np.eye(V)[y]
        count = m.sum()
        w = m / count  # the reference weighting
        if kind == "sum":
            w = m
        elif kind == "per_batch":
            w = m / N
        elif kind == "no_mask":
            w = np.ones_like(m) / (N * T)
        elif kind == "per_sequence":
            w = m / (N * m.sum(axis=1, keepdims=True))
        loss = float((w * nll).sum())
        d = p - onehot
        if kind == "grad_not_divided":
            dw = m
        elif kind == "grad_no_mask":
            dw = np.ones_like(m) / count
        elif kind == "grad_no_onehot":
            d, dw = p, w
        else:
            dw = w
        return loss, d * dw[..., None]

    return variant


LOSS_VARIANTS = (
    Variant(
        "you summed the losses; the loss is the MEAN over real tokens: divide by mask.sum().",
        _loss_variant("sum"),
    ),
    Variant(
        "you divided by the batch size N; divide by the number of real tokens, mask.sum(), so every token "
        "counts once however the padding is spread.",
        _loss_variant("per_batch"),
    ),
    Variant(
        "you forgot the mask: padded positions must contribute nothing (multiply by the mask, divide by mask.sum()).",
        _loss_variant("no_mask"),
    ),
    Variant(
        "you averaged per sequence and then over sequences; the course's loss is one mean over all real tokens "
        "(a short sequence's tokens must not weigh more).",
        _loss_variant("per_sequence"),
    ),
    Variant(
        "exp overflowed: subtract each row's maximum logit before np.exp (log-sum-exp), so logits of 1e4 are fine.",
        _loss_variant("unstable"),
    ),
    Variant(
        "the loss is right but dlogits is not divided by the number of real tokens.",
        _loss_variant("grad_not_divided"),
    ),
    Variant(
        "the loss is right but dlogits is not masked: padded positions must get zero gradient.",
        _loss_variant("grad_no_mask"),
    ),
    Variant(
        "dlogits is softmax - one_hot(y) (divided by the token count); you forgot to subtract the one-hot.",
        _loss_variant("grad_no_onehot"),
    ),
)


def _overflow_hint(case: Case, got: Any, problem: Problem) -> str | None:
    if problem.kind == "nonfinite":
        return "exp of a large logit overflows: subtract each row's maximum before np.exp (log-sum-exp)."
    return None


def check_temporal_softmax_cross_entropy(learner_fn: Callable, *, time_limit: float | None = None) -> Feedback:
    """Check ``temporal_softmax_cross_entropy(logits, y, mask) -> (loss, dlogits)``.

    logits (N, T, V), y (N, T) int, mask (N, T) bool; the loss is the mean negative
    log-likelihood over real (mask True) tokens, dlogits its gradient (N, T, V).  The
    last case passes ``mask=None``: every token counts.
    """
    ex = Exercise(
        name="temporal_softmax_cross_entropy",
        signature="temporal_softmax_cross_entropy(logits, y, mask)",
        returns=Tuple(Scalar("loss"), Array("dlogits", axes="N T V", gradient=True)),
        variants=LOSS_VARIANTS,
        hints=(_overflow_hint,),
        exception_hint=_none_mask_hint,
    )
    cases = []
    for r in _loss_inputs("temporal_softmax_cross_entropy", with_none=True):
        args = (r["logits"], r["y"], r["mask_arg"])
        cases.append(
            Case(
                args=copies(*args),
                expected=temporal_softmax_cross_entropy(*copies(*args)),
                label=_label(r),
                dims={"N": r["N"], "T": r["T"], "V": r["V"]},
                raw=r,
            )
        )
    return run(ex, learner_fn, cases, time_limit=time_limit)


# -- perplexity ---------------------------------------------------------------------------------


def _ppl_variant(kind: str) -> Callable[[Case], float]:
    def variant(case: Case) -> float:
        r = case.raw
        logp = log_softmax(r["logits"])
        nll = -np.take_along_axis(logp, r["y"][..., None], axis=-1)[..., 0]
        m = r["mask"].astype(float)
        mean = float((m * nll).sum() / m.sum())
        if kind == "per_sequence":
            return float(np.mean(np.exp((m * nll).sum(axis=1) / m.sum(axis=1))))
        if kind == "no_mask":
            return math.exp(float(nll.mean()))
        if kind == "base2":
            return 2.0**mean
        if kind == "sum":
            return math.exp(float((m * nll).sum()))
        if kind == "no_exp":
            return mean
        if kind == "mean_of_exp":
            return float((m * np.exp(nll)).sum() / m.sum())
        if kind == "unstable":
            e = np.exp(r["logits"])
            p = np.take_along_axis(e / e.sum(axis=-1, keepdims=True), r["y"][..., None], axis=-1)[..., 0]
            return math.exp(float((m * -np.log(p)).sum() / m.sum()))
        raise ValueError(kind)

    return variant


def check_perplexity(learner_fn: Callable, *, time_limit: float | None = None) -> Feedback:
    """Check ``perplexity_from_logits(logits, y, mask) -> float``: exp of the token-weighted mean NLL."""
    ex = Exercise(
        name="perplexity_from_logits",
        signature="perplexity_from_logits(logits, y, mask)",
        returns=Scalar("perplexity"),
        variants=(
            Variant(
                "you averaged the perplexities of the sequences (per-sequence/per-batch perplexity); perplexity is "
                "exp of ONE mean NLL over all real tokens (a mean of exponentials is a different number, and it "
                "weighs a short sequence as much as a long one).",
                _ppl_variant("per_sequence"),
            ),
            Variant("you forgot the mask: padded positions must not count.", _ppl_variant("no_mask")),
            Variant(
                "you used 2 ** mean_nll; with natural-log NLL (nats) perplexity is exp(mean_nll).",
                _ppl_variant("base2"),
            ),
            Variant("you exponentiated the SUM of the NLLs; use the mean over real tokens.", _ppl_variant("sum")),
            Variant("you returned the mean NLL itself; perplexity is exp(mean NLL).", _ppl_variant("no_exp")),
            Variant(
                "you averaged exp(nll) per token; perplexity is exp of the mean nll (exp outside the mean).",
                _ppl_variant("mean_of_exp"),
            ),
            Variant(
                "exp overflowed: subtract each row's maximum logit before np.exp (log-sum-exp).",
                _ppl_variant("unstable"),
            ),
        ),
        hints=(_overflow_hint,),
    )
    cases = []
    for r in _loss_inputs("perplexity_from_logits"):
        args = (r["logits"], r["y"], r["mask"])
        cases.append(
            Case(
                args=copies(*args),
                expected=perplexity_from_logits(*copies(*args)),
                label=_label(r),
                dims={"N": r["N"], "T": r["T"], "V": r["V"]},
                raw=r,
            )
        )
    return run(ex, learner_fn, cases, time_limit=time_limit)


# -- bits per character -------------------------------------------------------------------------


def check_bits_per_char(learner_fn: Callable, *, time_limit: float | None = None) -> Feedback:
    """Check ``bits_per_char(mean_nll) -> float``: the mean NLL in nats converted to bits (``/ ln 2``)."""
    ex = Exercise(
        name="bits_per_char",
        signature="bits_per_char(mean_nll)",
        returns=Scalar("bits per character"),
        variants=(
            Variant("you multiplied by ln 2; converting nats to bits DIVIDES by ln 2 (log2(x) = ln(x) / ln 2).",
                    lambda c: c.raw["nll"] * math.log(2.0)),
            Variant("you took log2 of the NLL; the NLL is already a logarithm: just change its base, nll / ln 2.",
                    lambda c: math.log2(c.raw["nll"]) if c.raw["nll"] > 0 else -math.inf),
            Variant(
                "you divided by ln 10 (that gives digits, not bits): divide by ln 2.",
                lambda c: c.raw["nll"] / math.log(10.0),
            ),
            Variant(
                "you returned exp(mean_nll), the perplexity; bits per character is mean_nll / ln 2.",
                lambda c: math.exp(c.raw["nll"]),
            ),
            Variant("you returned the NLL unchanged (nats); divide by ln 2 to get bits.", lambda c: c.raw["nll"]),
            Variant(
                "you returned 2 ** mean_nll; bits per character is mean_nll / ln 2 (log2 of the perplexity).",
                lambda c: 2.0 ** c.raw["nll"],
            ),
        ),
    )
    cases = [
        Case(args=(v,), expected=bits_per_char(v), label=f"mean_nll={v:.6g}", raw={"nll": v})
        for v in (math.log(4.0), 2.3, 0.05, 4.1, 0.0)
    ]
    return run(ex, learner_fn, cases, time_limit=time_limit)
