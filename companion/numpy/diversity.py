"""How varied is generated text? distinct-n and a local repetition rate.

Both measures work on any sequence of tokens: a string (its characters), or a list of words
such as ``re.findall(r"[A-Za-z']+", text)``.

- **distinct-n** (Li et al., 2016): the number of *different* n-grams divided by the number of
  n-grams.  1.0 means no n-gram occurs twice; a decoder stuck in a loop scores near 0.
- **repetition rate** (``rep/w``, after Welleck et al., 2020): the share of tokens that already
  occurred among the ``window`` tokens just before them.  It sees the short loops ("the the the",
  "I will not, I will not") that make greedy decoding unreadable.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

__all__ = ["ngrams", "distinct_n", "repetition_rate"]


def _check_tokens(name: str, tokens: Any) -> Sequence[Hashable]:
    if isinstance(tokens, (str, list, tuple)):
        return tokens
    raise TypeError(f"{name} must be a str or a list/tuple of tokens, got {type(tokens).__name__}")


def _check_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return value


def ngrams(tokens: Sequence[Hashable], n: int) -> list[tuple]:
    """All ``len(tokens) - n + 1`` n-grams of ``tokens``, in order, as tuples.

    Parameters
    ----------
    tokens : str or list/tuple of hashable tokens
    n : int
        >= 1.

    Returns
    -------
    list of tuple
        Empty if ``tokens`` is shorter than ``n``.
    """
    tokens = _check_tokens("tokens", tokens)
    n = _check_int("n", n)
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def distinct_n(tokens: Sequence[Hashable] | Sequence[Sequence[Hashable]], n: int, *, corpus: bool = False) -> float:
    """distinct-n: different n-grams / all n-grams.

    Parameters
    ----------
    tokens : str or list of tokens; with ``corpus=True``, a list of such sequences
        whose n-grams are pooled (no n-gram spans two sequences).
    n : int
        >= 1.
    corpus : bool
        Pool the n-grams of several sequences.

    Returns
    -------
    float
        In (0, 1]; 1.0 when every n-gram is different.

    Raises
    ------
    ValueError
        If there is no n-gram at all (every sequence shorter than ``n``).
    """
    seqs = list(tokens) if corpus else [tokens]
    if corpus and not isinstance(tokens, (list, tuple)):
        raise TypeError(f"with corpus=True, tokens must be a list of sequences, got {type(tokens).__name__}")
    grams = [g for seq in seqs for g in ngrams(seq, n)]
    if not grams:
        raise ValueError(f"no {n}-gram to count: every sequence has fewer than n={n} tokens")
    return len(set(grams)) / len(grams)


def repetition_rate(tokens: Sequence[Hashable], window: int) -> float:
    """Share of tokens ``t >= 1`` equal to one of the ``window`` tokens before them.

    ``tokens[t]`` counts as a repetition if it occurs in ``tokens[max(0, t - window) : t]``.

    Parameters
    ----------
    tokens : str or list/tuple of hashable tokens
        At least 2 tokens.
    window : int
        >= 1: how far back to look.

    Returns
    -------
    float
        In [0, 1]; 0.0 when no token repeats within the window.
    """
    tokens = _check_tokens("tokens", tokens)
    window = _check_int("window", window)
    if len(tokens) < 2:
        raise ValueError(f"tokens needs at least 2 tokens, got {len(tokens)}")
    repeats = sum(tokens[t] in tokens[max(0, t - window) : t] for t in range(1, len(tokens)))
    return repeats / (len(tokens) - 1)
