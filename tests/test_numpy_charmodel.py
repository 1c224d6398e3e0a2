"""The NumPy character language model: gradients, torch parity, memorising a string, sampling."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from _numpy_reference import max_abs, t64, torch_rnn_grads, torch_rnn_like

from companion.numpy.bptt import chunked_bptt
from companion.numpy.charmodel import (
    init_char_model,
    loss_and_grads,
    loss_grads_and_state,
    sample_chars,
    train_char_model,
)
from companion.numpy.gradcheck import grad_check
from companion.numpy.optim import Adam

SEQ_TOL = 1e-6
TORCH_TOL = 1e-10
TEXT = "the quick brown fox jumps over the lazy dog, twice!"[:50]


def encode(text: str) -> tuple[np.ndarray, list[str]]:
    chars = sorted(set(text))
    return np.array([[chars.index(c) for c in text]]), chars


@pytest.mark.parametrize("embed_dim", [None, 3])
def test_loss_and_grads_match_finite_differences(rng, embed_dim):
    params = init_char_model(5, 4, np.random.default_rng(0), embed_dim=embed_dim)
    x, y = rng.integers(0, 5, (2, 4)), rng.integers(0, 5, (2, 4))
    _, grads = loss_and_grads(params, x, y)
    errors = grad_check(lambda: loss_and_grads(params, x, y)[0], params, grads, h=1e-3, order=4)
    assert max(errors.values()) <= SEQ_TOL, errors


def test_matches_torch_embedding_rnn_linear(rng):
    params = init_char_model(6, 5, np.random.default_rng(2), embed_dim=4)
    x, y, h0 = rng.integers(0, 6, (3, 7)), rng.integers(0, 6, (3, 7)), rng.standard_normal((3, 5))
    loss, grads, h_final = loss_grads_and_state(params, x, y, h0)

    emb, W_out, b_out = (t64(params[k], grad=True) for k in ("W_embed", "W_out", "b_out"))
    rnn = torch_rnn_like(params["Wx"], params["Wh"], params["b"])
    h, h_last = rnn(emb[torch.from_numpy(x)], t64(h0)[None])
    ref = F.cross_entropy((h @ W_out + b_out).reshape(-1, 6), torch.from_numpy(y.reshape(-1)))
    ref.backward()
    dWx, dWh, db = torch_rnn_grads(rnn)
    ref_grads = {"W_embed": emb.grad, "Wx": dWx, "Wh": dWh, "b": db, "W_out": W_out.grad, "b_out": b_out.grad}
    assert abs(loss - ref.item()) <= TORCH_TOL and max_abs(h_final, h_last[0]) <= TORCH_TOL
    assert max(max_abs(grads[k], ref_grads[k]) for k in params) <= TORCH_TOL


def test_memorises_a_50_character_string_with_its_own_optimiser():
    idx, chars = encode(TEXT)
    assert idx.shape == (1, 50)
    x, y = idx[:, :-1], idx[:, 1:]
    params = init_char_model(len(chars), 64, np.random.default_rng(0), embed_dim=16)
    start = time.perf_counter()
    history = train_char_model(params, x, y, Adam(lr=1e-2), num_steps=150)
    assert time.perf_counter() - start < 10.0
    final_loss, _ = loss_and_grads(params, x, y)
    assert history[0] > 3.0 and final_loss < 0.1
    # greedy generation from the first character now spells out the rest of the string
    generated = sample_chars(params, int(idx[0, 0]), 49, np.random.default_rng(0), temperature=0.0)
    assert "".join(chars[i] for i in generated) == TEXT[1:]


def test_sampling_is_reproducible_and_in_vocabulary():
    params = init_char_model(7, 8, np.random.default_rng(0))
    a = sample_chars(params, 3, 30, np.random.default_rng(11), temperature=1.2, top_k=4)
    b = sample_chars(params, 3, 30, np.random.default_rng(11), temperature=1.2, top_k=4)
    assert a == b and len(a) == 30 and all(0 <= t < 7 for t in a)


def test_fits_chunked_bptt_and_one_chunk_is_full_bptt(rng):
    params = init_char_model(5, 4, np.random.default_rng(3))
    x, y = rng.integers(0, 5, (2, 9)), rng.integers(0, 5, (2, 9))
    h0 = np.zeros((2, 4))
    whole = chunked_bptt(x, h0, params, loss_grads_and_state, 9, y=y)
    loss, grads, h_final = loss_grads_and_state(params, x, y, h0)
    assert whole.loss == loss and all(max_abs(whole.grads[k], grads[k]) == 0.0 for k in params)
    chunked = chunked_bptt(x, h0, params, loss_grads_and_state, 4, y=y)
    assert len(chunked.chunk_losses) == 3 and max_abs(chunked.h_final, h_final) <= 1e-15


def test_charmodel_bad_inputs(rng):
    params = init_char_model(5, 4, rng)
    x = rng.integers(0, 5, (2, 4))
    with pytest.raises(ValueError, match=r"y axis 1 should be T=4 to match x \(T=4\), got 3"):
        loss_and_grads(params, x, x[:, :3])
    out_of_vocab = x.copy()
    out_of_vocab[1, 2] = 5
    with pytest.raises(ValueError, match="x has value 5 but must be < 5"):
        loss_and_grads(params, out_of_vocab, x)
    with pytest.raises(TypeError, match="optimizer must be a companion.numpy.optim optimiser"):
        train_char_model(params, x, x, torch.optim.SGD, 1)
