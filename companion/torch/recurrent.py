"""Multi-layer, optionally bidirectional RNN / LSTM / GRU built from the cells' update rules.

:class:`RNN`, :class:`LSTM` and :class:`GRU` take the constructor arguments of
:class:`torch.nn.RNN` / :class:`torch.nn.LSTM` / :class:`torch.nn.GRU`, register the
same parameters (``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``,
``bias_hh_l{k}``, plus ``_reverse`` for the backward direction) in the same order,
and follow the same conventions:

* ``input`` is (T, N, D), or (N, T, D) with ``batch_first=True``, or unbatched (T, D),
  or a :class:`~torch.nn.utils.rnn.PackedSequence`;
* the state has shape (num_layers * num_directions, N, H) and is *not* affected by
  ``batch_first``;
* ``forward`` returns ``(output, h_n)`` (``(output, (h_n, c_n))`` for the LSTM), where
  ``output`` holds the last layer's states for every step, both directions concatenated.

Layer ``k > 0`` reads the concatenated outputs of layer ``k - 1`` (size
``num_directions * H``), with dropout between layers in training mode only.
The code is a plain double loop (layers, then time), written for reading, not speed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from companion.torch._validate import check_choice, check_count, check_float_tensor, check_size
from companion.torch.cells import gru_step, init_uniform_, lstm_step, rnn_step

__all__ = ["RNN", "LSTM", "GRU"]

State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


class _RecurrentBase(nn.Module):
    """Shared parameter layout, checks and the layer/time loops; subclasses supply the cell update."""

    gates = 1
    has_cell_state = False

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.input_size = check_count("input_size", input_size)
        self.hidden_size = check_count("hidden_size", hidden_size)
        self.num_layers = check_count("num_layers", num_layers)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}")
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)  # on the outputs of every layer but the last: none if num_layers == 1
        self.bidirectional = bool(bidirectional)
        self.num_directions = 2 if self.bidirectional else 1
        kw = {"device": device, "dtype": dtype}
        G = self.gates * hidden_size
        for layer in range(self.num_layers):
            layer_input = input_size if layer == 0 else hidden_size * self.num_directions
            for suffix in self._suffixes():
                # Same registration order as torch.nn.RNN, so parameters() lines up with the built-in too.
                setattr(self, f"weight_ih_l{layer}{suffix}", nn.Parameter(torch.empty(G, layer_input, **kw)))
                setattr(self, f"weight_hh_l{layer}{suffix}", nn.Parameter(torch.empty(G, hidden_size, **kw)))
                if self.bias:
                    setattr(self, f"bias_ih_l{layer}{suffix}", nn.Parameter(torch.empty(G, **kw)))
                    setattr(self, f"bias_hh_l{layer}{suffix}", nn.Parameter(torch.empty(G, **kw)))
        self.reset_parameters()

    def _suffixes(self) -> tuple[str, ...]:
        return ("", "_reverse") if self.bidirectional else ("",)

    def reset_parameters(self) -> None:
        """Re-draw all parameters from U(-1/sqrt(H), 1/sqrt(H)), like the built-ins."""
        init_uniform_(self, self.hidden_size)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s

    def _params(self, layer: int, suffix: str) -> tuple[torch.Tensor, ...]:
        get = lambda name: getattr(self, f"{name}_l{layer}{suffix}", None)  # noqa: E731
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")

    # -- the update rule of one step; ``gi`` already holds W_ih x_t + b_ih ---------------------------------------
    def _step(self, gi: torch.Tensor, h: torch.Tensor, c: torch.Tensor | None, w_hh, b_hh):  # noqa: ANN001
        raise NotImplementedError  # pragma: no cover  (each subclass defines its own update)

    # -- checks ---------------------------------------------------------------------------------------------------
    def _check_state(self, name: str, h: object, batch: int, dtype: torch.dtype, batched: bool) -> torch.Tensor:
        L = self.num_layers * self.num_directions
        check_float_tensor(name, h, 3 if batched else 2, dtype)
        assert isinstance(h, torch.Tensor)
        expected = (L, batch, self.hidden_size) if batched else (L, self.hidden_size)
        if tuple(h.shape) != expected:
            want = (
                f"(num_layers*num_directions={L}, N={batch}, H={self.hidden_size})"
                if batched
                else f"(num_layers*num_directions={L}, H={self.hidden_size})"
            )
            raise ValueError(f"{name} should have shape {want}, got {tuple(h.shape)}")
        return h if batched else h.unsqueeze(1)

    def _initial_state(
        self, hx: object, batch: int, x: torch.Tensor, batched: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        zeros = lambda: x.new_zeros(self.num_layers * self.num_directions, batch, self.hidden_size)  # noqa: E731
        if not self.has_cell_state:
            if isinstance(hx, (tuple, list)):
                raise TypeError(f"hx for {type(self).__name__} must be a single tensor, got a {type(hx).__name__}")
            return (zeros() if hx is None else self._check_state("hx", hx, batch, x.dtype, batched)), None
        if hx is None:
            return zeros(), zeros()
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError(f"hx for an LSTM must be a tuple (h_0, c_0) of two tensors, got {type(hx).__name__}")
        h0 = self._check_state("hx[0] (h_0)", hx[0], batch, x.dtype, batched)
        c0 = self._check_state("hx[1] (c_0)", hx[1], batch, x.dtype, batched)
        return h0, c0

    # -- forward ----------------------------------------------------------------------------------------------------
    def forward(
        self, input: torch.Tensor | PackedSequence, hx: State | None = None
    ) -> tuple[torch.Tensor | PackedSequence, State]:
        """Run the whole sequence through every layer and direction.

        Parameters
        ----------
        input : Tensor, shape (T, N, D), (N, T, D) if ``batch_first``, (T, D) unbatched; or PackedSequence
        hx : Tensor (num_layers * num_directions, N, H), for the LSTM a tuple ``(h_0, c_0)``; zeros if None

        Returns
        -------
        output : Tensor (T, N, num_directions * H) (batch-first if ``batch_first``), or PackedSequence
        h_n : Tensor (num_layers * num_directions, N, H); for the LSTM ``(h_n, c_n)``
        """
        packed = isinstance(input, PackedSequence)
        lengths = None
        if packed:
            check_float_tensor("input (PackedSequence.data)", input.data, 2, self.weight_ih_l0.dtype)
            check_size("input (PackedSequence.data)", input.data, -1, self.input_size, "input_size")
            x, lengths = pad_packed_sequence(input)  # (T, N, D), original batch order, zeros after each end
            batched = True
        else:
            check_float_tensor("input", input, (2, 3), self.weight_ih_l0.dtype)
            check_size("input", input, -1, self.input_size, "input_size")
            batched = input.dim() == 3
            x = input if batched else input.unsqueeze(1)
            if batched and self.batch_first:
                x = x.transpose(0, 1)  # work time-major: x[t] is the batch at step t
        T, N = x.shape[0], x.shape[1]
        h0, c0 = self._initial_state(hx, N, x, batched)
        # mask[t, n] is True while step t is a real (not padding) step of sequence n.
        mask = None
        if lengths is not None:
            mask = (torch.arange(T).unsqueeze(1) < lengths.unsqueeze(0)).to(x.device).unsqueeze(-1)

        h_n, c_n = [], []
        layer_input = x
        for layer in range(self.num_layers):
            outputs = []
            for direction, suffix in enumerate(self._suffixes()):
                w_ih, w_hh, b_ih, b_hh = self._params(layer, suffix)
                k = layer * self.num_directions + direction
                out, h, c = self._run_direction(
                    F.linear(layer_input, w_ih, b_ih),  # input terms of all steps at once: (T, N, G*H)
                    h0[k],
                    None if c0 is None else c0[k],
                    w_hh,
                    b_hh,
                    mask,
                    reverse=direction == 1,
                )
                outputs.append(out)
                h_n.append(h)
                c_n.append(c)
            layer_input = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=-1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, p=self.dropout, training=True)
        output = layer_input
        h_last = torch.stack(h_n)
        state: State = (h_last, torch.stack(c_n)) if self.has_cell_state else h_last

        if packed:
            return self._repack(output, lengths, input), state
        if not batched:
            output = output.squeeze(1)
            state = (state[0].squeeze(1), state[1].squeeze(1)) if self.has_cell_state else state.squeeze(1)
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, state

    def _run_direction(
        self,
        gi: torch.Tensor,
        h: torch.Tensor,
        c: torch.Tensor | None,
        w_hh: torch.Tensor,
        b_hh: torch.Tensor | None,
        mask: torch.Tensor | None,
        reverse: bool,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Loop over time in one direction; returns the states of every step (T, N, H) and the last ones."""
        T = gi.shape[0]
        out: list[torch.Tensor] = [gi.new_empty(0)] * T
        for t in reversed(range(T)) if reverse else range(T):
            h_new, c_new = self._step(gi[t], h, c, w_hh, b_hh)
            if mask is None:
                h, c = h_new, c_new
                out[t] = h
            else:
                # Padding steps leave the state untouched, so the reverse direction starts from h_0 at
                # each sequence's own last real step, and h_n is the state after the last real step.
                m = mask[t]
                h = torch.where(m, h_new, h)
                c = None if c is None else torch.where(m, c_new, c)
                out[t] = torch.where(m, h_new, torch.zeros_like(h_new))
        return torch.stack(out), h, c

    @staticmethod
    def _repack(output: torch.Tensor, lengths: torch.Tensor, like: PackedSequence) -> PackedSequence:
        """Pack ``output (T, N, *)`` with the same batch_sizes and index permutations as ``like``."""
        if like.sorted_indices is not None:
            output = output.index_select(1, like.sorted_indices)
            lengths = lengths.index_select(0, like.sorted_indices.cpu())
        data = pack_padded_sequence(output, lengths, enforce_sorted=True).data
        return PackedSequence(data, like.batch_sizes, like.sorted_indices, like.unsorted_indices)


class RNN(_RecurrentBase):
    """Elman RNN, ``h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``, a drop-in for :class:`torch.nn.RNN`.

    Parameters
    ----------
    input_size, hidden_size : int
        D and H.
    num_layers : int
        Stacked layers; layer k > 0 reads layer k-1's outputs.
    nonlinearity : {"tanh", "relu"}
    bias : bool
    batch_first : bool
        If True, ``input`` and ``output`` are ``(N, T, *)``; the state stays ``(layers * directions, N, H)``.
    dropout : float
        Dropout on the outputs of each layer except the last, in training mode.
    bidirectional : bool
        Add a second pass from t = T-1 down to 0 (parameters ``..._reverse``); outputs are concatenated.

    Examples
    --------
    >>> rnn = RNN(3, 5, num_layers=2, batch_first=True)
    >>> out, h_n = rnn(torch.zeros(4, 7, 3))
    >>> tuple(out.shape), tuple(h_n.shape)
    ((4, 7, 5), (2, 4, 5))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        check_choice("nonlinearity", nonlinearity, ("tanh", "relu"))
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, device, dtype)
        self.nonlinearity = nonlinearity

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s if self.nonlinearity == "tanh" else s + f", nonlinearity={self.nonlinearity!r}"

    def _step(self, gi, h, c, w_hh, b_hh):  # noqa: ANN001, ANN202
        return rnn_step(gi, F.linear(h, w_hh, b_hh), self.nonlinearity), None


class LSTM(_RecurrentBase):
    """Long short-term memory with gates ``[i, f, g, o]``, a drop-in for :class:`torch.nn.LSTM` (without ``proj_size``).

    Same arguments as :class:`RNN` minus ``nonlinearity``; the state is a tuple ``(h, c)``
    of two (num_layers * num_directions, N, H) tensors.
    """

    gates = 4
    has_cell_state = True

    def _step(self, gi, h, c, w_hh, b_hh):  # noqa: ANN001, ANN202
        return lstm_step(gi, F.linear(h, w_hh, b_hh), c)


class GRU(_RecurrentBase):
    """Gated recurrent unit (PyTorch form, gates ``[r, z, n]``), a drop-in for :class:`torch.nn.GRU`.

    Same arguments as :class:`RNN` minus ``nonlinearity``.
    """

    gates = 3

    def _step(self, gi, h, c, w_hh, b_hh):  # noqa: ANN001, ANN202
        return gru_step(gi, F.linear(h, w_hh, b_hh), h), None
