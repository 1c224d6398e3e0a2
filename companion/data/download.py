"""Find a dataset file offline, in the cache, or download it; never use a corrupted copy.

:func:`fetch` looks in three places, in order:

1. the offline folder named by ``$COMPANION_DATA`` (laid out like the course's
   ``shared/data``: ``tinyshakespeare.txt``, ``statsmodels/nile.csv``, ...);
2. the cache folder (``$COMPANION_CACHE``, default ``~/.cache/companion``);
3. the public source URL(s), downloaded with :mod:`urllib` into the cache.

Whatever the source, the file's SHA-256 must equal the pinned checksum.  A
mismatch raises :class:`ChecksumMismatchError` (naming the file and both
hashes) and the file is not used: a truncated download, an edited copy or an
upstream file that silently changed would otherwise give results that cannot
be reproduced.  Downloads are written to a temporary file in the cache folder
and moved into place with :func:`os.replace` only after the checksum matched,
so an interrupted download never leaves a partial file behind.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Sequence
from os import PathLike
from pathlib import Path, PurePosixPath

__all__ = [
    "fetch",
    "sha256_file",
    "default_cache_dir",
    "DatasetUnavailableError",
    "ChecksumMismatchError",
]

logger = logging.getLogger(__name__)
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class DatasetUnavailableError(FileNotFoundError):
    """No copy of a dataset file could be found or downloaded.

    Attributes
    ----------
    filename : str
        The file asked for (relative to the data folder).
    places : list of str
        Every location looked in, with what was found there.
    urls : list of str
        Every URL tried, with why it failed.
    """

    def __init__(self, message: str, *, filename: str, places: list[str], urls: list[str]) -> None:
        super().__init__(message)
        self.filename = filename
        self.places = places
        self.urls = urls

    def __str__(self) -> str:  # OSError's default __str__ would prepend errno fields
        return self.args[0]


class ChecksumMismatchError(ValueError):
    """A file's SHA-256 differs from the pinned one; the file was refused.

    Attributes
    ----------
    filename : str
    source : str
        The path or URL the bad bytes came from.
    expected, actual : str
        Hex SHA-256 digests.
    """

    def __init__(self, message: str, *, filename: str, source: str, expected: str, actual: str) -> None:
        super().__init__(message)
        self.filename = filename
        self.source = source
        self.expected = expected
        self.actual = actual


def sha256_file(path: str | PathLike[str], chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks (constant memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            h.update(chunk)
    return h.hexdigest()


def default_cache_dir() -> Path:
    """``$COMPANION_CACHE`` if set, else ``~/.cache/companion``."""
    env = os.environ.get("COMPANION_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "companion"


def _check_filename(filename: str) -> PurePosixPath:
    if not isinstance(filename, str) or not filename:
        raise ValueError(f"filename must be a non-empty relative path, got {filename!r}")
    rel = PurePosixPath(filename)
    if rel.is_absolute() or ".." in rel.parts or "\\" in filename:
        raise ValueError(f"filename must be a relative path inside the data folder (no '..'), got {filename!r}")
    return rel


def _mismatch(filename: str, source: str, expected: str, actual: str, advice: str) -> ChecksumMismatchError:
    msg = (
        f"checksum mismatch for dataset file '{filename}' from {source}\n"
        f"  expected sha256: {expected}\n"
        f"  actual sha256:   {actual}\n"
        f"The file was refused (not used). {advice}"
    )
    return ChecksumMismatchError(msg, filename=filename, source=source, expected=expected, actual=actual)


def _verify(path: Path, filename: str, expected: str, advice: str) -> Path:
    actual = sha256_file(path)
    if actual != expected:
        raise _mismatch(filename, str(path), expected, actual, advice)
    return path


def _is_zip_url(url: str) -> bool:
    return urllib.parse.urlparse(url).path.lower().endswith(".zip")


def _extract_member(archive: Path, basename: str, out_path: Path) -> None:
    """Copy the archive member whose base name is ``basename`` to ``out_path``."""
    with zipfile.ZipFile(archive) as zf:
        names = [n for n in zf.namelist()
                 if PurePosixPath(n).name == basename and not n.startswith("__MACOSX/") and not n.endswith("/")]
        if not names:
            raise FileNotFoundError(f"the archive has no member named {basename!r}")
        with zf.open(names[0]) as src, open(out_path, "wb") as dst:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                dst.write(chunk)


def _download(url: str, target: Path, filename: str, expected: str, timeout: float) -> Path:
    """Download ``url`` to ``target`` atomically; extract from it if it is a .zip archive."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temps: list[str] = []

    def _temp() -> str:
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        os.close(fd)
        temps.append(name)
        return name

    try:
        raw = _temp()
        logger.info("downloading %s from %s", filename, url)
        with urllib.request.urlopen(url, timeout=timeout) as resp, open(raw, "wb") as out:
            for chunk in iter(lambda: resp.read(1 << 16), b""):
                out.write(chunk)
        payload = raw
        if _is_zip_url(url):
            payload = _temp()
            _extract_member(Path(raw), target.name, Path(payload))
        actual = sha256_file(payload)
        if actual != expected:
            raise _mismatch(filename, url, expected, actual,
                            "The source may have changed or the transfer was corrupted.")
        os.replace(payload, target)  # atomic within one folder: readers see the old state or the whole file
        return target
    finally:
        for name in temps:
            if os.path.exists(name):
                os.remove(name)


def fetch(
    filename: str,
    url: str | Sequence[str],
    sha256: str,
    cache_dir: str | PathLike[str] | None = None,
    offline_env: str | None = "COMPANION_DATA",
    *,
    timeout: float = 30.0,
    download: bool = True,
) -> Path:
    """Return the local path of a verified copy of ``filename``.

    Parameters
    ----------
    filename : str
        Path relative to the data folder, e.g. ``"statsmodels/nile.csv"``; the
        same relative path is used in the offline folder and in the cache.
    url : str or sequence of str
        Public source(s), tried in order (mirrors).  A URL whose path ends in
        ``.zip`` is an archive: the member with ``filename``'s base name is
        extracted and verified.  ``file://`` URLs work too.
    sha256 : str
        Expected hex SHA-256 of the file itself.
    cache_dir : path or None
        Download cache; default :func:`default_cache_dir`.
    offline_env : str or None
        Environment variable naming the offline folder (None: no offline folder).
    timeout : float
        Seconds before a silent connection is abandoned.
    download : bool
        If False, only the offline folder and the cache are searched.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ChecksumMismatchError
        The offline or cached copy, or every download that arrived, had the
        wrong checksum.  The bad file is never returned.
    DatasetUnavailableError
        No copy anywhere and no download succeeded (e.g. no network).  The
        message lists every place looked, every URL tried, and how to provide
        the file.  It is a :class:`FileNotFoundError`.
    """
    rel = _check_filename(filename)
    expected = sha256.lower() if isinstance(sha256, str) else sha256
    if not isinstance(expected, str) or not _HEX64.match(expected):
        raise ValueError(f"sha256 must be 64 hex digits, got {sha256!r}")
    urls = [url] if isinstance(url, str) else list(url)
    if not urls:
        raise ValueError("url must be a URL or a non-empty sequence of URLs")

    places: list[str] = []
    offline = os.environ.get(offline_env) if offline_env else None
    if offline:
        candidate = Path(offline).expanduser() / rel
        if candidate.is_file():
            return _verify(candidate, filename, expected,
                           f"Replace it with the original file, or unset {offline_env} to download it.")
        places.append(f"{candidate} (from ${offline_env}): not found")
    elif offline_env:
        places.append(f"${offline_env} is not set (no offline folder)")

    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    target = cache / rel
    if target.is_file():
        return _verify(target, filename, expected, f"Delete {target} so that it is downloaded again.")
    places.append(f"{target} (cache): not found")

    tried: list[str] = []
    mismatches: list[ChecksumMismatchError] = []
    if download:
        for u in urls:
            try:
                return _download(u, target, filename, expected, timeout)
            except ChecksumMismatchError as err:
                mismatches.append(err)
                tried.append(f"{u}: checksum mismatch (got {err.actual})")
            except (urllib.error.URLError, OSError, zipfile.BadZipFile, ValueError) as err:
                # URLError and timeouts are OSErrors; ValueError covers malformed URLs.
                tried.append(f"{u}: {type(err).__name__}: {err}")
    else:
        tried = [f"{u}: not tried (download=False)" for u in urls]

    if mismatches:
        first = mismatches[0]
        others = "\n".join(f"  - {t}" for t in tried)
        raise ChecksumMismatchError(
            f"{first}\nURLs tried:\n{others}",
            filename=filename, source=first.source, expected=expected, actual=first.actual,
        )
    env_hint = offline_env or "COMPANION_DATA"
    msg = (
        f"dataset file '{filename}' is not available.\n"
        "Looked in:\n" + "".join(f"  - {p}\n" for p in places)
        + "Tried to download:\n" + "".join(f"  - {t}\n" for t in tried)
        + f"To provide it, either set {env_hint} to a folder that contains '{filename}' "
        f"(the course's shared/data folder), or download {urls[0]} manually to {target} "
        f"(expected sha256 {expected})."
    )
    raise DatasetUnavailableError(msg, filename=filename, places=places, urls=tried)
