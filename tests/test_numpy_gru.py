"""GRU in NumPy (torch's form): finite differences, torch parity, step/sequence agreement, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _recurrent_reference import gru_by_steps, max_abs, module_with_params, torch_grads_as_params
from hypothesis import example, given, settings
from hypothesis import strategies as st

from companion.numpy.gradcheck import grad_check
from companion.numpy.gru import gru_backward, gru_forward, gru_step_backward, gru_step_forward, init_gru_params

STEP_TOL = 1e-8
SEQ_TOL = 1e-6
TORCH_TOL = 1e-10
SAME_TOL = 1e-12
FD = {"h": 1e-3, "order": 4}


def make_params(rng, D, H, scale=0.5):
    return (
        rng.standard_normal((D, 3 * H)) * scale,
        rng.standard_normal((H, 3 * H)) * scale,
        rng.standard_normal(3 * H),
        rng.standard_normal(3 * H),
    )


def test_step_backward_matches_finite_differences(rng):
    N, D, H = 3, 4, 5
    x, h_prev = rng.standard_normal((N, D)), rng.standard_normal((N, H))
    Wx, Wh, bx, bh = make_params(rng, D, H)
    G = rng.standard_normal((N, H))

    def loss():
        return float(np.sum(G * gru_step_forward(x, h_prev, Wx, Wh, bx, bh)[0]))

    _, cache = gru_step_forward(x, h_prev, Wx, Wh, bx, bh)
    dx, dh_prev, dWx, dWh, dbx, dbh = gru_step_backward(G, cache)
    errors = grad_check(
        loss,
        {"x": x, "h_prev": h_prev, "Wx": Wx, "Wh": Wh, "bx": bx, "bh": bh},
        {"x": dx, "h_prev": dh_prev, "Wx": dWx, "Wh": dWh, "bx": dbx, "bh": dbh},
        **FD,
    )
    assert max(errors.values()) <= STEP_TOL, errors


def test_sequence_backward_matches_finite_differences(rng):
    N, T, D, H = 2, 5, 3, 4
    x, h0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, H))
    Wx, Wh, bx, bh = make_params(rng, D, H)
    G = rng.standard_normal((N, T, H))

    def loss():
        return float(np.sum(G * gru_forward(x, h0, Wx, Wh, bx, bh)[0]))

    _, cache = gru_forward(x, h0, Wx, Wh, bx, bh)
    dx, dh0, dWx, dWh, dbx, dbh = gru_backward(G, cache)
    errors = grad_check(
        loss,
        {"x": x, "h0": h0, "Wx": Wx, "Wh": Wh, "bx": bx, "bh": bh},
        {"x": dx, "h0": dh0, "Wx": dWx, "Wh": dWh, "bx": dbx, "bh": dbh},
        **FD,
    )
    assert max(errors.values()) <= SEQ_TOL, errors


def test_biases_are_not_interchangeable(rng):
    """Moving the n block of bh into bx changes the output: r scales h Wh_n + bh_n, not bx_n."""
    x, h0 = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5))
    Wx, Wh, bx, bh = make_params(rng, 4, 5)
    h1, _ = gru_forward(x, h0, Wx, Wh, bx, bh)
    moved_bx, moved_bh = bx.copy(), bh.copy()
    moved_bx[10:] += bh[10:]
    moved_bh[10:] = 0.0
    h2, _ = gru_forward(x, h0, Wx, Wh, moved_bx, moved_bh)
    assert max_abs(h1, h2) > 1e-3
    moved_bx, moved_bh = bx.copy(), bh.copy()  # ... while for r and z only the sum matters
    moved_bx[:10] += bh[:10]
    moved_bh[:10] = 0.0
    h3, _ = gru_forward(x, h0, Wx, Wh, moved_bx, moved_bh)
    assert max_abs(h1, h3) <= 1e-14


def test_matches_torch_gru_forward_and_backward(rng):
    N, T, D, H = 3, 7, 4, 5
    x, h0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, H))
    Wx, Wh, bx, bh = make_params(rng, D, H)
    G, Gh = rng.standard_normal((N, T, H)), rng.standard_normal((N, H))

    h, cache = gru_forward(x, h0, Wx, Wh, bx, bh)
    dh = G.copy()
    dh[:, -1] += Gh
    dx, dh0, dWx, dWh, dbx, dbh = gru_backward(dh, cache)

    module = module_with_params("gru", {"Wx_l0": Wx, "Wh_l0": Wh, "bx_l0": bx, "bh_l0": bh})
    xt, h0t = torch.tensor(x, requires_grad=True), torch.tensor(h0[None], requires_grad=True)
    out, h_n = module(xt, h0t)
    ((out * torch.tensor(G)).sum() + (h_n[0] * torch.tensor(Gh)).sum()).backward()
    tg = torch_grads_as_params(module, "gru", 1, False)
    errors = {
        "h": max_abs(h, out),
        "h_n": max_abs(h[:, -1], h_n[0]),
        "dx": max_abs(dx, xt.grad),
        "dh0": max_abs(dh0, h0t.grad[0]),
        "dWx": max_abs(dWx, tg["Wx_l0"]),
        "dWh": max_abs(dWh, tg["Wh_l0"]),
        "dbx": max_abs(dbx, tg["bx_l0"]),
        "dbh": max_abs(dbh, tg["bh_l0"]),
    }
    assert max(errors.values()) <= TORCH_TOL, errors


@settings(max_examples=25, deadline=None)
@given(
    N=st.integers(1, 4), T=st.integers(1, 9), D=st.integers(1, 5), H=st.integers(1, 6), seed=st.integers(0, 2**16)
)
@example(N=1, T=1, D=1, H=1, seed=0)
@example(N=1, T=1, D=3, H=2, seed=1)
def test_sequence_equals_loop_of_steps(N, T, D, H, seed):
    rng = np.random.default_rng(seed)
    x, h0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, H))
    Wx, Wh, bx, bh = make_params(rng, D, H, scale=1.0)
    dh = rng.standard_normal((N, T, H))
    h, cache = gru_forward(x, h0, Wx, Wh, bx, bh)
    grads = gru_backward(dh, cache)
    h_ref, grads_ref = gru_by_steps(x, h0, Wx, Wh, bx, bh, dh)
    assert h.shape == (N, T, H)
    assert max_abs(h, h_ref) <= SAME_TOL
    for name, got, want in zip(("dx", "dh0", "dWx", "dWh", "dbx", "dbh"), grads, grads_ref):
        assert max_abs(got, want) <= SAME_TOL * max(1.0, float(np.abs(want).max())), name


def test_long_sequence_crosses_backward_chunks(rng, monkeypatch):
    import companion.numpy.gru as gru_module

    N, T, D, H = 2, 11, 3, 4
    x, h0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, H))
    params = make_params(rng, D, H)
    dh = rng.standard_normal((N, T, H))
    _, cache = gru_forward(x, h0, *params)
    whole = gru_backward(dh, cache)
    monkeypatch.setattr(gru_module, "_CHUNK_ELEMENTS", 3 * N * 3 * H)
    blocks = gru_backward(dh, cache)
    for a, b in zip(whole, blocks):
        assert max_abs(a, b) <= SAME_TOL


def test_float32_stays_float32_and_backward_is_repeatable(rng):
    f32 = np.float32
    x, h0 = rng.standard_normal((2, 3, 4)).astype(f32), np.zeros((2, 5), f32)
    params = [a.astype(f32) for a in make_params(rng, 4, 5)]
    h, cache = gru_forward(x, h0, *params)
    first = gru_backward(np.ones_like(h), cache)
    assert h.dtype == f32 and all(g.dtype == f32 for g in first)
    h[:] = 0.0  # a copy: the cache is untouched
    second = gru_backward(np.ones_like(h), cache)
    for a, b in zip(first, second):
        assert max_abs(a, b) == 0.0


def test_update_gate_one_copies_the_state(rng):
    """z = 1 (huge z bias) makes h_t = h_{t-1}: the GRU's highway for gradients."""
    D, H = 3, 4
    Wx, Wh, bx, bh = make_params(rng, D, H)
    bx[H : 2 * H] = 50.0
    x, h0 = rng.standard_normal((2, 6, D)), rng.standard_normal((2, H))
    h, cache = gru_forward(x, h0, Wx, Wh, bx, bh)
    assert max_abs(h[:, -1], h0) <= 1e-15
    dh = np.zeros_like(h)
    dh[:, -1] = 1.0
    _, dh0, *_ = gru_backward(dh, cache)
    assert max_abs(dh0, np.ones_like(h0)) <= 1e-15


def test_init(rng):
    p = init_gru_params(3, 4, rng)
    assert {k: v.shape for k, v in p.items()} == {"Wx": (3, 12), "Wh": (4, 12), "bx": (12,), "bh": (12,)}
    assert np.all(np.abs(p["Wh"]) <= 0.5) and np.all(p["bx"] == 0) and np.all(p["bh"] == 0)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        init_gru_params(3, 4, None)
    with pytest.raises(ValueError, match="input_size must be >= 1, got -1"):
        init_gru_params(-1, 4, rng)


def test_rejects_bad_inputs(rng):
    x, h0 = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5))
    Wx, Wh, bx, bh = make_params(rng, 4, 5)
    with pytest.raises(ValueError, match=r"x must have 3 dimensions \(N, T, D\), got 4"):
        gru_forward(x[None], h0, Wx, Wh, bx, bh)
    with pytest.raises(ValueError, match=r"Wh axis 1 should be 3H=15 to match h0 \(H=5\), got 12"):
        gru_forward(x, h0, Wx, Wh[:, :12], bx, bh)
    with pytest.raises(ValueError, match=r"bh axis 0 should be 3H=15 to match h0 \(H=5\), got 18"):
        gru_forward(x, h0, Wx, Wh, bx, np.zeros(18))
    with pytest.raises(ValueError, match=r"h_prev axis 0 should be N=2 to match x \(N=2\), got 1"):
        gru_step_forward(x[:, 0], h0[:1], Wx, Wh, bx, bh)
    with pytest.raises(TypeError, match="bx must be a floating-point array"):
        gru_forward(x, h0, Wx, Wh, bx.astype(np.int64), bh)
    with pytest.raises(ValueError, match="Wx contains NaN or inf"):
        gru_forward(x, h0, Wx * np.inf, Wh, bx, bh)
    with pytest.raises(ValueError, match=r"x is empty \(shape \(0, 3, 4\)\)"):
        gru_forward(x[:0], h0[:0], Wx, Wh, bx, bh)
    h, cache = gru_forward(x, h0, Wx, Wh, bx, bh)
    with pytest.raises(ValueError, match=r"dh axis 2 should be H=5 to match h \(H=5\), got 4"):
        gru_backward(h[..., :4], cache)
    with pytest.raises(TypeError, match="cache must be the GRUCache returned by gru_forward"):
        gru_backward(h, None)
    _, step_cache = gru_step_forward(x[:, 0], h0, Wx, Wh, bx, bh)
    with pytest.raises(ValueError, match=r"dh_next must have 2 dimensions \(N, H\), got 3"):
        gru_step_backward(h, step_cache)
