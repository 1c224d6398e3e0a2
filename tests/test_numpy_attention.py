"""Attention in NumPy: finite differences, torch autograd and torch.nn parity, masks, bad inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from companion.numpy import attention as att
from companion.numpy.gradcheck import grad_check

FD_TOL = 1e-7  # relative error of five-point finite differences (h = 1e-3) in float64
TORCH_TOL = 1e-10  # max abs difference to torch autograd in float64
FD = {"h": 1e-3, "order": 4}


def t64(a: np.ndarray, grad: bool = False) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


def max_abs(a, b) -> float:
    a = a.detach().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.max(np.abs(a - b))) if a.size else 0.0


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def score_params(rng, score: str, Hq: int, Hk: int, A: int = 6) -> dict[str, np.ndarray]:
    if score == "additive":
        return {"Wq": rng.standard_normal((Hq, A)) * 0.5, "Wk": rng.standard_normal((Hk, A)) * 0.5,
                "v": rng.standard_normal(A)}
    if score == "general":
        return {"W": rng.standard_normal((Hq, Hk)) * 0.5}
    return {}


def torch_scores(score: str, q: torch.Tensor, k: torch.Tensor, p: dict[str, torch.Tensor]) -> torch.Tensor:
    """The three scores written directly in torch (autograd differentiates them)."""
    if score == "additive":
        return torch.tanh((q @ p["Wq"]).unsqueeze(1) + k @ p["Wk"]) @ p["v"]
    if score == "general":
        return torch.einsum("nk,nsk->ns", q @ p["W"], k)
    return torch.einsum("nh,nsh->ns", q, k) / math.sqrt(q.shape[1])


def torch_masked_softmax(e: torch.Tensor, mask: np.ndarray | None) -> torch.Tensor:
    if mask is not None:
        e = e.masked_fill(~torch.as_tensor(mask), float("-inf"))
    return torch.softmax(e, dim=-1)


# -- masks and the masked softmax --------------------------------------------------------------


def test_padding_and_causal_masks() -> None:
    np.testing.assert_array_equal(att.padding_mask([3, 1], 4), [[1, 1, 1, 0], [1, 0, 0, 0]])
    np.testing.assert_array_equal(att.causal_mask(3), np.tril(np.ones((3, 3), bool)))
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, max_len=4\]"):
        att.padding_mask([0, 2], 4)
    with pytest.raises(ValueError, match="integer"):
        att.padding_mask([1.5], 4)


def test_masked_softmax_gives_padding_exactly_zero_and_matches_torch(rng) -> None:
    e = rng.standard_normal((3, 5, 7)) * 3
    mask = rng.random((3, 5, 7)) < 0.6
    mask[..., 0] = True
    w = att.masked_softmax(e, mask)
    assert np.all(w[~mask] == 0.0)  # exactly zero, not merely small
    np.testing.assert_allclose(w.sum(-1), 1.0, rtol=0, atol=1e-15)
    assert max_abs(w, torch_masked_softmax(t64(e), mask)) <= 1e-15
    # changing the score of a masked position changes nothing
    e2 = np.where(mask, e, 1e6)
    assert np.array_equal(att.masked_softmax(e2, mask), w)


def test_masked_softmax_is_stable_and_broadcasts(rng) -> None:
    e = 1e4 + rng.standard_normal((2, 4))
    w = att.masked_softmax(e, np.array([True, True, False, True]))  # (S,) mask, broadcast over rows
    assert np.all(np.isfinite(w)) and np.all(w[:, 2] == 0)
    np.testing.assert_allclose(att.masked_softmax(e, None), torch.softmax(t64(e), -1).numpy(), atol=1e-15)
    # the softmax of another axis
    w0 = att.masked_softmax(e, None, axis=0)
    np.testing.assert_allclose(w0.sum(axis=0), 1.0)


def test_masked_softmax_rejects_a_row_with_nothing_to_attend_to() -> None:
    mask = np.array([[True, False], [False, False]])
    with pytest.raises(ValueError, match=r"mask allows no position in row \(1,\)"):
        att.masked_softmax(np.zeros((2, 2)), mask)
    with pytest.raises(TypeError, match="boolean"):
        att.masked_softmax(np.zeros((2, 2)), mask.astype(int))
    with pytest.raises(ValueError, match="does not broadcast"):
        att.masked_softmax(np.zeros((2, 2)), np.ones((3,), bool))
    with pytest.raises(ValueError):
        att.masked_softmax(np.array([[np.nan, 0.0]]))


def test_masked_softmax_backward(rng) -> None:
    e, G = rng.standard_normal((3, 6)), rng.standard_normal((3, 6))
    mask = att.padding_mask([6, 2, 4], 6)
    w = att.masked_softmax(e, mask)
    de = att.masked_softmax_backward(G, w)
    assert np.all(de[~mask] == 0.0)
    errors = grad_check(lambda: float((att.masked_softmax(e, mask) * G).sum()), {"e": e}, {"e": de}, **FD)
    assert errors["e"] < FD_TOL, errors
    et = t64(e, grad=True)
    (torch_masked_softmax(et, mask) * t64(G)).sum().backward()
    assert max_abs(de, et.grad) <= TORCH_TOL


# -- scores, context, one attention read ---------------------------------------------------------


@pytest.mark.parametrize("score", ["additive", "general", "scaled_dot"])
def test_attention_read_against_finite_differences_and_torch(rng, score) -> None:
    N, S, Hq, Hk = 3, 5, 4, 4
    q, k = rng.standard_normal((N, Hq)), rng.standard_normal((N, S, Hk))
    params = score_params(rng, score, Hq, Hk)
    mask = att.padding_mask([5, 3, 1], S)
    G = rng.standard_normal((N, Hk))
    ctx, w, cache = att.attention_forward(q, k, mask, score, params)
    assert np.all(w[~mask] == 0.0)
    dq, dk, dp, dv = att.attention_forward_backward(G, cache)
    assert dv is None and np.all(dk[~mask] == 0.0)  # padded keys neither scored nor averaged

    def loss() -> float:
        return float((att.attention_forward(q, k, mask, score, params)[0] * G).sum())

    errors = grad_check(loss, {"q": q, "k": k, **params}, {"q": dq, "k": dk, **dp}, **FD)
    assert max(errors.values()) < FD_TOL, errors

    qt, kt = t64(q, True), t64(k, True)
    pt = {n: t64(p, True) for n, p in params.items()}
    wt = torch_masked_softmax(torch_scores(score, qt, kt, pt), mask)
    ct = torch.einsum("ns,nsd->nd", wt, kt)
    assert max_abs(ctx, ct) <= TORCH_TOL and max_abs(w, wt) <= TORCH_TOL
    (ct * t64(G)).sum().backward()
    assert max_abs(dq, qt.grad) <= TORCH_TOL and max_abs(dk, kt.grad) <= TORCH_TOL
    for n in params:
        assert max_abs(dp[n], pt[n].grad) <= TORCH_TOL, n


def test_separate_values_and_additive_wrappers(rng) -> None:
    N, S, H, D = 2, 4, 3, 5
    q, k, v = rng.standard_normal((N, H)), rng.standard_normal((N, S, H)), rng.standard_normal((N, S, D))
    params = score_params(rng, "additive", H, H)
    mask = att.padding_mask([4, 2], S)
    ctx, w, cache = att.attention_forward(q, k, mask, "additive", params, values=v)
    assert ctx.shape == (N, D)
    G = rng.standard_normal((N, D))
    dq, dk, dp, dv = att.attention_forward_backward(G, cache, values_are_keys=False)

    def loss() -> float:
        return float((att.attention_forward(q, k, mask, "additive", params, values=v)[0] * G).sum())

    errors = grad_check(loss, {"q": q, "k": k, "v_": v}, {"q": dq, "k": dk, "v_": dv}, **FD)
    assert max(errors.values()) < FD_TOL, errors
    # the additive wrappers are the same computation
    c2, w2, cache2 = att.additive_attention_forward(q, k, mask, params["Wq"], params["Wk"], params["v"])
    c1, _, cache1 = att.attention_forward(q, k, mask, "additive", params)
    assert np.array_equal(c1, c2)
    g = rng.standard_normal((N, H))
    ref = att.attention_forward_backward(g, cache1)
    got = att.additive_attention_backward(g, cache2)
    assert np.array_equal(got[0], ref[0]) and np.array_equal(got[1], ref[1])
    assert np.array_equal(got[2], ref[2]["Wq"]) and np.array_equal(got[4], ref[2]["v"])


def test_attention_bad_inputs(rng) -> None:
    q, k = rng.standard_normal((2, 3)), rng.standard_normal((2, 4, 3))
    with pytest.raises(ValueError, match="score must be one of"):
        att.attention_forward(q, k, None, "cosine", {})
    with pytest.raises(KeyError, match="missing"):
        att.attention_forward(q, k, None, "general", {})
    with pytest.raises(ValueError):
        att.scaled_dot_score_forward(q, rng.standard_normal((2, 4, 5)))
    with pytest.raises(TypeError, match="cache must be"):
        att.context_backward(np.zeros((2, 3)), "not a cache")


# -- scaled dot-product attention and multi-head attention -----------------------------------


@pytest.mark.parametrize("kind", ["none", "padding", "causal"])
def test_sdpa_matches_torch_functional(rng, kind) -> None:
    N, h, T, S, d, dv = 2, 3, 4, 6, 5, 7
    if kind == "causal":
        S = T
    Q, K, V = rng.standard_normal((N, h, T, d)), rng.standard_normal((N, h, S, d)), rng.standard_normal((N, h, S, dv))
    mask = None
    if kind == "padding":
        mask = att.padding_mask([6, 2], S)[:, None, None, :]  # (N, 1, 1, S): padded keys, every head and query
    elif kind == "causal":
        mask = att.causal_mask(T)
    out, w, cache = att.scaled_dot_product_attention_forward(Q, K, V, mask)
    Qt, Kt, Vt = t64(Q, True), t64(K, True), t64(V, True)
    ref = F.scaled_dot_product_attention(Qt, Kt, Vt, attn_mask=None if mask is None else torch.as_tensor(mask))
    assert max_abs(out, ref) <= TORCH_TOL
    G = rng.standard_normal(out.shape)
    (ref * t64(G)).sum().backward()
    dQ, dK, dV = att.scaled_dot_product_attention_backward(G, cache)
    assert max(max_abs(dQ, Qt.grad), max_abs(dK, Kt.grad), max_abs(dV, Vt.grad)) <= TORCH_TOL
    if kind == "causal":
        assert np.all(w[..., ~att.causal_mask(T)] == 0.0)  # nothing from the future


def test_sdpa_finite_differences(rng) -> None:
    Q, K, V = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4)), rng.standard_normal((2, 5, 3))
    mask = att.padding_mask([5, 3], 5)[:, None, :]
    G = rng.standard_normal((2, 3, 3))
    _, _, cache = att.scaled_dot_product_attention_forward(Q, K, V, mask)
    dQ, dK, dV = att.scaled_dot_product_attention_backward(G, cache)

    def loss() -> float:
        return float((att.scaled_dot_product_attention_forward(Q, K, V, mask)[0] * G).sum())

    errors = grad_check(loss, {"Q": Q, "K": K, "V": V}, {"Q": dQ, "K": dK, "V": dV}, **FD)
    assert max(errors.values()) < FD_TOL, errors


def test_multi_head_attention_matches_torch_module(rng) -> None:
    N, T, S, E, heads = 2, 3, 5, 8, 2
    torch.manual_seed(0)
    mha = torch.nn.MultiheadAttention(E, heads, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        mha.in_proj_bias.normal_()
        mha.out_proj.bias.normal_()
    params = att.mha_params_from_state_dict(mha.state_dict())
    q, kv = rng.standard_normal((N, T, E)), rng.standard_normal((N, S, E))
    allowed = att.padding_mask([5, 3], S)
    out, w, cache = att.multi_head_attention_forward(q, kv, kv, params, heads, allowed[:, None, :])
    qt, kt, vt = t64(q, True), t64(kv, True), t64(kv, True)
    ref, ref_w = mha(qt, kt, vt, key_padding_mask=torch.as_tensor(~allowed), average_attn_weights=False)
    assert max_abs(out, ref) <= TORCH_TOL and max_abs(w, ref_w) <= TORCH_TOL
    G = rng.standard_normal(out.shape)
    (ref * t64(G)).sum().backward()
    dq, dk, dv, dp = att.multi_head_attention_backward(G, cache)
    assert max(max_abs(dq, qt.grad), max_abs(dk, kt.grad), max_abs(dv, vt.grad)) <= TORCH_TOL
    Wi, bi = mha.in_proj_weight.grad.numpy(), mha.in_proj_bias.grad.numpy()
    for j, c in enumerate("qkv"):
        assert max_abs(dp[f"W{c}"], Wi[j * E : (j + 1) * E].T) <= TORCH_TOL
        assert max_abs(dp[f"b{c}"], bi[j * E : (j + 1) * E]) <= TORCH_TOL
    assert max_abs(dp["Wo"], mha.out_proj.weight.grad.numpy().T) <= TORCH_TOL
    assert max_abs(dp["bo"], mha.out_proj.bias.grad) <= TORCH_TOL


def test_multi_head_self_attention_finite_differences(rng) -> None:
    N, T, E, heads = 2, 4, 6, 3
    params = {k: rng.standard_normal((E, E)) * 0.4 if k.startswith("W") else rng.standard_normal(E) * 0.1
              for k in ("Wq", "Wk", "Wv", "bq", "bk", "bv", "Wo", "bo")}
    x = rng.standard_normal((N, T, E))
    mask = att.causal_mask(T)
    G = rng.standard_normal((N, T, E))
    _, _, cache = att.multi_head_attention_forward(x, x, x, params, heads, mask)
    dq, dk, dv, dp = att.multi_head_attention_backward(G, cache)

    def loss() -> float:
        return float((att.multi_head_attention_forward(x, x, x, params, heads, mask)[0] * G).sum())

    # the key bias adds q . bk to every score of a row, which the softmax ignores: dbk = 0 exactly
    assert np.max(np.abs(dp["bk"])) < 1e-12
    others = {k: v for k, v in params.items() if k != "bk"}
    errors = grad_check(loss, {"x": x, **others}, {"x": dq + dk + dv, **{k: dp[k] for k in others}}, **FD)
    assert max(errors.values()) < FD_TOL, errors
    with pytest.raises(ValueError, match="must divide"):
        att.multi_head_attention_forward(x, x, x, params, 4)


def test_sinusoidal_positional_encoding() -> None:
    P = att.sinusoidal_positional_encoding(50, 8)
    t, i = 7, 2
    assert P[t, 2 * i] == pytest.approx(math.sin(t / 10000 ** (2 * i / 8)))
    assert P[t, 2 * i + 1] == pytest.approx(math.cos(t / 10000 ** (2 * i / 8)))
    # P[t + k] is a fixed rotation of P[t]: the same linear map for every t
    k = 3
    M, *_ = np.linalg.lstsq(P[:40], P[k : 40 + k], rcond=None)
    np.testing.assert_allclose(P[10:40] @ M, P[10 + k : 40 + k], atol=1e-9)
    with pytest.raises(ValueError, match="even"):
        att.sinusoidal_positional_encoding(4, 5)


# -- the attention decoder and the whole encoder-decoder ----------------------------------------


def seq2seq_params(rng, score: str, D=3, H=4, V=5) -> dict[str, np.ndarray]:
    p = {
        "enc_Wx": rng.standard_normal((D, H)) * 0.5, "enc_Wh": rng.standard_normal((H, H)) * 0.4,
        "enc_b": rng.standard_normal(H) * 0.1,
        "dec_Wx": rng.standard_normal((D, H)) * 0.5, "dec_Wh": rng.standard_normal((H, H)) * 0.4,
        "dec_b": rng.standard_normal(H) * 0.1,
        "Wc": rng.standard_normal((2 * H, H)) * 0.4, "bc": rng.standard_normal(H) * 0.1,
        "Wy": rng.standard_normal((H, V)) * 0.5, "by": rng.standard_normal(V) * 0.1,
    }
    p.update(score_params(rng, score, H, H, A=5))
    return p


def torch_seq2seq(x_src, lengths, x_tgt, p, score):
    """The same encoder-decoder written directly in torch."""
    N, S, _ = x_src.shape
    mask = att.padding_mask(lengths, S)
    h, mem = torch.zeros(N, p["enc_Wh"].shape[0], dtype=torch.float64), []
    for s in range(S):
        h = torch.tanh(x_src[:, s] @ p["enc_Wx"] + h @ p["enc_Wh"] + p["enc_b"])
        mem.append(h)
    mem = torch.stack(mem, 1)
    h = mem[torch.arange(N), torch.as_tensor(lengths) - 1]
    logits = []
    for t in range(x_tgt.shape[1]):
        h = torch.tanh(x_tgt[:, t] @ p["dec_Wx"] + h @ p["dec_Wh"] + p["dec_b"])
        w = torch_masked_softmax(torch_scores(score, h, mem, p), mask)
        c = torch.einsum("ns,nsd->nd", w, mem)
        logits.append(torch.tanh(torch.cat([c, h], 1) @ p["Wc"] + p["bc"]) @ p["Wy"] + p["by"])
    return torch.stack(logits, 1)


@pytest.mark.parametrize("score", ["additive", "general", "scaled_dot"])
def test_decoder_step_finite_differences(rng, score) -> None:
    N, S, D, H = 2, 4, 3, 4
    p = seq2seq_params(rng, score, D, H)
    x, h_prev, mem = rng.standard_normal((N, D)), rng.standard_normal((N, H)), rng.standard_normal((N, S, H))
    mask = att.padding_mask([4, 2], S)
    G, Gh = rng.standard_normal((N, 5)), rng.standard_normal((N, H))
    logits, h, w, cache = att.attention_decoder_step_forward(x, h_prev, mem, mask, p, score)
    dx, dh_prev, dmem, dp = att.attention_decoder_step_backward(G, Gh, cache)
    used = {k: v for k, v in p.items() if not k.startswith("enc_")}
    assert set(dp) == set(used)

    def loss() -> float:
        lo, hh, _, _ = att.attention_decoder_step_forward(x, h_prev, mem, mask, p, score)
        return float((lo * G).sum() + (hh * Gh).sum())

    errors = grad_check(loss, {"x": x, "h_prev": h_prev, "mem": mem, **used},
                        {"x": dx, "h_prev": dh_prev, "mem": dmem, **dp}, **FD)
    assert max(errors.values()) < FD_TOL, errors


@pytest.mark.parametrize("score", ["additive", "general", "scaled_dot"])
def test_seq2seq_bptt_against_finite_differences_and_torch(rng, score) -> None:
    N, S, T, D = 3, 5, 4, 3
    lengths = np.array([5, 2, 4])
    p = seq2seq_params(rng, score, D)
    x_src, x_tgt = rng.standard_normal((N, S, D)), rng.standard_normal((N, T, D))
    logits, w, cache = att.attention_seq2seq_forward(x_src, lengths, x_tgt, p, score)
    assert w.shape == (N, T, S) and np.all(w[1, :, 2:] == 0.0)
    G = rng.standard_normal(logits.shape)
    dx_src, dx_tgt, dp = att.attention_seq2seq_backward(G, cache)
    assert set(dp) == set(p)
    assert np.all(dx_src[1, 2:] == 0.0)  # padding of the source gets no gradient

    def loss() -> float:
        return float((att.attention_seq2seq_forward(x_src, lengths, x_tgt, p, score)[0] * G).sum())

    errors = grad_check(loss, {"x_src": x_src, "x_tgt": x_tgt, **p}, {"x_src": dx_src, "x_tgt": dx_tgt, **dp}, **FD)
    assert max(errors.values()) < 1e-6, errors

    st, tt = t64(x_src, True), t64(x_tgt, True)
    pt = {k: t64(v, True) for k, v in p.items()}
    ref = torch_seq2seq(st, lengths, tt, pt, score)
    assert max_abs(logits, ref) <= TORCH_TOL
    (ref * t64(G)).sum().backward()
    assert max_abs(dx_src, st.grad) <= TORCH_TOL and max_abs(dx_tgt, tt.grad) <= TORCH_TOL
    for k in p:
        assert max_abs(dp[k], pt[k].grad) <= TORCH_TOL, k


def test_seq2seq_ignores_what_the_padding_holds(rng) -> None:
    p = seq2seq_params(rng, "general")
    x_src, x_tgt = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 3, 3))
    lengths = np.array([5, 2])
    before = att.attention_seq2seq_forward(x_src, lengths, x_tgt, p)[0]
    x_src[1, 2:] = 1e3
    after = att.attention_seq2seq_forward(x_src, lengths, x_tgt, p)[0]
    assert np.array_equal(before, after)
    with pytest.raises(ValueError, match="dlogits must have shape"):
        att.attention_seq2seq_backward(np.zeros((2, 4, 5)), att.attention_seq2seq_forward(x_src, lengths, x_tgt, p)[2])
