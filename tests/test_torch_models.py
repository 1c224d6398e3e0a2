"""companion.torch.models and decoding: task models behave as their chapters need."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from companion.torch import (
    Hypothesis,
    ManyToManyForecaster,
    ManyToOneForecaster,
    RNNLanguageModel,
    Seq2Seq,
    SequenceClassifier,
    beam_search,
    greedy_search,
    make_recurrent,
)

torch.set_num_threads(1)


# --- make_recurrent ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_make_recurrent_from_scratch_is_interchangeable_with_torch(cell: str) -> None:
    torch.manual_seed(0)
    builtin = make_recurrent(cell, 3, 4, 2, bidirectional=True)
    ours = make_recurrent(cell, 3, 4, 2, bidirectional=True, from_scratch=True)
    assert type(builtin).__module__.startswith("torch.nn")
    assert type(ours).__module__ == "companion.torch.recurrent"
    ours.load_state_dict(builtin.state_dict())
    x = torch.randn(2, 5, 3)  # batch-first by default
    assert (builtin(x)[0] - ours(x)[0]).abs().max().item() <= 1e-5


# --- language model ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_language_model_shapes_and_state_carry(cell: str) -> None:
    torch.manual_seed(0)
    lm = RNNLanguageModel(11, embed_dim=6, hidden_size=8, num_layers=2, cell=cell).double()
    x = torch.randint(0, 11, (3, 7))
    logits, state = lm(x)
    assert logits.shape == (3, 7, 11)
    h = state[0] if cell == "lstm" else state
    assert h.shape == (2, 3, 8)
    # One pass over 7 steps equals a pass over 4 steps followed by 3 steps from the carried state.
    a, s = lm(x[:, :4])
    b, _ = lm(x[:, 4:], s)
    assert (torch.cat([a, b], dim=1) - logits).abs().max().item() <= 1e-12


def test_language_model_from_scratch_matches_builtin_and_ties_weights() -> None:
    torch.manual_seed(0)
    builtin = RNNLanguageModel(13, embed_dim=8, hidden_size=8, cell="lstm", tie_weights=True).double()
    ours = RNNLanguageModel(13, embed_dim=8, hidden_size=8, cell="lstm", tie_weights=True, from_scratch=True).double()
    ours.load_state_dict(builtin.state_dict())
    x = torch.randint(0, 13, (2, 6))
    assert (builtin(x)[0] - ours(x)[0]).abs().max().item() <= 1e-10
    assert builtin.head.weight is builtin.embedding.weight
    n_untied = sum(p.numel() for p in RNNLanguageModel(13, 8, 8).parameters())
    assert n_untied - sum(p.numel() for p in builtin.parameters()) == 13 * 8  # one V x H matrix saved
    with pytest.raises(ValueError, match="tie_weights needs embed_dim == hidden_size"):
        RNNLanguageModel(13, embed_dim=4, hidden_size=8, tie_weights=True)
    with pytest.raises(ValueError, match=r"x has value 13, but indices must be < 13"):
        builtin(torch.tensor([[1, 13]]))
    with pytest.raises(TypeError, match="x must be an integer tensor"):
        builtin(torch.zeros(2, 3))


# --- classifier ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("pooling", ["last", "mean"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("from_scratch", [False, True])
def test_classifier_ignores_padding(cell: str, pooling: str, bidirectional: bool, from_scratch: bool) -> None:
    torch.manual_seed(0)
    kw = {"cell": cell, "pooling": pooling, "bidirectional": bidirectional, "from_scratch": from_scratch}
    clf = SequenceClassifier(3, 8, vocab_size=20, embed_dim=5, **kw).double()
    lengths = torch.tensor([4, 2, 6])
    x = torch.randint(1, 20, (3, 6))
    x[0, 4:], x[1, 2:] = 0, 0
    base = clf(x, lengths)
    assert base.shape == (3, 3)
    noisy = x.clone()
    noisy[0, 4:], noisy[1, 2:] = torch.tensor([7, 9]), torch.tensor([5, 5, 5, 5])  # garbage where padding was
    longer = torch.cat([x, torch.zeros(3, 5, dtype=torch.long)], dim=1)  # five more padding columns
    assert (clf(noisy, lengths) - base).abs().max().item() <= 1e-12
    assert (clf(longer, lengths) - base).abs().max().item() <= 1e-12
    # ... and each row is what the model says about that sequence alone, unpadded.
    for n in range(3):
        alone = clf(x[n : n + 1, : lengths[n]], lengths[n : n + 1])
        assert (alone - base[n]).abs().max().item() <= 1e-12


def test_classifier_last_and_mean_pooling_read_the_right_states() -> None:
    torch.manual_seed(0)
    clf = SequenceClassifier(2, 4, vocab_size=9, embed_dim=3, cell="gru", pooling="mean").double()
    x, lengths = torch.randint(1, 9, (2, 5)), torch.tensor([5, 3])
    out, _ = clf.rnn(clf.embedding(x))
    feats = clf.features(x, lengths)
    assert (feats[0] - out[0].mean(0)).abs().max().item() <= 1e-12
    assert (feats[1] - out[1, :3].mean(0)).abs().max().item() <= 1e-12
    clf.pooling = "last"
    feats = clf.features(x, lengths)
    assert (feats[1] - out[1, 2]).abs().max().item() <= 1e-12  # last REAL step, not the last column


def test_classifier_real_valued_inputs_and_errors() -> None:
    clf = SequenceClassifier(2, 4, input_size=3, cell="rnn")
    assert clf(torch.randn(5, 6, 3), torch.tensor([6, 1, 2, 3, 4])).shape == (5, 2)
    assert clf(torch.randn(5, 6, 3)).shape == (5, 2)  # no lengths: all full length
    with pytest.raises(ValueError, match="exactly one of vocab_size"):
        SequenceClassifier(2, 4)
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, T=6\]"):
        clf(torch.randn(2, 6, 3), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match=r"lengths axis 0 should be N=2, got 3"):
        clf(torch.randn(2, 6, 3), torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="pooling must be one of"):
        SequenceClassifier(2, 4, input_size=3, pooling="max")


# --- forecasters ---------------------------------------------------------------------------------------------------
def test_many_to_one_forecaster_uses_the_last_state() -> None:
    torch.manual_seed(0)
    f = ManyToOneForecaster(2, 6, output_size=3, cell="lstm").double()
    x = torch.randn(4, 9, 2, dtype=torch.float64)
    y = f(x)
    assert y.shape == (4, 3)
    out, _ = f.rnn(x)
    assert (y - f.head(out[:, -1])).abs().max().item() <= 1e-12
    with pytest.raises(ValueError, match=r"x axis 2 should be input_size=2, got 3"):
        f(torch.randn(4, 9, 3, dtype=torch.float64))


def test_many_to_many_forecast_feeds_predictions_back() -> None:
    torch.manual_seed(0)
    f = ManyToManyForecaster(1, 5).double()
    context = torch.randn(2, 6, 1, dtype=torch.float64)
    y, _ = f(context)
    assert y.shape == (2, 6, 1)
    fc = f.forecast(context, steps=4)
    assert fc.shape == (2, 4, 1)
    # by hand: the first forecast is the last output on the context, each next one reads the previous forecast
    seq = context
    for k in range(4):
        pred = f(seq)[0][:, -1:]
        assert (pred - fc[:, k : k + 1]).abs().max().item() <= 1e-12
        seq = torch.cat([seq, pred], dim=1)
    with pytest.raises(ValueError, match="output_size .* must equal input_size"):
        ManyToManyForecaster(2, 5, output_size=1).forecast(torch.randn(1, 3, 2), 2)


# --- decoding: a hand-made Markov chain where greedy is short-sighted -------------------------------------------------
PAD, BOS, EOS, A, B = 0, 1, 2, 3, 4


def _markov_step(table: torch.Tensor):  # noqa: ANN202
    """step_fn whose next-token distribution depends only on the last token; the state is passed through."""

    def step(tokens: torch.Tensor, state: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        if state is not None:
            assert state.shape[1] == tokens.shape[0]  # the search keeps state and hypotheses aligned
        return table[tokens].log(), state

    return step


def _tricky_table() -> torch.Tensor:
    p = torch.full((5, 5), 1e-9, dtype=torch.float64)
    p[BOS, A], p[BOS, B] = 0.55, 0.45  # greedy takes A ...
    p[A, EOS], p[A, A], p[A, B] = 0.4, 0.3, 0.3  # ... and then finds nothing likely
    p[B, EOS], p[B, A] = 0.99, 0.01  # B is followed by <eos> almost surely
    return p / p.sum(1, keepdim=True)


def test_beam_search_beats_greedy_on_a_constructed_case() -> None:
    step = _markov_step(_tricky_table())
    state = torch.zeros(1, 1, 1)
    greedy = greedy_search(step, state, bos=BOS, eos=EOS, max_len=10)
    assert greedy.tokens == [A, EOS]
    assert math.isclose(greedy.score, math.log(0.55 * 0.4), rel_tol=1e-6)
    beams = beam_search(step, state, bos=BOS, eos=EOS, beam_width=2, max_len=10)
    assert isinstance(beams[0], Hypothesis)
    assert beams[0].tokens == [B, EOS]
    assert math.isclose(beams[0].score, math.log(0.45 * 0.99), rel_tol=1e-6)
    assert beams[0].score > greedy.score + 0.5
    assert [h.score for h in beams] == sorted((h.score for h in beams), reverse=True)
    one = beam_search(step, state, bos=BOS, eos=EOS, beam_width=1, max_len=10)
    assert len(one) == 1 and one[0].tokens == greedy.tokens and math.isclose(one[0].score, greedy.score)


def test_beam_search_length_handling() -> None:
    p = torch.full((5, 5), 1e-9, dtype=torch.float64)
    p[BOS, A], p[BOS, EOS] = 0.5, 0.5
    p[A, A], p[A, EOS] = 0.9, 0.1
    p = p / p.sum(1, keepdim=True)
    step = _markov_step(p)
    # No eos reached within max_len: hypotheses come back unfinished, with max_len tokens.
    q = p.clone()
    q[A] = torch.tensor([1e-9, 1e-9, 1e-9, 1.0, 1e-9], dtype=torch.float64)
    hyps = beam_search(_markov_step(q / q.sum(1, keepdim=True)), None, bos=BOS, eos=EOS, beam_width=3, max_len=4)
    assert any(not h.finished and len(h.tokens) == 4 for h in hyps)
    assert all(h.tokens[-1] == EOS for h in hyps if h.finished)
    # Raw log-probability favours the immediate <eos>; a length penalty can prefer a longer sequence.
    short = beam_search(step, None, bos=BOS, eos=EOS, beam_width=3, max_len=6)[0]
    assert short.tokens == [EOS]
    normed = beam_search(step, None, bos=BOS, eos=EOS, beam_width=3, max_len=6, length_penalty=1.0)[0]
    assert len(normed.tokens) > 1 and normed.finished  # complete sentences rank before truncated ones
    assert math.isclose(normed.normalized_score, normed.score / len(normed.tokens))
    with pytest.raises(ValueError, match="beam_width must be >= 1"):
        beam_search(step, None, bos=BOS, eos=EOS, beam_width=0, max_len=3)


# --- seq2seq -------------------------------------------------------------------------------------------------------
S2S_V = 9  # pad, bos, eos + 6 symbols


def _reverse_batch(n: int, g: torch.Generator) -> tuple[torch.Tensor, ...]:
    """Sources of 2-5 symbols, targets = the reversed source + <eos>, decoder inputs = <bos> + target[:-1]."""
    lengths = torch.randint(2, 6, (n,), generator=g)
    S = int(lengths.max())
    src = torch.zeros(n, S, dtype=torch.long)
    tgt = torch.zeros(n, S + 1, dtype=torch.long)
    for i, length in enumerate(lengths.tolist()):
        s = torch.randint(3, S2S_V, (length,), generator=g)
        src[i, :length], tgt[i, :length], tgt[i, length] = s, s.flip(0), EOS
    tgt_in = torch.cat([torch.full((n, 1), BOS), tgt[:, :-1]], dim=1)
    return src, lengths, tgt_in, tgt


@pytest.fixture(scope="module")
def trained_s2s() -> Seq2Seq:
    torch.manual_seed(0)
    model = Seq2Seq(S2S_V, S2S_V, embed_dim=16, hidden_size=64, bos_idx=BOS, eos_idx=EOS, pad_idx=PAD)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(0)
    for _ in range(300):
        src, lengths, tgt_in, tgt = _reverse_batch(64, g)
        loss = F.cross_entropy(model(src, tgt_in, lengths).reshape(-1, S2S_V), tgt.reshape(-1), ignore_index=PAD)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return model


def test_seq2seq_learns_to_reverse(trained_s2s: Seq2Seq) -> None:
    src, lengths, _, tgt = _reverse_batch(200, torch.Generator().manual_seed(99))
    tokens, scores = trained_s2s.greedy_decode(src, lengths, max_len=8)
    correct = sum(tokens[i, : lengths[i] + 1].tolist() == tgt[i, : lengths[i] + 1].tolist() for i in range(200))
    assert correct / 200 >= 0.85
    assert scores.shape == (200,) and bool((scores <= 0).all())
    # Padding after <eos> is pad_idx.
    i = int(lengths.argmin())
    assert set(tokens[i, lengths[i] + 1 :].tolist()) <= {PAD}


def test_seq2seq_beam_width_one_is_greedy(trained_s2s: Seq2Seq) -> None:
    src, lengths, _, _ = _reverse_batch(12, torch.Generator().manual_seed(5))
    trained_s2s.head.bias.data[EOS] -= 1.0  # make it less sure of itself, so some decodes err
    try:
        tokens, scores = trained_s2s.greedy_decode(src, lengths, max_len=8)
        beams = trained_s2s.beam_search(src, lengths, beam_width=1, max_len=8)
        singles = trained_s2s.greedy_search(src, lengths, max_len=8)
        wide = trained_s2s.beam_search(src, lengths, beam_width=4, max_len=8)
    finally:
        trained_s2s.head.bias.data[EOS] += 1.0
    for n in range(12):
        (hyp,) = beams[n]
        assert hyp.tokens == tokens[n, : len(hyp.tokens)].tolist() == singles[n].tokens
        assert abs(hyp.score - float(scores[n])) <= 1e-5
        assert 1 <= len(wide[n]) <= 4
        keys = [(h.finished, h.score) for h in wide[n]]
        assert keys == sorted(keys, reverse=True)


def test_seq2seq_teacher_forcing_zero_feeds_its_own_argmax(trained_s2s: Seq2Seq) -> None:
    src, lengths, tgt_in, _ = _reverse_batch(6, torch.Generator().manual_seed(3))
    trained_s2s.eval()
    free = trained_s2s(src, tgt_in, lengths, teacher_forcing=0.0)
    forced = trained_s2s(src, tgt_in, lengths, teacher_forcing=1.0)
    mixed = trained_s2s(src, tgt_in, lengths, teacher_forcing=1.0 - 1e-12, generator=torch.Generator().manual_seed(0))
    trained_s2s.train()
    tokens, _ = trained_s2s.greedy_decode(src, lengths, max_len=tgt_in.shape[1])
    # where greedy has not yet stopped, running free equals greedy decoding
    assert free.argmax(-1)[:, 0].tolist() == tokens[:, 0].tolist()
    n = 0
    length = int((tokens[n] != PAD).sum())
    assert free[n, :length].argmax(-1).tolist() == tokens[n, :length].tolist()
    assert (mixed - forced).abs().max().item() <= 1e-5  # ratio ~1 reads the truth
    with pytest.raises(ValueError, match="teacher_forcing must be a probability"):
        trained_s2s(src, tgt_in, lengths, teacher_forcing=1.5)


def test_seq2seq_from_scratch_matches_builtin() -> None:
    torch.manual_seed(0)
    kw = {"embed_dim": 5, "hidden_size": 6, "num_layers": 2, "bos_idx": BOS, "eos_idx": EOS, "pad_idx": PAD}
    builtin = Seq2Seq(S2S_V, S2S_V, **kw).double()
    ours = Seq2Seq(S2S_V, S2S_V, from_scratch=True, **kw).double()
    ours.load_state_dict(builtin.state_dict())
    src, lengths, tgt_in, _ = _reverse_batch(4, torch.Generator().manual_seed(1))
    assert (builtin(src, tgt_in, lengths) - ours(src, tgt_in, lengths)).abs().max().item() <= 1e-10
    assert torch.equal(builtin.greedy_decode(src, lengths, 6)[0], ours.greedy_decode(src, lengths, 6)[0])
