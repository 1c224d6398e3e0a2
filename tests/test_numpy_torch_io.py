"""Weights between torch.nn.RNN/LSTM/GRU state_dicts and NumPy parameters: round trips, bias rules, errors."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch
from _recurrent_reference import max_abs, randomize_, torch_module

from companion.numpy.stacked import stacked_forward
from companion.numpy.torch_io import (
    param_keys,
    params_from_state_dict,
    params_to_state_dict,
    recurrent_parameter_count,
    torch_keys,
)

TORCH_TOL = 1e-10
MODES = ["rnn_tanh", "rnn_relu", "lstm", "gru"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("num_layers,bidirectional", [(1, False), (2, True)])
def test_round_trip_reproduces_module_outputs(rng, mode, num_layers, bidirectional):
    D, H = 3, 4
    original = randomize_(torch_module(mode, D, H, num_layers, bidirectional), 0)
    params = params_from_state_dict(original.state_dict(), mode, num_layers, bidirectional)
    assert list(params) == param_keys(mode, num_layers, bidirectional)
    exported = params_to_state_dict(params, mode, num_layers, bidirectional)
    assert list(exported) == list(original.state_dict())  # torch's names, torch's order
    reloaded = torch_module(mode, D, H, num_layers, bidirectional)
    reloaded.load_state_dict(exported)  # strict: every key present, every shape right

    x = torch.tensor(rng.standard_normal((2, 5, D)))
    with torch.no_grad():
        out_a, fin_a = original(x)
        out_b, fin_b = reloaded(x)
    out_np, fin_np, _ = stacked_forward(x.numpy(), params, mode, num_layers, bidirectional)
    assert max_abs(out_a, out_b) <= TORCH_TOL
    assert max_abs(out_a, out_np) <= TORCH_TOL
    if mode == "lstm":
        assert max_abs(fin_a[1], fin_b[1]) <= TORCH_TOL and max_abs(fin_a[1], fin_np[1]) <= TORCH_TOL
    else:
        assert max_abs(fin_a, fin_b) <= TORCH_TOL and max_abs(fin_a, fin_np) <= TORCH_TOL
    # and back again: params -> state_dict -> params is exact
    again = params_from_state_dict(exported, mode, num_layers, bidirectional)
    assert all(max_abs(again[k], params[k]) == 0.0 for k in params)


def test_weights_are_transposed_and_lstm_biases_summed():
    m = randomize_(torch_module("lstm", 3, 2), 4)
    sd = m.state_dict()
    p = params_from_state_dict(sd, "lstm")
    assert p["Wx_l0"].shape == (3, 8) and p["Wh_l0"].shape == (2, 8) and p["b_l0"].shape == (8,)
    assert max_abs(p["Wx_l0"], sd["weight_ih_l0"].T) == 0.0
    assert max_abs(p["Wh_l0"], sd["weight_hh_l0"].T) == 0.0
    assert max_abs(p["b_l0"], sd["bias_ih_l0"] + sd["bias_hh_l0"]) == 0.0
    out = params_to_state_dict(p, "lstm")
    assert max_abs(out["bias_ih_l0"], p["b_l0"]) == 0.0  # documented: the sum goes to bias_ih ...
    assert np.all(out["bias_hh_l0"].numpy() == 0.0)  # ... and bias_hh is zero


def test_gru_keeps_both_biases():
    m = randomize_(torch_module("gru", 3, 2), 4)
    sd = m.state_dict()
    p = params_from_state_dict(sd, "gru")
    assert set(p) == {"Wx_l0", "Wh_l0", "bx_l0", "bh_l0"}
    assert max_abs(p["bx_l0"], sd["bias_ih_l0"]) == 0.0 and max_abs(p["bh_l0"], sd["bias_hh_l0"]) == 0.0
    out = params_to_state_dict(p, "gru")
    assert max_abs(out["bias_hh_l0"], sd["bias_hh_l0"]) == 0.0


def test_accepts_arrays_and_keeps_dtype():
    m = torch_module("rnn_tanh", 2, 3).float()
    sd_arrays = {k: v.numpy() for k, v in m.state_dict().items()}
    p = params_from_state_dict(sd_arrays, "RNN_TANH")  # torch's upper-case mode names work too
    assert all(v.dtype == np.float32 for v in p.values())
    p["Wx_l0"][0, 0] = 99.0  # a copy: the module's tensor is untouched
    assert m.weight_ih_l0[0, 0].item() != 99.0
    out = params_to_state_dict(p, "rnn_tanh")
    assert out["weight_ih_l0"].dtype == torch.float32 and out["weight_ih_l0"][0, 0].item() == 99.0


def test_requires_grad_tensors_are_detached():
    m = torch_module("gru", 2, 3)
    p = params_from_state_dict(dict(m.named_parameters()), "gru")
    assert isinstance(p["Wh_l0"], np.ndarray)


def test_modules_without_bias():
    m = randomize_(torch_module("lstm", 3, 2, bias=False), 1)
    p = params_from_state_dict(m.state_dict(), "lstm", bias=False)
    assert np.all(p["b_l0"] == 0.0)
    out = params_to_state_dict(p, "lstm", bias=False)
    assert list(out) == ["weight_ih_l0", "weight_hh_l0"]
    torch_module("lstm", 3, 2, bias=False).load_state_dict(out)
    with pytest.raises(ValueError, match="bias=False but b_l0 is not zero"):
        params_to_state_dict({**p, "b_l0": np.ones(8)}, "lstm", bias=False)


def test_key_helpers():
    assert torch_keys("gru", 1, True) == [
        "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
        "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse",
    ]  # fmt: skip
    assert param_keys("lstm", 2) == ["Wx_l0", "Wh_l0", "b_l0", "Wx_l1", "Wh_l1", "b_l1"]


# -- errors -------------------------------------------------------------------------------------


def lstm_sd():
    return OrderedDict(randomize_(torch_module("lstm", 3, 4, 2, True), 0).state_dict())


def test_missing_entry_is_a_key_error():
    sd = lstm_sd()
    del sd["bias_hh_l1_reverse"]
    with pytest.raises(KeyError, match="state_dict has no entry 'bias_hh_l1_reverse', needed for mode='lstm'"):
        params_from_state_dict(sd, "lstm", 2, True)
    with pytest.raises(KeyError, match="no entry 'weight_ih_l0_reverse'"):
        params_from_state_dict(randomize_(torch_module("lstm", 3, 4), 0).state_dict(), "lstm", 1, True)
    p = params_from_state_dict(lstm_sd(), "lstm", 2, True)
    del p["Wh_l0"]
    with pytest.raises(KeyError, match="params has no entry 'Wh_l0'"):
        params_to_state_dict(p, "lstm", 2, True)


def test_unexpected_entries_are_value_errors():
    with pytest.raises(ValueError, match=r"entries \['bias_hh_l1', .*'weight_ih_l1_reverse'\] that a module"):
        params_from_state_dict(lstm_sd(), "lstm", 1, True)
    proj = torch.nn.LSTM(3, 4, proj_size=2, batch_first=True).state_dict()
    with pytest.raises(ValueError, match=r"\['weight_hr_l0'\].*proj_size is not supported"):
        params_from_state_dict(proj, "lstm")
    p = params_from_state_dict(lstm_sd(), "lstm", 2, True)
    with pytest.raises(ValueError, match=r"params has entries \['Wh_l1', 'Wh_l1_reverse', 'Wx_l1', .*num_layers=1"):
        params_to_state_dict(p, "lstm", 1, True)


def test_misshaped_entries_name_key_axis_and_sizes():
    sd = lstm_sd()
    sd["weight_hh_l0"] = sd["weight_hh_l0"][:, :3]
    with pytest.raises(ValueError, match=r"weight_hh_l0 axis 1 should be H=4 to match weight_hh_l0 \(H=4\), got 3"):
        params_from_state_dict(sd, "lstm", 2, True)
    sd = lstm_sd()
    sd["weight_ih_l1"] = sd["weight_ih_l1"][:, :4]  # a bidirectional layer 1 reads 2H = 8 features
    with pytest.raises(ValueError, match=r"weight_ih_l1 axis 1 should be 2H=8 to match weight_hh_l0 \(H=4\), got 4"):
        params_from_state_dict(sd, "lstm", 2, True)
    sd = lstm_sd()
    sd["bias_ih_l0"] = torch.zeros(12)
    with pytest.raises(ValueError, match=r"bias_ih_l0 axis 0 should be 4H=16 to match weight_hh_l0 \(H=4\), got 12"):
        params_from_state_dict(sd, "lstm", 2, True)
    gru = randomize_(torch_module("gru", 3, 4), 0).state_dict()
    with pytest.raises(ValueError, match=r"weight_hh_l0 axis 0 is 3H=16, which is not a multiple of 3"):
        params_from_state_dict({**gru, "weight_hh_l0": torch.zeros(16, 4)}, "gru")
    p = params_from_state_dict(gru, "gru")
    with pytest.raises(ValueError, match=r"bh_l0 axis 0 should be 3H=12 to match Wh_l0 \(H=4\), got 9"):
        params_to_state_dict({**p, "bh_l0": np.zeros(9)}, "gru")
    with pytest.raises(ValueError, match=r"Wx_l0 must have 2 dimensions \(D, 3H\), got 1"):
        params_to_state_dict({**p, "Wx_l0": np.zeros(12)}, "gru")


def test_bad_types_dtypes_and_values():
    sd = lstm_sd()
    msg = r"state_dict\['weight_ih_l0'\] must be a torch.Tensor or numpy.ndarray, got list"
    with pytest.raises(TypeError, match=msg):
        params_from_state_dict({**sd, "weight_ih_l0": sd["weight_ih_l0"].tolist()}, "lstm", 2, True)
    with pytest.raises(TypeError, match=r"state_dict\['bias_ih_l0'\] must be a floating-point array"):
        params_from_state_dict({**sd, "bias_ih_l0": torch.zeros(16, dtype=torch.int64)}, "lstm", 2, True)
    bad = sd["weight_hh_l1"].clone()
    bad[2, 1] = float("nan")
    with pytest.raises(ValueError, match=r"state_dict\['weight_hh_l1'\] contains NaN or inf \(first at index \(2, 1\)"):
        params_from_state_dict({**sd, "weight_hh_l1": bad}, "lstm", 2, True)
    with pytest.raises(ValueError, match=r"state_dict\['bias_hh_l0'\] is empty"):
        params_from_state_dict({**sd, "bias_hh_l0": torch.zeros(0)}, "lstm", 2, True)
    with pytest.raises(ValueError, match="mode must be one of"):
        params_from_state_dict(sd, "transformer")
    with pytest.raises(ValueError, match="num_layers must be a positive int, got 0"):
        params_from_state_dict(sd, "lstm", 0)
    with pytest.raises(TypeError, match="state_dict must be a mapping"):
        params_from_state_dict(list(sd.items()), "lstm", 2, True)
    with pytest.raises(TypeError, match="bidirectional must be a bool"):
        params_from_state_dict(sd, "lstm", 2, "yes")


@pytest.mark.parametrize("mode", ["rnn_tanh", "lstm", "gru"])
@pytest.mark.parametrize("num_layers, bidirectional", [(1, False), (2, False), (3, True)])
def test_recurrent_parameter_count_equals_torch(mode, num_layers, bidirectional):
    module = torch_module(mode, 5, 7, num_layers, bidirectional)
    expected = sum(p.numel() for p in module.parameters())
    assert recurrent_parameter_count(mode, 5, 7, num_layers, bidirectional) == expected
    # one bias per gate block (Keras reset_after=False, the NumPy RNN/LSTM): G*H fewer per layer and direction
    gates = {"rnn_tanh": 1, "lstm": 4, "gru": 3}[mode]
    fewer = gates * 7 * num_layers * (2 if bidirectional else 1)
    assert recurrent_parameter_count(mode, 5, 7, num_layers, bidirectional, biases=1) == expected - fewer


def test_recurrent_parameter_count_rejects_bad_arguments():
    with pytest.raises(ValueError, match="mode"):
        recurrent_parameter_count("transformer", 3, 4)
    with pytest.raises(ValueError, match="hidden_size"):
        recurrent_parameter_count("lstm", 3, 0)
    with pytest.raises(ValueError, match="biases"):
        recurrent_parameter_count("lstm", 3, 4, biases=3)
