"""Shared helpers for the LSTM / GRU / stacked / torch_io tests: step-by-step references and torch runs."""

from __future__ import annotations

import numpy as np
import torch

from companion.numpy.gru import gru_step_backward, gru_step_forward
from companion.numpy.lstm import lstm_step_backward, lstm_step_forward
from companion.numpy.torch_io import params_from_state_dict, params_to_state_dict

TORCH_CLASSES = {"rnn_tanh": torch.nn.RNN, "rnn_relu": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}


def max_abs(a, b) -> float:
    """Largest absolute difference between two arrays or tensors (shapes must agree)."""
    a = a.detach().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def torch_module(mode: str, D: int, H: int, num_layers: int = 1, bidirectional: bool = False, bias: bool = True):
    """A float64, batch-first torch module of the given kind."""
    kwargs = {"nonlinearity": mode[4:]} if mode.startswith("rnn_") else {}
    cls = TORCH_CLASSES[mode]
    return cls(D, H, num_layers=num_layers, bidirectional=bidirectional, batch_first=True, bias=bias, **kwargs).double()


def randomize_(module: torch.nn.Module, generator_seed: int, scale: float = 0.5) -> torch.nn.Module:
    """Overwrite every parameter with N(0, scale^2) values (larger than torch's init, so gates are not ~0.5)."""
    g = torch.Generator().manual_seed(generator_seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * scale)
    return module


def module_with_params(mode: str, params: dict, num_layers: int = 1, bidirectional: bool = False):
    """A torch module holding our NumPy parameters (through params_to_state_dict)."""
    D, H = params["Wx_l0"].shape[0], params["Wh_l0"].shape[0]
    m = torch_module(mode, D, H, num_layers, bidirectional)
    m.load_state_dict(params_to_state_dict(params, mode, num_layers, bidirectional))
    return m


def torch_grads_as_params(module: torch.nn.Module, mode: str, num_layers: int, bidirectional: bool) -> dict:
    """Parameter gradients of a torch module under our names.

    For the RNN and LSTM our ``b`` stands for ``bias_ih + bias_hh``, so ``dL/db``
    equals the gradient of either torch bias (not their sum).
    """
    grads = {name: p.grad.clone() for name, p in module.named_parameters()}
    if mode != "gru":
        grads = {n: (torch.zeros_like(g) if n.startswith("bias_hh") else g) for n, g in grads.items()}
    return params_from_state_dict(grads, mode, num_layers, bidirectional)


def lstm_by_steps(x, h0, c0, Wx, Wh, b, dh, dc_T):
    """Reference LSTM forward + backward over a sequence, built only from the step functions."""
    N, T, _ = x.shape
    h_t, c_t, hs, caches = h0, c0, [], []
    for t in range(T):
        h_t, c_t, cache = lstm_step_forward(x[:, t], h_t, c_t, Wx, Wh, b)
        hs.append(h_t)
        caches.append(cache)
    dx = np.zeros_like(x)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    dh_next, dc_next = np.zeros_like(h0), dc_T.copy()
    for t in reversed(range(T)):
        dx[:, t], dh_next, dc_next, gWx, gWh, gb = lstm_step_backward(dh[:, t] + dh_next, dc_next, caches[t])
        dWx += gWx
        dWh += gWh
        db += gb
    return np.stack(hs, axis=1), c_t, (dx, dh_next, dc_next, dWx, dWh, db)


def gru_by_steps(x, h0, Wx, Wh, bx, bh, dh):
    """Reference GRU forward + backward over a sequence, built only from the step functions."""
    N, T, _ = x.shape
    h_t, hs, caches = h0, [], []
    for t in range(T):
        h_t, cache = gru_step_forward(x[:, t], h_t, Wx, Wh, bx, bh)
        hs.append(h_t)
        caches.append(cache)
    dx = np.zeros_like(x)
    grads = [np.zeros_like(a) for a in (Wx, Wh, bx, bh)]
    dh_next = np.zeros_like(h0)
    for t in reversed(range(T)):
        dx[:, t], dh_next, *g = gru_step_backward(dh[:, t] + dh_next, caches[t])
        for acc, gi in zip(grads, g):
            acc += gi
    return np.stack(hs, axis=1), (dx, dh_next, *grads)
