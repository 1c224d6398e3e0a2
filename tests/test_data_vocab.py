"""Tokenisers and Vocab: fixed special ids, deterministic order, round trips, persistence."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.data.vocab import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    SPECIAL_TOKENS,
    UNK_ID,
    Vocab,
    tokenize_chars,
    tokenize_words,
)


def test_tokenize_words_keeps_apostrophes_and_splits_punctuation():
    assert tokenize_words("Not bad, really... It's GOOD!") == [
        "not", "bad", ",", "really", ".", ".", ".", "it's", "good", "!"]
    assert tokenize_words("It's GOOD", lowercase=False) == ["It's", "GOOD"]
    assert tokenize_words("  \n\t ") == []


def test_tokenize_chars_keeps_whitespace():
    assert tokenize_chars("Ab \n") == ["A", "b", " ", "\n"]
    assert tokenize_chars("Ab", lowercase=True) == ["a", "b"]
    with pytest.raises(TypeError):
        tokenize_chars(["a"])


def test_special_tokens_have_fixed_ids():
    v = Vocab(["x", "y"])
    assert v.itos[:4] == list(SPECIAL_TOKENS) == ["<pad>", "<unk>", "<bos>", "<eos>"]
    assert (PAD_ID, UNK_ID, BOS_ID, EOS_ID) == (0, 1, 2, 3)
    assert (v.pad_id, v.unk_id, v.bos_id, v.eos_id) == (0, 1, 2, 3)
    assert v["<pad>"] == 0


def test_frequency_order_with_deterministic_ties():
    tokens = ["b", "a", "c", "a", "c", "d"]  # a:2, c:2, b:1, d:1
    v1 = Vocab(tokens)
    v2 = Vocab(list(reversed(tokens)))
    assert v1.itos[4:] == ["a", "c", "b", "d"]
    assert v1.itos == v2.itos  # input order does not matter
    assert v1.counts == {"a": 2, "c": 2, "b": 1, "d": 1}


def test_min_freq_and_max_size():
    tokens = list("aaaabbbccd")
    assert Vocab(tokens, min_freq=2).itos[4:] == ["a", "b", "c"]
    v = Vocab(tokens, max_size=6)
    assert len(v) == 6 and v.itos[4:] == ["a", "b"]
    assert v["d"] == UNK_ID
    with pytest.raises(ValueError, match="max_size"):
        Vocab(tokens, max_size=3)
    with pytest.raises(ValueError, match="min_freq"):
        Vocab(tokens, min_freq=0)


def test_encode_decode_words_with_unknown_and_markers():
    v = Vocab.from_texts(["the film was good", "the film was bad"], level="word")
    ids = v.encode("The film was GREAT", add_bos=True, add_eos=True)
    assert ids.dtype == np.int64
    assert ids[0] == BOS_ID and ids[-1] == EOS_ID
    assert ids[-2] == UNK_ID  # "great" never seen
    assert v.decode(ids) == "<bos> the film was <unk> <eos>"
    assert v.decode(ids, skip_specials=True) == "the film was"


def test_char_vocab_round_trip_and_size():
    text = "hello world\n"
    v = Vocab.from_texts([text], level="char")
    assert len(v) == 4 + len(set(text))
    assert v.decode(v.encode(text)) == text
    assert v.itos[4] == "l"  # most frequent character first


def test_vocab_without_specials_is_the_alphabet():
    v = Vocab.from_texts(["abca"], level="char", specials=False)
    assert v.itos == ["a", "b", "c"] and len(v) == 3 and v.pad_id is None
    with pytest.raises(KeyError, match="not in the vocabulary"):
        v.encode("z")
    with pytest.raises(ValueError, match="special"):
        v.encode("a", add_bos=True)


def test_decode_rejects_bad_ids():
    v = Vocab(["a"])
    with pytest.raises(ValueError, match="outside the vocabulary"):
        v.decode([0, 7])
    with pytest.raises(ValueError, match="1-D"):
        v.decode(np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(TypeError):
        v.decode(np.array([0.5]))


def test_save_load_round_trip(tmp_path):
    v = Vocab.from_texts(["Ünïcode café, not bad", "not good"], level="word", min_freq=1, max_size=9)
    path = tmp_path / "vocab.json"
    v.save(path)
    w = Vocab.load(path)
    assert w == v
    assert w.stoi == v.stoi and w.level == "word" and w.lowercase
    np.testing.assert_array_equal(w.encode("not café"), v.encode("not café"))
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["itos"][:4] == list(SPECIAL_TOKENS)
    data["format"] = "other"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="format"):
        Vocab.load(path)


def test_bad_arguments():
    with pytest.raises(TypeError, match="iterable of tokens"):
        Vocab("abc")
    with pytest.raises(ValueError, match="level"):
        Vocab(["a"], level="byte")
    with pytest.raises(TypeError):
        Vocab([1, 2])


@settings(max_examples=40, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_char_round_trip_property(text):
    v = Vocab.from_texts([text], level="char")
    ids = v.encode(text)
    assert ids.shape == (len(text),)
    assert ids.min() >= 4  # every character of the training text is known
    assert v.decode(ids) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "encode takes a string or a list of string tokens, got NoneType"),
        (b"ab", "got bytes"),
        (42, "got int"),
        ([1, 2], "tokens must be strings, got int 1"),
        (["a", b"b"], "tokens must be strings, got bytes"),
    ],
)
def test_encode_rejects_what_is_not_text(text, message):
    vocab = Vocab(["a", "b"])
    with pytest.raises(TypeError, match=re.escape(message)):
        vocab.encode(text)
    assert vocab.encode(np.array(["a", "b"])).tolist() == vocab.encode(["a", "b"]).tolist()
