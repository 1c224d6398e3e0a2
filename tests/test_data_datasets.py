"""Dataset loaders: against the real files in ../shared/data, and against tiny fixtures. No real network."""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request

import numpy as np
import pytest

from companion.data import datasets
from companion.data.datasets import (
    REGISTRY,
    DatasetFile,
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
from companion.data.download import ChecksumMismatchError, DatasetUnavailableError, sha256_file


def _no_network(url, *args, **kwargs):
    raise urllib.error.URLError("network disabled in tests")


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    monkeypatch.setattr(urllib.request, "urlopen", _no_network)
    monkeypatch.delenv("COMPANION_DATA", raising=False)
    monkeypatch.setenv("COMPANION_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def real(shared_data, monkeypatch):
    monkeypatch.setenv("COMPANION_DATA", str(shared_data))
    return shared_data


def _fixture(monkeypatch, tmp_path, key: str, content: bytes, filename: str | None = None) -> DatasetFile:
    """Put ``content`` in a fresh offline folder and point REGISTRY[key] at it with the right checksum."""
    entry = REGISTRY[key]
    filename = filename or entry.filename
    folder = tmp_path / "offline"
    (folder / filename).parent.mkdir(parents=True, exist_ok=True)
    (folder / filename).write_bytes(content)
    monkeypatch.setenv("COMPANION_DATA", str(folder))
    patched = DatasetFile(filename, ("https://example.invalid/" + filename,), hashlib.sha256(content).hexdigest())
    monkeypatch.setitem(REGISTRY, key, patched)
    return patched


# ----------------------------------------------------------------- real files


@pytest.mark.shared_data
def test_registry_checksums_match_the_shared_files(real):
    for key, entry in REGISTRY.items():
        assert sha256_file(real / entry.filename) == entry.sha256, key
        assert all(u.startswith(("https://", "http://")) for u in entry.urls)


@pytest.mark.shared_data
def test_tiny_shakespeare(real):
    text = load_tiny_shakespeare()
    assert len(text) == 1_115_394
    assert len(set(text)) == 65
    assert text.count("\n") == 40_000
    assert text.startswith("First Citizen:")


@pytest.mark.shared_data
def test_time_machine_raw_and_preprocessed(real):
    text = load_time_machine()
    assert len(text) == 178_979
    assert text.startswith("The Time Machine, by H. G. Wells")
    pre = load_time_machine(preprocess=True)
    assert set(pre) == set("abcdefghijklmnopqrstuvwxyz ")
    assert "  " not in pre and pre.startswith("the time machine by h g wells")


@pytest.mark.shared_data
def test_sentiment_sentences(real):
    for source in ("amazon", "imdb", "yelp"):
        pairs = load_sentiment_sentences(source)
        assert len(pairs) == 1000, source
        assert sum(label for _, label in pairs) == 500, source
        assert all(s and s == s.strip() and "\t" not in s for s, _ in pairs)
    everything = load_sentiment_sentences()
    assert len(everything) == 3000
    assert everything[:1000] == load_sentiment_sentences("amazon")
    assert any("\x85" in s for s, _ in load_sentiment_sentences("imdb"))  # kept inside its sentence
    with pytest.raises(ValueError, match="source"):
        load_sentiment_sentences("twitter")


@pytest.mark.shared_data
def test_co2_monthly(real):
    time, values = load_co2_monthly()
    assert time.shape == values.shape == (787,)
    assert time[0] == pytest.approx(1958.2027) and values[0] == pytest.approx(315.70)
    assert time[-1] == pytest.approx(2023.7083) and values[-1] == pytest.approx(418.51)
    assert np.all(np.diff(time) > 0) and np.all(np.diff(time) < 0.1)  # monthly, no gaps
    assert 310 < values.min() and values.max() < 425


@pytest.mark.shared_data
def test_statsmodels_series(real):
    years, spots = load_sunspots()
    assert years.shape == spots.shape == (309,) and years[0] == 1700 and years[-1] == 2008
    assert spots[:3].tolist() == [5.0, 11.0, 16.0] and spots.min() >= 0
    years, flow = load_nile()
    assert years.shape == (100,) and (years[0], years[-1]) == (1871, 1970) and flow[0] == 1120
    t, sst = load_elnino()
    assert t.shape == sst.shape == (61 * 12,)
    assert t[0] == pytest.approx(1950 + 0.5 / 12) and t[-1] == pytest.approx(2010 + 11.5 / 12)
    assert sst[:3].tolist() == [23.11, 24.2, 25.37] and sst[-1] == pytest.approx(22.07)
    assert 15 < sst.min() and sst.max() < 30


# ---------------------------------------------------------------- fixtures


def test_loader_reads_a_valid_fixture(monkeypatch, tmp_path):
    _fixture(monkeypatch, tmp_path, "tinyshakespeare", b"To be, or not to be\n")
    assert load_tiny_shakespeare() == "To be, or not to be\n"


def test_loader_refuses_a_corrupted_fixture(monkeypatch, tmp_path):
    entry = _fixture(monkeypatch, tmp_path, "timemachine", b"The Time Machine\n")
    (tmp_path / "offline" / entry.filename).write_bytes(b"The Time Machine, edited\n")
    with pytest.raises(ChecksumMismatchError) as info:
        load_time_machine()
    msg = str(info.value)
    assert entry.sha256 in msg and hashlib.sha256(b"The Time Machine, edited\n").hexdigest() in msg
    assert entry.filename in msg


def test_real_registry_refuses_a_wrong_file(monkeypatch, tmp_path):
    folder = tmp_path / "offline"
    (folder / "statsmodels").mkdir(parents=True)
    (folder / "statsmodels" / "nile.csv").write_text("year,volume\n1871,1120\n")
    monkeypatch.setenv("COMPANION_DATA", str(folder))
    with pytest.raises(ChecksumMismatchError, match=REGISTRY["nile"].sha256):
        load_nile()


def test_missing_dataset_without_network(monkeypatch, tmp_path):
    monkeypatch.setenv("COMPANION_DATA", str(tmp_path / "empty"))
    with pytest.raises(DatasetUnavailableError) as info:
        load_sunspots()
    msg = str(info.value)
    assert "statsmodels/sunspots.csv" in msg
    assert str(tmp_path / "empty" / "statsmodels" / "sunspots.csv") in msg
    assert str(tmp_path / "cache" / "statsmodels" / "sunspots.csv") in msg
    assert all(u in msg for u in REGISTRY["sunspots"].urls)
    assert "COMPANION_DATA" in msg


def test_download_into_cache_then_reuse(monkeypatch, tmp_path):
    content = b"year,volume\n1871,1120\n1872,1160\n1873,963\n"
    sha = hashlib.sha256(content).hexdigest()
    monkeypatch.setitem(REGISTRY, "nile", DatasetFile("statsmodels/nile.csv", ("https://example.invalid/nile.csv",), sha))
    calls = []

    class Response:
        def __init__(self):
            self.data, self.pos = content, 0

        def read(self, n=-1):
            chunk = self.data[self.pos:self.pos + (n if n > 0 else len(self.data))]
            self.pos += len(chunk)
            return chunk

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def urlopen(url, timeout=None):
        calls.append((url, timeout))
        return Response()

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    years, flow = load_nile()
    assert years.tolist() == [1871, 1872, 1873] and flow.tolist() == [1120, 1160, 963]
    assert len(calls) == 1 and calls[0][1] is not None  # a timeout is always set
    assert (tmp_path / "cache" / "statsmodels" / "nile.csv").read_bytes() == content
    monkeypatch.setattr(urllib.request, "urlopen", _no_network)
    assert load_nile().values.tolist() == [1120, 1160, 963]  # served from the cache


def test_sentiment_fixture_splits_on_newline_only(monkeypatch, tmp_path):
    content = "A great film\x85really.  \t1\nTerrible acting.\t0\n".encode()
    _fixture(monkeypatch, tmp_path, "sentiment_imdb", content)
    assert load_sentiment_sentences("imdb") == [("A great film\x85really.", 1), ("Terrible acting.", 0)]


def test_parse_sentiment_rejects_bad_lines():
    assert parse_sentiment_lines("ok\t1\r\n\n") == [("ok", 1)]
    with pytest.raises(ValueError, match="line 2"):
        parse_sentiment_lines("good\t1\nno label here\n")


def test_parse_noaa_co2_fixture_and_missing_flag():
    text = (
        "# comment\n#   decimal  average\n"
        " 2020    1   2020.0417      413.61      412.82     29    0.73    0.26\n"
        " 2020    2   2020.1250      414.34      413.22     28    0.69    0.25\n"
    )
    t, v = parse_noaa_co2(text)
    assert t.tolist() == [2020.0417, 2020.125] and v.tolist() == [413.61, 414.34]
    with pytest.raises(ValueError, match="missing-value flag"):
        parse_noaa_co2(" 1958 6 1958.4548 -99.99 315.14 -1 -9.99 -0.99\n")
    with pytest.raises(ValueError, match="no data rows"):
        parse_noaa_co2("# only comments\n")


def test_elnino_fixture_is_flattened_in_time_order(monkeypatch, tmp_path):
    header = '"YEAR",' + ",".join(f'"{m}"' for m in "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split())
    rows = [f"{y}," + ",".join(f"{y - 2000}.{m:02d}" for m in range(1, 13)) for y in (2001, 2002)]
    _fixture(monkeypatch, tmp_path, "elnino", ("\n".join([header, *rows]) + "\n").encode())
    t, v = load_elnino()
    assert v.shape == (24,) and v[0] == pytest.approx(1.01) and v[12] == pytest.approx(2.01)
    assert v[11] == pytest.approx(1.12)
    assert np.allclose(np.diff(t), 1 / 12)


def test_preprocess_time_machine_matches_d2l_rule():
    assert preprocess_time_machine("The Time-Traveller's\n  2nd  go!") == "the time traveller s nd go "


def test_dataset_path_unknown_key():
    with pytest.raises(KeyError, match="unknown dataset"):
        datasets.dataset_path("mnist")
