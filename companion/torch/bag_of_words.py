"""The order-free baseline for text classification: logistic regression on word counts.

A recurrent classifier should be compared with the simplest model that sees the same words but not their
order. :class:`BagOfWordsClassifier` turns a padded batch of token ids into a ``(N, V)`` matrix of counts
(padding excluded, exactly like :func:`companion.exercises.solutions.bag_of_words`) and applies one linear
layer, so that softmax cross-entropy training with :func:`companion.torch.trainer.fit` is multinomial
logistic regression. It takes the same ``(x, lengths)`` batches as
:class:`~companion.torch.models.SequenceClassifier`, so both are trained and scored by the same code.
"""

from __future__ import annotations

import torch
from torch import nn

from companion.torch._validate import check_count, check_long_tensor, check_size

__all__ = ["BagOfWordsClassifier", "bag_of_words_counts"]


def bag_of_words_counts(x: torch.Tensor, lengths: torch.Tensor | None, vocab_size: int) -> torch.Tensor:
    """Count each token over the real positions of every sequence of a padded batch.

    Parameters
    ----------
    x : LongTensor, shape (N, T)
        Token ids in ``[0, V)``, padded after each sequence's real tokens.
    lengths : LongTensor, shape (N,), or None
        Real lengths in ``[0, T]``; positions ``t >= lengths[n]`` are not counted. None: all ``T``.
    vocab_size : int
        ``V``.

    Returns
    -------
    Tensor, shape (N, V), float32
        ``counts[n, v]`` = number of real positions ``t`` with ``x[n, t] == v``.
    """
    check_count("vocab_size", vocab_size)
    check_long_tensor("x", x, 2, high=vocab_size)
    N, T = x.shape
    if lengths is None:
        real = torch.ones(N, T, dtype=torch.float32, device=x.device)
    else:
        lengths = torch.as_tensor(lengths)
        check_long_tensor("lengths", lengths, 1)
        check_size("lengths", lengths, 0, N, "N")
        if int(lengths.min()) < 0 or int(lengths.max()) > T:
            raise ValueError(f"lengths must lie in [0, T={T}], got values in [{int(lengths.min())}, {int(lengths.max())}]")
        real = (torch.arange(T, device=x.device)[None, :] < lengths.to(x.device)[:, None]).float()  # (N, T)
    counts = torch.zeros(N, vocab_size, dtype=torch.float32, device=x.device)
    return counts.scatter_add_(1, x.long(), real)  # repeated tokens add up; padding adds 0


class BagOfWordsClassifier(nn.Module):
    """Logistic regression on bag-of-words features: ``logits = f(counts(x)) W^T + b``.

    Parameters
    ----------
    vocab_size : int
        V, the number of distinct token ids.
    num_classes : int
        C.
    binary : bool
        Use presence (0/1) instead of counts, ``f(c) = min(c, 1)``; often slightly better for short texts.

    Shapes
    ------
    ``forward(x (N, T) long, lengths (N,) or None) -> logits (N, C)``.

    Notes
    -----
    The model cannot tell "good, not bad" from "bad, not good": both sentences have the same bag.
    Add an L2 penalty through the optimizer, e.g. ``torch.optim.Adam(model.parameters(), lr,
    weight_decay=1e-4)``: with thousands of features and a few thousand examples, an unregularised
    logistic regression overfits.
    """

    def __init__(self, vocab_size: int, num_classes: int = 2, *, binary: bool = False) -> None:
        super().__init__()
        self.vocab_size = check_count("vocab_size", vocab_size)
        self.num_classes = check_count("num_classes", num_classes)
        self.binary = bool(binary)
        self.linear = nn.Linear(vocab_size, num_classes)

    def features(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """The (N, V) feature matrix: counts over the real positions, or presence if ``binary``."""
        counts = bag_of_words_counts(x, lengths, self.vocab_size)
        return counts.clamp(max=1.0) if self.binary else counts

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        return self.linear(self.features(x, lengths))
