"""Attention in NumPy, one equation per function, each with its hand-written backward pass.

An attention step of a decoder compares its state (the *query*) with every encoder
output (the *keys*, which here are also the *values*), turns the comparison into
weights over the source positions, and returns their weighted average (the *context*):

.. math::

    e_s = \\operatorname{score}(q, k_s), \\qquad
    \\alpha = \\operatorname{softmax}_{s:\\,m_s}(e), \\qquad
    c = \\sum_s \\alpha_s v_s ,

where the softmax runs over the real (unmasked, ``m_s`` true) positions only, so
padding is never attended to.  Three scores:

- additive (Bahdanau et al., 2015): ``e_s = v . tanh(q Wq + k_s Wk)``;
- multiplicative, "general" (Luong et al., 2015): ``e_s = (q W) . k_s``;
- scaled dot product (Vaswani et al., 2017): ``e_s = q . k_s / sqrt(d)``.

Arrays are batch-first: a query ``(N, Hq)``, keys and values ``(N, S, Hk)``, a mask
``(N, S)`` of booleans, **True for a position that may be attended to** (the
convention of ``torch.nn.functional.scaled_dot_product_attention``; note that
``torch.nn.MultiheadAttention``'s ``key_padding_mask`` uses the opposite one).

The sequence-to-sequence forms (scaled dot-product attention over many queries at
once, multi-head attention) take ``(..., T, d)`` queries and any leading axes.
Forward functions return ``(out, cache)`` (or ``(out, weights, cache)``), backward
functions take ``(dout, cache)``.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from companion._checks import check_array, check_shapes, check_size
from companion.numpy.rnn import rnn_step_backward, rnn_step_forward

__all__ = [
    "padding_mask",
    "causal_mask",
    "masked_softmax",
    "masked_softmax_backward",
    "additive_score_forward",
    "additive_score_backward",
    "general_score_forward",
    "general_score_backward",
    "scaled_dot_score_forward",
    "scaled_dot_score_backward",
    "SCORES",
    "context_forward",
    "context_backward",
    "attention_backward",
    "attention_forward",
    "attention_forward_backward",
    "additive_attention_forward",
    "additive_attention_backward",
    "attention_output_forward",
    "attention_output_backward",
    "attention_decoder_step_forward",
    "attention_decoder_step_backward",
    "attention_seq2seq_forward",
    "attention_seq2seq_backward",
    "scaled_dot_product_attention_forward",
    "scaled_dot_product_attention_backward",
    "multi_head_attention_forward",
    "multi_head_attention_backward",
    "mha_params_from_state_dict",
    "sinusoidal_positional_encoding",
]


# -- masks -----------------------------------------------------------------------------------


def padding_mask(lengths: Any, max_len: int) -> np.ndarray:
    """``mask[n, s] = s < lengths[n]``: True on the real positions of each padded sequence.

    Parameters
    ----------
    lengths : array_like of int, shape (N,)
        True lengths, each in ``[1, max_len]`` (an empty source has nothing to attend to).
    max_len : int
        S, the padded length.

    Returns
    -------
    ndarray of bool, shape (N, S)
    """
    S = check_size("max_len", max_len)
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or lengths.size == 0 or not np.issubdtype(lengths.dtype, np.integer):
        raise ValueError(f"lengths must be a non-empty 1-D integer array, got shape {lengths.shape}, dtype {lengths.dtype}")
    if lengths.min() < 1 or lengths.max() > S:
        raise ValueError(f"lengths must lie in [1, max_len={S}], got values in [{lengths.min()}, {lengths.max()}]")
    return np.arange(S)[None, :] < lengths[:, None]


def causal_mask(T: int, S: int | None = None) -> np.ndarray:
    """``mask[t, s] = s <= t``: query t may look at positions up to itself, never ahead.

    Returns
    -------
    ndarray of bool, shape (T, S), S = T by default
    """
    T = check_size("T", T)
    S = T if S is None else check_size("S", S)
    return np.arange(S)[None, :] <= np.arange(T)[:, None]


def _check_mask(mask: Any, shape: tuple[int, ...]) -> np.ndarray | None:
    if mask is None:
        return None
    if not isinstance(mask, np.ndarray) or mask.dtype != bool:
        got = f"dtype {mask.dtype}" if isinstance(mask, np.ndarray) else type(mask).__name__
        raise TypeError(f"mask must be a boolean numpy array (True = may be attended to), got {got}")
    try:
        full = np.broadcast_shapes(mask.shape, shape)
    except ValueError:
        full = None
    if full != tuple(shape):
        raise ValueError(f"mask of shape {mask.shape} does not broadcast to the scores' shape {tuple(shape)}")
    return mask


# -- masked softmax ---------------------------------------------------------------------------


def masked_softmax(
    scores: np.ndarray, mask: np.ndarray | None = None, axis: int = -1
) -> np.ndarray:
    """Softmax along ``axis`` over the positions where ``mask`` is True; exactly 0 elsewhere.

    ``alpha_s = exp(e_s) / sum_{s': m_s'} exp(e_s')`` for ``m_s`` true, else 0.
    Masked scores are set to ``-inf`` before the (max-shifted) exponential, so a
    padded position gets weight 0 whatever its score, and no mass leaks to it.

    Parameters
    ----------
    scores : ndarray, any shape
    mask : ndarray of bool, broadcastable to ``scores.shape``, optional
        True where attention is allowed; None allows every position.
    axis : int
        The source axis (softmax runs along it).

    Returns
    -------
    weights : ndarray, shape of ``scores``
        Non-negative, summing to 1 along ``axis``.

    Raises
    ------
    ValueError
        If some row has no allowed position at all.  Such a row has no
        distribution to return (``0/0``): torch returns NaN there, which would
        poison every gradient; here it is an error naming the row, because it
        means the mask is wrong (an empty source, or padding on the wrong side).
    """
    check_array("scores", scores)
    mask = _check_mask(mask, scores.shape)
    axis = axis % scores.ndim
    if mask is not None:
        allowed = np.broadcast_to(mask, scores.shape)
        empty = ~allowed.any(axis=axis)
        if empty.any():
            row = tuple(int(i) for i in np.argwhere(empty)[0])
            raise ValueError(
                f"mask allows no position in row {row} (axis {axis} removed): softmax "
                "over an empty set is undefined; every query needs at least one real "
                "key (check the lengths and the padding side)"
            )
        scores = np.where(allowed, scores, -np.inf)
    shifted = scores - scores.max(axis=axis, keepdims=True)  # largest allowed: exp(0) = 1
    e = np.exp(shifted)  # exp(-inf) = 0: masked positions get exactly nothing
    return e / e.sum(axis=axis, keepdims=True)


def masked_softmax_backward(dweights: np.ndarray, weights: np.ndarray, axis: int = -1) -> np.ndarray:
    """Backward of :func:`masked_softmax`: ``de_s = alpha_s (dalpha_s - sum_s' alpha_s' dalpha_s')``.

    The softmax Jacobian is ``diag(alpha) - alpha alpha^T``; masked positions have
    ``alpha_s = 0``, so their scores get zero gradient (they did not influence anything).

    Parameters
    ----------
    dweights : ndarray
        ``dL/dalpha``, shape of ``weights``.
    weights : ndarray
        The output of :func:`masked_softmax`.
    axis : int

    Returns
    -------
    dscores : ndarray, shape of ``weights``
    """
    check_array("dweights", dweights)
    check_array("weights", weights)
    if dweights.shape != weights.shape:
        raise ValueError(f"dweights has shape {dweights.shape} but weights has shape {weights.shape}")
    inner = (weights * dweights).sum(axis=axis, keepdims=True)  # the alpha alpha^T part, one number per row
    return weights * (dweights - inner)


# -- scores -----------------------------------------------------------------------------------


class AdditiveScoreCache(NamedTuple):
    query: np.ndarray  # (N, Hq)
    keys: np.ndarray  # (N, S, Hk)
    Wq: np.ndarray  # (Hq, A)
    Wk: np.ndarray  # (Hk, A)
    v: np.ndarray  # (A,)
    hidden: np.ndarray  # (N, S, A) tanh(q Wq + k_s Wk)


def additive_score_forward(
    query: np.ndarray, keys: np.ndarray, Wq: np.ndarray, Wk: np.ndarray, v: np.ndarray
) -> tuple[np.ndarray, AdditiveScoreCache]:
    """Additive (Bahdanau) score ``e_s = v . tanh(q Wq + k_s Wk)``: a one-hidden-layer network per pair.

    Parameters
    ----------
    query : ndarray, shape (N, Hq)
        The decoder state ``s_{i-1}``.
    keys : ndarray, shape (N, S, Hk)
        The encoder outputs ``h_1 .. h_S``.
    Wq : ndarray, shape (Hq, A)
    Wk : ndarray, shape (Hk, A)
    v : ndarray, shape (A,)

    Returns
    -------
    scores : ndarray, shape (N, S)
    cache : AdditiveScoreCache
    """
    for name, arr in (("query", query), ("keys", keys), ("Wq", Wq), ("Wk", Wk), ("v", v)):
        check_array(name, arr)
    check_shapes(query=(query, "N Hq"), keys=(keys, "N S Hk"), Wq=(Wq, "Hq A"), Wk=(Wk, "Hk A"), v=(v, "A"))
    hidden = np.tanh((query @ Wq)[:, None, :] + keys @ Wk)  # the query's part is shared by all S positions
    return hidden @ v, AdditiveScoreCache(query, keys, Wq, Wk, v, hidden)


def additive_score_backward(
    dscores: np.ndarray, cache: AdditiveScoreCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Backward of :func:`additive_score_forward`.

    Returns
    -------
    dquery : (N, Hq)
    dkeys : (N, S, Hk)
    dWq : (Hq, A)
    dWk : (Hk, A)
    dv : (A,)
    """
    query, keys, Wq, Wk, v, hidden = _cache(cache, AdditiveScoreCache, "additive_score_forward")
    check_array("dscores", dscores)
    check_shapes(scores=(hidden[..., 0], "N S"), dscores=(dscores, "N S"))
    dv = np.einsum("ns,nsa->a", dscores, hidden)
    da = dscores[..., None] * v * (1.0 - hidden**2)  # through v . and tanh, (N, S, A)
    da_query = da.sum(axis=1)  # the query entered every position: its gradients add up
    A = v.shape[0]
    return (
        da_query @ Wq.T,
        da @ Wk.T,
        query.T @ da_query,
        keys.reshape(-1, keys.shape[-1]).T @ da.reshape(-1, A),
        dv,
    )


class GeneralScoreCache(NamedTuple):
    query: np.ndarray  # (N, Hq)
    keys: np.ndarray  # (N, S, Hk)
    W: np.ndarray  # (Hq, Hk)
    qW: np.ndarray  # (N, Hk)


def general_score_forward(query: np.ndarray, keys: np.ndarray, W: np.ndarray) -> tuple[np.ndarray, GeneralScoreCache]:
    """Multiplicative ("general", Luong) score ``e_s = q W k_s^T``.

    Parameters
    ----------
    query : ndarray, shape (N, Hq)
    keys : ndarray, shape (N, S, Hk)
    W : ndarray, shape (Hq, Hk)
        ``torch.nn.Linear(Hk, Hq, bias=False).weight`` applied to the keys.

    Returns
    -------
    scores : ndarray, shape (N, S)
    cache : GeneralScoreCache
    """
    for name, arr in (("query", query), ("keys", keys), ("W", W)):
        check_array(name, arr)
    check_shapes(query=(query, "N Hq"), keys=(keys, "N S Hk"), W=(W, "Hq Hk"))
    qW = query @ W
    return np.einsum("nk,nsk->ns", qW, keys), GeneralScoreCache(query, keys, W, qW)


def general_score_backward(
    dscores: np.ndarray, cache: GeneralScoreCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward of :func:`general_score_forward`: ``(dquery (N, Hq), dkeys (N, S, Hk), dW (Hq, Hk))``."""
    query, keys, W, qW = _cache(cache, GeneralScoreCache, "general_score_forward")
    check_array("dscores", dscores)
    check_shapes(keys=(keys, "N S Hk"), dscores=(dscores, "N S"))
    dqW = np.einsum("ns,nsk->nk", dscores, keys)
    return dqW @ W.T, dscores[..., None] * qW[:, None, :], query.T @ dqW


class ScaledDotScoreCache(NamedTuple):
    query: np.ndarray  # (N, H)
    keys: np.ndarray  # (N, S, H)


def scaled_dot_score_forward(query: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, ScaledDotScoreCache]:
    """Scaled dot-product score ``e_s = q . k_s / sqrt(H)``.

    Dividing by ``sqrt(H)`` keeps the scores of random unit-variance vectors at unit
    variance whatever their size, so the softmax does not saturate as ``H`` grows.

    Parameters
    ----------
    query : ndarray, shape (N, H)
    keys : ndarray, shape (N, S, H)

    Returns
    -------
    scores : ndarray, shape (N, S)
    cache : ScaledDotScoreCache
    """
    check_array("query", query)
    check_array("keys", keys)
    H = check_shapes(query=(query, "N H"), keys=(keys, "N S H"))["H"]
    return np.einsum("nh,nsh->ns", query, keys) / math.sqrt(H), ScaledDotScoreCache(query, keys)


def scaled_dot_score_backward(dscores: np.ndarray, cache: ScaledDotScoreCache) -> tuple[np.ndarray, np.ndarray]:
    """Backward of :func:`scaled_dot_score_forward`: ``(dquery (N, H), dkeys (N, S, H))``."""
    query, keys = _cache(cache, ScaledDotScoreCache, "scaled_dot_score_forward")
    check_array("dscores", dscores)
    check_shapes(keys=(keys, "N S H"), dscores=(dscores, "N S"))
    scale = 1.0 / math.sqrt(query.shape[1])
    return scale * np.einsum("ns,nsh->nh", dscores, keys), scale * dscores[..., None] * query[:, None, :]


#: The three scores by name: ``(forward, backward, parameter names)``.  ``forward(query, keys, *params)``
#: returns ``(scores, cache)``; ``backward(dscores, cache)`` returns ``(dquery, dkeys, *dparams)``.
SCORES: dict[str, tuple[Any, Any, tuple[str, ...]]] = {
    "additive": (additive_score_forward, additive_score_backward, ("Wq", "Wk", "v")),
    "general": (general_score_forward, general_score_backward, ("W",)),
    "scaled_dot": (scaled_dot_score_forward, scaled_dot_score_backward, ()),
}


def _cache(cache: Any, cls: type, forward: str) -> Any:
    if not isinstance(cache, cls):
        raise TypeError(f"cache must be the {cls.__name__} returned by {forward}, got {type(cache).__name__}")
    return cache


# -- context ----------------------------------------------------------------------------------


class ContextCache(NamedTuple):
    weights: np.ndarray  # (N, S)
    values: np.ndarray  # (N, S, D)


def context_forward(weights: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, ContextCache]:
    """The context vector ``c = sum_s alpha_s v_s``: a weighted average of the values.

    Parameters
    ----------
    weights : ndarray, shape (N, S)
        Attention weights (each row sums to 1).
    values : ndarray, shape (N, S, D)

    Returns
    -------
    context : ndarray, shape (N, D)
    cache : ContextCache
    """
    check_array("weights", weights)
    check_array("values", values)
    check_shapes(weights=(weights, "N S"), values=(values, "N S D"))
    return np.einsum("ns,nsd->nd", weights, values), ContextCache(weights, values)


def context_backward(dcontext: np.ndarray, cache: ContextCache) -> tuple[np.ndarray, np.ndarray]:
    """Backward of :func:`context_forward`: ``dalpha_s = dc . v_s`` and ``dv_s = alpha_s dc``.

    Returns
    -------
    dweights : (N, S)
    dvalues : (N, S, D)
    """
    weights, values = _cache(cache, ContextCache, "context_forward")
    check_array("dcontext", dcontext)
    check_shapes(values=(values, "N S D"), dcontext=(dcontext, "N D"))
    return np.einsum("nd,nsd->ns", dcontext, values), weights[..., None] * dcontext[:, None, :]


def attention_backward(dcontext: np.ndarray, weights: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Backward through ``c = sum_s alpha_s v_s`` with ``alpha = masked_softmax(e)``, down to the scores.

    The two steps of the chain rule, :func:`context_backward` then
    :func:`masked_softmax_backward`: padded positions (``alpha_s = 0``) get no gradient,
    neither for their score nor for their value.

    Parameters
    ----------
    dcontext : ndarray, shape (N, D)
        ``dL/dc``.
    weights : ndarray, shape (N, S)
        The attention weights of the forward pass.
    values : ndarray, shape (N, S, D)

    Returns
    -------
    dscores : ndarray, shape (N, S)
    dvalues : ndarray, shape (N, S, D)
    """
    dweights, dvalues = context_backward(dcontext, ContextCache(weights, values))
    return masked_softmax_backward(dweights, weights), dvalues


# -- one attention step: score, masked softmax, context -------------------------------------------


class AttentionCache(NamedTuple):
    score: str
    score_cache: Any
    weights: np.ndarray  # (N, S)
    values: np.ndarray  # (N, S, D)


def attention_forward(
    query: np.ndarray,
    keys: np.ndarray,
    mask: np.ndarray | None,
    score: str = "additive",
    params: dict[str, np.ndarray] | None = None,
    values: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, AttentionCache]:
    """One attention read: scores, masked softmax over the source, context.

    Parameters
    ----------
    query : ndarray, shape (N, Hq)
    keys : ndarray, shape (N, S, Hk)
    mask : ndarray of bool, shape (N, S), or None
        True on the real source positions.
    score : {"additive", "general", "scaled_dot"}
        See :data:`SCORES`.
    params : dict
        The score's parameters by name (``Wq, Wk, v`` / ``W`` / none).
    values : ndarray, shape (N, S, D), optional
        What is averaged; the keys themselves by default (as in Bahdanau et al.).

    Returns
    -------
    context : ndarray, shape (N, D)
    weights : ndarray, shape (N, S)
    cache : AttentionCache
    """
    if score not in SCORES:
        raise ValueError(f"score must be one of {sorted(SCORES)}, got {score!r}")
    forward, _, names = SCORES[score]
    params = {} if params is None else params
    missing = [n for n in names if n not in params]
    if missing:
        raise KeyError(f"the {score} score needs parameters {list(names)}; missing {missing}")
    values = keys if values is None else values
    scores, score_cache = forward(query, keys, *(params[n] for n in names))
    weights = masked_softmax(scores, mask)
    context, _ = context_forward(weights, values)
    return context, weights, AttentionCache(score, score_cache, weights, values)


def attention_forward_backward(
    dcontext: np.ndarray, cache: AttentionCache, values_are_keys: bool = True
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], np.ndarray | None]:
    """Backward of :func:`attention_forward`.

    Parameters
    ----------
    dcontext : ndarray, shape (N, D)
    cache : AttentionCache
    values_are_keys : bool
        True if the forward pass averaged the keys themselves (``values=None``): their
        two gradients (through the scores and through the average) are then added.

    Returns
    -------
    dquery : (N, Hq)
    dkeys : (N, S, Hk)
    dparams : dict, the score's parameter gradients by name
    dvalues : (N, S, D), or None when ``values_are_keys`` (already inside ``dkeys``)
    """
    score, score_cache, weights, values = _cache(cache, AttentionCache, "attention_forward")
    _, backward, names = SCORES[score]
    dscores, dvalues = attention_backward(dcontext, weights, values)
    dquery, dkeys, *dparams = backward(dscores, score_cache)
    if values_are_keys:
        return dquery, dkeys + dvalues, dict(zip(names, dparams)), None
    return dquery, dkeys, dict(zip(names, dparams)), dvalues


def additive_attention_forward(
    query: np.ndarray, keys: np.ndarray, mask: np.ndarray | None, Wq: np.ndarray, Wk: np.ndarray, v: np.ndarray
) -> tuple[np.ndarray, np.ndarray, AttentionCache]:
    """Bahdanau attention: ``e_s = v . tanh(q Wq + k_s Wk)``, ``alpha = masked softmax(e)``, ``c = sum alpha_s k_s``.

    Parameters
    ----------
    query : ndarray, shape (N, Hq)
    keys : ndarray, shape (N, S, Hk)
        Encoder outputs; they are also the values that are averaged.
    mask : ndarray of bool, shape (N, S), or None
        True on real positions.
    Wq : ndarray, shape (Hq, A)
    Wk : ndarray, shape (Hk, A)
    v : ndarray, shape (A,)

    Returns
    -------
    context : ndarray, shape (N, Hk)
    weights : ndarray, shape (N, S)
    cache : AttentionCache
    """
    scores, score_cache = additive_score_forward(query, keys, Wq, Wk, v)
    weights = masked_softmax(scores, mask)  # over the source axis; padding gets exactly 0
    context, _ = context_forward(weights, keys)
    return context, weights, AttentionCache("additive", score_cache, weights, keys)


def additive_attention_backward(
    dcontext: np.ndarray, cache: AttentionCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Backward of :func:`additive_attention_forward`: ``(dquery, dkeys, dWq, dWk, dv)``.

    ``dkeys`` adds the two paths by which each key acts: through its score and as a value.
    """
    dquery, dkeys, dparams, _ = attention_forward_backward(dcontext, cache, values_are_keys=True)
    return dquery, dkeys, dparams["Wq"], dparams["Wk"], dparams["v"]


# -- an attention decoder: one step, then the whole encoder-decoder ----------------------------


class OutputCache(NamedTuple):
    attention: AttentionCache
    combined: np.ndarray  # (N, Hk + H) [c_t ; h_t]
    h_tilde: np.ndarray  # (N, H) tanh([c_t ; h_t] Wc + bc)
    Wc: np.ndarray
    Wy: np.ndarray


def attention_output_forward(
    h: np.ndarray, memory: np.ndarray, mask: np.ndarray | None, params: dict[str, np.ndarray], score: str = "general"
) -> tuple[np.ndarray, np.ndarray, OutputCache]:
    """Luong et al.'s (2015) attentional output: read the source with ``h_t``, then predict.

    ``c_t = sum_s alpha_ts m_s`` with ``alpha_t = masked softmax(score(h_t, m))``,
    ``h~_t = tanh([c_t ; h_t] Wc + bc)`` and ``logits_t = h~_t Wy + by``.

    Parameters
    ----------
    h : ndarray, shape (N, H)
        The decoder state ``h_t`` (the query).
    memory : ndarray, shape (N, S, Hk)
        The encoder outputs (keys and values).
    mask : ndarray of bool, shape (N, S), or None
    params : dict
        The score's parameters (see :data:`SCORES`), ``Wc`` (Hk + H, H), ``bc`` (H,),
        ``Wy`` (H, V), ``by`` (V,).
    score : {"additive", "general", "scaled_dot"}

    Returns
    -------
    logits : ndarray, shape (N, V)
    weights : ndarray, shape (N, S)
    cache : OutputCache
    """
    for name in ("Wc", "bc", "Wy", "by"):
        if name not in params:
            raise KeyError(f"params needs {name!r} (Wc, bc, Wy, by and the score's parameters)")
    context, weights, acache = attention_forward(h, memory, mask, score, params)
    combined = np.concatenate([context, h], axis=1)
    check_shapes(combined=(combined, "N C"), Wc=(params["Wc"], "C H"), bc=(params["bc"], "H"),
                 Wy=(params["Wy"], "H V"), by=(params["by"], "V"))
    h_tilde = np.tanh(combined @ params["Wc"] + params["bc"])
    logits = h_tilde @ params["Wy"] + params["by"]
    return logits, weights, OutputCache(acache, combined, h_tilde, params["Wc"], params["Wy"])


def attention_output_backward(
    dlogits: np.ndarray, cache: OutputCache
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Backward of :func:`attention_output_forward`: ``(dh (N, H), dmemory (N, S, Hk), dparams)``.

    ``h_t`` acts twice, as the query of the scores and beside ``c_t`` in ``[c_t ; h_t]``:
    its two gradients add up.
    """
    acache, combined, h_tilde, Wc, Wy = _cache(cache, OutputCache, "attention_output_forward")
    check_array("dlogits", dlogits)
    check_shapes(h_tilde=(h_tilde, "N H"), Wy=(Wy, "H V"), dlogits=(dlogits, "N V"))
    grads = {"Wy": h_tilde.T @ dlogits, "by": dlogits.sum(axis=0)}
    da = (dlogits @ Wy.T) * (1.0 - h_tilde**2)  # through the head and the tanh
    grads["Wc"], grads["bc"] = combined.T @ da, da.sum(axis=0)
    dcombined = da @ Wc.T
    Hk = acache.values.shape[-1]
    dquery, dmemory, dscore, _ = attention_forward_backward(dcombined[:, :Hk], acache, values_are_keys=True)
    grads.update(dscore)
    return dcombined[:, Hk:] + dquery, dmemory, grads


class DecoderStepCache(NamedTuple):
    rnn: Any  # RNNStepCache
    output: OutputCache


def attention_decoder_step_forward(
    x: np.ndarray,
    h_prev: np.ndarray,
    memory: np.ndarray,
    mask: np.ndarray | None,
    params: dict[str, np.ndarray],
    score: str = "general",
) -> tuple[np.ndarray, np.ndarray, np.ndarray, DecoderStepCache]:
    """One step of an attention decoder: ``h_t = tanh(x_t Wx + h_{t-1} Wh + b)``, then attend and predict.

    Parameters
    ----------
    x : ndarray, shape (N, D)
        The embedded previous target token.
    h_prev : ndarray, shape (N, H)
    memory : ndarray, shape (N, S, Hk)
    mask : ndarray of bool, shape (N, S), or None
    params : dict
        ``dec_Wx`` (D, H), ``dec_Wh`` (H, H), ``dec_b`` (H,) and those of
        :func:`attention_output_forward`.
    score : {"additive", "general", "scaled_dot"}

    Returns
    -------
    logits : (N, V)
    h : (N, H)
    weights : (N, S)
    cache : DecoderStepCache
    """
    h, rnn_cache = rnn_step_forward(x, h_prev, params["dec_Wx"], params["dec_Wh"], params["dec_b"])
    logits, weights, out_cache = attention_output_forward(h, memory, mask, params, score)
    return logits, h, weights, DecoderStepCache(rnn_cache, out_cache)


def attention_decoder_step_backward(
    dlogits: np.ndarray, dh_next: np.ndarray, cache: DecoderStepCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Backward of :func:`attention_decoder_step_forward`.

    Parameters
    ----------
    dlogits : ndarray, shape (N, V)
    dh_next : ndarray, shape (N, H)
        The gradient reaching ``h_t`` from the later steps.

    Returns
    -------
    dx : (N, D)
    dh_prev : (N, H)
    dmemory : (N, S, Hk)
    dparams : dict
    """
    rnn_cache, out_cache = _cache(cache, DecoderStepCache, "attention_decoder_step_forward")
    dh, dmemory, grads = attention_output_backward(dlogits, out_cache)
    dx, dh_prev, grads["dec_Wx"], grads["dec_Wh"], grads["dec_b"] = rnn_step_backward(dh + dh_next, rnn_cache)
    return dx, dh_prev, dmemory, grads


class Seq2SeqCache(NamedTuple):
    enc: list  # RNNStepCache per source step
    steps: list  # DecoderStepCache per target step
    lengths: np.ndarray
    memory: np.ndarray


def attention_seq2seq_forward(
    x_src: np.ndarray, src_lengths: Any, x_tgt: np.ndarray, params: dict[str, np.ndarray], score: str = "general"
) -> tuple[np.ndarray, np.ndarray, Seq2SeqCache]:
    """A tanh-RNN encoder-decoder with attention, teacher-forced: all the logits of a batch.

    The encoder reads the (right-padded) source from ``h_0 = 0``; its outputs are the
    memory ``m_1 .. m_S``; the decoder starts from the state at each source's last real
    step and, at every target step, attends over the real source positions only
    (:func:`attention_decoder_step_forward`).

    Parameters
    ----------
    x_src : ndarray, shape (N, S, D)
        Embedded source, padded after each sequence's end.
    src_lengths : array_like of int, shape (N,)
    x_tgt : ndarray, shape (N, T, D)
        Embedded decoder inputs (``<bos>``, y_1, ..., y_{T-1}).
    params : dict
        ``enc_Wx, enc_Wh, enc_b``, ``dec_Wx, dec_Wh, dec_b``, the score's parameters,
        ``Wc, bc, Wy, by``.
    score : {"additive", "general", "scaled_dot"}

    Returns
    -------
    logits : (N, T, V)
    weights : (N, T, S)
        ``weights[n, t]``: where step t read the source (the alignment).
    cache : Seq2SeqCache
    """
    check_array("x_src", x_src)
    check_array("x_tgt", x_tgt)
    check_shapes(x_src=(x_src, "N S D"), x_tgt=(x_tgt, "N T E"))
    N, S = x_src.shape[:2]
    mask = padding_mask(src_lengths, S)
    lengths = mask.sum(axis=1)
    h, enc_caches, memory = np.zeros((N, params["enc_Wh"].shape[0])), [], []
    for s in range(S):
        h, c = rnn_step_forward(x_src[:, s], h, params["enc_Wx"], params["enc_Wh"], params["enc_b"])
        enc_caches.append(c)
        memory.append(h)
    memory = np.stack(memory, axis=1)  # (N, S, H); padded steps are never read
    h = memory[np.arange(N), lengths - 1]  # the state after each source's last real word
    logits, weights, steps = [], [], []
    for t in range(x_tgt.shape[1]):
        out, h, w, c = attention_decoder_step_forward(x_tgt[:, t], h, memory, mask, params, score)
        logits.append(out)
        weights.append(w)
        steps.append(c)
    return np.stack(logits, axis=1), np.stack(weights, axis=1), Seq2SeqCache(enc_caches, steps, lengths, memory)


def attention_seq2seq_backward(
    dlogits: np.ndarray, cache: Seq2SeqCache
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Backpropagation through time for :func:`attention_seq2seq_forward`.

    The decoder is walked back as usual; every step also sends a gradient into the
    whole memory (through its attention read), and the first step's ``dh_prev``
    enters the encoder at each source's last real step.  Then the encoder is walked
    back, with ``dL/dm_s`` added at every source step.

    Returns
    -------
    dx_src : (N, S, D)
    dx_tgt : (N, T, D)
    dparams : dict, a gradient for every parameter used
    """
    enc_caches, steps, lengths, memory = _cache(cache, Seq2SeqCache, "attention_seq2seq_forward")
    check_array("dlogits", dlogits)
    if dlogits.ndim != 3 or dlogits.shape[:2] != (memory.shape[0], len(steps)):
        raise ValueError(f"dlogits must have shape (N={memory.shape[0]}, T={len(steps)}, V), got {dlogits.shape}")
    grads: dict[str, np.ndarray] = {}

    def add(new: dict[str, np.ndarray]) -> None:
        for k, g in new.items():
            grads[k] = grads[k] + g if k in grads else g

    dmemory, dh, dx_tgt = np.zeros_like(memory), np.zeros_like(memory[:, 0]), []
    for t in reversed(range(len(steps))):
        dx, dh, dm, g = attention_decoder_step_backward(dlogits[:, t], dh, steps[t])
        dmemory += dm
        dx_tgt.append(dx)
        add(g)
    dmemory[np.arange(len(lengths)), lengths - 1] += dh  # the decoder's h_0 is the encoder's last real state
    dh, dx_src = np.zeros_like(dh), []
    for s in reversed(range(len(enc_caches))):
        dx, dh, dWx, dWh, db = rnn_step_backward(dmemory[:, s] + dh, enc_caches[s])
        dx_src.append(dx)
        add({"enc_Wx": dWx, "enc_Wh": dWh, "enc_b": db})
    return np.stack(dx_src[::-1], axis=1), np.stack(dx_tgt[::-1], axis=1), grads


# -- scaled dot-product attention over whole sequences ------------------------------------------


class SDPACache(NamedTuple):
    query: np.ndarray  # (..., T, d)
    key: np.ndarray  # (..., S, d)
    value: np.ndarray  # (..., S, dv)
    weights: np.ndarray  # (..., T, S)


def _check_qkv(query: np.ndarray, key: np.ndarray, value: np.ndarray) -> None:
    for name, arr in (("query", query), ("key", key), ("value", value)):
        check_array(name, arr)
        if arr.ndim < 2:
            raise ValueError(f"{name} must have at least 2 dimensions (..., length, features), got shape {arr.shape}")
    if not query.ndim == key.ndim == value.ndim:
        raise ValueError(f"query, key, value must have the same number of dimensions, got {query.shape}, "
                         f"{key.shape}, {value.shape}")
    if query.shape[:-2] != key.shape[:-2] or key.shape[:-2] != value.shape[:-2]:
        raise ValueError(f"query, key, value must share their leading (batch, head) axes, got {query.shape[:-2]}, "
                         f"{key.shape[:-2]}, {value.shape[:-2]}")
    if query.shape[-1] != key.shape[-1]:
        raise ValueError(f"query and key must have the same feature size d, got {query.shape[-1]} and {key.shape[-1]}")
    if key.shape[-2] != value.shape[-2]:
        raise ValueError(f"key and value must have the same length S, got {key.shape[-2]} and {value.shape[-2]}")


def scaled_dot_product_attention_forward(
    query: np.ndarray, key: np.ndarray, value: np.ndarray, mask: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, SDPACache]:
    """``softmax(Q K^T / sqrt(d)) V`` for every query at once (Vaswani et al., 2017, eq. 1).

    Parameters
    ----------
    query : ndarray, shape (..., T, d)
    key : ndarray, shape (..., S, d)
    value : ndarray, shape (..., S, dv)
        Leading axes (batch, heads) must agree.
    mask : ndarray of bool, broadcastable to (..., T, S), optional
        True where query t may attend to key s (padding: False on padded keys;
        causal: :func:`causal_mask`).  The same convention as
        ``torch.nn.functional.scaled_dot_product_attention``'s boolean ``attn_mask``.

    Returns
    -------
    out : ndarray, shape (..., T, dv)
    weights : ndarray, shape (..., T, S)
    cache : SDPACache
    """
    _check_qkv(query, key, value)
    scores = query @ key.swapaxes(-1, -2) / math.sqrt(query.shape[-1])  # sqrt(d): unit variance, any d
    weights = masked_softmax(scores, mask, axis=-1)  # over the keys, for each query
    return weights @ value, weights, SDPACache(query, key, value, weights)


def scaled_dot_product_attention_backward(
    dout: np.ndarray, cache: SDPACache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward of :func:`scaled_dot_product_attention_forward`: ``(dquery, dkey, dvalue)``."""
    query, key, value, weights = _cache(cache, SDPACache, "scaled_dot_product_attention_forward")
    check_array("dout", dout)
    expected = weights.shape[:-1] + value.shape[-1:]
    if dout.shape != expected:
        raise ValueError(f"dout must have shape {expected} (..., T, dv), got {dout.shape}")
    dvalue = weights.swapaxes(-1, -2) @ dout
    dscores = masked_softmax_backward(dout @ value.swapaxes(-1, -2), weights) / math.sqrt(query.shape[-1])
    return dscores @ key, dscores.swapaxes(-1, -2) @ query, dvalue


# -- multi-head attention ------------------------------------------------------------------------


class MHACache(NamedTuple):
    query: np.ndarray  # (N, T, E)
    key: np.ndarray  # (N, S, E)
    value: np.ndarray  # (N, S, E)
    params: dict  # Wq, Wk, Wv, Wo (E, E); bq, bk, bv, bo (E,)
    num_heads: int
    sdpa: SDPACache  # on (N, h, ., E/h) heads
    merged: np.ndarray  # (N, T, E) the heads side by side, before the output projection


_MHA_KEYS = ("Wq", "Wk", "Wv", "bq", "bk", "bv", "Wo", "bo")


def _split_heads(x: np.ndarray, h: int) -> np.ndarray:
    N, L, E = x.shape
    return x.reshape(N, L, h, E // h).transpose(0, 2, 1, 3)  # (N, h, L, E/h): head j gets features j*E/h...


def _merge_heads(x: np.ndarray) -> np.ndarray:
    N, h, L, d = x.shape
    return x.transpose(0, 2, 1, 3).reshape(N, L, h * d)


def multi_head_attention_forward(
    query: np.ndarray,
    key: np.ndarray,
    value: np.ndarray,
    params: dict[str, np.ndarray],
    num_heads: int,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, MHACache]:
    """Multi-head attention as ``torch.nn.MultiheadAttention(E, num_heads, batch_first=True)`` computes it.

    ``head_j = SDPA(Q Wq_j, K Wk_j, V Wv_j)`` on ``E / num_heads`` features each, the
    heads concatenated and projected: ``out = [head_1, ..., head_h] Wo + bo``.

    Parameters
    ----------
    query : ndarray, shape (N, T, E)
    key, value : ndarray, shape (N, S, E)
        Self-attention passes the same array three times.
    params : dict
        ``Wq, Wk, Wv, Wo`` (E, E) and ``bq, bk, bv, bo`` (E,), row-vector convention
        (``x @ W + b``); :func:`mha_params_from_state_dict` converts a torch module's.
    num_heads : int
        h, dividing E.
    mask : ndarray of bool, broadcastable to (N, T, S), optional
        True where attention is allowed (the same mask for every head).  For
        ``torch.nn.MultiheadAttention`` pass ``attn_mask=~mask`` (True there means *blocked*).

    Returns
    -------
    out : ndarray, shape (N, T, E)
    weights : ndarray, shape (N, h, T, S)
        Per-head weights (torch averages them over heads unless ``average_attn_weights=False``).
    cache : MHACache
    """
    for name, arr in (("query", query), ("key", key), ("value", value)):
        check_array(name, arr)
    missing = [k for k in _MHA_KEYS if k not in params]
    if missing:
        raise KeyError(f"params is missing {missing} (needs {list(_MHA_KEYS)})")
    for k in _MHA_KEYS:
        check_array(f"params[{k!r}]", params[k])
    E = check_shapes(query=(query, "N T E"), key=(key, "N S E"), value=(value, "N S E"),
                     **{k: (params[k], "E E" if k.startswith("W") else "E") for k in _MHA_KEYS})["E"]
    h = check_size("num_heads", num_heads)
    if E % h:
        raise ValueError(f"num_heads={h} must divide the embedding size E={E}")
    heads = [_split_heads(x @ params[f"W{c}"] + params[f"b{c}"], h) for x, c in ((query, "q"), (key, "k"), (value, "v"))]
    if mask is not None:
        mask = _check_mask(mask, (query.shape[0], query.shape[1], key.shape[1]))
        mask = mask[..., None, :, :] if mask.ndim == 3 else mask  # the same mask for every head
    out_heads, weights, sdpa = scaled_dot_product_attention_forward(*heads, mask)
    merged = _merge_heads(out_heads)
    out = merged @ params["Wo"] + params["bo"]
    return out, weights, MHACache(query, key, value, params, h, sdpa, merged)


def multi_head_attention_backward(
    dout: np.ndarray, cache: MHACache
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Backward of :func:`multi_head_attention_forward`.

    Returns
    -------
    dquery : (N, T, E)
    dkey, dvalue : (N, S, E)
        For self-attention (one array passed three times) add the three.
    dparams : dict with the keys of ``params``
    """
    query, key, value, params, h, sdpa, merged = _cache(cache, MHACache, "multi_head_attention_forward")
    check_array("dout", dout)
    check_shapes(query=(query, "N T E"), dout=(dout, "N T E"))
    E = query.shape[-1]
    grads = {"Wo": merged.reshape(-1, E).T @ dout.reshape(-1, E), "bo": dout.sum(axis=(0, 1))}
    dmerged = dout @ params["Wo"].T
    dheads = scaled_dot_product_attention_backward(_split_heads(dmerged, h), sdpa)
    dinputs = []
    for x, c, dproj in zip((query, key, value), "qkv", dheads):
        dproj = _merge_heads(dproj)  # (N, L, E), the gradient at x W + b
        grads[f"W{c}"] = x.reshape(-1, E).T @ dproj.reshape(-1, E)
        grads[f"b{c}"] = dproj.sum(axis=(0, 1))
        dinputs.append(dproj @ params[f"W{c}"].T)
    return dinputs[0], dinputs[1], dinputs[2], {k: grads[k] for k in _MHA_KEYS}


def mha_params_from_state_dict(state_dict: Any) -> dict[str, np.ndarray]:
    """NumPy parameters from a ``torch.nn.MultiheadAttention`` ``state_dict`` (packed in-projection).

    torch stores ``in_proj_weight`` (3E, E) = ``[W_q; W_k; W_v]`` with ``y = x W^T + b``,
    ``in_proj_bias`` (3E,), ``out_proj.weight`` (E, E) and ``out_proj.bias`` (E,).  Here
    ``Wq = W_q^T`` etc., so that ``x @ Wq + bq`` is the same projection.

    Returns
    -------
    dict of ndarray
        ``Wq, Wk, Wv, Wo`` (E, E) and ``bq, bk, bv, bo`` (E,), float copies.
    """
    need = ("in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias")
    missing = [k for k in need if k not in state_dict]
    if missing:
        raise KeyError(f"state_dict is missing {missing}: it must come from nn.MultiheadAttention with bias=True "
                       "and equal query/key/value sizes")

    def arr(name: str) -> np.ndarray:
        value = state_dict[name]
        value = value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
        return check_array(f"state_dict[{name!r}]", np.array(value, copy=True))

    W, b = arr("in_proj_weight"), arr("in_proj_bias")
    E = check_shapes(in_proj_weight=(W, "3E E"), in_proj_bias=(b, "3E"))["E"]
    Wo, bo = arr("out_proj.weight"), arr("out_proj.bias")
    check_shapes(in_proj_bias=(b, "3E"), out_proj_weight=(Wo, "E E"), out_proj_bias=(bo, "E"))
    out = {}
    for j, c in enumerate("qkv"):
        out[f"W{c}"] = W[j * E : (j + 1) * E].T.copy()
        out[f"b{c}"] = b[j * E : (j + 1) * E].copy()
    out["Wo"], out["bo"] = Wo.T.copy(), bo
    return {k: out[k] for k in _MHA_KEYS}


# -- positions ----------------------------------------------------------------------------------


def sinusoidal_positional_encoding(length: int, d_model: int, base: float = 10000.0) -> np.ndarray:
    """The fixed positional encoding of Vaswani et al. (2017, section 3.5).

    ``P[t, 2i] = sin(t / base^(2i/d))`` and ``P[t, 2i+1] = cos(t / base^(2i/d))``: each pair of
    features is a clock turning at its own rate, so ``P[t + k]`` is a fixed rotation of ``P[t]``
    and relative positions are linear functions of the encoding.

    Parameters
    ----------
    length : int
        T, the number of positions 0 .. T-1.
    d_model : int
        d, even.
    base : float
        Sets the slowest wavelength (``2 pi base``).

    Returns
    -------
    ndarray, shape (T, d), float64
    """
    T, d = check_size("length", length), check_size("d_model", d_model)
    if d % 2:
        raise ValueError(f"d_model must be even (features come in sin/cos pairs), got {d}")
    angles = np.arange(T)[:, None] / base ** (np.arange(0, d, 2) / d)[None, :]  # (T, d/2)
    P = np.empty((T, d))
    P[:, 0::2], P[:, 1::2] = np.sin(angles), np.cos(angles)
    return P
