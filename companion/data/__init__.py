"""Data: vocabularies, batching, real datasets that work offline, and synthetic benchmarks.

- :mod:`~companion.data.vocab`: tokenisers and :class:`~companion.data.vocab.Vocab`.
- :mod:`~companion.data.batching`: language-model batches, padding, leakage-free splits.
- :mod:`~companion.data.timeseries`: sliding windows, scalers, chronological splits, baselines, metrics.
- :mod:`~companion.data.download`: :func:`~companion.data.download.fetch` (offline folder, cache, checksummed download).
- :mod:`~companion.data.datasets`: loaders for the real datasets of the course.
- :mod:`~companion.data.synthetic`: seeded synthetic tasks (adding, copy, Reber, Mackey-Glass, ...).
"""

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
from companion.data.datasets import (
    REGISTRY,
    DatasetFile,
    Series,
    dataset_path,
    load_co2_monthly,
    load_elnino,
    load_nile,
    load_sentiment_sentences,
    load_sunspots,
    load_time_machine,
    load_tiny_shakespeare,
    parse_noaa_co2,
    parse_sentiment_lines,
    preprocess_time_machine,
)
from companion.data.download import (
    ChecksumMismatchError,
    DatasetUnavailableError,
    default_cache_dir,
    fetch,
    sha256_file,
)
from companion.data.synthetic import (
    REBER_SYMBOLS,
    adding_problem,
    bag_of_words_ceiling,
    copy_memory,
    date_pairs,
    embedded_reber,
    human_numbers,
    is_valid_reber,
    mackey_glass,
    negation_corpus,
    number_phrase_pairs,
    number_to_words,
    random_walk_prices,
    reber_next_symbols,
    reber_string,
    words_to_number,
)
from companion.data.timeseries import (
    MinMaxScaler,
    StandardScaler,
    chronological_split,
    chronological_windows,
    mae,
    mape,
    naive_forecast,
    rmse,
    seasonal_naive_drift_forecast,
    seasonal_naive_forecast,
    sliding_windows,
    smape,
)
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

__all__ = [
    # vocab
    "Vocab", "tokenize_chars", "tokenize_words", "SPECIAL_TOKENS", "PAD_ID", "UNK_ID", "BOS_ID", "EOS_ID",
    # batching
    "lm_stream_batches", "lm_random_windows", "pad_sequences", "PadCollate", "SequenceDataset",
    "make_classification_loader", "seq2seq_tensors",
    "split_contiguous", "split_points", "stratified_split",
    # time series
    "sliding_windows", "chronological_split", "chronological_windows", "StandardScaler", "MinMaxScaler",
    "naive_forecast", "seasonal_naive_forecast", "seasonal_naive_drift_forecast", "mae", "rmse", "mape", "smape",
    # download
    "fetch", "sha256_file", "default_cache_dir", "DatasetUnavailableError", "ChecksumMismatchError",
    # datasets
    "REGISTRY", "DatasetFile", "Series", "dataset_path", "load_tiny_shakespeare", "load_time_machine",
    "load_sentiment_sentences", "load_co2_monthly", "load_sunspots", "load_nile", "load_elnino",
    "parse_sentiment_lines", "parse_noaa_co2", "preprocess_time_machine",
    # synthetic
    "adding_problem", "copy_memory", "REBER_SYMBOLS", "reber_string", "embedded_reber", "is_valid_reber",
    "reber_next_symbols", "mackey_glass", "number_to_words", "words_to_number", "human_numbers",
    "random_walk_prices", "negation_corpus", "bag_of_words_ceiling", "number_phrase_pairs", "date_pairs",
]
