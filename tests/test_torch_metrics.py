"""companion.torch.decoding.decode_until_eos and companion.torch.metrics.exact_match."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from companion.data.vocab import BOS_ID, EOS_ID, PAD_ID, Vocab
from companion.torch import decode_until_eos, exact_match


@pytest.fixture
def digits() -> Vocab:
    return Vocab.from_texts(["0123456789"], level="char")


def test_decode_until_eos_cuts_at_first_eos_and_drops_padding(digits):
    one, two, three = (int(i) for i in digits.encode("123"))
    assert decode_until_eos([one, two, EOS_ID, three, EOS_ID], digits) == "12"
    assert decode_until_eos([one, PAD_ID, two, three], digits) == "123"  # no <eos>: the whole row, no padding
    assert decode_until_eos([EOS_ID, one], digits) == ""
    assert decode_until_eos([], digits) == ""
    # other specials stay visible: a model emitting <bos> mid-output is wrong, not forgiven
    assert decode_until_eos([one, BOS_ID, EOS_ID], digits) == "1<bos>"


def test_decode_until_eos_accepts_lists_arrays_and_tensors(digits):
    row = [int(i) for i in digits.encode("907")] + [EOS_ID, PAD_ID]
    expected = "907"
    assert decode_until_eos(row, digits) == expected
    assert decode_until_eos(np.array(row), digits) == expected
    assert decode_until_eos(torch.tensor(row), digits) == expected


def test_decode_until_eos_rejects_bad_input(digits):
    with pytest.raises(ValueError, match="1-D"):
        decode_until_eos(torch.zeros(2, 3, dtype=torch.long), digits)
    with pytest.raises(ValueError, match="1-D"):
        decode_until_eos([[4, 5]], digits)
    with pytest.raises(TypeError, match="integer"):
        decode_until_eos([4.0, 5.5], digits)
    with pytest.raises(TypeError, match="Vocab"):
        decode_until_eos([4, 5], {"a": 4})
    with pytest.raises(ValueError, match="specials=True"):
        decode_until_eos([0, 1], Vocab.from_texts(["ab"], level="char", specials=False))
    with pytest.raises(ValueError, match="outside the vocabulary"):
        decode_until_eos([4, 99], digits)


def test_exact_match_counts_whole_strings():
    assert exact_match(["12", "305", "7"], ["12", "305", "7"]) == 1.0
    assert exact_match(["12", "306", "7", ""], ["12", "305", "7", "8"]) == pytest.approx(0.5, abs=1e-12)
    assert exact_match(["1234"], ["123"]) == 0.0  # one extra digit: the whole answer is wrong
    assert isinstance(exact_match(["a"], ["a"]), float)


def test_exact_match_rejects_bad_input():
    with pytest.raises(ValueError, match="2 outputs but 1 targets"):
        exact_match(["1", "2"], ["1"])
    with pytest.raises(ValueError, match="empty"):
        exact_match([], [])
    with pytest.raises(TypeError, match="single string"):
        exact_match("12", "12")
    with pytest.raises(TypeError, match=r"targets\[1\]"):
        exact_match(["1", "2"], ["1", 2])
