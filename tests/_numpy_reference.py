"""Torch (float64 autograd) references shared by the tests of companion.numpy.

Kept apart from the package on purpose: the NumPy code must never import torch,
and the tests need one trusted definition of "what torch computes".
"""

from __future__ import annotations

import numpy as np
import torch


def t64(a: np.ndarray, grad: bool = False) -> torch.Tensor:
    """float64 tensor copy of ``a`` (optionally a leaf that records gradients)."""
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


def torch_rnn_like(Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray, nonlinearity: str = "tanh") -> torch.nn.RNN:
    """A 1-layer batch-first ``torch.nn.RNN`` holding our weights (bias split between its two biases)."""
    D, H = Wx.shape
    rnn = torch.nn.RNN(D, H, nonlinearity=nonlinearity, batch_first=True).double()
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(t64(Wx.T))
        rnn.weight_hh_l0.copy_(t64(Wh.T))
        # any split of b works; an uneven one checks that only the sum matters
        rnn.bias_ih_l0.copy_(t64(0.25 * b))
        rnn.bias_hh_l0.copy_(t64(0.75 * b))
    return rnn


def torch_rnn_grads(rnn: torch.nn.RNN) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(dWx, dWh, db)`` in our layout from a torch RNN after ``backward``."""
    return (
        rnn.weight_ih_l0.grad.numpy().T,
        rnn.weight_hh_l0.grad.numpy().T,
        rnn.bias_ih_l0.grad.numpy(),  # equal to bias_hh_l0.grad: both enter the sum identically
    )


def max_abs(a, b) -> float:
    """Largest absolute difference between two arrays (tensors are converted)."""
    a = a.detach().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.max(np.abs(a - b))) if a.size else 0.0
