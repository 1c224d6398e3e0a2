"""Chapter 7 (training recurrent networks well) exercises: embedding backward, parameter counts, dropout,
layer normalisation."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from companion.exercises._common import broadcast_hint, copies, generator, normal
from companion.exercises.feedback import Feedback
from companion.exercises.runner import Anything, Array, Case, Exercise, Integer, Problem, Tuple, Variant, run
from companion.numpy.dropout import DropoutCache, dropout_backward, locked_dropout_mask
from companion.numpy.layers import EmbeddingCache, embedding_backward
from companion.numpy.normalisation import layer_norm_forward
from companion.torch.deep import count_stacked_lstm_parameters
from companion.torch.regularisation import count_lm_parameters

__all__ = [
    "check_embedding_backward",
    "check_count_lm_parameters",
    "check_dropout_backward",
    "check_locked_dropout_mask",
    "check_count_stacked_lstm_parameters",
    "check_layer_norm_forward",
]


# -- embedding backward ------------------------------------------------------------------------


def _embedding_variant(kind: str) -> Callable[[Case], np.ndarray]:
    def variant(case: Case) -> np.ndarray:
        idx, W, dout = case.raw["idx"], case.raw["W"], case.raw["dout"]
        if kind == "buffered":
            dW = np.zeros_like(W)
            dW[idx] += dout  # fancy-index += keeps only the last write of a repeated id
            return dW
        if kind == "from_W":
            dW = W.copy()
            np.add.at(dW, idx, dout)
            return dW
        if kind == "mean":
            dW = np.zeros_like(W)
            np.add.at(dW, idx, dout)
            counts = np.bincount(idx.ravel(), minlength=W.shape[0])
            return dW / np.maximum(counts, 1)[:, None]
        if kind == "first_sample":
            dW = np.zeros_like(W)
            np.add.at(dW, idx[:1], dout[:1])
            return dW
        raise ValueError(kind)

    return variant


def _repeated_ids_hint(case: Case, got: Any, problem: Problem) -> str | None:
    idx = case.raw["idx"]
    if problem.kind != "values" or not isinstance(got, np.ndarray) or got.shape != case.raw["W"].shape:
        return None
    once = np.bincount(idx.ravel(), minlength=got.shape[0]) == 1
    if np.allclose(got[once], case.expected[once]) and not np.allclose(got, case.expected):
        return (
            "the rows of tokens that occur once are right, those of repeated tokens are not: every occurrence "
            "must ADD its dout row (np.add.at(dW, idx, dout)); dW[idx] += dout keeps only one of them."
        )
    return None


def check_embedding_backward(learner_fn: Callable, *, time_limit: float | None = None) -> Feedback:
    """Check ``embedding_backward(dout, cache) -> dW``: scatter-add of dout (N, T, D) into a (V, D) zero matrix."""
    rng = generator("embedding_backward")
    specs = [  # (idx, V, D): repeats within and across rows, unused tokens, one token everywhere, N = T = 1
        (np.array([[0, 2, 2, 5], [2, 1, 0, 0]]), 7, 3),
        (np.array([[3, 3, 3], [3, 3, 3]]), 4, 2),
        (np.array([[1]]), 3, 5),
        (rng.integers(0, 6, size=(4, 9)), 6, 4),
    ]
    cases = []
    for idx, V, D in specs:
        W, dout = normal(rng, V, D), normal(rng, *idx.shape, D)
        cache = EmbeddingCache(idx.copy(), W.copy())
        N, T = idx.shape
        cases.append(
            Case(
                args=copies(dout, cache),
                expected=embedding_backward(*copies(dout, cache)),
                label=f"N={N}, T={T}, V={V}, D={D}, idx={idx.tolist()}",
                dims={"N": N, "T": T, "V": V, "D": D},
                raw={"idx": idx, "W": W, "dout": dout},
            )
        )
    ex = Exercise(
        name="embedding_backward",
        signature="embedding_backward(dout, cache)",
        returns=Array("dW", axes="V D", gradient=True),
        variants=(
            Variant(
                "dW[idx] += dout does not accumulate: for a token that occurs several times NumPy writes only "
                "one of its rows. Use the unbuffered np.add.at(dW, idx, dout).",
                _embedding_variant("buffered"),
            ),
            Variant(
                "you started from W; the gradient starts from zeros: dW = np.zeros_like(W).",
                _embedding_variant("from_W"),
            ),
            Variant(
                "you averaged the rows of a repeated token; the gradient is their SUM (each occurrence "
                "contributes to the loss).",
                _embedding_variant("mean"),
            ),
            Variant(
                "only the first sequence contributed: sum over every (n, t) position of the batch.",
                _embedding_variant("first_sample"),
            ),
        ),
        hints=(_repeated_ids_hint,),
    )
    return run(ex, learner_fn, cases, time_limit=time_limit)


# -- parameter count of a (tied) language model ------------------------------------------------


def _count_variant(kind: str) -> Callable[[Case], int]:
    def variant(case: Case) -> int:
        V, E, H, tied = (case.raw[k] for k in ("V", "E", "H", "tied"))
        embedding, lstm, head_w, head_b = V * E, 4 * H * (E + H) + 8 * H, V * H, V
        if kind == "one_bias":
            lstm -= 4 * H
        if kind == "no_gates":
            lstm = H * (E + H) + 2 * H
        if kind == "tie_drops_bias" and tied:
            head_b = 0
        if kind == "tie_ignored" or not tied:
            return embedding + lstm + head_w + head_b
        if kind == "tie_drops_embedding_twice":
            return lstm + head_b  # both V x H matrices removed
        return embedding + lstm + head_b

    return variant


def check_count_lm_parameters(learner_fn: Callable, *, time_limit: float | None = None) -> Feedback:
    """Check ``count_lm_parameters(vocab_size, embed_dim, hidden_size, tied) -> int`` (embedding, LSTM, head)."""
    specs = [(10, 4, 6, False), (10, 6, 6, True), (65, 32, 128, False), (1000, 64, 64, True), (1, 1, 1, True),
             (3, 2, 5, False)]
    cases = [
        Case(
            args=(V, E, H, tied),
            expected=count_lm_parameters(V, E, H, tied),
            label=f"vocab_size={V}, embed_dim={E}, hidden_size={H}, tied={tied}",
            raw={"V": V, "E": E, "H": H, "tied": tied},
        )
        for V, E, H, tied in specs
    ]
    ex = Exercise(
        name="count_lm_parameters",
        signature="count_lm_parameters(vocab_size, embed_dim, hidden_size, tied)",
        returns=Integer("number of parameters"),
        variants=(
            Variant(
                "torch.nn.LSTM keeps two bias vectors, bias_ih and bias_hh, each 4H long: 8H bias numbers.",
                _count_variant("one_bias"),
            ),
            Variant(
                "an LSTM has four gate blocks (i, f, g, o): its weights are 4H x (E + H) and its biases 2 x 4H.",
                _count_variant("no_gates"),
            ),
            Variant(
                "with tied=True the head's weight IS the embedding matrix: subtract its V x H numbers once.",
                _count_variant("tie_ignored"),
            ),
            Variant(
                "tying shares only the weight matrix; the head keeps its own bias (V numbers).",
                _count_variant("tie_drops_bias"),
            ),
            Variant(
                "tying removes ONE copy of the (V, H) matrix, not the embedding and the head weight both.",
                _count_variant("tie_drops_embedding_twice"),
            ),
        ),
    )
    return run(ex, learner_fn, cases, time_limit=time_limit)


# -- dropout backward --------------------------------------------------------------------------


def _dropout_variant(kind: str) -> Callable[[Case], np.ndarray]:
    def variant(case: Case) -> np.ndarray:
        dout, keep, p = case.raw["dout"], case.raw["keep"], case.raw["p"]
        if kind == "no_scale":
            return dout * keep
        if kind == "times_keep_prob":
            return dout * keep * (1 - p)
        if kind == "no_mask":
            return dout / (1 - p)
        if kind == "identity":
            return dout.copy()
        if kind == "inverted":
            return dout * ~keep / (1 - p)
        if kind == "divide_by_p":
            return dout * keep / p
        raise ValueError(kind)

    return variant


def check_dropout_backward(learner_fn: Callable, *, time_limit: float | None = None) -> Feedback:
    """Check ``dropout_backward(dout, cache) -> dx`` for ``cache = (keep, p)``: ``dx = dout * keep / (1 - p)``."""
    rng = generator("dropout_backward")
    specs = [((3, 4, 5), (3, 4, 5), 0.5), ((2, 6, 3), (2, 1, 3), 0.25), ((4, 3), (4, 3), 0.8),
             ((1, 1, 2), (1, 1, 2), 0.1)]
    cases = []
    for shape, mask_shape, p in specs:
        keep = rng.random(mask_shape) >= p
        keep.flat[0], keep.flat[-1] = True, False  # at least one kept and one dropped unit
        dout = normal(rng, *shape)
        cache = DropoutCache(keep, p)
        kind = "locked mask (N, 1, D)" if mask_shape != shape else "mask of dout's shape"
        cases.append(
            Case(
                args=copies(dout, cache),
                expected=dropout_backward(*copies(dout, cache)),
                label=f"dout {shape}, keep {mask_shape} ({kind}), p={p}",
                raw={"dout": dout, "keep": keep, "p": p},
            )
        )
    ex = Exercise(
        name="dropout_backward",
        signature="dropout_backward(dout, cache)",
        returns=Array("dx", gradient=True),
        variants=(
            Variant(
                "the forward pass divided the kept units by 1 - p, so the backward pass must too: "
                "dx = dout * keep / (1 - p).",
                _dropout_variant("no_scale"),
            ),
            Variant("you multiplied by 1 - p; inverted dropout DIVIDES by the keep probability 1 - p.",
                    _dropout_variant("times_keep_prob")),
            Variant("dropped units (keep == False) get no gradient: multiply by the mask too.",
                    _dropout_variant("no_mask")),
            Variant("you passed dout through unchanged; multiply by keep / (1 - p).", _dropout_variant("identity")),
            Variant("the mask is inverted: keep == True marks the units that were KEPT.", _dropout_variant("inverted")),
            Variant("p is the DROP probability; the kept units were scaled by 1 / (1 - p), not 1 / p.",
                    _dropout_variant("divide_by_p")),
        ),
    )
    return run(ex, learner_fn, cases, time_limit=time_limit)


# -- locked dropout mask -----------------------------------------------------------------------


def _locked_variant(kind: str) -> Callable[[Case], np.ndarray]:
    def variant(case: Case) -> np.ndarray:
        N, T, D, p, seed = (case.raw[k] for k in ("N", "T", "D", "p", "seed"))
        rng = np.random.default_rng(seed)
        if kind == "per_step":
            return (rng.random((N, T, D)) >= p) / (1 - p)
        shape = (1, 1, D) if kind == "shared_batch" else (N, 1, D)
        u = rng.random(shape)
        keep = u < p if kind == "keep_below_p" else u >= p
        if kind == "no_scale":
            return np.broadcast_to(keep.astype(float), (N, T, D)).copy()
        if kind == "times_keep_prob":
            return np.broadcast_to(keep * (1 - p), (N, T, D)).copy()
        return np.broadcast_to(keep / (1 - p), (N, T, D)).copy()

    return variant


def _mask_properties(case: Case, got: Any, problem: Problem) -> str | None:
    """Explain a wrong mask by what it is, when no known mistake reproduces it exactly."""
    N, T, D, p = (case.raw[k] for k in ("N", "T", "D", "p"))
    if problem.kind != "values" or not isinstance(got, np.ndarray) or got.shape != (N, T, D):
        return None
    if T > 1 and not np.all(got == got[:, :1]):
        return "the mask changes from one time step to the next; locked dropout uses ONE mask per sequence."
    values = set(np.unique(got).tolist())
    if not values <= {0.0, 1.0 / (1.0 - p)}:
        return f"entries must be 0 (dropped) or 1 / (1 - p) = {1 / (1 - p):.6g} (kept); got values {sorted(values)[:4]}."
    return "draw exactly u = rng.random((N, 1, D)) once and keep the entries with u >= p, so the checker can compare."


def check_locked_dropout_mask(learner_fn: Callable, *, time_limit: float | None = None) -> Feedback:
    """Check ``locked_dropout_mask(N, T, D, p, rng) -> (N, T, D)``: one scaled mask per sequence, repeated over T."""
    specs = [(3, 5, 4, 0.5, 11), (2, 7, 6, 0.25, 12), (4, 1, 3, 0.6, 13), (1, 4, 8, 0.1, 14), (2, 3, 2, 0.0, 15)]
    cases = []
    for N, T, D, p, seed in specs:
        cases.append(
            Case(
                args=(N, T, D, p, np.random.default_rng(seed)),
                expected=locked_dropout_mask(N, T, D, p, np.random.default_rng(seed)),
                label=f"N={N}, T={T}, D={D}, p={p}, rng=np.random.default_rng({seed})",
                dims={"N": N, "T": T, "D": D},
                raw={"N": N, "T": T, "D": D, "p": p, "seed": seed},
            )
        )
    ex = Exercise(
        name="locked_dropout_mask",
        signature="locked_dropout_mask(N, T, D, p, rng)",
        returns=Array("mask", axes="N T D"),
        variants=(
            Variant(
                "you drew a new mask at every time step (rng.random((N, T, D))); locked dropout draws "
                "rng.random((N, 1, D)) once and repeats it along T.",
                _locked_variant("per_step"),
            ),
            Variant(
                "the kept entries must be scaled by 1 / (1 - p) (inverted dropout), so that the expected "
                "value of x * mask is x.",
                _locked_variant("no_scale"),
            ),
            Variant("you multiplied by 1 - p; divide the kept entries by 1 - p.", _locked_variant("times_keep_prob")),
            Variant(
                "p is the DROP probability: keep the entries with u >= p (kept with probability 1 - p).",
                _locked_variant("keep_below_p"),
            ),
            Variant(
                "one mask for the whole batch (shape (1, 1, D)); each sequence gets its own: rng.random((N, 1, D)).",
                _locked_variant("shared_batch"),
            ),
        ),
        hints=(_mask_properties,),
    )
    return run(ex, learner_fn, cases, time_limit=time_limit)


# -- parameter count of a stacked LSTM (section 7c) --------------------------------------------


def _stack_variant(kind: str) -> Callable[[Case], int]:
    def variant(case: Case) -> int:
        D, H, L, ln = (case.raw[k] for k in ("D", "H", "L", "layer_norm"))
        first, upper = 4 * H * (D + H) + 8 * H, 4 * H * (2 * H) + 8 * H
        norms = 2 * H * (L - 1) if ln else 0
        if kind == "one_bias":
            first, upper = first - 4 * H, upper - 4 * H
        if kind == "upper_input_D":
            upper = 4 * H * (D + H) + 8 * H
        if kind == "norm_per_layer" and ln:
            norms = 2 * H * L
        if kind == "norm_gain_only" and ln:
            norms = H * (L - 1)
        if kind == "norm_ignored":
            norms = 0
        return first + (L - 1) * upper + norms

    return variant


def check_count_stacked_lstm_parameters(learner_fn: Callable, *, time_limit: float | None = None) -> Feedback:
    """Check ``count_stacked_lstm_parameters(input_size, hidden_size, num_layers, layer_norm) -> int``."""
    specs = [(3, 2, 1, False), (3, 2, 3, False), (3, 2, 3, True), (16, 50, 3, True), (16, 50, 2, False),
             (5, 5, 4, True), (1, 1, 2, True)]
    cases = [
        Case(
            args=(D, H, L, ln),
            expected=count_stacked_lstm_parameters(D, H, L, ln),
            label=f"input_size={D}, hidden_size={H}, num_layers={L}, layer_norm={ln}",
            raw={"D": D, "H": H, "L": L, "layer_norm": ln},
        )
        for D, H, L, ln in specs
    ]
    ex = Exercise(
        name="count_stacked_lstm_parameters",
        signature="count_stacked_lstm_parameters(input_size, hidden_size, num_layers, layer_norm)",
        returns=Integer("number of parameters"),
        variants=(
            Variant("torch.nn.LSTM keeps two bias vectors per layer, bias_ih and bias_hh: 8H bias numbers.",
                    _stack_variant("one_bias")),
            Variant("the layers above the first read the H outputs of the layer below, not the D inputs: "
                    "their input weights are 4H x H.", _stack_variant("upper_input_D")),
            Variant("layer normalisation sits BETWEEN layers: L - 1 of them, not L.",
                    _stack_variant("norm_per_layer")),
            Variant("each LayerNorm has a gain AND a bias of H numbers each: 2H per connection.",
                    _stack_variant("norm_gain_only")),
            Variant("with layer_norm=True add the LayerNorm parameters (2H per connection between layers).",
                    _stack_variant("norm_ignored")),
        ),
    )
    return run(ex, learner_fn, cases, time_limit=time_limit)


# -- layer normalisation forward (section 7c) --------------------------------------------------


def _layer_norm_variant(kind: str) -> Callable[[Case], tuple]:
    def variant(case: Case) -> tuple:
        x, gamma, beta, eps = (case.raw[k] for k in ("x", "gamma", "beta", "eps"))
        axis: int | tuple[int, ...] = -1
        if kind == "batch_axis":
            axis = 0
        if kind == "time_axis":
            if x.ndim != 3:
                raise ValueError("no time axis")
            axis = 1
        if kind == "all_axes":
            axis = tuple(range(x.ndim))
        mu = x.mean(axis=axis, keepdims=True)
        var = x.var(axis=axis, keepdims=True, ddof=1 if kind == "ddof1" else 0)
        if kind == "eps_outside":
            xhat = (x - mu) / (np.sqrt(var) + eps)
        elif kind == "no_eps":
            xhat = (x - mu) / np.sqrt(var)
        elif kind == "no_sqrt":
            xhat = (x - mu) / (var + eps)
        else:
            xhat = (x - mu) / np.sqrt(var + eps)
        out = {
            "gamma_ignored": xhat + beta,
            "beta_ignored": gamma * xhat,
            "both_ignored": xhat,
            "swapped": beta * xhat + gamma,
        }.get(kind, gamma * xhat + beta)
        return out, None

    return variant


def _layer_norm_properties(case: Case, got: Any, problem: Problem) -> str | None:
    """Explain a wrong output by the statistics of its vectors, when no known mistake reproduces it."""
    out = got[0] if isinstance(got, (tuple, list)) and got else None
    if problem.kind != "values" or not isinstance(out, np.ndarray) or out.shape != case.raw["x"].shape:
        return None
    xhat = (out - case.raw["beta"]) / case.raw["gamma"]
    if not np.allclose(xhat.mean(axis=-1), 0.0, atol=1e-6):
        return (
            "(out - beta) / gamma should have mean 0 along the last axis for every vector: subtract the mean of "
            "each vector's D features, x.mean(axis=-1, keepdims=True)."
        )
    return None


def check_layer_norm_forward(learner_fn: Callable, *, time_limit: float | None = None) -> Feedback:
    """Check ``layer_norm_forward(x, gamma, beta, eps=1e-5) -> (out, cache)`` over the last axis of ``x (..., D)``.

    ``out = gamma * (x - mu) / sqrt(var + eps) + beta`` with the mean and biased variance of each length-D
    vector; the cache is not graded (any object).
    """
    rng = generator("layer_norm_forward")
    specs = [  # (shape, eps passed or None for the default, scale): tiny variances make eps's place matter
        ((4, 3, 5), None, 1.0), ((3, 6), None, 1.0), ((2, 3, 4), 0.1, 1.0), ((3, 2, 6), None, 0.01),
        ((2, 4, 8), None, 2.0), ((1, 1, 3), 1e-3, 0.5),
    ]
    cases = []
    for i, (shape, eps, scale) in enumerate(specs):
        D = shape[-1]
        x = 0.7 + normal(rng, *shape, scale=scale)
        if i == 4:
            x[1, 2] = 3.0  # a constant vector: its variance is 0, only eps keeps the division finite
        gamma, beta = 1.0 + 0.5 * normal(rng, D), 0.3 * normal(rng, D)
        kwargs = {} if eps is None else {"eps": eps}
        cases.append(
            Case(
                args=copies(x, gamma, beta),
                kwargs=kwargs,
                expected=layer_norm_forward(*copies(x, gamma, beta), **kwargs),
                label=f"x {shape}, D={D}, " + ("eps left at its default 1e-5" if eps is None else f"eps={eps}")
                + (", one constant vector x[1, 2]" if i == 4 else ""),
                dims=dict(zip("NTD" if len(shape) == 3 else "ND", shape)),
                raw={"x": x, "gamma": gamma, "beta": beta, "eps": 1e-5 if eps is None else eps},
            )
        )
    last_axis = "layer normalisation normalises each vector over its own D features, the LAST axis: "
    ex = Exercise(
        name="layer_norm_forward",
        signature="layer_norm_forward(x, gamma, beta, eps=1e-5)",
        returns=Tuple(Array("out", axes="N T D"), Anything("cache")),
        variants=(
            Variant("you normalised over the batch axis (axis 0), which is batch normalisation; "
                    + last_axis + "x.mean(axis=-1, keepdims=True).", _layer_norm_variant("batch_axis")),
            Variant("you normalised over the time axis (axis 1); " + last_axis + "axis=-1.",
                    _layer_norm_variant("time_axis")),
            Variant("you took one mean and variance over the whole array; " + last_axis + "axis=-1 with "
                    "keepdims=True.", _layer_norm_variant("all_axes")),
            Variant("you used the unbiased variance (ddof=1, dividing by D - 1); layer normalisation divides by D: "
                    "np.mean((x - mu) ** 2, axis=-1, keepdims=True), or x.var(axis=-1, keepdims=True).",
                    _layer_norm_variant("ddof1")),
            Variant("eps goes INSIDE the square root: (x - mu) / np.sqrt(var + eps), not np.sqrt(var) + eps.",
                    _layer_norm_variant("eps_outside")),
            Variant("add eps to the variance, inside the square root: (x - mu) / np.sqrt(var + eps). Without it a "
                    "constant vector (variance 0) divides by zero.", _layer_norm_variant("no_eps")),
            Variant("divide by the standard deviation np.sqrt(var + eps), not by the variance.",
                    _layer_norm_variant("no_sqrt")),
            Variant("gamma was ignored: scale the normalised vector, out = gamma * xhat + beta.",
                    _layer_norm_variant("gamma_ignored")),
            Variant("beta was ignored: shift the scaled vector, out = gamma * xhat + beta.",
                    _layer_norm_variant("beta_ignored")),
            Variant("gamma and beta were ignored: the normalised xhat must still be scaled and shifted, "
                    "out = gamma * xhat + beta.", _layer_norm_variant("both_ignored")),
            Variant("gamma and beta are swapped: gamma is the gain (multiplies xhat), beta the bias (is added).",
                    _layer_norm_variant("swapped")),
        ),
        hints=(_layer_norm_properties,),
        exception_hint=broadcast_hint,
    )
    return run(ex, learner_fn, cases, time_limit=time_limit)
