"""Greedy and beam-search decoding over any step function.

Both searches only need a function that, given the last token of every live
hypothesis and the matching decoder state, returns log-probabilities of the next
token::

    log_probs, state = step_fn(tokens, state)     # tokens (K,) long -> log_probs (K, V)

so the same code decodes the :class:`~companion.torch.models.Seq2Seq` model, a
language model, or a hand-made table in a test.  The state follows the
``torch.nn.RNN`` convention: a tensor, or a (nested) tuple of tensors, whose
**dimension 1** is the hypothesis axis (``(num_layers, K, H)``); ``None`` is allowed.

Scores are sums of natural-log probabilities of the emitted tokens, ``<eos>``
included.  Hypotheses are ranked by ``score / len(tokens) ** length_penalty``:
``length_penalty = 0`` ranks by total log-probability, which favours short
outputs since every extra token can only lower the sum; ``1`` ranks by the mean
log-probability per token.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import torch

from companion.torch._validate import check_count

if TYPE_CHECKING:
    from companion.data.vocab import Vocab

__all__ = ["Hypothesis", "greedy_search", "beam_search", "select_state", "decode_until_eos"]

StepFn = Callable[[torch.Tensor, Any], tuple[torch.Tensor, Any]]


class Hypothesis(NamedTuple):
    """A decoded sequence.

    Attributes
    ----------
    tokens : list of int
        Emitted tokens after ``<bos>``; ends with ``<eos>`` when ``finished``.
    score : float
        Sum of the log-probabilities of ``tokens``.
    normalized_score : float
        ``score / len(tokens) ** length_penalty``, the key hypotheses are ranked by.
    finished : bool
        False if decoding stopped at ``max_len`` before ``<eos>``.
    """

    tokens: list[int]
    score: float
    normalized_score: float
    finished: bool


def select_state(state: Any, index: torch.Tensor) -> Any:
    """Pick hypotheses ``index`` along dimension 1 of every tensor in ``state`` (tensors, tuples, lists or None)."""
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.index_select(1, index.to(state.device))
    if isinstance(state, (tuple, list)):
        return type(state)(select_state(s, index) for s in state)
    raise TypeError(f"decoder state must be a tensor, a tuple/list of tensors or None, got {type(state).__name__}")


def _check_log_probs(log_probs: object, k: int) -> torch.Tensor:
    if not isinstance(log_probs, torch.Tensor) or log_probs.dim() != 2 or log_probs.shape[0] != k:
        shape = tuple(log_probs.shape) if isinstance(log_probs, torch.Tensor) else type(log_probs).__name__
        raise ValueError(f"step_fn must return log-probabilities of shape (K={k}, V), got {shape}")
    return log_probs


def _normalize(score: float, length: int, length_penalty: float) -> float:
    return score / (length**length_penalty) if length_penalty else score


def _done(
    finished: list[Hypothesis], live: list[list[int]], live_scores: list[float], beam_width: int, length_penalty: float
) -> bool:
    """True once no live hypothesis can still enter the top ``beam_width`` finished ones.

    A live hypothesis's score can only fall as it grows (log-probabilities are <= 0), so with
    ``length_penalty = 0`` its current score bounds any completion and the test is exact; with a
    length penalty, its current normalised score is used as the estimate (as in common libraries).
    """
    if len(finished) < beam_width:
        return False
    kth = sorted((h.normalized_score for h in finished), reverse=True)[beam_width - 1]
    best_live = max(_normalize(s, len(seq), length_penalty) for seq, s in zip(live, live_scores))
    return best_live <= kth


def greedy_search(step_fn: StepFn, state: Any, *, bos: int, eos: int, max_len: int) -> Hypothesis:
    """Follow the most probable token at every step until ``<eos>`` or ``max_len`` tokens.

    Parameters
    ----------
    step_fn : callable
        ``(tokens (1,), state) -> (log_probs (1, V), state)``.
    state : Any
        Initial decoder state for one sequence (hypothesis axis of size 1).
    bos, eos : int
        Start and end tokens.
    max_len : int
        Maximum number of emitted tokens (``<eos>`` included).

    Returns
    -------
    Hypothesis
    """
    check_count("max_len", max_len)
    tokens: list[int] = []
    score = 0.0
    last = torch.tensor([bos])
    with torch.no_grad():
        for _ in range(max_len):
            log_probs, state = step_fn(last, state)
            lp = _check_log_probs(log_probs, 1)[0]
            tok = int(lp.argmax())
            score += float(lp[tok])
            tokens.append(tok)
            if tok == eos:
                return Hypothesis(tokens, score, score, True)
            last = torch.tensor([tok])
    return Hypothesis(tokens, score, score, False)


def beam_search(
    step_fn: StepFn,
    state: Any,
    *,
    bos: int,
    eos: int,
    beam_width: int,
    max_len: int,
    length_penalty: float = 0.0,
) -> list[Hypothesis]:
    """Keep the ``beam_width`` best partial sequences at every step.

    At each step every live hypothesis is extended by every token; the
    ``beam_width`` highest-scoring extensions are kept.  An extension ending in
    ``<eos>`` is set aside as finished (it no longer takes a place on the beam
    at the next step).  The search stops when no live hypothesis is left, when
    ``beam_width`` hypotheses have finished and the best live one ranks below
    all of them, or after ``max_len`` tokens (live hypotheses are then returned
    unfinished).  With ``beam_width=1`` this is exactly :func:`greedy_search`.

    Parameters
    ----------
    step_fn : callable
        ``(tokens (K,), state) -> (log_probs (K, V), state)``, K live hypotheses.
    state : Any
        Initial state for one sequence (hypothesis axis, dimension 1, of size 1).
    bos, eos : int
    beam_width : int
        k, the number of hypotheses kept.
    max_len : int
        Maximum number of emitted tokens (``<eos>`` included).
    length_penalty : float
        Exponent ``alpha`` of the ranking key ``score / len ** alpha``.

    Returns
    -------
    list of Hypothesis
        At most ``beam_width`` hypotheses, best first: finished ones (ending in ``<eos>``)
        before unfinished ones, each group by ``normalized_score``.
    """
    check_count("beam_width", beam_width)
    check_count("max_len", max_len)
    if length_penalty < 0:
        raise ValueError(f"length_penalty must be >= 0, got {length_penalty}")
    live: list[list[int]] = [[]]
    live_scores = torch.zeros(1, dtype=torch.float64)
    last = torch.tensor([bos])
    finished: list[Hypothesis] = []
    with torch.no_grad():
        for _ in range(max_len):
            log_probs, state = step_fn(last, state)
            log_probs = _check_log_probs(log_probs, len(live)).to(torch.float64).cpu()
            V = log_probs.shape[1]
            candidates = (live_scores.unsqueeze(1) + log_probs).flatten()  # (K * V,)
            top_scores, top_index = candidates.topk(min(beam_width, candidates.numel()))
            keep_parent, keep_token, keep_score, keep_seq = [], [], [], []
            for s, i in zip(top_scores.tolist(), top_index.tolist()):
                parent, tok = divmod(i, V)
                seq = live[parent] + [tok]
                if tok == eos:
                    finished.append(Hypothesis(seq, s, _normalize(s, len(seq), length_penalty), True))
                else:
                    keep_parent.append(parent)
                    keep_token.append(tok)
                    keep_score.append(s)
                    keep_seq.append(seq)
            if not keep_seq or _done(finished, keep_seq, keep_score, beam_width, length_penalty):
                live = []
                break
            state = select_state(state, torch.tensor(keep_parent))
            live, live_scores, last = keep_seq, torch.tensor(keep_score, dtype=torch.float64), torch.tensor(keep_token)
    for seq, s in zip(live, live_scores.tolist()):  # ran out of max_len: return the unfinished ones too
        finished.append(Hypothesis(seq, s, _normalize(s, len(seq), length_penalty), False))
    finished.sort(key=lambda h: (h.finished, h.normalized_score), reverse=True)  # complete sentences first
    return finished[:beam_width]


def decode_until_eos(tokens: Sequence[int] | np.ndarray | torch.Tensor, vocab: Vocab) -> str:
    """Turn emitted token ids into text, stopping at the first ``<eos>``.

    A decoder keeps writing after it has emitted ``<eos>`` (a batched greedy
    decode runs every row for ``max_len`` steps), so everything from the first
    ``<eos>`` on is cut; ``<pad>`` ids left in the prefix are dropped.  Other
    special tokens (``<bos>``, ``<unk>``) are kept, so a model that emits them is
    visibly wrong rather than silently forgiven.

    Parameters
    ----------
    tokens : (L,) int ids
        One decoded row (a list, a NumPy array or a 1-D tensor), ``<eos>``
        included or not; ``L`` may be 0.
    vocab : Vocab
        The target vocabulary, built with the special tokens.

    Returns
    -------
    str
        ``vocab.decode`` of the ids before the first ``<eos>``, without ``<pad>``.
    """
    if not hasattr(vocab, "decode") or not hasattr(vocab, "eos_id"):
        raise TypeError(f"vocab must be a companion.data.Vocab, got {type(vocab).__name__}")
    if vocab.eos_id is None:
        raise ValueError("vocab has no special tokens, so there is no <eos> to stop at (build it with specials=True)")
    if isinstance(tokens, torch.Tensor):
        if tokens.dim() != 1:
            raise ValueError(f"tokens must be one 1-D row of ids, got shape {tuple(tokens.shape)}")
        tokens = tokens.tolist()
    arr = np.asarray(tokens)
    if arr.ndim != 1:
        raise ValueError(f"tokens must be one 1-D row of ids, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"tokens must be integer ids, got dtype {arr.dtype}")
    ids = [int(t) for t in arr.tolist()]
    if vocab.eos_id in ids:
        ids = ids[: ids.index(vocab.eos_id)]
    return vocab.decode([t for t in ids if t != vocab.pad_id])
