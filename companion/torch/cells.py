r"""Recurrent cells written from ``nn.Parameter`` and plain tensor operations.

Each cell is one time step of a recurrence, with the parameter names, shapes,
gate order and initialisation of :class:`torch.nn.RNNCell`,
:class:`torch.nn.LSTMCell` and :class:`torch.nn.GRUCell`, so a ``state_dict``
moves freely between ours and the built-ins.

The update rules are split in two so that :mod:`companion.torch.recurrent` can
reuse them: the *input term* ``gi = W_ih x + b_ih`` does not depend on the
previous state and can be computed for all time steps at once; only the
*hidden term* ``gh = W_hh h + b_hh`` must wait for the step before.

- :func:`rnn_step`: :math:`h' = \tanh(g_i + g_h)` (or ReLU);
- :func:`lstm_step`: :math:`[i, f, g, o] = g_i + g_h`, :math:`c' = \sigma(f) \odot c + \sigma(i) \odot \tanh(g)`,
  :math:`h' = \sigma(o) \odot \tanh(c')`;
- :func:`gru_step`: :math:`r = \sigma(g_{i,r} + g_{h,r})`, :math:`z = \sigma(g_{i,z} + g_{h,z})`,
  :math:`n = \tanh(g_{i,n} + r \odot g_{h,n})`, :math:`h' = (1 - z) \odot n + z \odot h`.

Note the GRU's reset gate multiplies ``W_hn h + b_hn`` (PyTorch/cuDNN form), not
``W_hn (r ⊙ h)`` as in Cho et al. (2014); the two are different functions.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from companion.torch._validate import check_choice, check_count, check_float_tensor, check_size

__all__ = ["rnn_step", "lstm_step", "gru_step", "RNNCell", "LSTMCell", "GRUCell", "init_uniform_"]

_NONLINEARITIES = ("tanh", "relu")


def rnn_step(gi: torch.Tensor, gh: torch.Tensor, nonlinearity: str = "tanh") -> torch.Tensor:
    """Elman update ``h' = f(W_ih x + b_ih + W_hh h + b_hh)``.

    Parameters
    ----------
    gi, gh : Tensor, shape (N, H)
        Input term ``W_ih x + b_ih`` and hidden term ``W_hh h + b_hh``.
    nonlinearity : {"tanh", "relu"}

    Returns
    -------
    Tensor, shape (N, H)
    """
    pre = gi + gh
    return torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)


def lstm_step(gi: torch.Tensor, gh: torch.Tensor, c_prev: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """LSTM update with gate blocks stacked ``[i, f, g, o]`` along the last axis.

    Parameters
    ----------
    gi, gh : Tensor, shape (N, 4H)
        Input term ``W_ih x + b_ih`` and hidden term ``W_hh h + b_hh``.
    c_prev : Tensor, shape (N, H)
        Previous cell state.

    Returns
    -------
    h_next, c_next : Tensor, shape (N, H)
    """
    i, f, g, o = (gi + gh).chunk(4, dim=-1)
    c_next = torch.sigmoid(f) * c_prev + torch.sigmoid(i) * torch.tanh(g)  # forget some, write some
    h_next = torch.sigmoid(o) * torch.tanh(c_next)  # expose a gated view of the memory
    return h_next, c_next


def gru_step(gi: torch.Tensor, gh: torch.Tensor, h_prev: torch.Tensor) -> torch.Tensor:
    """GRU update (PyTorch form) with gate blocks stacked ``[r, z, n]`` along the last axis.

    Parameters
    ----------
    gi, gh : Tensor, shape (N, 3H)
        Input term ``W_ih x + b_ih`` and hidden term ``W_hh h + b_hh``; they are
        kept apart because the reset gate scales only the hidden part of ``n``.
    h_prev : Tensor, shape (N, H)

    Returns
    -------
    Tensor, shape (N, H)
    """
    i_r, i_z, i_n = gi.chunk(3, dim=-1)
    h_r, h_z, h_n = gh.chunk(3, dim=-1)
    r = torch.sigmoid(i_r + h_r)
    z = torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)  # r ⊙ (W_hn h + b_hn)
    return (1 - z) * n + z * h_prev  # z = 1 keeps the old state, z = 0 takes the candidate


def init_uniform_(module: nn.Module, hidden_size: int) -> None:
    """Draw every parameter of ``module`` from U(-1/sqrt(H), 1/sqrt(H)), PyTorch's default for recurrent layers."""
    bound = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0
    with torch.no_grad():
        for p in module.parameters():
            p.uniform_(-bound, bound)


class _CellBase(nn.Module):
    """Parameters ``weight_ih (G*H, D)``, ``weight_hh (G*H, H)``, ``bias_ih``, ``bias_hh (G*H,)``."""

    gates = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.input_size = check_count("input_size", input_size)
        self.hidden_size = check_count("hidden_size", hidden_size)
        self.bias = bool(bias)
        kw = {"device": device, "dtype": dtype}
        G = self.gates * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(G, input_size, **kw))
        self.weight_hh = nn.Parameter(torch.empty(G, hidden_size, **kw))
        if self.bias:
            self.bias_ih = nn.Parameter(torch.empty(G, **kw))
            self.bias_hh = nn.Parameter(torch.empty(G, **kw))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw all parameters from U(-1/sqrt(H), 1/sqrt(H))."""
        init_uniform_(self, self.hidden_size)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        return s

    def _check_input(self, input: torch.Tensor) -> tuple[torch.Tensor, bool]:
        """Return ``input`` as (N, D) and whether it was unbatched (D,)."""
        check_float_tensor("input", input, (1, 2), self.weight_ih.dtype)
        check_size("input", input, -1, self.input_size, "input_size")
        batched = input.dim() == 2
        return (input if batched else input.unsqueeze(0)), batched

    def _check_state(self, name: str, h: torch.Tensor | None, x: torch.Tensor, batched: bool) -> torch.Tensor:
        """Return the state as (N, H), zeros when ``h`` is None."""
        if h is None:
            return x.new_zeros(x.shape[0], self.hidden_size)
        check_float_tensor(name, h, 2 if batched else 1, x.dtype)
        h2 = h if batched else h.unsqueeze(0)
        expected = (x.shape[0], self.hidden_size)
        if tuple(h2.shape) != expected:
            want = f"(N={expected[0]}, H={expected[1]})" if batched else f"(H={expected[1]},)"
            raise ValueError(f"{name} should have shape {want} to match input and hidden_size, got {tuple(h.shape)}")
        return h2

    def _terms(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        gi = F.linear(x, self.weight_ih, self.bias_ih)
        gh = F.linear(h, self.weight_hh, self.bias_hh)
        return gi, gh


class RNNCell(_CellBase):
    """One step of an Elman RNN, ``h' = tanh(W_ih x + b_ih + W_hh h + b_hh)``, like :class:`torch.nn.RNNCell`.

    Parameters
    ----------
    input_size, hidden_size : int
        D and H.
    bias : bool
        Whether to use ``bias_ih`` and ``bias_hh``.
    nonlinearity : {"tanh", "relu"}

    Notes
    -----
    ``forward(input (N, D) or (D,), hx (N, H) or (H,) or None) -> h' (N, H) or (H,)``.
    """

    gates = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        check_choice("nonlinearity", nonlinearity, _NONLINEARITIES)
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s if self.nonlinearity == "tanh" else s + f", nonlinearity={self.nonlinearity!r}"

    def forward(self, input: torch.Tensor, hx: torch.Tensor | None = None) -> torch.Tensor:
        x, batched = self._check_input(input)
        h = self._check_state("hx", hx, x, batched)
        h_next = rnn_step(*self._terms(x, h), self.nonlinearity)
        return h_next if batched else h_next.squeeze(0)


class LSTMCell(_CellBase):
    """One LSTM step with gates stacked ``[i, f, g, o]``, like :class:`torch.nn.LSTMCell`.

    Notes
    -----
    ``forward(input (N, D) or (D,), hx=(h (N, H), c (N, H)) or None) -> (h', c')``.
    """

    gates = 4

    def forward(
        self, input: torch.Tensor, hx: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        x, batched = self._check_input(input)
        if hx is None:
            h = c = None
        else:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"hx for an LSTM cell must be a tuple (h, c) of two tensors, got {type(hx).__name__}")
            h, c = hx
        h = self._check_state("hx[0] (h)", h, x, batched)
        c = self._check_state("hx[1] (c)", c, x, batched)
        h_next, c_next = lstm_step(*self._terms(x, h), c)
        if not batched:
            return h_next.squeeze(0), c_next.squeeze(0)
        return h_next, c_next


class GRUCell(_CellBase):
    """One GRU step (PyTorch form, gates ``[r, z, n]``), like :class:`torch.nn.GRUCell`.

    Notes
    -----
    ``forward(input (N, D) or (D,), hx (N, H) or (H,) or None) -> h' (N, H) or (H,)``.
    """

    gates = 3

    def forward(self, input: torch.Tensor, hx: torch.Tensor | None = None) -> torch.Tensor:
        x, batched = self._check_input(input)
        h = self._check_state("hx", hx, x, batched)
        h_next = gru_step(*self._terms(x, h), h)
        return h_next if batched else h_next.squeeze(0)
