"""Which exercises this learner has passed: a small local record, written by the checkers.

Every checker that passes on the learner's *own* function (never on the course's
reference, never on a failed or timed-out check) calls :func:`record`, which notes the
exercise and the time in ``progress.json`` under the cache folder: ``$COMPANION_CACHE``
or ``~/.cache/companion`` (the same folder as the dataset cache,
:func:`companion.data.download.default_cache_dir`), in ``exercises/``.  Nothing is
written into the course's repository.

>>> from companion.exercises import progress
>>> progress()  # doctest: +SKIP
Exercise progress: 2 of 25 passed (record: ~/.cache/companion/exercises/progress.json)
chapter                  exercise                              status   when
1  Background            one_hot                               passed   2025-05-04 10:12
                         count_rnn_parameters                  not yet
...

``progress(reset=True)`` (or :func:`reset_progress`) clears the record.  Writes are
atomic (a temporary file renamed over the old one), so an interrupted kernel cannot
leave half a file.  A record that cannot be read (edited by hand, truncated by a full
disk) never makes a checker fail: :func:`progress` says what is wrong with it, and the
next pass keeps the unreadable file beside the new one as ``progress.json.bad``.
Set ``COMPANION_RECORD_PROGRESS=0`` to stop recording altogether (e.g. in CI).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from os import PathLike
from pathlib import Path
from typing import Any

__all__ = [
    "ProgressRow",
    "Progress",
    "progress",
    "reset_progress",
    "record",
    "progress_file",
    "RECORD_ENV",
]

#: Set to ``0``, ``no`` or ``off`` to stop the checkers from recording passes.
RECORD_ENV = "COMPANION_RECORD_PROGRESS"
_FORMAT = 1


def progress_file() -> Path:
    """Where passes are recorded: ``<cache>/exercises/progress.json`` (cache as for the datasets)."""
    from companion.data.download import default_cache_dir

    return default_cache_dir() / "exercises" / "progress.json"


class _Unreadable(Exception):
    """The record exists but is not a progress record."""


def _read(path: Path) -> dict[str, dict[str, Any]]:
    """The ``passed`` table of the record (empty if there is no file); :class:`_Unreadable` if it is broken."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise _Unreadable(f"{type(exc).__name__}: {exc}") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise _Unreadable(f"not valid JSON ({exc})") from exc
    passed = data.get("passed") if isinstance(data, dict) else None
    if not isinstance(passed, dict) or data.get("format") != _FORMAT:
        raise _Unreadable("not a progress record (expected {\"format\": 1, \"passed\": {...}})")
    for name, entry in passed.items():
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) for k in ("first", "last")):
            raise _Unreadable(f"the entry for {name!r} is damaged")
        try:
            for k in ("first", "last"):
                datetime.fromisoformat(entry[k])
        except ValueError as exc:
            raise _Unreadable(f"the entry for {name!r} has a bad time ({exc})") from exc
    return passed


def _write(path: Path, passed: dict[str, dict[str, Any]]) -> None:
    """Atomically replace ``path`` (write a temporary file in the same folder, then rename it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"format": _FORMAT, "passed": passed}, indent=1, sort_keys=True)
    fd, tmp = tempfile.mkstemp(prefix=".progress-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _recording_enabled() -> bool:
    return os.environ.get(RECORD_ENV, "1").strip().lower() not in ("0", "no", "off", "false")


def record(exercise: str, *, path: str | PathLike[str] | None = None, now: datetime | None = None) -> str | None:
    """Note that ``exercise`` was passed just now; called by :func:`companion.exercises.runner.run`.

    Never raises: if the record cannot be written (read-only home, full disk) or was
    unreadable, the pass still counts and the returned sentence says what happened
    (the checker appends it to its verdict); ``None`` when all went well.

    Parameters
    ----------
    exercise : str
        The exercise's name, e.g. ``"rnn_step_forward"``.
    path : path, optional
        The record file (default :func:`progress_file`).
    now : datetime, optional
        The time to record (default: now, UTC).
    """
    if not _recording_enabled():
        return None
    target = Path(path).expanduser() if path is not None else progress_file()
    stamp = (now or datetime.now(timezone.utc)).isoformat(timespec="seconds")
    note = None
    try:
        try:
            passed = _read(target)
        except _Unreadable as exc:
            bad = target.with_name(target.name + ".bad")
            os.replace(target, bad)
            passed = {}
            note = (
                f"Note: your progress record {target} could not be read ({exc}); it was kept as {bad.name} "
                "and a new record was started."
            )
        entry = passed.get(exercise)
        if entry is None:
            passed[exercise] = {"first": stamp, "last": stamp, "times": 1}
        else:
            times = entry.get("times", 1)
            entry.update(last=stamp, times=(times if isinstance(times, int) else 1) + 1)
        _write(target, passed)
    except OSError as exc:
        return f"Note: this pass could not be recorded in {target} ({type(exc).__name__}: {exc})."
    return note


@dataclass(frozen=True)
class ProgressRow:
    """One exercise in the progress table.

    Attributes
    ----------
    chapter : int
    chapter_title : str
    exercise : str
        The function's name, e.g. ``"rnn_step_forward"``.
    checker : str
        e.g. ``"check_rnn_step_forward"``.
    passed_at : datetime or None
        The first time it was passed (local time), ``None``: not yet.
    """

    chapter: int
    chapter_title: str
    exercise: str
    checker: str
    passed_at: datetime | None

    @property
    def passed(self) -> bool:
        """Passed at least once."""
        return self.passed_at is not None


class Progress:
    """The learner's progress: one :class:`ProgressRow` per checker, shown as a table.

    Iterating gives the rows; :attr:`passed` the rows passed; ``problem`` says why
    the record could not be read, if it could not.
    """

    def __init__(self, rows: list[ProgressRow], path: Path, problem: str | None = None) -> None:
        self.rows = rows
        self.path = path
        self.problem = problem

    def __iter__(self) -> Iterator[ProgressRow]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def passed(self) -> list[ProgressRow]:
        """The rows passed at least once."""
        return [r for r in self.rows if r.passed]

    @property
    def table(self) -> str:
        """The table alone (no heading with the file's path), one row per exercise."""
        chapters = [f"{r.chapter:<2} {r.chapter_title}" for r in self.rows]
        cw = max([len("chapter"), *map(len, chapters)]) + 2
        ew = max([len("exercise"), *(len(r.exercise) for r in self.rows)]) + 2
        lines = [f"{'chapter':<{cw}}{'exercise':<{ew}}{'status':<9}when"]
        previous = None
        for row, chapter in zip(self.rows, chapters):
            shown = chapter if row.chapter != previous else ""
            previous = row.chapter
            status, when = ("passed", row.passed_at.strftime("%Y-%m-%d %H:%M")) if row.passed else ("not yet", "")
            lines.append(f"{shown:<{cw}}{row.exercise:<{ew}}{status:<9}{when}".rstrip())
        return "\n".join(lines)

    @property
    def text(self) -> str:
        """A heading (how many passed, where the record is), what is wrong with the record if anything, the table."""
        where = str(self.path)
        home = str(Path.home())
        if where.startswith(home + os.sep):
            where = "~" + where[len(home) :]
        lines = [f"Exercise progress: {len(self.passed)} of {len(self.rows)} passed (record: {where})"]
        if self.problem:
            lines.append(
                f"The record could not be read ({self.problem}). It is left untouched; the next pass keeps it "
                "as progress.json.bad and starts a new record, and progress(reset=True) deletes it."
            )
        lines.append(self.table)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.text

    __str__ = __repr__

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # IPython: the table, not the object
        p.text(self.text)


_EXERCISE_NAMES: dict[str, str] = {}


def _exercise_name(checker_name: str, check: Any) -> str:
    """The exercise a checker grades, read from its verdict on a stub (cached)."""
    if checker_name not in _EXERCISE_NAMES:

        def stub(*args: Any, **kwargs: Any) -> Any:
            raise NotImplementedError

        try:
            name = check(stub).name
        except Exception:  # a checker that cannot even grade a stub: fall back on its own name
            name = checker_name.removeprefix("check_")
        _EXERCISE_NAMES[checker_name] = name
    return _EXERCISE_NAMES[checker_name]


def progress(reset: bool = False, *, path: str | PathLike[str] | None = None) -> Progress:
    """Show, per chapter, which exercises this learner has passed (and when, first).

    Parameters
    ----------
    reset : bool
        Delete the record first (all exercises "not yet" again).
    path : path, optional
        The record file (default :func:`progress_file`).

    Returns
    -------
    Progress
        Its ``repr`` is the table; every checker of
        ``companion.exercises.CHECKERS`` has a row, in the book's order.
    """
    import companion.exercises as ex

    target = Path(path).expanduser() if path is not None else progress_file()
    if reset:
        reset_progress(path=target)
    problem = None
    try:
        passed = _read(target)
    except _Unreadable as exc:
        passed, problem = {}, str(exc)
    titles = getattr(ex, "CHAPTER_TITLES", {})
    rows = []
    for chapter, names in ex.CHECKERS.items():
        for checker_name in names:
            exercise = _exercise_name(checker_name, getattr(ex, checker_name))
            entry = passed.get(exercise)
            when = datetime.fromisoformat(entry["first"]).astimezone() if entry else None
            rows.append(ProgressRow(chapter, titles.get(chapter, f"Chapter {chapter}"), exercise, checker_name, when))
    return Progress(rows, target, problem)


def reset_progress(*, path: str | PathLike[str] | None = None) -> None:
    """Delete the record (and a kept ``.bad`` copy); nothing happens if there is none."""
    target = Path(path).expanduser() if path is not None else progress_file()
    for p in (target, target.with_name(target.name + ".bad")):
        try:
            p.unlink()
        except FileNotFoundError:
            pass
