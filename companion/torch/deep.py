"""Deep recurrent networks: stacked LSTMs with optional residual connections and layer normalisation.

- :class:`StackedLSTM`: ``num_layers`` one-layer :class:`torch.nn.LSTM` blocks, batch-first.  Between two
  layers the output of the lower one can be layer-normalised before it enters the upper one, and added to
  the upper one's output (a residual connection):

  .. math::

      z^{(l)} = \\mathrm{LN}_l\\big(h^{(l-1)}\\big), \\qquad
      h^{(l)} = \\mathrm{LSTM}_l\\big(z^{(l)}\\big) + h^{(l-1)} \\qquad (l = 2, \\dots, L),

  with :math:`h^{(1)} = \\mathrm{LSTM}_1(x)`.  Without either option it computes what
  ``torch.nn.LSTM(input_size, hidden_size, num_layers, batch_first=True)`` computes.
- :func:`count_stacked_lstm_parameters`: its number of parameters, from the sizes.
- :class:`DeepLanguageModel`: embedding -> :class:`StackedLSTM` -> linear head, with the interface of
  :class:`~companion.torch.models.RNNLanguageModel` (so :func:`~companion.torch.trainer.fit` trains it).
- :func:`hidden_size_for_budget`: the largest hidden size that keeps such a model within a parameter budget,
  to compare depths at (about) the same number of parameters.
"""

from __future__ import annotations

import torch
from torch import nn

from companion.torch._validate import check_float_tensor, check_long_tensor, check_size

__all__ = ["StackedLSTM", "count_stacked_lstm_parameters", "DeepLanguageModel", "hidden_size_for_budget"]

State = tuple[torch.Tensor, torch.Tensor]


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


class StackedLSTM(nn.Module):
    """``num_layers`` LSTM layers on top of each other, with optional residual connections and LayerNorm.

    Parameters
    ----------
    input_size : int
        D, features of the input ``x (N, T, D)``.
    hidden_size : int
        H, units of every layer.
    num_layers : int
        L.
    residual : bool
        Add the input of each layer above the first to its output: ``h^(l) = LSTM_l(.) + h^(l-1)``.
        (The first layer has none: its input has D features, not H.)
    layer_norm : bool
        Normalise each layer's output over its H features (:class:`torch.nn.LayerNorm`, with a learned
        gain and bias) before it enters the next layer.  Adds ``2H`` parameters per connection.

    Notes
    -----
    ``forward(x (N, T, D), state=None) -> (out (N, T, H), (h_n, c_n))`` with ``h_n, c_n`` of shape
    ``(L, N, H)``, the layout of :class:`torch.nn.LSTM`.  ``out`` is the top layer's output (after its
    residual connection).  Layer ``l`` is ``self.layers[l]``, a one-layer ``nn.LSTM`` whose parameters are
    called ``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        *,
        residual: bool = False,
        layer_norm: bool = False,
    ) -> None:
        super().__init__()
        self.input_size = _positive_int("input_size", input_size)
        self.hidden_size = _positive_int("hidden_size", hidden_size)
        self.num_layers = _positive_int("num_layers", num_layers)
        self.residual, self.layer_norm = bool(residual), bool(layer_norm)
        sizes = [input_size] + [hidden_size] * (num_layers - 1)
        self.layers = nn.ModuleList(nn.LSTM(d, hidden_size, batch_first=True) for d in sizes)
        self.norms = nn.ModuleList(nn.LayerNorm(hidden_size) for _ in range(num_layers - 1 if layer_norm else 0))

    def forward(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        check_float_tensor("x", x, 3, self.layers[0].weight_ih_l0.dtype)
        check_size("x", x, 2, self.input_size, "input_size")
        if state is not None:
            self._check_state(state, x.shape[0])
        h_n, c_n, out = [], [], x
        for l, lstm in enumerate(self.layers):
            z = self.norms[l - 1](out) if l > 0 and self.layer_norm else out
            start = None if state is None else (state[0][l : l + 1], state[1][l : l + 1])
            y, (h, c) = lstm(z, start)
            out = y + out if l > 0 and self.residual else y
            h_n.append(h)
            c_n.append(c)
        return out, (torch.cat(h_n), torch.cat(c_n))

    def _check_state(self, state: State, batch_size: int) -> None:
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            raise TypeError("state must be a pair (h_0, c_0) of tensors of shape (num_layers, N, H)")
        want = (self.num_layers, batch_size, self.hidden_size)
        for name, s in zip(("h_0", "c_0"), state):
            if not isinstance(s, torch.Tensor) or tuple(s.shape) != want:
                got = tuple(s.shape) if isinstance(s, torch.Tensor) else type(s).__name__
                raise ValueError(f"{name} must have shape (num_layers, N, H) = {want}, got {got}")

    def extra_repr(self) -> str:
        return f"residual={self.residual}, layer_norm={self.layer_norm}"


def count_stacked_lstm_parameters(
    input_size: int, hidden_size: int, num_layers: int = 1, layer_norm: bool = False
) -> int:
    """Parameters of a :class:`StackedLSTM` (residual connections have none).

    ``4H (D + H) + 8H`` for the first layer (weights and torch's two bias vectors),
    ``(L - 1) (4H (H + H) + 8H)`` for the layers above it and, with LayerNorm,
    ``2H`` per connection.
    """
    D = _positive_int("input_size", input_size)
    H = _positive_int("hidden_size", hidden_size)
    L = _positive_int("num_layers", num_layers)
    first = 4 * H * (D + H) + 8 * H
    upper = (L - 1) * (4 * H * (2 * H) + 8 * H)
    return first + upper + (2 * H * (L - 1) if layer_norm else 0)


class DeepLanguageModel(nn.Module):
    """Embedding -> :class:`StackedLSTM` -> linear head: next-token logits for every position.

    Parameters
    ----------
    vocab_size : int
        V.
    embed_dim : int
        E.
    hidden_size : int
        H, units per layer.
    num_layers : int
        L.
    residual, layer_norm : bool
        As in :class:`StackedLSTM`.

    Notes
    -----
    ``forward(x (N, T) long, state=None) -> (logits (N, T, V), (h_n, c_n))``, like
    :class:`~companion.torch.models.RNNLanguageModel`; parameters:
    ``V E + count_stacked_lstm_parameters(E, H, L, layer_norm) + V H + V``.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        hidden_size: int,
        num_layers: int = 1,
        *,
        residual: bool = False,
        layer_norm: bool = False,
    ) -> None:
        super().__init__()
        self.vocab_size = _positive_int("vocab_size", vocab_size)
        self.embedding = nn.Embedding(vocab_size, _positive_int("embed_dim", embed_dim))
        self.rnn = StackedLSTM(embed_dim, hidden_size, num_layers, residual=residual, layer_norm=layer_norm)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        check_long_tensor("x", x, 2, high=self.vocab_size)
        h, state = self.rnn(self.embedding(x), state)
        return self.head(h), state


def hidden_size_for_budget(
    budget: int, vocab_size: int, embed_dim: int, num_layers: int, layer_norm: bool = False
) -> int:
    """Largest H whose :class:`DeepLanguageModel` has at most ``budget`` parameters.

    Raises
    ------
    ValueError
        If even ``H = 1`` exceeds the budget.
    """
    V, E = _positive_int("vocab_size", vocab_size), _positive_int("embed_dim", embed_dim)

    def total(H: int) -> int:
        return V * E + count_stacked_lstm_parameters(E, H, num_layers, layer_norm) + V * H + V

    if total(1) > _positive_int("budget", budget):
        raise ValueError(f"budget {budget} is below the smallest model ({total(1)} parameters with H = 1)")
    H = 1
    while total(H + 1) <= budget:
        H += 1
    return H
