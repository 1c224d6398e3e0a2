"""Tests for companion.torch.inspection (chapter 5's helpers for looking inside trained models)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import companion.torch.recurrent as ctr
from companion.torch.inspection import readout_input_gradient_norms, recurrent_mode, set_forget_bias_
from companion.torch.models import ManyToOneForecaster


def test_recurrent_mode_names_torch_and_course_layers():
    assert recurrent_mode(nn.RNN(2, 3)) == "rnn_tanh"
    assert recurrent_mode(nn.RNN(2, 3, nonlinearity="relu")) == "rnn_relu"
    assert recurrent_mode(nn.LSTM(2, 3)) == "lstm"
    assert recurrent_mode(nn.GRU(2, 3)) == "gru"
    assert recurrent_mode(ctr.LSTM(2, 3)) == "lstm"
    assert recurrent_mode(ctr.GRU(2, 3)) == "gru"
    assert recurrent_mode(ctr.RNN(2, 3, nonlinearity="relu")) == "rnn_relu"
    with pytest.raises(TypeError, match="RNN, LSTM or GRU"):
        recurrent_mode(nn.Linear(2, 3))


@pytest.mark.parametrize("cls", [nn.LSTM, ctr.LSTM])
def test_set_forget_bias_sets_only_the_forget_block_of_every_layer_and_direction(cls):
    torch.manual_seed(0)
    lstm = cls(3, 4, num_layers=2, bidirectional=True)
    before = {k: v.clone() for k, v in lstm.state_dict().items()}
    assert set_forget_bias_(lstm, 1.0) is lstm
    H = 4
    for name, value in lstm.state_dict().items():
        if name.startswith("bias_ih"):
            assert torch.all(value[H : 2 * H] == 1.0)
        elif name.startswith("bias_hh"):
            assert torch.all(value[H : 2 * H] == 0.0)
        if name.startswith("bias"):  # the other three blocks are untouched
            keep = torch.ones(4 * H, dtype=torch.bool)
            keep[H : 2 * H] = False
            assert torch.equal(value[keep], before[name][keep])
        else:
            assert torch.equal(value, before[name])
    # effective forget bias is exactly the value: the gate of a zero input and state is sigmoid(1)
    with torch.no_grad():
        single = nn.LSTM(1, 1)
        single.weight_ih_l0.zero_()
        single.weight_hh_l0.zero_()
        single.bias_ih_l0.zero_()
        single.bias_hh_l0.fill_(0.3)
        set_forget_bias_(single, 1.0)
        _, (_, c) = single(torch.zeros(2, 1, 1), (torch.zeros(1, 1, 1), torch.ones(1, 1, 1)))
    # after step 1: c = sigmoid(1) * 1 + sigmoid(0.3) * tanh(0.3); step 2 applies the same update again
    f, write = torch.sigmoid(torch.tensor(1.0)), torch.sigmoid(torch.tensor(0.3)) * torch.tanh(torch.tensor(0.3))
    expected = f * (f * 1.0 + write) + write
    assert abs(c.item() - expected.item()) < 1e-6


def test_set_forget_bias_rejects_other_layers_and_values():
    with pytest.raises(TypeError, match="LSTM"):
        set_forget_bias_(nn.GRU(2, 3), 1.0)
    with pytest.raises(ValueError, match="bias=False"):
        set_forget_bias_(nn.LSTM(2, 3, bias=False), 1.0)
    with pytest.raises(ValueError, match="finite"):
        set_forget_bias_(nn.LSTM(2, 3), float("nan"))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_readout_input_gradient_norms_match_autograd_on_the_model(cell):
    torch.manual_seed(0)
    model = ManyToOneForecaster(input_size=2, hidden_size=5, output_size=1, cell=cell).double()
    x = np.random.default_rng(0).standard_normal((3, 7, 2))
    norms = readout_input_gradient_norms(model, x)
    xt = torch.tensor(x, requires_grad=True)
    model(xt).sum().backward()  # y_hat summed over the batch: each row's gradient is its own
    expected = xt.grad.norm(dim=2).mean(dim=0).flip(0).numpy()
    np.testing.assert_allclose(norms, expected, rtol=1e-10, atol=1e-14)


def test_readout_input_gradient_norms_rejects_unsuitable_models():
    torch.manual_seed(0)
    with pytest.raises(ValueError, match="one output"):
        readout_input_gradient_norms(ManyToOneForecaster(2, 4, output_size=3), np.zeros((1, 3, 2)))
    with pytest.raises(TypeError, match="head"):
        readout_input_gradient_norms(nn.LSTM(2, 3), np.zeros((1, 3, 2)))
