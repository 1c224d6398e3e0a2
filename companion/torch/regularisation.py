"""Regularising recurrent language models: locked dropout, weight tying, a small initialisation.

- :class:`LockedDropout`: variational dropout (Gal & Ghahramani, 2016): one mask per sequence and feature,
  shared by every time step of a batch-first ``(N, T, D)`` input.
- :func:`tie_weights`: make a linear output layer share the embedding matrix (Press & Wolf, 2017;
  Inan et al., 2017).
- :class:`RegularisedLanguageModel`: :class:`~companion.torch.models.RNNLanguageModel` with a choice of
  standard or locked dropout on its input embeddings and outputs, and a small uniform initialisation of
  the embedding (and output) matrix, as in AWD-LSTM (Merity et al., 2018).
- :func:`count_parameters`: parameters of a model, a shared (tied) matrix counted once;
  :func:`count_lm_parameters`: the same count for an embedding-LSTM-head model, from its sizes.

Weight decay and early stopping need no new code: pass ``torch.optim.AdamW(..., weight_decay=...)`` as
the optimizer of :func:`companion.torch.trainer.fit`, and ``patience=...`` to it.
"""

from __future__ import annotations

import torch
from torch import nn

from companion.torch._validate import check_choice
from companion.torch.models import RNNLanguageModel

__all__ = ["LockedDropout", "tie_weights", "RegularisedLanguageModel", "count_parameters", "count_lm_parameters"]


def _check_p(p: float) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
        raise ValueError(f"p must be a drop probability in [0, 1), got {p!r}")
    return float(p)


class LockedDropout(nn.Module):
    """Dropout with one mask per sequence, shared over time: ``out[n, t] = x[n, t] * keep[n] / (1 - p)``.

    Parameters
    ----------
    p : float
        Drop probability in ``[0, 1)``.

    Notes
    -----
    ``forward(x (N, T, D)) -> (N, T, D)``, batch-first.  In evaluation mode (``model.eval()``) it is the
    identity.  The mask ``keep (N, 1, D)`` is drawn from torch's global generator (seeded by ``fit``).
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        self.p = _check_p(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3:
            raise ValueError(f"LockedDropout expects a batch-first (N, T, D) tensor, got shape {tuple(x.shape)}")
        if not self.training or self.p == 0.0:
            return x
        keep = torch.empty(x.shape[0], 1, x.shape[2], dtype=x.dtype, device=x.device).bernoulli_(1 - self.p)
        return x * keep / (1 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def tie_weights(embedding: nn.Embedding, head: nn.Linear) -> None:
    """Make ``head`` score tokens with the embedding matrix: ``head.weight`` becomes ``embedding.weight``.

    The two layers then hold one ``(V, H)`` parameter, which receives the gradient of both uses
    (the sum of the input lookup's scatter-add and the output layer's ``dlogits^T h``).

    Raises
    ------
    ValueError
        If ``head.weight`` (V_out, H) and ``embedding.weight`` (V, E) differ in shape (needs V_out = V, H = E).
    """
    if head.weight.shape != embedding.weight.shape:
        raise ValueError(
            f"tying needs head.weight {tuple(head.weight.shape)} to have the shape of embedding.weight "
            f"{tuple(embedding.weight.shape)} (same vocabulary, hidden_size == embed_dim)"
        )
    head.weight = embedding.weight


def count_parameters(model: nn.Module) -> int:
    """Number of trainable scalars; a tensor shared by two layers (tied weights) is counted once."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)  # parameters() de-duplicates


class RegularisedLanguageModel(RNNLanguageModel):
    """Embedding -> dropout -> recurrent layer -> dropout -> linear head, with a choice of dropout.

    Parameters
    ----------
    vocab_size, embed_dim, hidden_size, num_layers, cell
        As in :class:`~companion.torch.models.RNNLanguageModel`.
    dropout : float
        Drop probability on the embeddings and on the recurrent layer's outputs (and, with
        ``num_layers > 1``, torch's dropout between layers).
    dropout_kind : {"standard", "locked"}
        ``"standard"``: :class:`torch.nn.Dropout`, a new mask at every time step; ``"locked"``:
        :class:`LockedDropout`, one mask per sequence.
    tie_weights : bool
        Share the embedding matrix with the output layer (needs ``embed_dim == hidden_size``).
    init_range : float or None
        Initialise the embedding (and an untied output matrix) uniformly in ``[-init_range, init_range]``
        and the output bias at zero.  ``None`` keeps torch's defaults (embedding ``N(0, 1)``, which makes
        the initial logits of a tied model large).
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int = 64,
        hidden_size: int = 128,
        num_layers: int = 1,
        cell: str = "lstm",
        dropout: float = 0.0,
        *,
        dropout_kind: str = "standard",
        tie_weights: bool = False,
        init_range: float | None = 0.1,
    ) -> None:
        super().__init__(vocab_size, embed_dim, hidden_size, num_layers, cell, dropout, tie_weights)
        self.dropout_kind = check_choice("dropout_kind", dropout_kind, ("standard", "locked"))
        if dropout_kind == "locked":
            self.drop = LockedDropout(dropout)
        if init_range is not None:
            if not init_range > 0:
                raise ValueError(f"init_range must be > 0 (or None for torch's defaults), got {init_range}")
            with torch.no_grad():
                nn.init.uniform_(self.embedding.weight, -init_range, init_range)
                if not tie_weights:
                    nn.init.uniform_(self.head.weight, -init_range, init_range)
                nn.init.zeros_(self.head.bias)


def count_lm_parameters(vocab_size: int, embed_dim: int, hidden_size: int, tied: bool = False) -> int:
    """Parameters of an embedding -> one-layer ``torch.nn.LSTM`` -> linear head language model.

    ``V E`` (embedding) ``+ 4H (E + H) + 8H`` (LSTM weights and torch's two bias vectors)
    ``+ V H + V`` (head weight and bias); tying removes the head's ``V H`` weight (its bias stays).

    Parameters
    ----------
    vocab_size, embed_dim, hidden_size : int
        V, E, H.
    tied : bool
        The head shares the embedding matrix (needs ``E == H``).
    """
    V, E, H = vocab_size, embed_dim, hidden_size
    for name, value in (("vocab_size", V), ("embed_dim", E), ("hidden_size", H)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if tied and E != H:
        raise ValueError(f"tied weights need embed_dim == hidden_size, got {E} and {H}")
    embedding, lstm, head = V * E, 4 * H * (E + H) + 8 * H, V * H + V
    return embedding + lstm + head - (V * H if tied else 0)
