"""StackedLSTM (residual / LayerNorm), its parameter count and the deep language model."""

from __future__ import annotations

import pytest
import torch

from companion.torch import fit
from companion.torch.deep import (
    DeepLanguageModel,
    StackedLSTM,
    count_stacked_lstm_parameters,
    hidden_size_for_budget,
)


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("layer_norm", [False, True])
def test_shapes_and_parameter_count(num_layers, residual, layer_norm):
    torch.manual_seed(0)
    net = StackedLSTM(5, 7, num_layers, residual=residual, layer_norm=layer_norm)
    out, (h, c) = net(torch.randn(3, 4, 5))
    assert out.shape == (3, 4, 7)
    assert h.shape == c.shape == (num_layers, 3, 7)
    assert _count(net) == count_stacked_lstm_parameters(5, 7, num_layers, layer_norm)
    assert len(net.norms) == (num_layers - 1 if layer_norm else 0)
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters())


def test_parameter_count_formula_by_hand():
    # D = 3, H = 2: first layer 4*2*(3+2) + 8*2 = 56; each upper layer 4*2*4 + 16 = 48; LN 2*2 each
    assert count_stacked_lstm_parameters(3, 2, 1) == 56
    assert count_stacked_lstm_parameters(3, 2, 3) == 56 + 2 * 48
    assert count_stacked_lstm_parameters(3, 2, 3, layer_norm=True) == 56 + 2 * 48 + 2 * 4


def _copy_from(stack: StackedLSTM, ref: torch.nn.LSTM) -> None:
    with torch.no_grad():
        for l, layer in enumerate(stack.layers):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(layer, f"{name}_l0").copy_(getattr(ref, f"{name}_l{l}"))


@pytest.mark.parametrize("num_layers", [1, 3])
def test_plain_stack_equals_nn_lstm_with_copied_weights(num_layers):
    torch.manual_seed(1)
    ref = torch.nn.LSTM(4, 6, num_layers, batch_first=True).double()
    stack = StackedLSTM(4, 6, num_layers).double()
    _copy_from(stack, ref)
    x = torch.randn(2, 5, 4, dtype=torch.float64)
    state = (torch.randn(num_layers, 2, 6, dtype=torch.float64), torch.randn(num_layers, 2, 6, dtype=torch.float64))
    for s in (None, state):
        out, (h, c) = stack(x, s)
        ref_out, (ref_h, ref_c) = ref(x, s)
        assert torch.allclose(out, ref_out, atol=1e-12)
        assert torch.allclose(h, ref_h, atol=1e-12) and torch.allclose(c, ref_c, atol=1e-12)


def test_residual_and_layer_norm_change_exactly_what_they_say():
    torch.manual_seed(2)
    plain = StackedLSTM(3, 4, 2)
    res = StackedLSTM(3, 4, 2, residual=True)
    ln = StackedLSTM(3, 4, 2, layer_norm=True)
    res.load_state_dict(plain.state_dict())
    ln.load_state_dict(plain.state_dict(), strict=False)  # LayerNorm starts at gain 1, bias 0
    x = torch.randn(2, 6, 3)
    y1, _ = plain.layers[0](x)
    out_plain, (h_plain, _) = plain(x)
    out_res, (h_res, _) = res(x)
    # residual: the output is the top LSTM's output plus its input; the states are those of plain
    assert torch.allclose(out_res, out_plain + y1, atol=1e-6)
    assert torch.allclose(h_res, h_plain, atol=1e-6)
    # layer norm: the top layer sees the normalised first-layer output
    out_ln, _ = ln(x)
    z = torch.nn.functional.layer_norm(y1, (4,))
    assert torch.allclose(out_ln, plain.layers[1](z)[0], atol=1e-6)
    assert not torch.allclose(out_ln, out_plain, atol=1e-3)
    # one layer: neither option has anything to connect, so all three agree
    one = StackedLSTM(3, 4, 1)
    both = StackedLSTM(3, 4, 1, residual=True, layer_norm=True)
    both.load_state_dict(one.state_dict())
    assert torch.equal(one(x)[0], both(x)[0])


def test_bad_inputs_give_clear_errors():
    with pytest.raises(ValueError, match="num_layers must be a positive integer"):
        StackedLSTM(3, 4, 0)
    with pytest.raises(ValueError, match="hidden_size must be a positive integer"):
        StackedLSTM(3, True)
    net = StackedLSTM(3, 4, 2)
    with pytest.raises(ValueError, match="x must have 3 dimensions"):
        net(torch.randn(5, 3))
    with pytest.raises(ValueError, match="input_size"):
        net(torch.randn(2, 5, 4))
    with pytest.raises(TypeError, match="floating-point"):
        net(torch.ones(2, 5, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"h_0 must have shape \(num_layers, N, H\) = \(2, 2, 4\)"):
        net(torch.randn(2, 5, 3), (torch.zeros(1, 2, 4), torch.zeros(1, 2, 4)))
    with pytest.raises(TypeError, match="state must be a pair"):
        net(torch.randn(2, 5, 3), torch.zeros(2, 2, 4))


def test_hidden_size_for_budget_is_the_largest_that_fits():
    V, E = 65, 16
    for L in (1, 2, 3):
        H = hidden_size_for_budget(60_000, V, E, L, layer_norm=L > 1)
        model = DeepLanguageModel(V, E, H, L, layer_norm=L > 1)
        bigger = DeepLanguageModel(V, E, H + 1, L, layer_norm=L > 1)
        assert _count(model) <= 60_000 < _count(bigger)
    with pytest.raises(ValueError, match="below the smallest model"):
        hidden_size_for_budget(100, V, E, 1)


def test_deep_language_model_trains_with_fit_and_carries_state():
    torch.manual_seed(0)
    model = DeepLanguageModel(11, 8, 12, 3, residual=True, layer_norm=True)
    x = torch.randint(0, 11, (4, 9))
    logits, (h, c) = model(x)
    assert logits.shape == (4, 9, 11) and h.shape == (3, 4, 12)
    seq = torch.arange(200) % 11  # a periodic stream: easy to learn
    batches = [(seq[i : i + 40].view(4, 10), seq[i + 1 : i + 41].view(4, 10)) for i in range(0, 150, 40)]
    history = fit(model, batches, batches, epochs=15, lr=1e-2, progress=False)
    assert history["val_loss"][-1] < 0.5 * history["val_loss"][0]
    with pytest.raises(ValueError, match="indices must be < 11"):
        model(torch.full((1, 3), 11))
