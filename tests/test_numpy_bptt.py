"""Truncated and chunked BPTT: equal to full BPTT when nothing is cut, equal to torch-with-detach when it is."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _numpy_reference import max_abs, t64, torch_rnn_grads, torch_rnn_like
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.numpy.bptt import chunked_bptt, truncated_rnn_backward
from companion.numpy.rnn import rnn_backward, rnn_forward

EXACT_TOL = 1e-12  # same sums in a different order
TORCH_TOL = 1e-10


def make_seq(rng, N=2, T=7, D=3, H=4):
    return (
        rng.standard_normal((N, T, D)),
        rng.standard_normal((N, H)),
        rng.standard_normal((D, H)) * 0.6,
        rng.standard_normal((H, H)) * 0.6,
        rng.standard_normal(H) * 0.3,
    )


def torch_truncated_reference(x, h0, Wx, Wh, b, G, k, nonlinearity="tanh"):
    """Brute force: one backward pass per loss term L_t = <G_t, h_t>, started from h_{t-k} detached."""
    rnn = torch_rnn_like(Wx, Wh, b, nonlinearity)
    xt, h0t = t64(x, grad=True), t64(h0, grad=True)
    with torch.no_grad():
        states, _ = rnn(xt, h0t[None])  # h_0 .. h_{T-1}, only used as detached starting points
    for t in range(x.shape[1]):
        start = t - k + 1  # first step whose computation L_t may differentiate through
        h_start = h0t if start <= 0 else states[:, start - 1].detach()
        out, _ = rnn(xt[:, max(start, 0) : t + 1], h_start[None])
        (out[:, -1] * t64(G[:, t])).sum().backward()
    return (xt.grad, h0t.grad, *torch_rnn_grads(rnn))


def test_truncation_at_least_T_equals_full_bptt(rng):
    x, h0, Wx, Wh, b = make_seq(rng)
    h, cache = rnn_forward(x, h0, Wx, Wh, b)
    G = rng.standard_normal(h.shape)
    full = rnn_backward(G, cache)
    for k in (7, 8, 100):
        for a, f in zip(truncated_rnn_backward(G, cache, k), full):
            assert max_abs(a, f) <= EXACT_TOL


@pytest.mark.parametrize("k", [1, 2, 3, 5])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_truncated_matches_torch_brute_force_and_differs_from_full(rng, k, nonlinearity):
    x, h0, Wx, Wh, b = make_seq(rng)
    h, cache = rnn_forward(x, h0, Wx, Wh, b, nonlinearity)
    G = rng.standard_normal(h.shape)
    ours = truncated_rnn_backward(G, cache, k)
    ref = torch_truncated_reference(x, h0, Wx, Wh, b, G, k, nonlinearity)
    names = ["dx", "dh0", "dWx", "dWh", "db"]
    diffs = {n: max_abs(a, r) for n, a, r in zip(names, ours, ref)}
    assert max(diffs.values()) <= TORCH_TOL, diffs
    full = rnn_backward(G, cache)
    assert max_abs(ours[3], full[3]) > 1e-6  # dWh: truncation really cut something


def test_truncation_one_is_the_sum_of_local_terms(rng):
    """k = 1: each L_t only sees its own step, dWh = sum_t h_{t-1}^T (G_t * f'(a_t)), dh0 from L_0 only."""
    x, h0, Wx, Wh, b = make_seq(rng)
    h, cache = rnn_forward(x, h0, Wx, Wh, b)
    G = rng.standard_normal(h.shape)
    dx, dh0, dWx, dWh, db = truncated_rnn_backward(G, cache, 1)
    da = G * (1.0 - h**2)
    h_prev = np.concatenate([h0[:, None], h[:, :-1]], axis=1)
    assert max_abs(dWh, np.einsum("nti,ntj->ij", h_prev, da)) <= EXACT_TOL
    assert max_abs(dWx, np.einsum("nti,ntj->ij", x, da)) <= EXACT_TOL
    assert max_abs(db, da.sum(axis=(0, 1))) <= EXACT_TOL
    assert max_abs(dx, da @ Wx.T) <= EXACT_TOL
    assert max_abs(dh0, da[:, 0] @ Wh.T) <= EXACT_TOL


@settings(max_examples=25, deadline=None)
@given(
    N=st.integers(1, 3),
    T=st.integers(1, 6),
    D=st.integers(1, 3),
    H=st.integers(1, 4),
    k=st.integers(1, 8),
    seed=st.integers(0, 2**16),
)
def test_property_truncated_matches_torch_any_shape(N, T, D, H, k, seed):
    rng = np.random.default_rng(seed)
    x, h0, Wx, Wh, b = make_seq(rng, N, T, D, H)
    h, cache = rnn_forward(x, h0, Wx, Wh, b)
    G = rng.standard_normal(h.shape)
    ours = truncated_rnn_backward(G, cache, k)
    for a, r in zip(ours, torch_truncated_reference(x, h0, Wx, Wh, b, G, k)):
        assert max_abs(a, r) <= TORCH_TOL
    if k >= T:
        for a, f in zip(ours, rnn_backward(G, cache)):
            assert max_abs(a, f) <= EXACT_TOL


def test_truncated_bad_inputs(rng):
    x, h0, Wx, Wh, b = make_seq(rng)
    h, cache = rnn_forward(x, h0, Wx, Wh, b)
    with pytest.raises(ValueError, match="truncation must be >= 1, got 0"):
        truncated_rnn_backward(h, cache, 0)
    with pytest.raises(TypeError, match="truncation must be an int, got float"):
        truncated_rnn_backward(h, cache, 2.0)
    with pytest.raises(ValueError, match=r"dh axis 2 should be H=4 to match h \(H=4\), got 3"):
        truncated_rnn_backward(h[..., :3], cache, 2)


# -- chunked (stateful) BPTT ----------------------------------------------------------------


def linear_loss_chunk(params, x_chunk, G_chunk, h_start):
    """L_chunk = sum(G * h) over the chunk, full BPTT inside it, h_start treated as constant."""
    h, cache = rnn_forward(x_chunk, h_start, params["Wx"], params["Wh"], params["b"])
    _, _, dWx, dWh, db = rnn_backward(G_chunk, cache)
    return float(np.sum(G_chunk * h)), {"Wx": dWx, "Wh": dWh, "b": db}, h[:, -1]


def torch_detached_every(x, h0, Wx, Wh, b, G, k):
    """Torch reference for stateful training: h.detach() every k steps."""
    rnn = torch_rnn_like(Wx, Wh, b)
    xt, h = t64(x), t64(h0)[None]
    total = 0.0
    for start in range(0, x.shape[1], k):
        out, h = rnn(xt[:, start : start + k], h.detach())
        total = total + (out * t64(G[:, start : start + k])).sum()
    total.backward()
    return total.item(), torch_rnn_grads(rnn), h[0].detach().numpy()


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_chunked_matches_torch_with_detach(rng, k):
    x, h0, Wx, Wh, b = make_seq(rng, T=10)
    params = {"Wx": Wx, "Wh": Wh, "b": b}
    G = rng.standard_normal((2, 10, 4))
    res = chunked_bptt(x, h0, params, linear_loss_chunk, k, y=G)
    loss, (tWx, tWh, tb), h_last = torch_detached_every(x, h0, Wx, Wh, b, G, k)
    assert abs(res.loss - loss) <= TORCH_TOL
    assert len(res.chunk_losses) == -(-10 // k)
    assert max(max_abs(res.grads["Wx"], tWx), max_abs(res.grads["Wh"], tWh), max_abs(res.grads["b"], tb)) <= TORCH_TOL
    # the carried state has the right *value*: the final state of an uncut forward pass
    assert max_abs(res.h_final, rnn_forward(x, h0, Wx, Wh, b)[0][:, -1]) <= EXACT_TOL
    assert max_abs(res.h_final, h_last) <= TORCH_TOL


def test_chunked_with_one_chunk_equals_full_bptt(rng):
    x, h0, Wx, Wh, b = make_seq(rng, T=10)
    G = rng.standard_normal((2, 10, 4))
    res = chunked_bptt(x, h0, {"Wx": Wx, "Wh": Wh, "b": b}, linear_loss_chunk, 10, y=G)
    _, _, dWx, dWh, db = rnn_backward(G, rnn_forward(x, h0, Wx, Wh, b)[1])
    assert max(max_abs(res.grads["Wx"], dWx), max_abs(res.grads["Wh"], dWh), max_abs(res.grads["b"], db)) <= EXACT_TOL


def test_chunked_state_is_detached(rng):
    """A loss in the last chunk only must not send gradient into the steps of earlier chunks."""
    x, h0, Wx, Wh, b = make_seq(rng, T=9)
    params = {"Wx": Wx, "Wh": Wh, "b": b}
    G = np.zeros((2, 9, 4))
    G[:, 6:] = rng.standard_normal((2, 3, 4))  # loss lives in the third chunk (steps 6..8)
    res = chunked_bptt(x, h0, params, linear_loss_chunk, 3, y=G)
    assert res.chunk_losses[:2] == [0.0, 0.0]

    # reference: backprop through the last chunk alone, from the (constant) state it started with
    h_all, _ = rnn_forward(x, h0, Wx, Wh, b)
    _, last_only, _ = linear_loss_chunk(params, x[:, 6:], G[:, 6:], h_all[:, 5])
    for name in params:
        assert max_abs(res.grads[name], last_only[name]) <= EXACT_TOL

    # whereas full BPTT of the same loss reaches back into the first two chunks
    _, _, dWx, dWh, db = rnn_backward(G, rnn_forward(x, h0, Wx, Wh, b)[1])
    assert max_abs(res.grads["Wh"], dWh) > 1e-6


def test_chunked_bad_inputs(rng):
    x, h0, Wx, Wh, b = make_seq(rng, T=10)
    params = {"Wx": Wx, "Wh": Wh, "b": b}
    G = rng.standard_normal((2, 10, 4))
    with pytest.raises(ValueError, match="chunk_len must be >= 1, got 0"):
        chunked_bptt(x, h0, params, linear_loss_chunk, 0, y=G)
    with pytest.raises(ValueError, match=r"y axis 1 should be T=10 to match x \(T=10\), got 9"):
        chunked_bptt(x, h0, params, linear_loss_chunk, 3, y=G[:, :9])
    with pytest.raises(ValueError, match=r"x axis 0 should be N=2 to match h0 \(N=2\), got 1"):
        chunked_bptt(x[:1], h0, params, linear_loss_chunk, 3, y=G)
    with pytest.raises(ValueError, match=r"x must be an ndarray of shape \(N, T, \.\.\.\)"):
        chunked_bptt(x[:, 0, 0], h0, params, linear_loss_chunk, 3)

    def forgets_b(params, x_chunk, G_chunk, h_start):
        loss, grads, h_end = linear_loss_chunk(params, x_chunk, G_chunk, h_start)
        del grads["b"]
        return loss, grads, h_end

    with pytest.raises(ValueError, match=r"returned grads for \['Wh', 'Wx'\], expected \['Wh', 'Wx', 'b'\]"):
        chunked_bptt(x, h0, params, forgets_b, 3, y=G)


def test_truncated_backward_refuses_a_cache_of_another_cell(rng):
    from companion.numpy.lstm import lstm_forward

    N, T, D, H = 2, 3, 2, 4
    _, cache = lstm_forward(rng.standard_normal((N, T, D)), np.zeros((N, H)), rng.standard_normal((D, 4 * H)),
                            rng.standard_normal((H, 4 * H)), np.zeros(4 * H))
    with pytest.raises(TypeError, match="cache must be the RNNCache returned by rnn_forward, got LSTMCache"):
        truncated_rnn_backward(np.zeros((N, T, H)), cache, 2)
