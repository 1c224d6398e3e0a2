"""companion.torch.sampling: reproducible; temperature, top-k and top-p behave as the chapter says."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import companion.numpy.sampling as np_sampling
from companion.torch import RNNLanguageModel, sample_ids, sample_next, sample_text
from companion.torch.sampling import top_p_filter

torch.set_num_threads(1)


class CharVocab:
    """Minimal stand-in for companion.data.vocab.Vocab: anything with encode/decode works."""

    def __init__(self, chars: str) -> None:
        self.itos = list(chars)
        self.stoi = {c: i for i, c in enumerate(chars)}

    def encode(self, text: str) -> list[int]:
        return [self.stoi[c] for c in text]

    def decode(self, ids: list[int]) -> str:
        return "".join(self.itos[i] for i in ids)


VOCAB = CharVocab("abcdefgh ")


@pytest.fixture
def model() -> RNNLanguageModel:
    torch.manual_seed(0)
    lm = RNNLanguageModel(len(VOCAB.itos), embed_dim=4, hidden_size=8, cell="gru")
    with torch.no_grad():
        lm.head.weight.mul_(8.0)  # a peaked distribution, so argmax is unambiguous
    return lm


def _greedy(model: RNNLanguageModel, prime: list[int], length: int) -> list[int]:
    """Reference: re-run the whole sequence and take the argmax each time."""
    seq = list(prime)
    with torch.no_grad():
        for _ in range(length):
            logits, _ = model(torch.tensor([seq]))
            seq.append(int(logits[0, -1].argmax()))
    return seq[len(prime) :]


def test_same_seed_same_text_and_different_seed_differs(model: RNNLanguageModel) -> None:
    a = sample_text(model, VOCAB, "abc", 40, seed=1)
    b = sample_text(model, VOCAB, "abc", 40, seed=1)
    c = sample_text(model, VOCAB, "abc", 40, seed=2)
    assert a == b
    assert a != c
    assert a.startswith("abc") and len(a) == 43
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert sample_text(model, VOCAB, "h", 20, generator=g1) == sample_text(model, VOCAB, "h", 20, generator=g2)


def test_low_temperature_and_top_k_one_are_greedy(model: RNNLanguageModel) -> None:
    prime = VOCAB.encode("bad ")
    greedy = _greedy(model, prime, 25)
    assert sample_ids(model, prime, 25, temperature=0.0, seed=0) == greedy
    assert sample_ids(model, prime, 25, temperature=1e-6, seed=0) == greedy
    assert sample_ids(model, prime, 25, top_k=1, temperature=3.0, seed=0) == greedy
    assert sample_ids(model, prime, 25, temperature=1.5, seed=0) != greedy  # a warm sample wanders off


def test_sample_next_inverse_cdf_and_top_k() -> None:
    logits = torch.log(torch.tensor([[0.1, 0.2, 0.3, 0.4]]))
    g = torch.Generator().manual_seed(0)
    u = float(torch.rand(1, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
    expected = int((torch.tensor([0.1, 0.3, 0.6, 1.0]) <= u).sum())  # first index whose CDF exceeds u
    assert int(sample_next(logits, generator=g)[0]) == expected
    draws = sample_next(logits.expand(4000, 4), top_k=2, generator=torch.Generator().manual_seed(1))
    assert set(draws.tolist()) == {2, 3}  # only the two most probable tokens
    frac3 = (draws == 3).double().mean().item()
    assert abs(frac3 - 0.4 / 0.7) < 0.03  # renormalised 0.3 : 0.4
    hot = sample_next(logits.expand(4000, 4), temperature=100.0, generator=torch.Generator().manual_seed(2))
    assert abs((hot == 0).double().mean().item() - 0.25) < 0.03  # high temperature -> nearly uniform
    assert sample_next(torch.tensor([0.0, 5.0, 1.0])).shape == ()


def test_bad_arguments_raise(model: RNNLanguageModel) -> None:
    with pytest.raises(ValueError, match="temperature must be a number >= 0"):
        sample_next(torch.zeros(3), temperature=-1.0)
    with pytest.raises(ValueError, match="top_k must be >= 1"):
        sample_next(torch.zeros(3), top_k=0)
    with pytest.raises(TypeError, match="logits must be a floating-point tensor"):
        sample_next(torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="prime must be a non-empty string"):
        sample_text(model, VOCAB, "", 5)
    with pytest.raises(TypeError, match=r"vocab must have an encode\(\) method"):
        sample_text(model, object(), "a", 5)
    with pytest.raises(ValueError, match="give either seed or generator"):
        sample_text(model, VOCAB, "a", 5, seed=0, generator=torch.Generator())


def test_sampling_leaves_training_mode_alone(model: RNNLanguageModel) -> None:
    model.train()
    sample_ids(model, [1, 2], 3, seed=0)
    assert model.training


# -- top-p (nucleus): the same tokens as companion.numpy.sampling ------------------------------------

@settings(max_examples=40, deadline=None)
@given(N=st.integers(1, 4), V=st.integers(1, 12), p=st.floats(0.001, 1.0), seed=st.integers(0, 2**16),
       ties=st.booleans())
def test_property_top_p_keeps_the_same_tokens_as_numpy(N, V, p, seed, ties) -> None:
    logits = np.random.default_rng(seed).standard_normal((N, V)) * 3
    if ties:
        logits = np.round(logits)
    ours = top_p_filter(torch.from_numpy(logits), p)
    ref = np_sampling.top_p_filter(logits, p)
    assert torch.equal(torch.isfinite(ours), torch.from_numpy(np.isfinite(ref)))
    assert torch.equal(ours[torch.isfinite(ours)], torch.from_numpy(logits)[torch.isfinite(ours)])


def test_top_p_edge_cases() -> None:
    logits = torch.log(torch.tensor([[0.1, 0.5, 0.3, 0.1]], dtype=torch.float64))
    assert torch.isfinite(top_p_filter(logits, 0.6)).tolist() == [[False, True, True, False]]  # crossing kept
    assert torch.isfinite(top_p_filter(logits, 0.85)).all()  # both tied 0.1s are kept
    assert torch.equal(top_p_filter(logits, 1.0), logits)
    assert torch.isfinite(top_p_filter(logits, 1e-9)).tolist() == [[False, True, False, False]]
    tied = torch.tensor([2.0, 2.0, -1.0])
    assert torch.isfinite(top_p_filter(tied, 1e-6)).tolist() == [True, True, False]
    before = logits.clone()
    top_p_filter(logits, 0.5)
    assert torch.equal(logits, before)  # never in place
    assert top_p_filter(torch.zeros(2, 3, 5), 0.3).shape == (2, 3, 5)


def test_sample_next_with_top_p_agrees_with_numpy_draw_for_draw() -> None:
    """Same logits and the same uniforms: the torch and NumPy samplers pick the same token in every row."""
    logits = np.random.default_rng(0).standard_normal((500, 7)) * 2
    for temperature, top_k, top_p in [(1.0, None, 0.9), (0.7, 5, 0.5), (2.0, None, 0.3), (1.0, 3, 1.0)]:
        g = torch.Generator().manual_seed(3)
        ours = sample_next(torch.from_numpy(logits), temperature, top_k, g, top_p=top_p)
        u = torch.rand(500, 1, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
        # NumPy's sampler with the same uniforms: a Generator whose random() returns them
        class Replay(np.random.Generator):
            def random(self, n):  # type: ignore[override]
                return u[:, 0].numpy()

        ref = np_sampling.sample_next(logits, temperature, top_k, Replay(np.random.PCG64()), top_p=top_p)
        assert np.array_equal(ours.numpy(), ref), (temperature, top_k, top_p)


def test_sample_text_with_top_p(model: RNNLanguageModel) -> None:
    prime = VOCAB.encode("bad ")
    greedy = _greedy(model, prime, 25)
    assert sample_ids(model, prime, 25, top_p=1e-9, temperature=2.0, seed=0) == greedy  # tiny p is greedy
    a = sample_text(model, VOCAB, "abc", 30, top_p=0.9, seed=4)
    assert a == sample_text(model, VOCAB, "abc", 30, top_p=0.9, seed=4) and len(a) == 33


def test_top_p_bad_values_raise() -> None:
    with pytest.raises(ValueError, match=r"top_p must be in \(0, 1\], got 90 \(a probability, not a percentage"):
        sample_next(torch.zeros(3), top_p=90)
    with pytest.raises(ValueError, match=r"top_p must be in \(0, 1\], got 0"):
        top_p_filter(torch.zeros(3), 0.0)
    with pytest.raises(TypeError, match=r"top_p must be a number in \(0, 1\] or None, got bool"):
        sample_next(torch.zeros(3), top_p=True)
    with pytest.raises(ValueError, match="logits contain NaN"):
        top_p_filter(torch.tensor([0.0, float("nan")]), 0.5)
