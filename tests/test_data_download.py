"""fetch(): offline folder, cache, checksummed atomic download, clear errors. No real network."""

from __future__ import annotations

import hashlib
import io
import urllib.error
import urllib.request
import zipfile

import pytest

from companion.data.download import (
    ChecksumMismatchError,
    DatasetUnavailableError,
    default_cache_dir,
    fetch,
    sha256_file,
)

CONTENT = b"line one\nline two\n"
SHA = hashlib.sha256(CONTENT).hexdigest()
URL = "https://example.invalid/data/sample.txt"


def _no_network(url, *args, **kwargs):
    raise urllib.error.URLError("network disabled in tests")


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """No test reaches the network or the user's real cache/offline folder."""
    monkeypatch.setattr(urllib.request, "urlopen", _no_network)
    monkeypatch.delenv("COMPANION_DATA", raising=False)
    monkeypatch.setenv("COMPANION_CACHE", str(tmp_path / "cache"))


def _served(content: bytes, log: list | None = None):
    """A fake urlopen that serves ``content`` (and records the URLs asked for)."""

    def urlopen(url, timeout=None):
        if log is not None:
            log.append(url)
        return io.BytesIO(content)

    return urlopen


def test_offline_folder_is_used_first(tmp_path, monkeypatch):
    offline = tmp_path / "offline"
    (offline / "sub").mkdir(parents=True)
    (offline / "sub" / "sample.txt").write_bytes(CONTENT)
    monkeypatch.setenv("COMPANION_DATA", str(offline))
    path = fetch("sub/sample.txt", URL, SHA)
    assert path == offline / "sub" / "sample.txt"
    assert not (tmp_path / "cache").exists()  # nothing copied, nothing downloaded


def test_corrupted_offline_file_is_refused(tmp_path, monkeypatch):
    offline = tmp_path / "offline"
    offline.mkdir()
    (offline / "sample.txt").write_bytes(CONTENT + b"tampered")
    monkeypatch.setenv("COMPANION_DATA", str(offline))
    with pytest.raises(ChecksumMismatchError) as info:
        fetch("sample.txt", URL, SHA)
    msg = str(info.value)
    actual = hashlib.sha256(CONTENT + b"tampered").hexdigest()
    assert "sample.txt" in msg and SHA in msg and actual in msg
    assert info.value.expected == SHA and info.value.actual == actual


def test_cached_file_is_used_and_corrupted_cache_refused(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "sample.txt").write_bytes(CONTENT)
    assert fetch("sample.txt", URL, SHA) == cache / "sample.txt"
    (cache / "sample.txt").write_bytes(b"truncated")
    with pytest.raises(ChecksumMismatchError, match="Delete"):
        fetch("sample.txt", URL, SHA)


def test_missing_file_without_network_lists_every_place(tmp_path, monkeypatch):
    offline = tmp_path / "offline"
    offline.mkdir()
    monkeypatch.setenv("COMPANION_DATA", str(offline))
    with pytest.raises(DatasetUnavailableError) as info:
        fetch("statsmodels/nile.csv", [URL, URL + "?mirror"], SHA)
    err = info.value
    assert isinstance(err, FileNotFoundError)
    msg = str(err)
    assert "statsmodels/nile.csv" in msg
    assert str(offline / "statsmodels" / "nile.csv") in msg
    assert str(tmp_path / "cache" / "statsmodels" / "nile.csv") in msg
    assert URL in msg and "URLError" in msg and "?mirror" in msg
    assert "set COMPANION_DATA" in msg and "download" in msg
    assert len(err.places) == 2 and len(err.urls) == 2


def test_unset_offline_variable_is_reported():
    with pytest.raises(DatasetUnavailableError, match=r"\$COMPANION_DATA is not set"):
        fetch("sample.txt", URL, SHA)


def test_download_via_file_url_then_reused_offline(tmp_path, monkeypatch):
    monkeypatch.undo()  # the real urlopen, but only for a file:// URL
    monkeypatch.setenv("COMPANION_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("COMPANION_DATA", raising=False)
    src = tmp_path / "upstream.txt"
    src.write_bytes(CONTENT)
    path = fetch("sample.txt", src.as_uri(), SHA)
    assert path == tmp_path / "cache" / "sample.txt" and path.read_bytes() == CONTENT
    monkeypatch.setattr(urllib.request, "urlopen", _no_network)
    src.unlink()
    assert fetch("sample.txt", src.as_uri(), SHA) == path  # cache hit, no network needed


def test_download_with_patched_urlopen_and_mirror_fallback(tmp_path, monkeypatch):
    log: list = []
    served = _served(CONTENT, log)

    def first_fails(url, timeout=None):
        if url == URL:
            log.append(url)
            raise urllib.error.URLError("mirror down")
        return served(url, timeout)

    monkeypatch.setattr(urllib.request, "urlopen", first_fails)
    path = fetch("deep/dir/sample.txt", [URL, "https://mirror.invalid/sample.txt"], SHA.upper())
    assert log == [URL, "https://mirror.invalid/sample.txt"]
    assert path.read_bytes() == CONTENT and sha256_file(path) == SHA
    assert path == tmp_path / "cache" / "deep" / "dir" / "sample.txt"


def test_downloaded_file_with_wrong_checksum_is_refused_and_not_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlopen", _served(b"something else"))
    with pytest.raises(ChecksumMismatchError) as info:
        fetch("sample.txt", URL, SHA)
    assert SHA in str(info.value) and hashlib.sha256(b"something else").hexdigest() in str(info.value)
    assert URL in str(info.value)
    assert list((tmp_path / "cache").iterdir()) == []  # neither the bad file nor a temp file


def test_failure_mid_download_leaves_no_partial_file(tmp_path, monkeypatch):
    class Broken(io.BytesIO):
        def read(self, n=-1):
            if self.tell() > 0:
                raise ConnectionResetError("connection lost mid-transfer")
            return super().read(4)

    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: Broken(CONTENT))
    with pytest.raises(DatasetUnavailableError, match="ConnectionResetError"):
        fetch("sample.txt", URL, SHA)
    cache = tmp_path / "cache"
    assert list(cache.iterdir()) == []  # no sample.txt, no .part file
    # a later successful download writes the complete file
    monkeypatch.setattr(urllib.request, "urlopen", _served(CONTENT))
    assert fetch("sample.txt", URL, SHA).read_bytes() == CONTENT


def test_interrupt_during_download_also_cleans_up(tmp_path, monkeypatch):
    class Interrupted(io.BytesIO):
        def read(self, n=-1):
            raise KeyboardInterrupt

    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: Interrupted(CONTENT))
    with pytest.raises(KeyboardInterrupt):
        fetch("sample.txt", URL, SHA)
    assert list((tmp_path / "cache").iterdir()) == []


def test_member_extracted_from_zip_archive(tmp_path, monkeypatch):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("__MACOSX/folder/._sample.txt", b"resource fork")
        zf.writestr("folder/sample.txt", CONTENT)
        zf.writestr("folder/other.txt", b"other")
    archive = tmp_path / "bundle.zip"
    archive.write_bytes(buf.getvalue())
    monkeypatch.undo()
    monkeypatch.setenv("COMPANION_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("COMPANION_DATA", raising=False)
    path = fetch("data/sample.txt", archive.as_uri(), SHA)
    assert path.read_bytes() == CONTENT
    assert sorted(p.name for p in path.parent.iterdir()) == ["sample.txt"]


def test_download_false_and_explicit_cache_dir(tmp_path, monkeypatch):
    called = []
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: called.append(a))
    with pytest.raises(DatasetUnavailableError, match="download=False"):
        fetch("sample.txt", URL, SHA, download=False)
    assert called == []
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "sample.txt").write_bytes(CONTENT)
    assert fetch("sample.txt", URL, SHA, cache_dir=other, download=False) == other / "sample.txt"


def test_argument_validation():
    with pytest.raises(ValueError, match="relative"):
        fetch("../escape.txt", URL, SHA)
    with pytest.raises(ValueError, match="relative"):
        fetch("/abs/path.txt", URL, SHA)
    with pytest.raises(ValueError, match="64 hex"):
        fetch("sample.txt", URL, "abc")
    with pytest.raises(ValueError, match="non-empty"):
        fetch("sample.txt", [], SHA)


def test_default_cache_dir(monkeypatch, tmp_path):
    assert default_cache_dir() == tmp_path / "cache"
    monkeypatch.delenv("COMPANION_CACHE")
    assert default_cache_dir().parts[-2:] == (".cache", "companion")
