"""Look inside trained ``torch`` recurrent models with the NumPy layers, and set gate biases.

Chapter 5 measures how far back a model's prediction depends on its inputs and
compares LSTMs that differ only in their forget-gate bias.  The helpers here do
the two chores that needs: translate a PyTorch recurrent layer to the NumPy
layers' mode name (:func:`recurrent_mode`), measure the input-gradient reach of a
model with a one-output linear head (:func:`readout_input_gradient_norms`, via
:func:`companion.numpy.gradient_flow.input_gradient_norms`) and set the
forget-gate bias of an LSTM in place (:func:`set_forget_bias_`).

Works with ``torch.nn.RNN/LSTM/GRU`` and the course's drop-in
``companion.torch.RNN/LSTM/GRU`` (same parameter names).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from companion._checks import check_array
from companion.numpy.gradient_flow import input_gradient_norms
from companion.numpy.torch_io import params_from_state_dict
from companion.torch import recurrent

__all__ = ["recurrent_mode", "set_forget_bias_", "readout_input_gradient_norms"]


def recurrent_mode(module: nn.Module) -> str:
    """The NumPy mode name of a recurrent layer: ``"rnn_tanh"``, ``"rnn_relu"``, ``"lstm"`` or ``"gru"``.

    Parameters
    ----------
    module : torch.nn.RNN, LSTM or GRU, or companion.torch.RNN, LSTM or GRU

    Returns
    -------
    str
        The ``mode`` argument of :func:`companion.numpy.torch_io.params_from_state_dict`
        and :func:`companion.numpy.stacked.stacked_forward`.
    """
    if isinstance(module, (nn.LSTM, recurrent.LSTM)):
        return "lstm"
    if isinstance(module, (nn.GRU, recurrent.GRU)):
        return "gru"
    if isinstance(module, (nn.RNN, recurrent.RNN)):
        return f"rnn_{module.nonlinearity}"
    raise TypeError(f"module must be an RNN, LSTM or GRU layer, got {type(module).__name__}")


def set_forget_bias_(lstm: nn.Module, value: float) -> nn.Module:
    """Set the forget-gate bias of every layer and direction of an LSTM, in place.

    torch adds ``bias_ih`` and ``bias_hh``; the whole value goes into ``bias_ih``
    (block 1 of ``[i, f, g, o]``) and the ``bias_hh`` block is zeroed, so the
    effective bias is exactly ``value`` and the gate starts at ``sigmoid(value)``.
    No other parameter changes, so two models built from the same seed differ
    only in this bias.

    Parameters
    ----------
    lstm : torch.nn.LSTM or companion.torch.LSTM
        Built with ``bias=True``.
    value : float
        The forget-gate bias (1.0 is the usual recommendation).

    Returns
    -------
    The same module, for chaining.
    """
    if recurrent_mode(lstm) != "lstm":
        raise TypeError(f"lstm must be an LSTM layer, got {type(lstm).__name__}")
    if not lstm.bias:
        raise ValueError("the LSTM was built with bias=False: it has no forget-gate bias to set")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise ValueError(f"value must be a finite number, got {value!r}")
    H = lstm.hidden_size
    suffixes = ("", "_reverse") if lstm.bidirectional else ("",)
    with torch.no_grad():
        for layer in range(lstm.num_layers):
            for suffix in suffixes:
                getattr(lstm, f"bias_ih_l{layer}{suffix}")[H : 2 * H] = float(value)
                getattr(lstm, f"bias_hh_l{layer}{suffix}")[H : 2 * H] = 0.0
    return lstm


def readout_input_gradient_norms(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """Mean ``||d y_hat / d x_{T-1-k}||`` for a model ``y_hat = head(rnn(x)[0][:, -1])``.

    Loads the weights of ``model.rnn`` into the NumPy layers and backpropagates the
    one-output linear read-out ``model.head`` with their hand-written backward pass
    (:func:`companion.numpy.gradient_flow.input_gradient_norms`), in float64.

    Parameters
    ----------
    model : torch.nn.Module
        With a batch-first recurrent layer ``model.rnn`` and a ``torch.nn.Linear``
        ``model.head`` with one output, e.g. ``companion.torch.ManyToOneForecaster``.
    x : ndarray, shape (N, T, D)
        Input sequences.

    Returns
    -------
    ndarray, shape (T,)
        ``[k]`` = mean over sequences of the gradient norm for the input ``k`` steps
        before the read-out (index 0 is the last input).
    """
    rnn, head = getattr(model, "rnn", None), getattr(model, "head", None)
    if rnn is None or not isinstance(head, nn.Linear):
        raise TypeError("model must have a recurrent layer `rnn` and a torch.nn.Linear `head`")
    if head.out_features != 1:
        raise ValueError(f"model.head must have one output, got out_features={head.out_features}")
    if not rnn.batch_first:
        raise ValueError("model.rnn must be batch-first (batch_first=True), like the NumPy layers")
    check_array("x", x)
    mode = recurrent_mode(rnn)
    params = params_from_state_dict(rnn.state_dict(), mode, num_layers=rnn.num_layers, bidirectional=rnn.bidirectional)
    readout = head.weight.detach().to(torch.float64).cpu().numpy()[0]
    return input_gradient_norms(x, params, mode, readout, num_layers=rnn.num_layers, bidirectional=rnn.bidirectional)
