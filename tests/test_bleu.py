"""BLEU: the examples of the BLEU paper and of nltk's documentation, and cases worked by hand."""

from __future__ import annotations

import math

import pytest

from companion.numpy.bleu import brevity_penalty, corpus_bleu, modified_precision, ngram_counts, sentence_bleu

# nltk.translate.bleu_score documentation (sentence_bleu / corpus_bleu docstrings)
HYP1 = ("It is a guide to action which ensures that the military always obeys the commands of the party").split()
REF1A = "It is a guide to action that ensures that the military will forever heed Party commands".split()
REF1B = ("It is the guiding principle which guarantees the military forces always being under the command "
         "of the Party").split()
REF1C = "It is the practical guide for the army always to heed the directions of the party".split()
HYP2 = "he read the book because he was interested in world history".split()
REF2A = "he was interested in world history because he read the book".split()


def test_modified_precision_of_the_bleu_paper() -> None:
    # Papineni et al. (2002), section 2.1: "the the the the the the the" scores 2/7, not 7/7
    hyp = "the the the the the the the".split()
    refs = ["the cat is on the mat".split(), "there is a cat on the mat".split()]
    assert modified_precision(hyp, refs, 1) == (2, 7)
    assert modified_precision(hyp, refs, 2) == (0, 6)


def test_nltk_documented_values() -> None:
    assert 0.5045 <= sentence_bleu(HYP1, [REF1A, REF1B, REF1C]) < 0.5046  # documented "0.5045..."
    assert 0.5920 <= corpus_bleu([HYP1, HYP2], [[REF1A, REF1B, REF1C], [REF2A]]) < 0.5921  # "0.5920..."
    # nltk: corpus BLEU is not the mean of the sentence BLEUs
    mean = (sentence_bleu(HYP1, [REF1A, REF1B, REF1C]) + sentence_bleu(HYP2, [REF2A])) / 2
    assert 0.6223 <= mean < 0.6224  # "0.6223..."


def test_hand_worked_case_with_brevity_penalty() -> None:
    # hypothesis "1 2 3 5" vs reference "1 2 3 4 5" (characters of a digit string)
    hyp, ref = list("1235"), list("12345")
    assert [modified_precision(hyp, [ref], n) for n in (1, 2, 3, 4)] == [(4, 4), (2, 3), (1, 2), (0, 1)]
    assert sentence_bleu(hyp, [ref]) == 0.0  # no matching 4-gram
    # smoothed (add one for n > 1): p = 4/4, 3/4, 2/3, 1/2; BP = exp(1 - 5/4)
    expected = math.exp(1 - 5 / 4) * (1 * 3 / 4 * 2 / 3 * 1 / 2) ** 0.25
    assert sentence_bleu(hyp, [ref], smooth=True) == pytest.approx(expected, rel=1e-12)
    # BLEU-2 without smoothing: p1 = 1, p2 = 2/3
    assert sentence_bleu(hyp, [ref], max_n=2) == pytest.approx(math.exp(-0.25) * (2 / 3) ** 0.5, rel=1e-12)


def test_perfect_and_empty_and_closest_reference() -> None:
    assert corpus_bleu([list("310237")], [[list("310237")]]) == 1.0
    assert corpus_bleu([[]], [[list("12")]]) == 0.0
    assert brevity_penalty(0, 3) == 0.0 and brevity_penalty(5, 4) == 1.0
    # closest reference length: 4 is as close to 5 as 6 is; the shorter one wins (BP < 1)
    hyp = list("abcde")
    assert corpus_bleu([hyp], [[list("abcd"), list("abcdef")]], max_n=1) == pytest.approx(1.0)
    assert corpus_bleu([hyp], [[list("abcdef"), list("abcdefg")]], max_n=1) == pytest.approx(math.exp(1 - 6 / 5))
    assert ngram_counts(list("aaa"), 2) == {("a", "a"): 2}


def test_bad_inputs() -> None:
    with pytest.raises(TypeError, match="not a str"):
        sentence_bleu("310237", [list("310237")])
    with pytest.raises(ValueError, match="one list of references per hypothesis"):
        corpus_bleu([list("1")], [])
    with pytest.raises(ValueError, match="non-empty list"):
        corpus_bleu([list("1")], [[]])
    with pytest.raises(ValueError, match="max_n"):
        corpus_bleu([list("1")], [[list("1")]], max_n=0)
