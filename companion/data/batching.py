"""Turning token ids into mini-batches, and splitting data without leakage.

Two ways to cut a long token stream into language-model batches:

- :func:`lm_stream_batches`: ``B`` contiguous streams, read left to right.  Row
  ``b`` of batch ``k+1`` continues exactly where row ``b`` of batch ``k``
  stopped, so the final hidden state of one batch is the right initial state
  of the next (stateful truncated BPTT).
- :func:`lm_random_windows`: independent windows in random order; every batch
  starts from a zero state.

For classification, sequences of different lengths are padded to a rectangle
(:func:`pad_sequences`, :class:`PadCollate` for a ``torch`` ``DataLoader``) and
the true lengths travel with them so that padding never reaches the loss.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from companion.reproducibility import default_rng

if TYPE_CHECKING:  # torch is imported lazily: the NumPy half of the course does not need it
    import torch
    from torch.utils.data import DataLoader

    from companion.data.vocab import Vocab

__all__ = [
    "lm_stream_batches",
    "lm_random_windows",
    "pad_sequences",
    "PadCollate",
    "SequenceDataset",
    "make_classification_loader",
    "seq2seq_tensors",
    "split_contiguous",
    "split_points",
    "stratified_split",
]


def _as_ids(name: str, ids: Any) -> np.ndarray:
    arr = np.asarray(ids)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence of token ids, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must hold integer token ids, got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def _check_count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def lm_stream_batches(
    ids: Sequence[int] | np.ndarray,
    batch_size: int,
    seq_len: int,
    *,
    offset: int = 0,
    drop_last: bool = True,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Cut a token stream into ``batch_size`` parallel streams for stateful TBPTT.

    The reshape trick: with ``n = (len(ids) - offset - 1) // B`` tokens per
    stream, ``X = ids[offset : offset + B*n].reshape(B, n)`` puts the stream
    ``b`` (tokens ``b*n .. b*n + n - 1``) in row ``b``, and ``Y`` is the same
    reshape of the stream shifted by one token, so ``Y[b, t] = X[b, t + 1]``
    (the next token).  Batch ``k`` is the column block
    ``X[:, k*T : (k+1)*T]``; hence row ``b`` of batch ``k+1`` starts right after
    row ``b`` of batch ``k`` ends, and carrying the hidden state from one batch
    to the next (detached) is exactly truncated BPTT over ``B`` long streams.
    The last ``len(ids) - offset - 1 - B*n`` tokens (fewer than ``B``) are dropped.

    Parameters
    ----------
    ids : (L,) int array
        The whole corpus as token ids.
    batch_size, seq_len : int
        ``B`` streams, ``T`` time steps per batch.
    offset : int
        Tokens skipped at the start; a random ``offset in [0, T)`` per epoch moves
        the cut points so the model does not always see the same windows.
    drop_last : bool
        Drop a final batch shorter than ``T`` (otherwise it is kept with ``T' < T``).

    Returns
    -------
    list of (x, y)
        ``x``, ``y``: ``(B, T)`` int64 arrays with ``y[:, t] = x[:, t+1]`` inside
        a batch and ``y[:, -1]`` = the first column of the next batch's ``x``.
    """
    arr = _as_ids("ids", ids)
    B, T = _check_count("batch_size", batch_size), _check_count("seq_len", seq_len)
    if isinstance(offset, bool) or not isinstance(offset, (int, np.integer)) or offset < 0:
        raise ValueError(f"offset must be a non-negative integer, got {offset!r}")
    n = (arr.size - int(offset) - 1) // B  # tokens per stream (the +1 target needs one spare token)
    n_batches = n // T if drop_last else -(-n // T)
    if n_batches < 1:
        raise ValueError(
            f"ids has {arr.size} tokens: too short for batch_size={B} x seq_len={T} "
            f"(need at least {B * T + 1 + int(offset)} with offset={offset})"
        )
    X = arr[offset: offset + B * n].reshape(B, n)
    Y = arr[offset + 1: offset + 1 + B * n].reshape(B, n)
    return [(np.ascontiguousarray(X[:, k * T:(k + 1) * T]), np.ascontiguousarray(Y[:, k * T:(k + 1) * T]))
            for k in range(n_batches)]


def lm_random_windows(
    ids: Sequence[int] | np.ndarray,
    batch_size: int,
    seq_len: int,
    rng: np.random.Generator | int | None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Non-overlapping windows of the stream, shuffled, grouped into batches.

    A random offset in ``[0, T)`` is drawn, the stream is cut into consecutive
    windows of ``T`` inputs (+1 target token), the windows are shuffled and
    grouped ``B`` at a time (an incomplete last batch is dropped).  One call is
    one epoch: every window is used at most once.  Batches are independent, so
    each one starts from a zero hidden state.

    Parameters
    ----------
    ids : (L,) int array
    batch_size, seq_len : int
    rng : numpy.random.Generator or int seed
        Source of the offset and the shuffle; pass one generator for all
        epochs so that each epoch gets a new offset and order.

    Returns
    -------
    list of (x, y)
        ``(B, T)`` int64 arrays, ``y[b, t] = x[b, t+1]`` (and ``y[b, -1]`` is the token after the window).
    """
    arr = _as_ids("ids", ids)
    B, T = _check_count("batch_size", batch_size), _check_count("seq_len", seq_len)
    gen = default_rng(rng)
    offset = int(gen.integers(0, T))
    n_windows = (arr.size - offset - 1) // T
    if n_windows < B:  # too short for the random offset: retry with none, then give up clearly
        offset, n_windows = 0, (arr.size - 1) // T
    if n_windows < B:
        raise ValueError(f"ids has {arr.size} tokens: too short for {B} windows of seq_len={T} (+1 target)")
    starts = offset + T * gen.permutation(n_windows)
    n_batches = n_windows // B
    cols = np.arange(T)
    batches = []
    for k in range(n_batches):
        s = starts[k * B:(k + 1) * B, None]
        batches.append((arr[s + cols], arr[s + cols + 1]))
    return batches


def pad_sequences(
    sequences: Sequence[Sequence[int]] | Sequence[np.ndarray],
    pad_id: int = 0,
    max_len: int | None = None,
    truncate: Literal["post", "pre"] = "post",
) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad id sequences into one ``(N, T)`` array and return their lengths.

    Parameters
    ----------
    sequences : list of N int sequences
        Each must have at least one token (a length-0 sequence has no last step).
    pad_id : int
        Filler id (``<pad>`` is 0 in :class:`~companion.data.vocab.Vocab`).
    max_len : int or None
        Cap on ``T``; longer sequences are truncated.  None: ``T = max length``.
    truncate : {"post", "pre"}
        Keep the first ``max_len`` tokens ("post", cut the end) or the last
        ("pre", cut the beginning).

    Returns
    -------
    ids : (N, T) int64
        ``ids[n, :lengths[n]]`` is sequence ``n`` (truncated), the rest is ``pad_id``.
    lengths : (N,) int64
        Lengths after truncation (what ``pack_padded_sequence`` and
        :func:`companion.numpy.classifier.last_hidden` need).
    """
    if truncate not in ("post", "pre"):
        raise ValueError(f"truncate must be 'post' or 'pre', got {truncate!r}")
    if max_len is not None:
        max_len = _check_count("max_len", max_len)
    seqs = [np.asarray(s) for s in sequences]
    if not seqs:
        raise ValueError("sequences is empty: nothing to pad")
    for i, s in enumerate(seqs):
        if s.ndim != 1:
            raise ValueError(f"sequence {i} must be 1-D, got shape {s.shape}")
        if s.size == 0:
            raise ValueError(f"sequence {i} is empty; every sequence needs at least one token")
        if not np.issubdtype(s.dtype, np.integer):
            raise TypeError(f"sequence {i} must hold integer ids, got dtype {s.dtype}")
    lengths = np.array([s.size for s in seqs], dtype=np.int64)
    if max_len is not None:
        lengths = np.minimum(lengths, max_len)
    T = int(lengths.max())
    out = np.full((len(seqs), T), pad_id, dtype=np.int64)
    for i, (s, n) in enumerate(zip(seqs, lengths)):
        out[i, :n] = s[:n] if truncate == "post" else s[s.size - n:]
    return out, lengths


class SequenceDataset:
    """A minimal map-style dataset of ``(ids, label)`` pairs for ``torch.utils.data.DataLoader``.

    Parameters
    ----------
    sequences : list of int sequences (each becomes an int64 array)
    labels : sequence of int, same length
    """

    def __init__(self, sequences: Sequence[Sequence[int]], labels: Sequence[int]) -> None:
        if len(sequences) != len(labels):
            raise ValueError(f"got {len(sequences)} sequences but {len(labels)} labels")
        self.sequences = [np.asarray(s, dtype=np.int64) for s in sequences]
        self.labels = np.asarray(labels, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        return self.sequences[i], int(self.labels[i])


class PadCollate:
    """``collate_fn`` for a ``DataLoader`` of ``(ids, label)`` pairs.

    Calling it on a list of ``B`` pairs returns ``(x, lengths, y)``: ``x`` a
    ``(B, T)`` LongTensor padded with ``pad_id`` (via :func:`pad_sequences`),
    ``lengths`` a ``(B,)`` LongTensor on the CPU (as ``pack_padded_sequence``
    requires) and ``y`` a ``(B,)`` LongTensor of labels.

    Parameters
    ----------
    pad_id : int
    max_len : int or None
        Truncate longer sequences ("post": keep the beginning).
    sort_by_length : bool
        Order the batch by decreasing length, which
        ``pack_padded_sequence(..., enforce_sorted=True)`` expects.  Off by
        default: with ``enforce_sorted=False`` PyTorch sorts internally and
        the outputs stay in the batch's order.
    """

    def __init__(self, pad_id: int = 0, max_len: int | None = None, sort_by_length: bool = False) -> None:
        self.pad_id = int(pad_id)
        self.max_len = max_len
        self.sort_by_length = bool(sort_by_length)

    def __call__(self, batch: Sequence[tuple[Sequence[int], int]]):
        import torch

        seqs = [item[0] for item in batch]
        labels = np.asarray([int(item[1]) for item in batch], dtype=np.int64)
        ids, lengths = pad_sequences(seqs, pad_id=self.pad_id, max_len=self.max_len)
        if self.sort_by_length:
            order = np.argsort(-lengths, kind="stable")  # stable: equal lengths keep their batch order
            ids, lengths, labels = ids[order], lengths[order], labels[order]
        return torch.from_numpy(ids), torch.from_numpy(lengths), torch.from_numpy(labels)

    def __repr__(self) -> str:
        return f"PadCollate(pad_id={self.pad_id}, max_len={self.max_len}, sort_by_length={self.sort_by_length})"


def make_classification_loader(
    sequences: Sequence[Sequence[int]] | Sequence[np.ndarray],
    labels: Sequence[int] | np.ndarray,
    batch_size: int,
    shuffle: bool = False,
    pad_id: int = 0,
    seed: int = 0,
) -> DataLoader:
    """A ``DataLoader`` of padded ``(x, lengths, y)`` batches for sequence classification.

    It wraps :class:`SequenceDataset` and :class:`PadCollate`.  The loader owns a
    ``torch.Generator`` seeded with ``seed``, so with ``shuffle=True`` the order
    of the examples is the same on every run (and each pass over the loader
    draws a new permutation from that generator, one per epoch).

    Parameters
    ----------
    sequences : list of N int sequences
        Token ids of each example (lengths may differ; each needs >= 1 token).
    labels : (N,) int
        Class of each example.
    batch_size : int
        ``B``, examples per batch (the last batch may be smaller).
    shuffle : bool
        Draw a new random order for each epoch (training) or keep the given order.
    pad_id : int
        Filler id written after the end of shorter sequences.
    seed : int
        Seed of the loader's own ``torch.Generator`` (used only when shuffling).

    Returns
    -------
    torch.utils.data.DataLoader
        Yields ``x`` ``(B, T)`` int64 padded ids, ``lengths`` ``(B,)`` int64 and
        ``y`` ``(B,)`` int64 labels, with ``T`` the longest sequence of the batch.
    """
    import torch
    from torch.utils.data import DataLoader

    if len(sequences) == 0:
        raise ValueError("sequences is empty: a loader needs at least one example")
    if len(sequences) != len(labels):
        raise ValueError(f"got {len(sequences)} sequences but {len(labels)} labels")
    y = np.asarray(labels)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"labels must be a 1-D sequence of integer classes, got dtype {y.dtype} and shape {y.shape}")
    batch_size = _check_count("batch_size", batch_size)
    if not isinstance(shuffle, (bool, np.bool_)):
        raise TypeError(f"shuffle must be a bool, got {type(shuffle).__name__}")
    for name, value in (("pad_id", pad_id), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return DataLoader(
        SequenceDataset(sequences, y),
        batch_size=batch_size,
        shuffle=bool(shuffle),
        collate_fn=PadCollate(pad_id=int(pad_id)),
        # Always a private generator, even without shuffling: each iterator draws its base seed from it,
        # and without one the DataLoader would draw from (and so advance) the global torch RNG.
        generator=torch.Generator().manual_seed(int(seed)),
    )


def seq2seq_tensors(
    pairs: Sequence[tuple[str, str]],
    src_vocab: Vocab,
    tgt_vocab: Vocab,
) -> dict[str, torch.Tensor]:
    """Encode (source, target) string pairs into padded tensors for teacher forcing.

    For a target ``y_1 .. y_L`` the decoder reads ``<bos> y_1 .. y_L`` and must
    predict ``y_1 .. y_L <eos>``: the input is the output shifted right by one
    step, so at step ``t`` the decoder sees the *true* previous token ``y_{t-1}``
    (teacher forcing) and is scored on ``y_t``.  Both rows have ``L + 1`` real
    tokens; the rest is ``<pad>``, which the loss ignores.

    Parameters
    ----------
    pairs : list of N (source, target) strings
        Each side is tokenised by its vocabulary (:meth:`~companion.data.vocab.Vocab.encode`) and must
        give at least one token.
    src_vocab, tgt_vocab : Vocab
        Vocabularies built with the special tokens (``<pad>``, ``<bos>``, ``<eos>``).

    Returns
    -------
    dict of torch.Tensor (all int64)
        ``"src"`` ``(N, S)`` source ids padded with ``src_vocab.pad_id``;
        ``"src_len"`` ``(N,)`` source lengths;
        ``"tgt_in"`` ``(N, T)`` ``<bos>`` followed by the target ids;
        ``"tgt_out"`` ``(N, T)`` the target ids followed by ``<eos>``;
        ``T = 1 + max target length``, padding with ``tgt_vocab.pad_id``.
    """
    import torch

    for name, vocab in (("src_vocab", src_vocab), ("tgt_vocab", tgt_vocab)):
        if not hasattr(vocab, "encode") or not hasattr(vocab, "pad_id"):
            raise TypeError(f"{name} must be a companion.data.Vocab, got {type(vocab).__name__}")
        if vocab.pad_id is None or vocab.bos_id is None or vocab.eos_id is None:
            raise ValueError(f"{name} has no special tokens; build it with specials=True (<pad>, <bos>, <eos> needed)")
    if isinstance(pairs, (str, bytes)) or len(pairs) == 0:
        raise ValueError("pairs must be a non-empty list of (source, target) string pairs")
    for i, pair in enumerate(pairs):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2 or not all(isinstance(s, str) for s in pair):
            raise TypeError(f"pairs[{i}] must be a (source, target) pair of strings, got {pair!r}")
    src_ids = [src_vocab.encode(s) for s, _ in pairs]
    tgt = [tgt_vocab.encode(t) for _, t in pairs]
    for side, encoded in (("source", src_ids), ("target", tgt)):
        for i, ids in enumerate(encoded):
            if ids.size == 0:
                raise ValueError(f"the {side} of pairs[{i}] has no tokens: {pairs[i]!r}")
    src, src_len = pad_sequences(src_ids, pad_id=src_vocab.pad_id)
    tgt_in, _ = pad_sequences([np.r_[tgt_vocab.bos_id, y] for y in tgt], pad_id=tgt_vocab.pad_id)   # shifted right
    tgt_out, _ = pad_sequences([np.r_[y, tgt_vocab.eos_id] for y in tgt], pad_id=tgt_vocab.pad_id)  # what to predict
    return {"src": torch.from_numpy(src), "src_len": torch.from_numpy(src_len),
            "tgt_in": torch.from_numpy(tgt_in), "tgt_out": torch.from_numpy(tgt_out)}


def _check_fractions(fractions: Sequence[float]) -> np.ndarray:
    f = np.asarray(fractions, dtype=np.float64)
    if f.ndim != 1 or f.size < 1:
        raise ValueError(f"fractions must be a non-empty 1-D sequence, got {fractions!r}")
    if np.any(~np.isfinite(f)) or np.any(f < 0) or abs(f.sum() - 1.0) > 1e-9:
        raise ValueError(f"fractions must be non-negative and sum to 1, got {tuple(fractions)} (sum {f.sum():.6g})")
    return f


def _cut_points(n: int, fractions: np.ndarray) -> np.ndarray:
    """Boundaries ``0 = c_0 <= c_1 <= ... <= c_k = n`` (rounded cumulative fractions)."""
    return np.round(np.concatenate([[0.0], np.cumsum(fractions)]) * n).astype(np.int64).clip(0, n)


def split_points(n: int, fractions: Sequence[float] = (0.8, 0.1, 0.1)) -> np.ndarray:
    """Interior cut indices ``c_1 < ... < c_{k-1}`` used by :func:`split_contiguous`.

    Piece ``j`` of a length-``n`` sequence is ``[c_j, c_{j+1})`` with ``c_0 = 0``
    and ``c_k = n``; ``c_j = round(n * (f_1 + ... + f_j))``.  Handy to draw the
    train/validation/test boundaries on a plot.

    >>> split_points(100, (0.7, 0.15, 0.15)).tolist()
    [70, 85]
    """
    n = _check_count("n", n)
    return _cut_points(n, _check_fractions(fractions))[1:-1]


def split_contiguous(data: Sequence[Any] | np.ndarray, fractions: Sequence[float] = (0.8, 0.1, 0.1)) -> tuple:
    """Split a stream or series into consecutive, non-overlapping pieces along axis 0.

    Nothing is shuffled: the validation piece comes after the training piece
    and the test piece last, so no future data is seen during training.  (For
    windows of a series use :func:`companion.data.timeseries.chronological_windows`,
    which also stops windows from straddling the cut.)

    Returns
    -------
    tuple
        One piece per fraction (views of a NumPy array, slices otherwise);
        sizes are ``round(cumsum(fractions) * len(data))`` differences.
    """
    f = _check_fractions(fractions)
    n = len(data)
    if n == 0:
        raise ValueError("data is empty")
    cuts = _cut_points(n, f)
    return tuple(data[cuts[i]:cuts[i + 1]] for i in range(len(f)))


def stratified_split(
    labels: Sequence[int] | np.ndarray,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    rng: np.random.Generator | int | None = 0,
    groups: Sequence[Hashable] | None = None,
) -> tuple[np.ndarray, ...]:
    """Shuffled train/val/test indices with the same class balance in every split.

    Within each class the items are shuffled with ``rng`` and cut by
    ``fractions``; the pieces of all classes are then joined and shuffled.

    Parameters
    ----------
    labels : (N,) class labels
    fractions : fractions per split, summing to 1
    rng : numpy Generator or int seed
    groups : optional (N,) hashable keys
        Items with the same key (e.g. the normalised text of a sentence) are
        kept in the same split, so an exact duplicate of a training sentence
        can never be scored as "unseen".  The group's class is its first item's.

    Returns
    -------
    tuple of int64 index arrays
        Disjoint, together ``arange(N)`` exactly.
    """
    y = np.asarray(labels)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"labels must be a non-empty 1-D sequence, got shape {y.shape}")
    f = _check_fractions(fractions)
    gen = default_rng(rng)
    n = y.size
    if groups is None:
        group_of = np.arange(n)
    else:
        if len(groups) != n:
            raise ValueError(f"groups has {len(groups)} entries but labels has {n}")
        keys: dict[Hashable, int] = {}
        group_of = np.array([keys.setdefault(g, len(keys)) for g in groups], dtype=np.int64)
    n_groups = int(group_of.max()) + 1
    first = np.full(n_groups, -1, dtype=np.int64)
    for i in range(n - 1, -1, -1):  # backwards, so the first item of each group wins
        first[group_of[i]] = i
    group_label = y[first]
    parts: list[list[np.ndarray]] = [[] for _ in f]
    for c in np.unique(group_label):  # np.unique sorts: the class order is deterministic
        g = gen.permutation(np.flatnonzero(group_label == c))
        cuts = _cut_points(g.size, f)
        for k in range(len(f)):
            parts[k].append(g[cuts[k]:cuts[k + 1]])
    members = np.argsort(group_of, kind="stable")
    starts = np.searchsorted(group_of[members], np.arange(n_groups + 1))
    out = []
    for k in range(len(f)):
        gsel = gen.permutation(np.concatenate(parts[k])) if parts[k] else np.empty(0, np.int64)
        idx = [members[starts[g]:starts[g + 1]] for g in gsel]
        out.append(np.concatenate(idx).astype(np.int64) if idx else np.empty(0, dtype=np.int64))
    return tuple(out)
