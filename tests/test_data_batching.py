"""Language-model batches, padding, collation and leakage-free splits."""

from __future__ import annotations

import numpy as np
import pytest

from companion.data.batching import (
    PadCollate,
    SequenceDataset,
    lm_random_windows,
    lm_stream_batches,
    make_classification_loader,
    pad_sequences,
    seq2seq_tensors,
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


def test_make_classification_loader_pads_and_is_seeded():
    torch = pytest.importorskip("torch")
    seqs = [[1, 2], [3, 4, 5, 6], [7], [8, 9, 10]]
    labels = np.array([0, 1, 1, 0])
    x, lengths, y = next(iter(make_classification_loader(seqs, labels, batch_size=4)))
    assert x.tolist() == [[1, 2, 0, 0], [3, 4, 5, 6], [7, 0, 0, 0], [8, 9, 10, 0]]
    assert lengths.tolist() == [2, 4, 1, 3] and y.tolist() == [0, 1, 1, 0]
    assert x.dtype == lengths.dtype == y.dtype == torch.int64
    x9, _, _ = next(iter(make_classification_loader(seqs, labels, batch_size=4, pad_id=9)))
    assert x9[2].tolist() == [7, 9, 9, 9]

    def epochs(loader, n=3):
        return [[yb.tolist() for _, _, yb in loader] for _ in range(n)]

    many = [[i] for i in range(1, 41)]
    ids = np.arange(40)
    a = epochs(make_classification_loader(many, ids, 8, shuffle=True, seed=0))
    b = epochs(make_classification_loader(many, ids, 8, shuffle=True, seed=0))
    assert a == b  # same seed, same order on every run
    assert a[0] != a[1]  # a new permutation each epoch
    assert sorted(sum(a[0], [])) == list(range(40))  # every example once per epoch
    assert a != epochs(make_classification_loader(many, ids, 8, shuffle=True, seed=1))
    assert sum(epochs(make_classification_loader(many, ids, 8), 1)[0], []) == list(range(40))


def test_make_classification_loader_matches_hand_built_dataloader():
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader

    rng = np.random.default_rng(0)
    seqs = [rng.integers(1, 20, size=rng.integers(1, 9)) for _ in range(70)]
    labels = rng.integers(0, 3, size=70)
    by_hand = DataLoader(SequenceDataset(seqs, labels), batch_size=16, shuffle=True, collate_fn=PadCollate(pad_id=0),
                         generator=torch.Generator().manual_seed(0))
    ours = make_classification_loader(seqs, labels, 16, shuffle=True)
    for _ in range(2):
        for ref, got in zip(by_hand, ours, strict=True):
            assert all(torch.equal(r, g) for r, g in zip(ref, got))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"sequences": [], "labels": []}, ValueError, "empty"),
        ({"labels": [0]}, ValueError, "2 sequences but 1 labels"),
        ({"labels": [0.5, 1.0]}, TypeError, "integer classes"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"shuffle": "yes"}, TypeError, "shuffle"),
        ({"pad_id": -1}, ValueError, "pad_id"),
        ({"seed": 1.5}, ValueError, "seed"),
    ],
)
def test_make_classification_loader_rejects_bad_input(kwargs, error, match):
    pytest.importorskip("torch")
    args = {"sequences": [[1, 2], [3]], "labels": [0, 1], "batch_size": 2} | kwargs
    with pytest.raises(error, match=match):
        make_classification_loader(**args)


def _number_vocabs():
    from companion.data.vocab import Vocab

    pairs = [("twelve", "12"), ("three hundred five", "305"), ("seven", "7")]
    return pairs, Vocab.from_texts([s for s, _ in pairs], level="word"), Vocab.from_texts([t for _, t in pairs], level="char")


def test_seq2seq_tensors_shift_targets_for_teacher_forcing():
    torch = pytest.importorskip("torch")
    from companion.data.vocab import BOS_ID, EOS_ID, PAD_ID

    pairs, src_vocab, tgt_vocab = _number_vocabs()
    out = seq2seq_tensors(pairs, src_vocab, tgt_vocab)
    assert set(out) == {"src", "src_len", "tgt_in", "tgt_out"}
    assert all(v.dtype == torch.int64 for v in out.values())
    assert tuple(out["src"].shape) == (3, 3) and out["src_len"].tolist() == [1, 3, 1]
    assert out["src"][1].tolist() == src_vocab.encode("three hundred five").tolist()
    assert out["src"][0, 1:].tolist() == [PAD_ID, PAD_ID]
    assert tuple(out["tgt_in"].shape) == tuple(out["tgt_out"].shape) == (3, 4)  # 1 + longest target (3 chars)
    y = tgt_vocab.encode("305").tolist()
    assert out["tgt_in"][1].tolist() == [BOS_ID] + y
    assert out["tgt_out"][1].tolist() == y + [EOS_ID]
    assert out["tgt_in"][2].tolist() == [BOS_ID, tgt_vocab.encode("7")[0], PAD_ID, PAD_ID]
    assert out["tgt_out"][2].tolist() == [tgt_vocab.encode("7")[0], EOS_ID, PAD_ID, PAD_ID]
    # teacher forcing: the input at t + 1 is the target at t, wherever the target is a real token
    real = out["tgt_out"][:, :-1] != PAD_ID
    shifted_ok = (out["tgt_in"][:, 1:] == out["tgt_out"][:, :-1]) | ~real | (out["tgt_out"][:, :-1] == EOS_ID)
    assert bool(shifted_ok.all())


def test_seq2seq_tensors_rejects_bad_input():
    pytest.importorskip("torch")
    from companion.data.vocab import Vocab

    pairs, src_vocab, tgt_vocab = _number_vocabs()
    with pytest.raises(ValueError, match="non-empty"):
        seq2seq_tensors([], src_vocab, tgt_vocab)
    with pytest.raises(TypeError, match=r"pairs\[1\]"):
        seq2seq_tensors([("twelve", "12"), ("twelve",)], src_vocab, tgt_vocab)
    with pytest.raises(TypeError, match="strings"):
        seq2seq_tensors([("twelve", 12)], src_vocab, tgt_vocab)
    with pytest.raises(ValueError, match="target of pairs\\[0\\] has no tokens"):
        seq2seq_tensors([("twelve", "")], src_vocab, tgt_vocab)
    with pytest.raises(TypeError, match="Vocab"):
        seq2seq_tensors(pairs, {"twelve": 4}, tgt_vocab)
    plain = Vocab.from_texts(["12"], level="char", specials=False)
    with pytest.raises(ValueError, match="specials=True"):
        seq2seq_tensors([("twelve", "12")], src_vocab, plain)
