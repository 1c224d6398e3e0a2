"""Tests for companion.torch.bag_of_words: counts exclude padding, the model is logistic regression."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from companion.exercises.solutions import bag_of_words
from companion.torch.bag_of_words import BagOfWordsClassifier, bag_of_words_counts
from companion.torch.trainer import fit


def _padded_batch(rng: np.random.Generator, N: int = 5, T: int = 7, V: int = 9):
    lengths = rng.integers(1, T + 1, size=N)
    x = rng.integers(1, V, size=(N, T))
    x[np.arange(T)[None, :] >= lengths[:, None]] = 0  # padding id 0 after each sequence
    return x, lengths


def test_counts_match_the_numpy_reference_and_ignore_padding(rng):
    x, lengths = _padded_batch(rng)
    got = bag_of_words_counts(torch.from_numpy(x), torch.from_numpy(lengths), 9).numpy()
    np.testing.assert_array_equal(got, bag_of_words(x, lengths, 9))
    assert got[:, 0].sum() == 0.0  # id 0 only occurs as padding here


def test_counts_are_invariant_to_extra_padding(rng):
    x, lengths = _padded_batch(rng)
    wider = np.concatenate([x, np.zeros((x.shape[0], 4), dtype=x.dtype)], axis=1)
    a = bag_of_words_counts(torch.from_numpy(x), torch.from_numpy(lengths), 9)
    b = bag_of_words_counts(torch.from_numpy(wider), torch.from_numpy(lengths), 9)
    assert torch.equal(a, b)


def test_counts_without_lengths_count_every_position_and_repeats_add_up():
    x = torch.tensor([[2, 2, 3], [1, 1, 1]])
    got = bag_of_words_counts(x, None, 4)
    assert got.tolist() == [[0.0, 0.0, 2.0, 1.0], [0.0, 3.0, 0.0, 0.0]]


def test_forward_is_a_linear_function_of_the_features(rng):
    x, lengths = _padded_batch(rng)
    torch.manual_seed(0)
    model = BagOfWordsClassifier(9, 3)
    xt, lt = torch.from_numpy(x), torch.from_numpy(lengths)
    expected = torch.from_numpy(bag_of_words(x, lengths, 9)).float() @ model.linear.weight.T + model.linear.bias
    torch.testing.assert_close(model(xt, lt), expected, rtol=0, atol=1e-6)
    binary = BagOfWordsClassifier(9, 3, binary=True)
    assert float(binary.features(xt, lt).max()) <= 1.0


def test_input_validation_names_the_argument():
    model = BagOfWordsClassifier(5)
    with pytest.raises(ValueError, match="x has value 7"):
        model(torch.tensor([[7, 1]]))
    with pytest.raises(ValueError, match="lengths"):
        model(torch.tensor([[1, 2]]), torch.tensor([3]))
    with pytest.raises(TypeError, match="integer tensor"):
        model(torch.tensor([[1.0, 2.0]]))


def test_fit_learns_a_task_that_depends_on_which_words_occur():
    # label 1 iff token 3 occurs: linearly separable on counts, so logistic regression gets it all right.
    g = np.random.default_rng(0)
    x = g.integers(1, 6, size=(200, 6))
    lengths = g.integers(2, 7, size=200)
    x[np.arange(6)[None, :] >= lengths[:, None]] = 0
    y = (bag_of_words(x, lengths, 6)[:, 3] > 0).astype(np.int64)
    batches = [(torch.from_numpy(x[i:i + 50]), torch.from_numpy(lengths[i:i + 50]), torch.from_numpy(y[i:i + 50]))
               for i in range(0, 200, 50)]
    torch.manual_seed(0)
    model = BagOfWordsClassifier(6, 2)
    history = fit(model, batches, batches, task="classification", epochs=60, lr=0.1, progress=False)
    assert history["val_accuracy"][-1] == 1.0
