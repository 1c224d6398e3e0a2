"""Language-model batches, padding, collation and leakage-free splits."""

from __future__ import annotations

import numpy as np
import pytest

from companion.data.batching import (
    PadCollate,
    SequenceDataset,
    lm_random_windows,
    lm_stream_batches,
    pad_sequences,
    split_contiguous,
    split_points,
    stratified_split,
)


def test_stream_batches_shapes_and_shifted_targets():
    ids = np.arange(103)
    batches = lm_stream_batches(ids, batch_size=4, seq_len=5)
    n = (103 - 1) // 4  # 25 tokens per stream
    assert len(batches) == n // 5
    for x, y in batches:
        assert x.shape == y.shape == (4, 5)
        assert x.dtype == np.int64
        np.testing.assert_array_equal(y[:, :-1], x[:, 1:])  # target = next token
        np.testing.assert_array_equal(y, x + 1)  # (ids are 0..102)


def test_stream_rows_continue_across_batches():
    ids = np.arange(1000)
    batches = lm_stream_batches(ids, batch_size=3, seq_len=7)
    for (x0, y0), (x1, _) in zip(batches, batches[1:]):
        np.testing.assert_array_equal(x1[:, 0], x0[:, -1] + 1)  # row b continues row b
        np.testing.assert_array_equal(y0[:, -1], x1[:, 0])
    # concatenating the batches along time gives back B contiguous streams of the corpus
    rows = np.concatenate([x for x, _ in batches], axis=1)
    n = (1000 - 1) // 3
    for b in range(3):
        np.testing.assert_array_equal(rows[b], ids[b * n: b * n + rows.shape[1]])


def test_stream_offset_and_partial_last_batch():
    ids = np.arange(50)
    x, _ = lm_stream_batches(ids, 2, 4, offset=3)[0]
    assert x[0, 0] == 3
    full = lm_stream_batches(ids, 2, 10, drop_last=True)
    part = lm_stream_batches(ids, 2, 10, drop_last=False)
    assert len(full) == 2 and len(part) == 3 and part[-1][0].shape == (2, 4)
    with pytest.raises(ValueError, match="too short"):
        lm_stream_batches(np.arange(10), 4, 5)
    with pytest.raises(TypeError, match="integer"):
        lm_stream_batches(np.arange(10.0), 2, 2)


def test_random_windows_are_real_disjoint_and_seeded():
    ids = np.arange(500) * 3  # value -> position is unambiguous
    batches = lm_random_windows(ids, batch_size=4, seq_len=10, rng=np.random.default_rng(0))
    starts = []
    for x, y in batches:
        assert x.shape == y.shape == (4, 10)
        np.testing.assert_array_equal(y[:, :-1], x[:, 1:])
        for row in x:
            s = row[0] // 3
            np.testing.assert_array_equal(row, ids[s:s + 10])
            starts.append(s)
    assert len(set(starts)) == len(starts)  # no window used twice in one epoch
    assert len(np.unique(np.array(starts) % 10)) == 1  # one offset, non-overlapping grid
    again = lm_random_windows(ids, 4, 10, rng=np.random.default_rng(0))
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(batches, again))
    assert not np.array_equal(batches[0][0], lm_random_windows(ids, 4, 10, rng=1)[0][0])


def test_pad_sequences_lengths_and_values():
    seqs = [[5, 6, 7], [8], [9, 10]]
    ids, lengths = pad_sequences(seqs, pad_id=0)
    np.testing.assert_array_equal(ids, [[5, 6, 7], [8, 0, 0], [9, 10, 0]])
    np.testing.assert_array_equal(lengths, [3, 1, 2])
    assert ids.dtype == lengths.dtype == np.int64


def test_pad_sequences_truncation():
    seqs = [np.arange(1, 6), np.array([7, 8])]
    post, lp = pad_sequences(seqs, max_len=3, truncate="post", pad_id=-1)
    pre, _ = pad_sequences(seqs, max_len=3, truncate="pre", pad_id=-1)
    np.testing.assert_array_equal(post, [[1, 2, 3], [7, 8, -1]])
    np.testing.assert_array_equal(pre, [[3, 4, 5], [7, 8, -1]])
    np.testing.assert_array_equal(lp, [3, 2])
    with pytest.raises(ValueError, match="empty"):
        pad_sequences([[1], []])
    with pytest.raises(ValueError, match="truncate"):
        pad_sequences([[1]], truncate="middle")
    with pytest.raises(TypeError):
        pad_sequences([[0.5]])


def test_pad_collate_with_dataloader():
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader

    ds = SequenceDataset([[1, 2], [3, 4, 5, 6], [7]], [0, 1, 1])
    x, lengths, y = next(iter(DataLoader(ds, batch_size=3, collate_fn=PadCollate())))
    assert x.dtype == lengths.dtype == y.dtype == torch.int64
    assert x.shape == (3, 4)
    assert lengths.tolist() == [2, 4, 1] and y.tolist() == [0, 1, 1]
    xs, ls, ys = PadCollate(sort_by_length=True)([ds[i] for i in range(3)])
    assert ls.tolist() == [4, 2, 1] and ys.tolist() == [1, 0, 1]
    assert xs[0].tolist() == [3, 4, 5, 6] and xs[2].tolist() == [7, 0, 0, 0]
    packed = torch.nn.utils.rnn.pack_padded_sequence(xs.unsqueeze(-1).float(), ls, batch_first=True)
    assert packed.data.shape[0] == 7  # padding never enters the packed sequence


def test_split_contiguous_no_overlap_in_order():
    data = np.arange(100)
    tr, va, te = split_contiguous(data, (0.8, 0.1, 0.1))
    assert (len(tr), len(va), len(te)) == (80, 10, 10)
    np.testing.assert_array_equal(np.concatenate([tr, va, te]), data)
    assert tr.max() < va.min() and va.max() < te.min()
    assert split_points(100, (0.8, 0.1, 0.1)).tolist() == [80, 90] == [va[0], te[0]]
    with pytest.raises(ValueError, match="sum to 1"):
        split_contiguous(data, (0.8, 0.3))


def test_stratified_split_is_disjoint_balanced_and_seeded():
    labels = np.array([0] * 60 + [1] * 40)
    parts = stratified_split(labels, (0.7, 0.15, 0.15), rng=0)
    allidx = np.concatenate(parts)
    np.testing.assert_array_equal(np.sort(allidx), np.arange(100))  # disjoint and complete
    assert [len(p) for p in parts] == [70, 15, 15]
    for p in parts:
        assert abs(labels[p].mean() - 0.4) < 0.05  # same class balance everywhere
    again = stratified_split(labels, (0.7, 0.15, 0.15), rng=0)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again))
    assert not np.array_equal(parts[0], stratified_split(labels, (0.7, 0.15, 0.15), rng=1)[0])


def test_stratified_split_keeps_duplicate_groups_together():
    texts = [f"s{i % 30}" for i in range(90)]  # every sentence appears 3 times
    labels = [i % 30 % 2 for i in range(90)]
    parts = stratified_split(labels, (0.6, 0.2, 0.2), rng=3, groups=texts)
    seen = [{texts[i] for i in p} for p in parts]
    assert not (seen[0] & seen[1]) and not (seen[0] & seen[2]) and not (seen[1] & seen[2])
    assert sum(len(p) for p in parts) == 90
