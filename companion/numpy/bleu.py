"""BLEU (Papineni et al., 2002): clipped n-gram precisions and a brevity penalty.

.. math::

    \\text{BLEU} = \\text{BP} \\cdot \\exp\\Big(\\sum_{n=1}^{N} w_n \\log p_n\\Big), \\qquad
    \\text{BP} = \\min\\big(1, e^{1 - r/c}\\big),

where ``p_n`` is the *modified* n-gram precision: each n-gram of a hypothesis counts
at most as often as it occurs in one reference, with the counts summed over the whole
corpus before dividing; ``c`` is the total hypothesis length and ``r`` the total
length of the references closest in length to each hypothesis (ties: the shorter).
Weights are uniform, ``w_n = 1/N``.  This is the definition of ``nltk``'s
``corpus_bleu`` (and of sacrebleu without its tokeniser), on token lists given by you.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence

__all__ = ["ngram_counts", "modified_precision", "brevity_penalty", "corpus_bleu", "sentence_bleu"]

Tokens = Sequence[Hashable]


def _check_tokens(name: str, tokens: object) -> list[Hashable]:
    if isinstance(tokens, str):
        raise TypeError(f"{name} must be a sequence of tokens, not a str: split it first "
                        "(text.split() for words, list(text) for characters)")
    if not isinstance(tokens, Sequence):
        raise TypeError(f"{name} must be a list or tuple of tokens, got {type(tokens).__name__}")
    return list(tokens)


def ngram_counts(tokens: Tokens, n: int) -> Counter:
    """How often each n-gram (a tuple of n tokens) occurs in ``tokens``."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    tokens = _check_tokens("tokens", tokens)
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def modified_precision(hypothesis: Tokens, references: Sequence[Tokens], n: int) -> tuple[int, int]:
    """``(clipped matches, hypothesis n-grams)`` of one hypothesis.

    Each n-gram's count is clipped at its largest count in any single reference:
    "the the the the" against "the cat" matches one "the", not four.
    """
    counts = ngram_counts(hypothesis, n)
    most: Counter = Counter()
    for ref in references:
        for gram, k in ngram_counts(ref, n).items():
            most[gram] = max(most[gram], k)
    return sum(min(k, most[gram]) for gram, k in counts.items()), sum(counts.values())


def brevity_penalty(hyp_len: int, ref_len: int) -> float:
    """``1`` if the hypotheses are longer than the references, else ``exp(1 - r / c)`` (0 when c = 0)."""
    if hyp_len < 0 or ref_len < 0:
        raise ValueError(f"lengths must be >= 0, got {hyp_len}, {ref_len}")
    if hyp_len > ref_len:
        return 1.0
    return math.exp(1.0 - ref_len / hyp_len) if hyp_len else 0.0


def _closest_length(hyp_len: int, references: Sequence[Tokens]) -> int:
    return min((len(r) for r in references), key=lambda r: (abs(r - hyp_len), r))


def corpus_bleu(
    hypotheses: Sequence[Tokens], references: Sequence[Sequence[Tokens]], max_n: int = 4, smooth: bool = False
) -> float:
    """Corpus-level BLEU of tokenised hypotheses, each with one or more tokenised references.

    Parameters
    ----------
    hypotheses : list of token lists
        What the system produced, one per segment.
    references : list of lists of token lists
        ``references[i]`` holds the reference translations of segment i (at least one).
    max_n : int
        N, the longest n-gram (4 for the usual BLEU-4).
    smooth : bool
        Add 1 to the matches and the counts of every n > 1 (Lin & Och, 2004), so a corpus
        without any matching 4-gram scores above 0; off by default (the original BLEU).

    Returns
    -------
    float in [0, 1]
        0 when some ``p_n`` is 0 (unsmoothed) or the hypotheses are empty.
    """
    if len(hypotheses) != len(references) or not hypotheses:
        raise ValueError(f"need one list of references per hypothesis, got {len(hypotheses)} hypotheses and "
                         f"{len(references)} reference lists (at least one of each)")
    if not isinstance(max_n, int) or max_n < 1:
        raise ValueError(f"max_n must be a positive integer, got {max_n!r}")
    matches, totals = [0] * max_n, [0] * max_n
    hyp_len = ref_len = 0
    for i, (hyp, refs) in enumerate(zip(hypotheses, references)):
        hyp = _check_tokens(f"hypotheses[{i}]", hyp)
        if isinstance(refs, str) or not refs:
            raise ValueError(f"references[{i}] must be a non-empty list of token lists")
        refs = [_check_tokens(f"references[{i}][{j}]", r) for j, r in enumerate(refs)]
        for n in range(1, max_n + 1):
            m, t = modified_precision(hyp, refs, n)
            matches[n - 1] += m
            totals[n - 1] += t
        hyp_len += len(hyp)
        ref_len += _closest_length(len(hyp), refs)
    if smooth:
        matches = [matches[0]] + [m + 1 for m in matches[1:]]
        totals = [totals[0]] + [t + 1 for t in totals[1:]]
    if min(matches) == 0:
        return 0.0  # log 0: some order has no match at all
    log_p = sum(math.log(m / t) for m, t in zip(matches, totals)) / max_n
    return brevity_penalty(hyp_len, ref_len) * math.exp(log_p)


def sentence_bleu(hypothesis: Tokens, references: Sequence[Tokens], max_n: int = 4, smooth: bool = False) -> float:
    """BLEU of one hypothesis against its references: :func:`corpus_bleu` of a one-segment corpus.

    Averaging sentence BLEU over a corpus is *not* corpus BLEU (the counts are pooled
    before dividing); report :func:`corpus_bleu`.
    """
    return corpus_bleu([hypothesis], [references], max_n=max_n, smooth=smooth)
