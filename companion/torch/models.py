"""Task models of the application chapters, all batch-first.

- :class:`RNNLanguageModel` (text generation):
  ``(x (N, T) long, state) -> (logits (N, T, V), state)``;
- :class:`SequenceClassifier` (sentiment): ``(x (N, T), lengths (N,)) -> logits (N, C)``;
- :class:`ManyToOneForecaster` (forecasting): ``x (N, T, D) -> (N, output_size)``;
- :class:`ManyToManyForecaster` (forecasting): ``(x (N, T, D), state) -> (y (N, T, O), state)``;
- :class:`Seq2Seq` (sequence to sequence): ``(src (N, S), tgt_in (N, T), src_lengths) -> logits (N, T, V)``.

Every model builds its recurrent layer with :func:`make_recurrent`, which returns
the built-in :mod:`torch.nn` layer by default (fast, fused kernels) or this
package's from-scratch one with ``from_scratch=True``; the two share parameter
names, so trained weights move between them with ``load_state_dict``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from companion.torch import recurrent
from companion.torch.attention import make_attention
from companion.torch._validate import (
    check_choice,
    check_count,
    check_float_tensor,
    check_long_tensor,
    check_size,
)
from companion.torch.decoding import Hypothesis, beam_search, greedy_search, select_state

__all__ = [
    "make_recurrent",
    "RNNLanguageModel",
    "SequenceClassifier",
    "ManyToOneForecaster",
    "ManyToManyForecaster",
    "Seq2Seq",
]

CELLS = ("rnn", "lstm", "gru")


def make_recurrent(
    cell: str,
    input_size: int,
    hidden_size: int,
    num_layers: int = 1,
    *,
    dropout: float = 0.0,
    bidirectional: bool = False,
    batch_first: bool = True,
    from_scratch: bool = False,
) -> nn.Module:
    """Build an RNN/LSTM/GRU layer: ``torch.nn``'s by default, ours with ``from_scratch=True``.

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}
    input_size, hidden_size, num_layers, dropout, bidirectional, batch_first
        As in :class:`torch.nn.RNN` (but ``batch_first`` defaults to True here).
    from_scratch : bool
        Use :mod:`companion.torch.recurrent` instead of :mod:`torch.nn`.
    """
    check_choice("cell", cell, CELLS)
    if not isinstance(dropout, (int, float)) or isinstance(dropout, bool) or not 0 <= dropout < 1:
        raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}")
    lib: Any = recurrent if from_scratch else nn
    cls = {"rnn": lib.RNN, "lstm": lib.LSTM, "gru": lib.GRU}[cell]
    # torch.nn warns when dropout is set on a one-layer RNN (it acts only between layers): pass 0 instead.
    return cls(
        input_size,
        hidden_size,
        num_layers=num_layers,
        batch_first=batch_first,
        dropout=dropout if num_layers > 1 else 0.0,
        bidirectional=bidirectional,
    )


def _dtype_of(module: nn.Module) -> torch.dtype:
    return next(module.parameters()).dtype


def _check_lengths(lengths: object, batch: int, max_len: int) -> torch.Tensor:
    """Lengths as a CPU int64 tensor (pack_padded_sequence wants them on the CPU), each in [1, T]."""
    lengths = torch.as_tensor(lengths) if not isinstance(lengths, torch.Tensor) else lengths
    check_long_tensor("lengths", lengths, 1)
    check_size("lengths", lengths, 0, batch, "N")
    lo, hi = int(lengths.min()), int(lengths.max())
    if lo < 1 or hi > max_len:
        raise ValueError(f"lengths must lie in [1, T={max_len}] (T = padded length of x), got values in [{lo}, {hi}]")
    return lengths.to("cpu", torch.int64)


class RNNLanguageModel(nn.Module):
    """Embedding -> recurrent layer -> linear head: next-token logits for every position.

    Parameters
    ----------
    vocab_size : int
        V.
    embed_dim : int
        E, size of the token embeddings.
    hidden_size : int
        H.
    num_layers : int
    cell : {"rnn", "lstm", "gru"}
    dropout : float
        Dropout on the embeddings, between layers and before the head (training only).
    tie_weights : bool
        Share the embedding matrix with the output layer (Press & Wolf, 2017; Inan et al., 2017);
        needs ``embed_dim == hidden_size``.
    from_scratch : bool
        Use :mod:`companion.torch.recurrent` instead of :mod:`torch.nn`.

    Notes
    -----
    ``forward(x (N, T) long, state=None) -> (logits (N, T, V), state)``; ``state`` is what the
    recurrent layer returns (``h`` or ``(h, c)``, each (num_layers, N, H)) and can be fed back
    for the next chunk of a stream.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int = 64,
        hidden_size: int = 128,
        num_layers: int = 1,
        cell: str = "lstm",
        dropout: float = 0.0,
        tie_weights: bool = False,
        from_scratch: bool = False,
    ) -> None:
        super().__init__()
        self.vocab_size = check_count("vocab_size", vocab_size)
        check_count("embed_dim", embed_dim)
        check_count("hidden_size", hidden_size)
        if tie_weights and embed_dim != hidden_size:
            raise ValueError(
                f"tie_weights needs embed_dim == hidden_size, got embed_dim={embed_dim}, hidden_size={hidden_size}"
            )
        self.cell = cell
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.rnn = make_recurrent(cell, embed_dim, hidden_size, num_layers, dropout=dropout, from_scratch=from_scratch)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)
        if tie_weights:
            self.head.weight = self.embedding.weight  # one (V, H) matrix reads tokens in and scores them out

    def forward(self, x: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        check_long_tensor("x", x, 2, high=self.vocab_size)
        h, state = self.rnn(self.drop(self.embedding(x)), state)
        return self.head(self.drop(h)), state


class SequenceClassifier(nn.Module):
    """Recurrent encoder + linear head that classifies a whole (padded) sequence.

    Padding never influences the result: the batch is packed with
    :func:`~torch.nn.utils.rnn.pack_padded_sequence`, so the recurrence stops at
    each sequence's last real step (and, if bidirectional, the backward pass starts
    there).

    Parameters
    ----------
    num_classes : int
        C.
    hidden_size : int
        H.
    vocab_size : int, optional
        V; give it for token inputs ``x (N, T) long`` (an embedding layer is added) ...
    embed_dim : int
        ... with embeddings of size E.
    input_size : int, optional
        ... or give D for real-valued inputs ``x (N, T, D)``.
    padding_idx : int or None
        Token whose embedding is kept at zero (the padding token).
    cell : {"rnn", "lstm", "gru"}
    num_layers : int
    bidirectional : bool
    pooling : {"last", "mean"}
        Summary fed to the head: the state after the last real step (both directions
        concatenated if bidirectional), or the mean of the outputs over the real steps.
    dropout : float
        Dropout on the embeddings, between layers and before the head.
    from_scratch : bool

    Notes
    -----
    ``forward(x, lengths=None) -> logits (N, C)``; ``lengths (N,)`` int in [1, T] (None: all T).
    """

    def __init__(
        self,
        num_classes: int,
        hidden_size: int = 64,
        *,
        vocab_size: int | None = None,
        embed_dim: int = 32,
        input_size: int | None = None,
        padding_idx: int | None = 0,
        cell: str = "gru",
        num_layers: int = 1,
        bidirectional: bool = False,
        pooling: str = "last",
        dropout: float = 0.0,
        from_scratch: bool = False,
    ) -> None:
        super().__init__()
        if (vocab_size is None) == (input_size is None):
            raise ValueError("give exactly one of vocab_size (token inputs) or input_size (real-valued inputs)")
        self.num_classes = check_count("num_classes", num_classes)
        self.pooling = check_choice("pooling", pooling, ("last", "mean"))
        self.vocab_size = vocab_size
        if vocab_size is not None:
            check_count("vocab_size", vocab_size)
            self.embedding: nn.Embedding | None = nn.Embedding(vocab_size, embed_dim, padding_idx=padding_idx)
            rnn_input = embed_dim
        else:
            self.embedding = None
            rnn_input = check_count("input_size", input_size)
        self.rnn = make_recurrent(
            cell,
            rnn_input,
            hidden_size,
            num_layers,
            dropout=dropout,
            bidirectional=bidirectional,
            from_scratch=from_scratch,
        )
        self.num_layers = num_layers
        self.num_directions = 2 if bidirectional else 1
        self.hidden_size = hidden_size
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(self.num_directions * hidden_size, num_classes)

    def features(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """The sequence summary fed to the head, shape (N, num_directions * H)."""
        if self.embedding is not None:
            check_long_tensor("x", x, 2, high=self.vocab_size)
            inputs = self.drop(self.embedding(x))
        else:
            check_float_tensor("x", x, 3, _dtype_of(self))
            inputs = x
        N, T = x.shape[0], x.shape[1]
        lengths = torch.full((N,), T, dtype=torch.int64) if lengths is None else _check_lengths(lengths, N, T)
        packed = pack_padded_sequence(inputs, lengths, batch_first=True, enforce_sorted=False)
        out, state = self.rnn(packed)
        if self.pooling == "last":
            h_n = state[0] if isinstance(state, tuple) else state  # (layers * directions, N, H)
            last_layer = h_n.view(self.num_layers, self.num_directions, N, self.hidden_size)[-1]
            return torch.cat(list(last_layer), dim=-1)  # forward: after step len-1; backward: after step 0
        padded, _ = pad_packed_sequence(out, batch_first=True, total_length=T)  # zeros after each end
        return padded.sum(dim=1) / lengths.to(padded.device, padded.dtype).unsqueeze(1)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.drop(self.features(x, lengths)))


class ManyToOneForecaster(nn.Module):
    """Read a window of a series and predict ``output_size`` numbers from the last state.

    For a direct multi-step forecast of a univariate series use ``output_size=horizon``.

    Notes
    -----
    ``forward(x (N, T, D)) -> (N, output_size)``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int = 32,
        output_size: int = 1,
        *,
        cell: str = "gru",
        num_layers: int = 1,
        dropout: float = 0.0,
        from_scratch: bool = False,
    ) -> None:
        super().__init__()
        self.input_size = check_count("input_size", input_size)
        self.output_size = check_count("output_size", output_size)
        self.rnn = make_recurrent(cell, input_size, hidden_size, num_layers, dropout=dropout, from_scratch=from_scratch)
        self.head = nn.Linear(hidden_size, output_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_float_tensor("x", x, 3, _dtype_of(self))
        check_size("x", x, -1, self.input_size, "input_size")
        out, _ = self.rnn(x)
        return self.head(out[:, -1])  # the state after the whole window


class ManyToManyForecaster(nn.Module):
    """Predict the next value(s) at every step; roll forward on its own predictions with :meth:`forecast`.

    Notes
    -----
    ``forward(x (N, T, D), state=None) -> (y (N, T, O), state)`` with ``O = output_size``
    (default ``D``, so that ``y[:, t]`` estimates ``x[:, t + 1]``).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int = 32,
        output_size: int | None = None,
        *,
        cell: str = "gru",
        num_layers: int = 1,
        dropout: float = 0.0,
        from_scratch: bool = False,
    ) -> None:
        super().__init__()
        self.input_size = check_count("input_size", input_size)
        self.output_size = input_size if output_size is None else check_count("output_size", output_size)
        self.rnn = make_recurrent(cell, input_size, hidden_size, num_layers, dropout=dropout, from_scratch=from_scratch)
        self.head = nn.Linear(hidden_size, self.output_size)

    def forward(self, x: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        check_float_tensor("x", x, 3, _dtype_of(self))
        check_size("x", x, -1, self.input_size, "input_size")
        out, state = self.rnn(x, state)
        return self.head(out), state

    @torch.no_grad()
    def forecast(self, context: torch.Tensor, steps: int) -> torch.Tensor:
        """Read ``context (N, T, D)``, then feed each prediction back as the next input for ``steps`` steps.

        Returns
        -------
        Tensor, shape (N, steps, D)
            Needs ``output_size == input_size``.
        """
        if self.output_size != self.input_size:
            raise ValueError(
                f"forecast feeds predictions back as inputs, so output_size ({self.output_size}) "
                f"must equal input_size ({self.input_size})"
            )
        check_count("steps", steps)
        y, state = self(context)
        preds = [y[:, -1:]]
        for _ in range(steps - 1):
            y, state = self(preds[-1], state)
            preds.append(y)
        return torch.cat(preds, dim=1)


class Seq2Seq(nn.Module):
    """GRU encoder-decoder (Sutskever et al., 2014; Cho et al., 2014), optionally with attention.

    The encoder's final state starts the decoder.  Without attention, its top layer
    (the *context* ``c``) is also concatenated to the decoder's input at every step, as
    in Cho et al., so the summary of the source is not washed out over long outputs.
    With ``attention`` set, the decoder instead reads the encoder's outputs at every
    step (Luong et al., 2015, global attention): ``c_t`` = attention of the decoder
    state ``h_t`` over the real source positions, ``h~_t = tanh(W_c [c_t ; h_t] + b_c)``,
    and the head scores ``h~_t``.

    Parameters
    ----------
    src_vocab_size, tgt_vocab_size : int
    embed_dim, hidden_size, num_layers : int
    dropout : float
    bos_idx, eos_idx, pad_idx : int
        Target-side start and end tokens; padding token of both vocabularies.
    from_scratch : bool
        Use :class:`companion.torch.recurrent.GRU` for encoder and decoder.
    attention : {None, "additive", "general", "scaled_dot"}
        The attention score (:mod:`companion.torch.attention`); None: the fixed context.

    Notes
    -----
    ``forward(src (N, S), tgt_in (N, T), src_lengths=None) -> logits (N, T, V_tgt)`` where
    ``tgt_in = [<bos>, y_1, ..., y_{T-1}]`` (the target shifted right) and the logits
    score ``[y_1, ..., y_T]``.  :meth:`alignments` returns the attention weights.
    """

    def __init__(
        self,
        src_vocab_size: int,
        tgt_vocab_size: int,
        embed_dim: int = 32,
        hidden_size: int = 64,
        num_layers: int = 1,
        dropout: float = 0.0,
        *,
        bos_idx: int,
        eos_idx: int,
        pad_idx: int = 0,
        from_scratch: bool = False,
        attention: str | None = None,
    ) -> None:
        super().__init__()
        self.src_vocab_size = check_count("src_vocab_size", src_vocab_size)
        self.tgt_vocab_size = check_count("tgt_vocab_size", tgt_vocab_size)
        for name, idx in (("bos_idx", bos_idx), ("eos_idx", eos_idx), ("pad_idx", pad_idx)):
            if not 0 <= idx < tgt_vocab_size:
                raise ValueError(f"{name}={idx} is not a valid target token (vocabulary size {tgt_vocab_size})")
        self.bos_idx, self.eos_idx, self.pad_idx = bos_idx, eos_idx, pad_idx
        self.hidden_size = hidden_size
        src_pad = pad_idx if pad_idx < src_vocab_size else None
        self.src_embedding = nn.Embedding(src_vocab_size, embed_dim, padding_idx=src_pad)
        self.tgt_embedding = nn.Embedding(tgt_vocab_size, embed_dim, padding_idx=pad_idx)
        self.encoder = make_recurrent(
            "gru", embed_dim, hidden_size, num_layers, dropout=dropout, from_scratch=from_scratch
        )
        self.attention = None if attention is None else make_attention(attention, hidden_size, hidden_size)
        self.decoder = make_recurrent(
            "gru",
            embed_dim + (0 if attention else hidden_size),
            hidden_size,
            num_layers,
            dropout=dropout,
            from_scratch=from_scratch,
        )
        if attention is not None:
            self.combine = nn.Linear(2 * hidden_size, hidden_size)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, tgt_vocab_size)

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, Any]:
        """Return the decoder's initial state (num_layers, N, H) and what the decoder reads.

        Without attention that is the context (1, N, H); with attention the memory
        ``(outputs (S, N, H), mask (S, N))``, time-major so that dimension 1 is the batch
        (the convention of :func:`~companion.torch.decoding.select_state`).
        """
        check_long_tensor("src", src, 2, high=self.src_vocab_size)
        N, S = src.shape
        emb = self.drop(self.src_embedding(src))
        if src_lengths is None:
            out, h_n = self.encoder(emb)
            mask = torch.ones(N, S, dtype=torch.bool, device=src.device)
        else:
            lengths = _check_lengths(src_lengths, N, S)
            packed, h_n = self.encoder(pack_padded_sequence(emb, lengths, batch_first=True, enforce_sorted=False))
            if self.attention is not None:
                out, _ = pad_packed_sequence(packed, batch_first=True, total_length=S)
            mask = torch.arange(S).unsqueeze(0) < lengths.unsqueeze(1)
        if self.attention is None:
            return h_n, h_n[-1:]
        return h_n, (out.transpose(0, 1), mask.to(src.device).t())

    def _decode(
        self, tgt_in: torch.Tensor, state: torch.Tensor, context: Any
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        emb = self.drop(self.tgt_embedding(tgt_in))
        if self.attention is None:  # the same context c at every step, (N, T, H)
            ctx = context.transpose(0, 1).expand(-1, tgt_in.shape[1], -1)
            out, state = self.decoder(torch.cat([emb, ctx], dim=-1), state)
            return self.head(self.drop(out)), state, None
        memory, mask = context[0].transpose(0, 1), context[1].t()  # (N, S, H), (N, S)
        out, state = self.decoder(emb, state)  # h_t for every t (h_t does not read c_t)
        ctx, weights = self.attention(out, memory, mask)  # c_t: h_t attends over the source
        h_tilde = torch.tanh(self.combine(torch.cat([ctx, out], dim=-1)))
        return self.head(self.drop(h_tilde)), state, weights

    def decode(self, tgt_in: torch.Tensor, state: torch.Tensor, context: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the decoder over ``tgt_in (N, T)``; returns logits (N, T, V) and the new state."""
        logits, state, _ = self._decode(tgt_in, state, context)
        return logits, state

    @torch.no_grad()
    def alignments(
        self, src: torch.Tensor, tgt_in: torch.Tensor, src_lengths: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Attention weights (N, T, S) of a teacher-forced pass: where each target step read the source.

        Zero on padded source positions; each row sums to 1.  Needs ``attention``.
        """
        if self.attention is None:
            raise ValueError("this Seq2Seq has no attention (build it with attention='general', ...)")
        was_training = self.training
        self.eval()
        try:
            state, context = self.encode(src, src_lengths)
            return self._decode(tgt_in, state, context)[2]
        finally:
            self.train(was_training)

    def forward(
        self,
        src: torch.Tensor,
        tgt_in: torch.Tensor,
        src_lengths: torch.Tensor | None = None,
        teacher_forcing: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Logits (N, T, V) for the target positions.

        With ``teacher_forcing = 1`` the decoder reads the true previous token at
        every step (one call over the whole target).  With a ratio ``p < 1`` it
        reads, for each sequence and step, the true token with probability ``p``
        and its own previous argmax otherwise (scheduled sampling, Bengio et al., 2015).
        """
        check_long_tensor("tgt_in", tgt_in, 2, high=self.tgt_vocab_size)
        check_size("tgt_in", tgt_in, 0, src.shape[0], "N (batch size of src)")
        if not 0.0 <= teacher_forcing <= 1.0:
            raise ValueError(f"teacher_forcing must be a probability in [0, 1], got {teacher_forcing}")
        state, context = self.encode(src, src_lengths)
        if teacher_forcing == 1.0:
            return self.decode(tgt_in, state, context)[0]
        N, T = tgt_in.shape
        token = tgt_in[:, :1]
        logits = []
        for t in range(T):
            step_logits, state = self.decode(token, state, context)
            logits.append(step_logits)
            if t + 1 < T:
                use_truth = torch.rand(N, 1, generator=generator) < teacher_forcing
                token = torch.where(use_truth.to(tgt_in.device), tgt_in[:, t + 1 : t + 2], step_logits.argmax(-1))
        return torch.cat(logits, dim=1)

    def _step_fn(self, context: Any):  # noqa: ANN202
        """Decoder step for the searches; the state is (h (layers, K, H), context or memory, see :meth:`encode`)."""

        def step(tokens: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, Any]:
            h, ctx = state
            logits, h = self.decode(tokens.to(h.device).unsqueeze(1), h, ctx)
            return F.log_softmax(logits[:, -1], dim=-1), (h, ctx)

        return step

    @torch.no_grad()
    def greedy_decode(
        self, src: torch.Tensor, src_lengths: torch.Tensor | None = None, max_len: int = 50
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode a batch by taking the most probable token at every step.

        Returns
        -------
        tokens : LongTensor (N, L)
            Emitted tokens (no ``<bos>``), ``pad_idx`` after each sequence's ``<eos>``; L <= max_len.
        scores : Tensor (N,)
            Sum of the log-probabilities of each sequence's tokens up to and including ``<eos>``.
        """
        check_count("max_len", max_len)
        was_training = self.training
        self.eval()
        try:
            state, context = self.encode(src, src_lengths)
            N = src.shape[0]
            token = torch.full((N, 1), self.bos_idx, dtype=torch.long, device=src.device)
            done = torch.zeros(N, dtype=torch.bool, device=src.device)
            scores = torch.zeros(N, dtype=torch.float64, device=src.device)
            out = []
            for _ in range(max_len):
                logits, state = self.decode(token, state, context)
                log_probs = F.log_softmax(logits[:, -1], dim=-1)
                best = log_probs.argmax(-1)
                scores += torch.where(done, 0.0, log_probs.gather(1, best.unsqueeze(1)).squeeze(1).double())
                out.append(torch.where(done, torch.full_like(best, self.pad_idx), best))
                done |= best == self.eos_idx
                token = best.unsqueeze(1)
                if bool(done.all()):
                    break
            return torch.stack(out, dim=1), scores
        finally:
            self.train(was_training)

    @torch.no_grad()
    def beam_search(
        self,
        src: torch.Tensor,
        src_lengths: torch.Tensor | None = None,
        beam_width: int = 5,
        max_len: int = 50,
        length_penalty: float = 0.0,
    ) -> list[list[Hypothesis]]:
        """Beam search for every source sequence (see :func:`companion.torch.decoding.beam_search`).

        Returns
        -------
        list (length N) of lists of :class:`~companion.torch.decoding.Hypothesis`, best first.
        """
        return self._search_each(
            beam_search, src, src_lengths, beam_width=beam_width, max_len=max_len, length_penalty=length_penalty
        )

    @torch.no_grad()
    def greedy_search(
        self, src: torch.Tensor, src_lengths: torch.Tensor | None = None, max_len: int = 50
    ) -> list[Hypothesis]:
        """Greedy decoding one sequence at a time, returning :class:`~companion.torch.decoding.Hypothesis`
        objects like :meth:`beam_search`."""
        return self._search_each(greedy_search, src, src_lengths, max_len=max_len)

    def _search_each(
        self, search: Callable[..., Any], src: torch.Tensor, src_lengths: torch.Tensor | None, **options: Any
    ) -> list[Any]:
        """Encode the batch once, then run ``search`` (greedy or beam) on each source sequence in eval mode."""
        was_training = self.training
        self.eval()
        try:
            state, context = self.encode(src, src_lengths)
            step = self._step_fn(context)
            return [
                search(step, (state[:, n : n + 1], select_state(context, torch.tensor([n]))), bos=self.bos_idx,
                       eos=self.eos_idx, **options)
                for n in range(src.shape[0])
            ]
        finally:
            self.train(was_training)

