"""Sampling text from a language model, with temperature, top-k and top-p, reproducibly.

Works with any model called as ``logits, state = model(x, state)`` with
``x (1, T)`` token indices and ``logits (1, T, V)`` (e.g.
:class:`~companion.torch.models.RNNLanguageModel`) and any vocabulary object with
``encode(str) -> list[int]`` and ``decode(list[int]) -> str``.

Randomness comes only from a :class:`torch.Generator`: the same seed gives the
same text.  Each draw uses one uniform number and the inverse of the cumulative
distribution (like :func:`companion.numpy.sampling.sample_next`), so a draw can be
checked by hand.  The knobs mean exactly what they mean in :mod:`companion.numpy.sampling`
(temperature, then top-k, then the nucleus of mass top-p, then the softmax); the tests prove
that both modules keep the same tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import torch
from torch import nn

from companion.torch._validate import check_count, check_float_tensor

__all__ = ["top_p_filter", "sample_next", "sample_ids", "sample_text", "make_generator"]


class _Vocab(Protocol):
    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: list[int]) -> str: ...


def make_generator(seed: int | None = None, generator: torch.Generator | None = None) -> torch.Generator:
    """Return ``generator``, else a CPU generator seeded with ``seed``.

    With neither, the seed is drawn from torch's global generator, so
    :func:`companion.seed_everything` still makes the result repeatable.
    """
    if generator is not None:
        if seed is not None:
            raise ValueError("give either seed or generator, not both")
        return generator
    if seed is None:
        seed = int(torch.randint(0, 2**62, (1,)))
    return torch.Generator().manual_seed(int(seed))


def _check_p(top_p: Any) -> float:
    """``top_p`` is a probability in (0, 1]; a percentage (90 for 90 %) is refused by name."""
    if isinstance(top_p, bool) or not isinstance(top_p, (int, float)):
        raise TypeError(f"top_p must be a number in (0, 1] or None, got {type(top_p).__name__}")
    p = float(top_p)
    if not 0.0 < p <= 1.0:  # also refuses NaN
        extra = f" (a probability, not a percentage: {p / 100:g} for {p:g} %)" if 1.0 < p <= 100.0 else ""
        raise ValueError(f"top_p must be in (0, 1], got {top_p}{extra}")
    return p


def _top_p(scaled: torch.Tensor, p: float) -> torch.Tensor:
    """Keep token i iff the probability of the tokens MORE likely than i is below ``p`` (rows (N, V))."""
    if p >= 1.0:
        return scaled.clone()
    probs = torch.softmax(scaled, dim=-1)
    sorted_p, order = probs.sort(dim=-1, descending=True, stable=True)
    before = sorted_p.cumsum(dim=-1) - sorted_p  # mass of the tokens sorted before each one
    new_group = torch.ones_like(sorted_p, dtype=torch.bool)
    new_group[:, 1:] = sorted_p[:, 1:] != sorted_p[:, :-1]  # tied tokens share the mass before the first
    index = torch.arange(sorted_p.shape[-1]).expand_as(sorted_p)
    first_of_group = torch.where(new_group, index, torch.zeros_like(index)).cummax(dim=-1).values
    keep_sorted = before.gather(-1, first_of_group) < p
    keep = torch.empty_like(keep_sorted).scatter_(-1, order, keep_sorted)
    return scaled.masked_fill(~keep, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus filtering: keep the most likely tokens until their probability reaches ``p``.

    Same rule as :func:`companion.numpy.sampling.top_p_filter`: token ``i`` is kept iff
    the tokens strictly more likely than ``i`` under ``softmax(logits)`` have total
    probability below ``p`` (the token that crosses ``p`` and its ties are kept).

    Parameters
    ----------
    logits : Tensor, shape (..., V)
    p : float
        0 < p <= 1.

    Returns
    -------
    Tensor, shape and dtype of ``logits``
        A new tensor: the kept logits unchanged, the others ``-inf``.
    """
    check_float_tensor("logits", logits, tuple(range(1, 9)))
    if torch.isnan(logits).any() or torch.isposinf(logits).any():
        raise ValueError("logits contain NaN or +inf")
    rows = logits.detach().reshape(-1, logits.shape[-1])
    return _top_p(rows, _check_p(p)).reshape(logits.shape)


def sample_next(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
    *,
    top_p: float | None = None,
) -> torch.Tensor:
    """Draw one token per row from ``softmax(logits / temperature)``, optionally only among the top k
    and only in the nucleus of mass ``top_p``.

    Parameters
    ----------
    logits : Tensor, shape (V,) or (N, V)
    temperature : float
        > 1 flattens the distribution, < 1 sharpens it; 0 means argmax (greedy).
    top_k : int, optional
        Keep only the k most probable tokens (renormalised); ``top_k=1`` is greedy.
    generator : torch.Generator, optional
    top_p : float, optional
        0 < top_p <= 1: keep only the most likely tokens of the tempered (and top-k
        filtered) distribution whose total reaches ``top_p`` (see :func:`top_p_filter`).

    Returns
    -------
    LongTensor, shape () or (N,)
    """
    check_float_tensor("logits", logits, (1, 2))
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature >= 0:
        raise ValueError(f"temperature must be a number >= 0, got {temperature!r}")
    if top_k is not None:
        check_count("top_k", top_k)
    p = None if top_p is None else _check_p(top_p)
    rows = logits.detach().to("cpu", torch.float64).reshape(-1, logits.shape[-1])
    if temperature == 0 or top_k == 1:
        out = rows.argmax(dim=-1)
    else:
        scaled = rows / temperature
        if top_k is not None and top_k < rows.shape[-1]:
            kth = scaled.topk(top_k, dim=-1).values[:, -1:]
            scaled = scaled.masked_fill(scaled < kth, float("-inf"))  # ties with the k-th value are kept
        if p is not None:
            scaled = _top_p(scaled, p)
        probs = torch.softmax(scaled, dim=-1)
        cdf = probs.cumsum(dim=-1)
        u = torch.rand(rows.shape[0], 1, generator=generator, dtype=torch.float64) * cdf[:, -1:]
        out = (cdf <= u).sum(dim=-1)  # first index whose cumulative probability exceeds u
        last_positive = rows.shape[-1] - 1 - (probs > 0).flip(-1).int().argmax(dim=-1)
        out = torch.minimum(out, last_positive)  # guards against u rounding up to the total
    return out.reshape(logits.shape[:-1])


def _model_device(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


@torch.no_grad()
def sample_ids(
    model: nn.Module,
    prime_ids: Sequence[int],
    length: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
    seed: int | None = None,
) -> list[int]:
    """Feed ``prime_ids`` through the model, then draw ``length`` new tokens one at a time.

    Returns
    -------
    list of int
        The ``length`` new tokens (the prime is not repeated).
    """
    check_count("length", length, minimum=0)
    prime = [int(i) for i in prime_ids]
    if not prime:
        raise ValueError("prime_ids is empty: the model needs at least one token to condition on")
    gen = make_generator(seed, generator)
    device = _model_device(model)
    was_training = model.training
    model.eval()  # no dropout while generating
    try:
        logits, state = model(torch.tensor([prime], dtype=torch.long, device=device), None)
        out: list[int] = []
        for _ in range(length):
            token = int(sample_next(logits[0, -1], temperature, top_k, gen, top_p=top_p))
            out.append(token)
            logits, state = model(torch.tensor([[token]], dtype=torch.long, device=device), state)
        return out
    finally:
        model.train(was_training)


def sample_text(
    model: nn.Module,
    vocab: Any,
    prime: str,
    length: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
    seed: int | None = None,
) -> str:
    """Continue the text ``prime`` by ``length`` sampled tokens.

    Parameters
    ----------
    model : nn.Module
        ``(logits (1, T, V), state) = model(x (1, T), state)``.
    vocab : object with ``encode(str) -> list[int]`` and ``decode(list[int]) -> str``
    prime : str
        Non-empty text to start from.
    length : int
        Number of tokens to generate.
    temperature, top_k, top_p
        See :func:`sample_next`.
    generator, seed
        Source of randomness; the same seed gives the same text.

    Returns
    -------
    str
        ``vocab.decode(prime tokens + new tokens)``: the prime followed by its continuation.

    Examples
    --------
    >>> text = sample_text(model, vocab, "ROMEO:", 200, temperature=0.8, seed=0)  # doctest: +SKIP
    """
    if not isinstance(prime, str) or not prime:
        raise ValueError(f"prime must be a non-empty string, got {prime!r}")
    for method in ("encode", "decode"):
        if not callable(getattr(vocab, method, None)):
            raise TypeError(f"vocab must have an {method}() method, got {type(vocab).__name__}")
    prime_ids = list(vocab.encode(prime))
    new = sample_ids(
        model, prime_ids, length, temperature=temperature, top_k=top_k, top_p=top_p, generator=generator, seed=seed
    )
    return vocab.decode(prime_ids + new)
