"""Loaders for the real datasets used in the course.

Every loader goes through :func:`companion.data.download.fetch`: it reads the
offline folder ``$COMPANION_DATA`` first (the course's ``shared/data``), then
the cache, and only then downloads from the public source listed in
:data:`REGISTRY`; each file is checked against its pinned SHA-256.  Parsing is
kept in separate ``parse_*`` functions so that a newer copy of a file (for
example this month's NOAA CO2 record) can be read with the same code.

Sources and licences
--------------------
- Tiny Shakespeare (Karpathy, char-rnn, 2015): the works of Shakespeare are
  public domain; the char-rnn repository is MIT-licensed.
- The Time Machine (H. G. Wells, 1895), the copy used by *Dive into Deep
  Learning* (Zhang et al.): public domain.
- Sentiment Labelled Sentences (Kotzias, Denil, de Freitas & Smyth, KDD 2015;
  UCI ML Repository dataset 331, DOI 10.24432/C57604): CC BY 4.0.
- Monthly mean CO2 at Mauna Loa (NOAA GML; Lan, Tans & Thoning; 1958-1974 by
  C. D. Keeling, Scripps): US government data, freely available.
- Sunspots (yearly, NOAA NGDC / SIDC), Nile flow at Aswan (1871-1970),
  El Nino (Nino 1+2 SST, NOAA CPC), as shipped with statsmodels: public domain.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np

from companion.data.download import fetch

__all__ = [
    "DatasetFile",
    "REGISTRY",
    "Series",
    "dataset_path",
    "load_tiny_shakespeare",
    "load_time_machine",
    "load_sentiment_sentences",
    "load_co2_monthly",
    "load_sunspots",
    "load_nile",
    "load_elnino",
    "parse_sentiment_lines",
    "parse_noaa_co2",
    "preprocess_time_machine",
]


@dataclass(frozen=True)
class DatasetFile:
    """One file of a dataset: where it lives and what its bytes must hash to.

    Attributes
    ----------
    filename : str
        Path relative to the data folder (``$COMPANION_DATA``) and the cache.
    urls : tuple of str
        Public sources, tried in order.
    sha256 : str
        Pinned SHA-256 of the file.
    note : str
        Provenance in one line.
    """

    filename: str
    urls: tuple[str, ...]
    sha256: str
    note: str = ""


_STATSMODELS_COMMIT = "82c59e37"  # the files have not changed in years; "main" is the fallback mirror
_SM = "https://raw.githubusercontent.com/statsmodels/statsmodels/{ref}/statsmodels/datasets/{name}/{name}.csv"
_SENTIMENT_COMMIT = "9642488481140b1697ff2dea5637596c4cd43c69"  # omarsar/dm_2018_hw_1, a byte-identical copy
_SENT_GH = "https://raw.githubusercontent.com/omarsar/dm_2018_hw_1/{ref}/sentiment%20labelled%20sentences/{name}"
_UCI_ZIP = "https://archive.ics.uci.edu/static/public/331/sentiment+labelled+sentences.zip"


def _statsmodels(name: str, sha256: str, note: str) -> DatasetFile:
    return DatasetFile(
        f"statsmodels/{name}.csv",
        (_SM.format(ref=_STATSMODELS_COMMIT, name=name), _SM.format(ref="main", name=name)),
        sha256,
        note,
    )


def _sentiment(name: str, sha256: str) -> DatasetFile:
    return DatasetFile(
        f"sentiment_labelled_sentences/{name}",
        (_SENT_GH.format(ref=_SENTIMENT_COMMIT, name=name), _UCI_ZIP),
        sha256,
        "UCI 331 Sentiment Labelled Sentences (Kotzias et al. 2015), CC BY 4.0",
    )


#: Every dataset file the course uses.  Tests monkeypatch entries to point at fixtures.
REGISTRY: dict[str, DatasetFile] = {
    "tinyshakespeare": DatasetFile(
        "tinyshakespeare.txt",
        (
            "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
            "https://raw.githubusercontent.com/jcjohnson/torch-rnn/master/data/tiny-shakespeare.txt",
        ),
        "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        "karpathy/char-rnn data/tinyshakespeare/input.txt (1,115,394 chars)",
    ),
    "timemachine": DatasetFile(
        "timemachine.txt",
        (
            # d2l's DATA_HUB['time_machine'] (pinned there by SHA-1 090b5e7e70c295757f55df93cb0a180b9691891a)
            "http://d2l-data.s3-accelerate.amazonaws.com/timemachine.txt",
            "https://raw.githubusercontent.com/d2l-ai/d2l-zh/5918a8b9/data/timemachine.txt",
        ),
        "8424dbd9532ac81f7e5f0b6add90e6952baea29158309d7d1bf3884f4e12c516",
        "H. G. Wells, The Time Machine, as distributed by d2l.ai (178,979 bytes)",
    ),
    "sentiment_amazon": _sentiment("amazon_cells_labelled.txt",
                                   "47003fc0a0d4840b00e96e715b6189bad09e7443a3da41c4cbe12ffc79f86ae3"),
    "sentiment_imdb": _sentiment("imdb_labelled.txt",
                                 "29cb10b2bfbc60ea33dcbd5abaa8bcf977b142cec7926c627dd76232aaafbfed"),
    "sentiment_yelp": _sentiment("yelp_labelled.txt",
                                 "c76468b7b5c6e56a0804d728345c5f84aa2142ddb214420f61cc9cfd4c00d2ea"),
    "co2_monthly": DatasetFile(
        "noaa_co2_mm_mlo.txt",
        (
            # The snapshot created 2023-10-05 (787 months, 1958-03..2023-09), kept byte-identical in a public repo.
            "https://raw.githubusercontent.com/KissEmil/mauna_loa/b6f281669aa5720c14f2ded01f64a4ce4fc42ece/"
            "co2_mm_mlo.txt",
            # NOAA's live file grows every month, so its checksum differs from the pinned snapshot's and it is
            # refused; it is listed so the error says where the current data is (read it with parse_noaa_co2).
            "https://gml.noaa.gov/webdata/ccgg/trends/co2/co2_mm_mlo.txt",
        ),
        "13ee4e8471a331a9d5f7ca51c8c1dcab2ea1a64f6cf41d20b07bc6a95bace033",
        "NOAA GML monthly mean CO2 at Mauna Loa, file created 2023-10-05",
    ),
    "sunspots": _statsmodels("sunspots", "f67889b1d9002cd5227f0e0ef54e35b419cdd85a31279adef6f73fb41e5c0a9b",
                             "yearly sunspot numbers 1700-2008 (statsmodels)"),
    "nile": _statsmodels("nile", "88e97bea7249e5832a85e41aec6ce4b8f7b1b14aae930c8363da7f193286b598",
                         "annual Nile flow at Aswan 1871-1970 (statsmodels)"),
    "elnino": _statsmodels("elnino", "b647be00e0fd264be9764e317e6b963f35030014ecca2b21b204521716e463ad",
                           "monthly Nino 1+2 sea surface temperature 1950-2010 (statsmodels)"),
}


class Series(NamedTuple):
    """A time series: ``time, values = series`` unpacks like a pair.

    Attributes
    ----------
    time : (L,) array
        Decimal years (float64) for monthly data, integer years for yearly data.
    values : (L,) float64 array
    """

    time: np.ndarray
    values: np.ndarray


def dataset_path(key: str, **fetch_kwargs) -> Path:
    """Local, verified path of the registry entry ``key`` (see :data:`REGISTRY`)."""
    if key not in REGISTRY:
        raise KeyError(f"unknown dataset {key!r}; known: {sorted(REGISTRY)}")
    entry = REGISTRY[key]
    return fetch(entry.filename, entry.urls, entry.sha256, **fetch_kwargs)


def _read_text(key: str) -> str:
    # Decode the bytes ourselves: no newline translation, so character counts match the file exactly.
    return dataset_path(key).read_bytes().decode("utf-8")


# ------------------------------------------------------------------------- text


def load_tiny_shakespeare() -> str:
    """Tiny Shakespeare: 1,115,394 characters (65 distinct) of Shakespeare's plays.

    The corpus of Karpathy's char-rnn (2015), from
    ``github.com/karpathy/char-rnn`` ``data/tinyshakespeare/input.txt``.
    Text: public domain.

    Returns
    -------
    str
        The whole file, exactly as stored (``\\n`` line ends).
    """
    return _read_text("tinyshakespeare")


def preprocess_time_machine(text: str) -> str:
    """d2l's preprocessing: every run of non-letters becomes one space, then lowercase.

    ``re.sub('[^A-Za-z]+', ' ', text).lower()`` as in *Dive into Deep
    Learning* (section "Converting Raw Text into Sequence Data"): the alphabet
    shrinks to 26 letters plus space, which makes a small character model
    converge quickly, at the price of losing punctuation and line breaks.
    """
    return re.sub("[^A-Za-z]+", " ", text).lower()


def load_time_machine(preprocess: bool = False) -> str:
    """H. G. Wells, *The Time Machine* (1895), the text used by d2l.ai (178,979 characters).

    Parameters
    ----------
    preprocess : bool
        Apply :func:`preprocess_time_machine` (letters and single spaces only,
        lowercased, 27 distinct characters), as d2l does.  Default: the raw text.

    Returns
    -------
    str
    """
    text = _read_text("timemachine")
    return preprocess_time_machine(text) if preprocess else text


_SENTIMENT_KEYS = {"amazon": "sentiment_amazon", "imdb": "sentiment_imdb", "yelp": "sentiment_yelp"}


def parse_sentiment_lines(text: str) -> list[tuple[str, int]]:
    """Parse ``sentence<TAB>label`` lines into ``(sentence, label)`` pairs.

    Lines are split on ``"\\n"`` only: ``str.splitlines`` would also split on
    U+0085, U+2028 ... which occur *inside* some IMDb sentences and would
    break them in two.  Surrounding whitespace of the sentence is stripped.
    """
    pairs: list[tuple[str, int]] = []
    for lineno, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        sentence, sep, label = line.rpartition("\t")
        if not sep or label.strip() not in ("0", "1"):
            raise ValueError(f"line {lineno} is not 'sentence<TAB>0|1': {line[:80]!r}")
        pairs.append((sentence.strip(), int(label)))
    return pairs


def load_sentiment_sentences(
    source: Literal["all", "amazon", "imdb", "yelp"] = "all",
) -> list[tuple[str, int]]:
    """UCI *Sentiment Labelled Sentences* (Kotzias et al., KDD 2015): 1,000 sentences per source.

    Each source (Amazon product reviews, IMDb movie reviews, Yelp restaurant
    reviews) has 500 positive (label 1) and 500 negative (label 0) sentences.
    Licence CC BY 4.0 (UCI ML Repository, dataset 331, DOI 10.24432/C57604);
    cite the paper: *From Group to Individual Labels using Deep Features*.

    Parameters
    ----------
    source : {"all", "amazon", "imdb", "yelp"}
        "all" concatenates amazon, imdb, yelp in that order (3,000 pairs).

    Returns
    -------
    list of (sentence, label)
        In file order; shuffle (e.g. :func:`companion.data.batching.stratified_split`) before splitting.
    """
    if source == "all":
        keys = list(_SENTIMENT_KEYS)
    elif source in _SENTIMENT_KEYS:
        keys = [source]
    else:
        raise ValueError(f"source must be 'all', 'amazon', 'imdb' or 'yelp', got {source!r}")
    pairs: list[tuple[str, int]] = []
    for k in keys:
        pairs.extend(parse_sentiment_lines(_read_text(_SENTIMENT_KEYS[k])))
    return pairs


# ------------------------------------------------------------------ time series


def parse_noaa_co2(text: str) -> Series:
    """Parse NOAA GML's ``co2_mm_mlo.txt`` (``#`` comments, whitespace columns).

    Columns: year, month, decimal date, monthly average, de-seasonalised,
    #days, st.dev of days, uncertainty.  The "average" column is used; NOAA
    has already interpolated missing months (flagged by negative #days/stdev),
    so there are no gaps.  A value below 0 (the old -99.99 missing flag) is
    rejected rather than silently kept.
    """
    time, values = [], []
    for lineno, line in enumerate(text.split("\n"), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) < 4:
            raise ValueError(f"line {lineno}: expected at least 4 columns, got {line!r}")
        decimal_date, average = float(fields[2]), float(fields[3])
        if average < 0:
            raise ValueError(f"line {lineno}: missing-value flag {average} in the 'average' column")
        time.append(decimal_date)
        values.append(average)
    if not values:
        raise ValueError("no data rows found (is this NOAA's co2_mm_mlo.txt?)")
    return Series(np.asarray(time, dtype=np.float64), np.asarray(values, dtype=np.float64))


def load_co2_monthly() -> Series:
    """Monthly mean atmospheric CO2 (ppm) at Mauna Loa, March 1958 - September 2023 (787 months).

    Source: NOAA Global Monitoring Laboratory, ``co2_mm_mlo.txt`` (Dr. Xin
    Lan, NOAA/GML, and Dr. Ralph Keeling, Scripps; data before May 1974 from
    C. D. Keeling, SIO).  US government data, freely available.

    NOAA rewrites this file every month, so the live file at
    ``https://gml.noaa.gov/webdata/ccgg/trends/co2/co2_mm_mlo.txt`` never
    matches a pinned checksum.  The course pins the snapshot created on
    2023-10-05 (the copy in ``$COMPANION_DATA``; a byte-identical copy is the
    first download URL), so every reader sees the same 787 numbers.  To work
    with newer data, download the live file yourself and call
    :func:`parse_noaa_co2` on its text.

    Returns
    -------
    Series
        ``time``: (787,) decimal years (mid-month, NOAA's column 3);
        ``values``: (787,) ppm, the "monthly average" column.
    """
    return parse_noaa_co2(_read_text("co2_monthly"))


def _read_csv_rows(key: str) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(_read_text(key))))
    rows = [r for r in rows if r and any(c.strip() for c in r)]
    return rows[0], rows[1:]


def _yearly(key: str) -> Series:
    _, rows = _read_csv_rows(key)
    years = np.array([int(float(r[0])) for r in rows], dtype=np.int64)
    values = np.array([float(r[1]) for r in rows], dtype=np.float64)
    if np.any(np.diff(years) != 1):
        raise ValueError(f"{REGISTRY[key].filename}: years are not consecutive")
    return Series(years, values)


def load_sunspots() -> Series:
    """Yearly mean sunspot numbers, 1700-2008 (309 years), as shipped with statsmodels.

    From NOAA NGDC (statsmodels: "This data is public domain"); the underlying
    series is SIDC/SILSO's (Royal Observatory of Belgium), whose current
    releases are licensed CC BY-NC 4.0.  The ~11-year solar cycle makes it a
    classic test of nonlinear autoregression.

    Returns
    -------
    Series
        ``time``: (309,) int64 years; ``values``: (309,) float64 sunspot numbers.
    """
    return _yearly("sunspots")


def load_nile() -> Series:
    """Annual flow of the Nile at Aswan, 1871-1970 (100 years, 10^8 m^3), as shipped with statsmodels.

    Public domain (Cobb 1978; Durbin & Koopman 2001).  Famous for a change
    point around 1898, when the first Aswan dam was built.

    Returns
    -------
    Series
        ``time``: (100,) int64 years; ``values``: (100,) float64 volumes.
    """
    return _yearly("nile")


def load_elnino() -> Series:
    """Monthly sea surface temperature (deg C) in the Nino 1+2 region, 1950-2010 (732 months).

    From NOAA's Climate Prediction Center, as shipped with statsmodels
    (public domain).  The file has one row per year and one column per month;
    it is flattened to one chronological series.

    Returns
    -------
    Series
        ``time``: (732,) decimal years at mid-month, ``year + (month - 0.5) / 12``;
        ``values``: (732,) float64 temperatures.
    """
    header, rows = _read_csv_rows("elnino")
    if len(header) != 13:
        raise ValueError(f"elnino.csv: expected YEAR + 12 month columns, got {header}")
    table = np.array([[float(v) for v in r[1:13]] for r in rows], dtype=np.float64)  # (years, 12)
    years = np.array([int(float(r[0])) for r in rows], dtype=np.int64)
    if np.any(np.diff(years) != 1) or np.any(~np.isfinite(table)):
        raise ValueError("elnino.csv: years are not consecutive or values are missing")
    time = (years[:, None] + (np.arange(12)[None, :] + 0.5) / 12.0).ravel()
    return Series(time, table.ravel())
