"""LockedDropout, weight tying and the regularised language model."""

from __future__ import annotations

import pytest
import torch

from companion.torch import RNNLanguageModel, fit
from companion.torch.regularisation import (
    LockedDropout,
    RegularisedLanguageModel,
    count_lm_parameters,
    count_parameters,
    tie_weights,
)


def test_locked_dropout_shares_one_mask_over_time_and_is_identity_in_eval():
    torch.manual_seed(0)
    drop = LockedDropout(0.5)
    x = torch.ones(64, 10, 8)
    out = drop(x)
    assert torch.equal(out, out[:, :1].expand_as(out))  # the same mask at every step
    assert set(out.unique().tolist()) == {0.0, 2.0}
    assert abs(float(out.mean()) - 1.0) < 0.1
    drop.eval()
    assert torch.equal(drop(x), x)
    assert torch.equal(LockedDropout(0.0).train()(x), x)


def test_locked_dropout_gradient_is_the_mask():
    torch.manual_seed(1)
    x = torch.randn(4, 6, 3, requires_grad=True)
    out = LockedDropout(0.25)(x)
    out.sum().backward()
    mask = (out / x).detach()
    assert torch.allclose(x.grad, mask)
    assert torch.allclose(x.grad, x.grad[:, :1].expand_as(x.grad))


def test_locked_dropout_bad_inputs():
    with pytest.raises(ValueError, match=r"p must be a drop probability in \[0, 1\)"):
        LockedDropout(1.0)
    with pytest.raises(ValueError, match=r"batch-first \(N, T, D\)"):
        LockedDropout(0.5)(torch.ones(3, 4))


def test_tie_weights_shares_one_parameter_and_sums_both_gradients():
    emb, head = torch.nn.Embedding(7, 5), torch.nn.Linear(5, 7)
    tie_weights(emb, head)
    assert head.weight is emb.weight
    model = torch.nn.ModuleDict({"emb": emb, "head": head})
    assert count_parameters(model) == 7 * 5 + 7
    x = torch.tensor([[1, 2, 2]])
    head(emb(x)).sum().backward()
    g_total = emb.weight.grad.clone()
    # the same loss with two separate copies: the tied gradient is the sum of the two
    e2, h2 = torch.nn.Embedding(7, 5), torch.nn.Linear(5, 7)
    with torch.no_grad():
        e2.weight.copy_(emb.weight)
        h2.weight.copy_(emb.weight)
        h2.bias.copy_(head.bias)
    h2(e2(x)).sum().backward()
    assert torch.allclose(g_total, e2.weight.grad + h2.weight.grad, atol=1e-6)
    with pytest.raises(ValueError, match="tying needs head.weight"):
        tie_weights(torch.nn.Embedding(7, 4), torch.nn.Linear(5, 7))


@pytest.mark.parametrize("tied", [False, True])
def test_count_lm_parameters_matches_the_model(tied):
    model = RegularisedLanguageModel(30, 12, 12 if tied else 16, tie_weights=tied)
    assert count_parameters(model) == count_lm_parameters(30, 12, 12 if tied else 16, tied)
    plain = RNNLanguageModel(30, 12, 12 if tied else 16, tie_weights=tied)
    assert count_parameters(plain) == count_parameters(model)
    with pytest.raises(ValueError, match="tied weights need embed_dim == hidden_size"):
        count_lm_parameters(30, 12, 16, True)


def test_regularised_model_uses_locked_dropout_and_a_small_init():
    torch.manual_seed(0)
    model = RegularisedLanguageModel(20, 8, 8, dropout=0.5, dropout_kind="locked", tie_weights=True)
    assert isinstance(model.drop, LockedDropout) and model.head.weight is model.embedding.weight
    assert float(model.embedding.weight.detach().abs().max()) <= 0.1
    assert float(model.head.bias.detach().abs().max()) == 0.0
    standard = RegularisedLanguageModel(20, 8, 8, dropout=0.5)
    assert isinstance(standard.drop, torch.nn.Dropout)
    with pytest.raises(ValueError, match="dropout_kind must be one of"):
        RegularisedLanguageModel(20, 8, 8, dropout_kind="zoneout")
    with pytest.raises(ValueError, match="init_range must be > 0"):
        RegularisedLanguageModel(20, 8, 8, init_range=0.0)


def test_regularised_model_trains_and_evaluates_deterministically():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 12, (4, 41), generator=g)
    batches = [(ids[:, k : k + 10], ids[:, k + 1 : k + 11]) for k in range(0, 30, 10)]
    losses = []
    for _ in range(2):
        torch.manual_seed(0)
        model = RegularisedLanguageModel(12, 8, 8, dropout=0.3, dropout_kind="locked")
        h = fit(model, batches, batches, epochs=3, progress=False)
        losses.append(h["val_loss"])
    assert losses[0] == losses[1] and losses[0][-1] < losses[0][0]
