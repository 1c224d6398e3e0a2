"""Attention layers in torch against the NumPy reference; Seq2Seq with attention."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from companion.numpy import attention as att
from companion.torch.attention import SCORES, make_attention, masked_softmax
from companion.torch.models import Seq2Seq

PAD, BOS, EOS = 0, 1, 2
V = 9  # pad, bos, eos + 6 symbols
TOL = 1e-12


@pytest.mark.parametrize("score", SCORES)
def test_layers_match_numpy(score) -> None:
    torch.manual_seed(0)
    N, T, S, H = 3, 4, 5, 6
    layer = make_attention(score, H, H, attn_size=7).double()
    q, k = torch.randn(N, T, H, dtype=torch.float64), torch.randn(N, S, H, dtype=torch.float64)
    mask = torch.as_tensor(att.padding_mask([5, 2, 3], S))
    ctx, w = layer(q, k, mask)
    params = {}
    if score == "additive":
        params = {"Wq": layer.Wq.weight.T.detach().numpy(), "Wk": layer.Wk.weight.T.detach().numpy(),
                  "v": layer.v.weight[0].detach().numpy()}
    elif score == "general":
        params = {"W": layer.W.weight.detach().numpy()}
    for t in range(T):
        c_np, w_np, _ = att.attention_forward(q[:, t].numpy(), k.numpy(), mask.numpy(), score, params)
        assert np.max(np.abs(c_np - ctx[:, t].detach().numpy())) <= TOL
        assert np.max(np.abs(w_np - w[:, t].detach().numpy())) <= TOL
    assert bool((w[~mask.unsqueeze(1).expand_as(w)] == 0).all())


def test_masked_softmax_errors() -> None:
    with pytest.raises(ValueError, match="allows no position"):
        masked_softmax(torch.zeros(2, 3), torch.tensor([[True, False, False], [False, False, False]]))
    with pytest.raises(TypeError, match="bool"):
        masked_softmax(torch.zeros(2, 3), torch.ones(2, 3))
    with pytest.raises(ValueError, match="score must be one of"):
        make_attention("cosine", 3, 3)
    with pytest.raises(ValueError, match="mask must have shape"):
        make_attention("scaled_dot", 3, 3)(torch.zeros(1, 2, 3), torch.zeros(1, 4, 3), torch.ones(1, 3, dtype=bool))


def _reverse_batch(n: int, g: torch.Generator, lo: int = 2, hi: int = 6) -> tuple[torch.Tensor, ...]:
    """Sources of lo..hi-1 symbols, targets = the reversed source + <eos>."""
    lengths = torch.randint(lo, hi, (n,), generator=g)
    S = int(lengths.max())
    src = torch.zeros(n, S, dtype=torch.long)
    tgt = torch.zeros(n, S + 1, dtype=torch.long)
    for i, length in enumerate(lengths.tolist()):
        s = torch.randint(3, V, (length,), generator=g)
        src[i, :length], tgt[i, :length], tgt[i, length] = s, s.flip(0), EOS
    tgt_in = torch.cat([torch.full((n, 1), BOS), tgt[:, :-1]], dim=1)
    return src, lengths, tgt_in, tgt


@pytest.mark.parametrize("score", SCORES)
def test_seq2seq_with_attention_ignores_padding(score) -> None:
    torch.manual_seed(0)
    model = Seq2Seq(V, V, embed_dim=5, hidden_size=6, bos_idx=BOS, eos_idx=EOS, pad_idx=PAD, attention=score).double()
    src, lengths, tgt_in, _ = _reverse_batch(5, torch.Generator().manual_seed(1))
    logits = model(src, tgt_in, lengths)
    assert logits.shape == (5, tgt_in.shape[1], V)
    w = model.alignments(src, tgt_in, lengths)
    pad = torch.arange(src.shape[1]).unsqueeze(0) >= lengths.unsqueeze(1)  # (N, S)
    assert bool((w.masked_select(pad.unsqueeze(1).expand_as(w)) == 0).all())
    assert torch.allclose(w.sum(-1), torch.ones(()).double())
    other = src.masked_fill(pad, 5)  # a real symbol where the padding was
    assert (model(other, tgt_in, lengths) - logits).abs().max().item() <= 1e-12
    with pytest.raises(ValueError, match="no attention"):
        Seq2Seq(V, V, bos_idx=BOS, eos_idx=EOS).alignments(src, tgt_in, lengths)


def test_seq2seq_attention_from_scratch_matches_builtin_and_searches_agree() -> None:
    torch.manual_seed(0)
    kw = {"embed_dim": 5, "hidden_size": 6, "num_layers": 2, "bos_idx": BOS, "eos_idx": EOS, "pad_idx": PAD,
          "attention": "additive"}
    builtin = Seq2Seq(V, V, **kw).double()
    ours = Seq2Seq(V, V, from_scratch=True, **kw).double()
    ours.load_state_dict(builtin.state_dict())
    src, lengths, tgt_in, _ = _reverse_batch(4, torch.Generator().manual_seed(1))
    assert (builtin(src, tgt_in, lengths) - ours(src, tgt_in, lengths)).abs().max().item() <= 1e-10
    tokens, scores = builtin.greedy_decode(src, lengths, max_len=7)
    beams = builtin.beam_search(src, lengths, beam_width=1, max_len=7)
    for n in range(4):
        (hyp,) = beams[n]
        assert hyp.tokens == tokens[n, : len(hyp.tokens)].tolist()
        assert abs(hyp.score - float(scores[n])) <= 1e-9
    # teacher_forcing = 0 runs the decoder step by step on its own argmax: the same logits as greedy
    free = builtin(src, tgt_in, lengths, teacher_forcing=0.0)
    assert free.argmax(-1)[:, 0].tolist() == tokens[:, 0].tolist()


def test_attention_learns_to_reverse_long_sequences() -> None:
    """Reversal of 4-11 symbols: attention reads the right source symbol and learns it quickly."""
    torch.manual_seed(0)
    model = Seq2Seq(V, V, embed_dim=16, hidden_size=48, bos_idx=BOS, eos_idx=EOS, pad_idx=PAD, attention="general")
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(0)
    for _ in range(250):
        src, lengths, tgt_in, tgt = _reverse_batch(64, g, 4, 12)
        loss = F.cross_entropy(model(src, tgt_in, lengths).reshape(-1, V), tgt.reshape(-1), ignore_index=PAD)
        opt.zero_grad()
        loss.backward()
        opt.step()
    src, lengths, tgt_in, tgt = _reverse_batch(200, torch.Generator().manual_seed(99), 4, 12)
    tokens, _ = model.greedy_decode(src, lengths, max_len=13)
    correct = sum(tokens[i, : lengths[i] + 1].tolist() == tgt[i, : lengths[i] + 1].tolist() for i in range(200))
    assert correct / 200 >= 0.8
    # the alignment of a reversal runs backwards: later target steps read earlier source positions
    w = model.alignments(src, tgt_in, lengths)
    falls = 0
    for i in range(20):
        read = w[i, : int(lengths[i])].argmax(-1)
        falls += float((read[1:] <= read[:-1]).double().mean())
    print(falls / 20)
    assert falls / 20 >= 0.8
