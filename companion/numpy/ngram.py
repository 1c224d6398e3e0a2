"""Count-based n-gram language models: the baselines a neural language model must beat.

An order-``n`` model predicts token ``y_t`` from the ``n - 1`` tokens before it,
with probabilities estimated by counting in the training text and *add-k*
(Lidstone) smoothing so that unseen pairs keep a small probability:

.. math::

    p(y \\mid c) = \\frac{\\operatorname{count}(c, y) + k}{\\operatorname{count}(c) + k V}.

Order 1 (no context) is the *unigram* model: it knows only how frequent each
token is.  Order 2 is the *bigram* model: it knows which token tends to follow
which.  Their perplexities on held-out text are the reference lines of
chapter 4: a recurrent model that cannot beat the bigram has learned nothing a
table of pair counts would not know.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from companion._checks import check_int_array, check_positive

__all__ = ["ngram_log_probs", "ngram_nll"]


def _check_order(order: Any) -> int:
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 1:
        raise ValueError(f"order must be a positive integer, got {order!r}")
    return int(order)


def _context_codes(ids: np.ndarray, order: int, vocab_size: int) -> np.ndarray:
    """Encode the ``order - 1`` tokens before each target ``ids[order-1:]`` as one integer (base V)."""
    n_targets = ids.size - (order - 1)
    code = np.zeros(n_targets, dtype=np.int64)
    for j in range(order - 1):  # oldest context token first
        code = code * vocab_size + ids[j : j + n_targets]
    return code


def ngram_log_probs(train_ids: np.ndarray, vocab_size: int, order: int, add_k: float = 1.0) -> np.ndarray:
    """Table of smoothed log-probabilities ``log p(y | context)`` estimated from ``train_ids``.

    Parameters
    ----------
    train_ids : ndarray of int, shape (L,)
        The training stream, token ids in ``[0, V)``.
    vocab_size : int
        ``V``.
    order : int
        ``n`` (1 = unigram, 2 = bigram, ...).  The table has ``V ** (n - 1)`` rows,
        so keep ``n`` small for large vocabularies.
    add_k : float
        Pseudo-count added to every (context, token) pair, > 0.

    Returns
    -------
    ndarray, shape (V ** (n - 1), V)
        Row ``c`` is the log-distribution of the next token after context code
        ``c`` (the context tokens read as a base-``V`` number, oldest first); for
        ``n = 1`` a single row.
    """
    order = _check_order(order)
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, (int, np.integer)) or vocab_size < 1:
        raise ValueError(f"vocab_size must be a positive integer, got {vocab_size!r}")
    k = check_positive("add_k", add_k)
    check_int_array("train_ids", train_ids, low=0, high=vocab_size)
    if train_ids.ndim != 1 or train_ids.size < order:
        raise ValueError(f"train_ids must be 1-D with at least order={order} tokens, got shape {train_ids.shape}")
    n_contexts = vocab_size ** (order - 1)
    counts = np.zeros((n_contexts, vocab_size))
    np.add.at(counts, (_context_codes(train_ids, order, vocab_size), train_ids[order - 1 :]), 1.0)
    counts += k
    return np.log(counts) - np.log(counts.sum(axis=1, keepdims=True))


def ngram_nll(
    train_ids: np.ndarray,
    eval_ids: np.ndarray,
    vocab_size: int,
    order: int,
    add_k: float = 1.0,
    first_target: int | None = None,
) -> np.ndarray:
    """Negative log-likelihood (nats) of every target token of ``eval_ids`` under an add-k n-gram model.

    Parameters
    ----------
    train_ids : ndarray of int, shape (L,)
        Text the counts come from.
    eval_ids : ndarray of int, shape (M,)
        Held-out text.
    vocab_size : int
    order : int
    add_k : float
    first_target : int, optional
        Index of the first token of ``eval_ids`` to score (default ``order - 1``,
        the first one with a full context).  Pass the same value for models of
        different orders so that they are scored on the same tokens.

    Returns
    -------
    ndarray, shape (M - first_target,)
        ``-log p(eval_ids[t] | previous n - 1 tokens)`` for ``t >= first_target``;
        the token-weighted mean of this array is the model's mean NLL, and its
        ``exp`` the perplexity.
    """
    order = _check_order(order)
    first = order - 1 if first_target is None else first_target
    if isinstance(first, bool) or not isinstance(first, (int, np.integer)) or first < order - 1:
        raise ValueError(f"first_target must be an integer >= order - 1 = {order - 1}, got {first_target!r}")
    table = ngram_log_probs(train_ids, vocab_size, order, add_k)
    check_int_array("eval_ids", eval_ids, low=0, high=vocab_size)
    if eval_ids.ndim != 1 or eval_ids.size <= first:
        raise ValueError(f"eval_ids must be 1-D with more than first_target={first} tokens, got shape {eval_ids.shape}")
    contexts = _context_codes(eval_ids, order, vocab_size)[first - (order - 1) :]
    return -table[contexts, eval_ids[first:]]
