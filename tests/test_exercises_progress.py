"""The learner's progress record: written on a pass of the learner's own function only, atomically, in the cache."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import numpy as np
import pytest

import companion.exercises as exercises
from companion.exercises import check_one_hot, check_rnn_step_forward, progress, reset_progress
from companion.exercises.progress import RECORD_ENV, Progress, progress_file, record
from companion.numpy import rnn as rnn_ref


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A private cache folder, as the learner's ~/.cache/companion would be."""
    monkeypatch.setenv("COMPANION_CACHE", str(tmp_path))
    monkeypatch.delenv(RECORD_ENV, raising=False)
    return tmp_path


def mine(x, h_prev, Wx, Wh, b):
    return np.tanh(x @ Wx + h_prev @ Wh + b), None


def test_the_record_lives_in_the_cache_folder(cache) -> None:
    assert progress_file() == cache / "exercises" / "progress.json"


def test_a_pass_is_recorded_and_shown(cache) -> None:
    assert check_rnn_step_forward(mine).passed
    data = json.loads((cache / "exercises" / "progress.json").read_text())
    assert data["format"] == 1 and data["passed"]["rnn_step_forward"]["times"] == 1
    assert check_rnn_step_forward(mine).passed
    data = json.loads(progress_file().read_text())
    assert data["passed"]["rnn_step_forward"]["times"] == 2
    shown = progress()
    assert isinstance(shown, Progress)
    row = next(r for r in shown if r.exercise == "rnn_step_forward")
    assert row.passed and row.chapter == 2 and row.checker == "check_rnn_step_forward"
    assert [r.exercise for r in shown.passed] == ["rnn_step_forward"]
    assert list(cache.glob("exercises/.progress-*")) == []  # no temporary file left behind


@pytest.mark.parametrize(
    "fn",
    [
        rnn_ref.rnn_step_forward,  # the reference: refused
        lambda x, h_prev, Wx, Wh, b: (np.tanh(x @ Wx + h_prev @ Wh), None),  # wrong
        lambda *a: (_ for _ in ()).throw(NotImplementedError),  # the stub
    ],
    ids=["refused", "failed", "stub"],
)
def test_nothing_is_recorded_without_a_pass(cache, fn) -> None:
    assert not check_rnn_step_forward(fn).passed
    assert not progress_file().exists()


def test_a_timeout_is_not_recorded(cache) -> None:
    def hang(*args):
        while True:
            pass

    assert check_one_hot(hang, time_limit=0.1).status == "timed_out"
    assert not progress_file().exists()


def test_the_table_lists_every_checker_by_chapter(cache) -> None:
    check_one_hot(lambda idx, V: np.eye(V)[idx])
    shown = progress()
    names = [n for ns in exercises.CHECKERS.values() for n in ns]
    assert [r.checker for r in shown] == names
    assert [r.chapter for r in shown] == [c for c, ns in exercises.CHECKERS.items() for _ in ns]
    lines = repr(shown).splitlines()
    assert lines[0] == f"Exercise progress: 1 of {len(names)} passed (record: {progress_file()})"
    assert lines[1].split() == ["chapter", "exercise", "status", "when"]
    one_hot_line = next(line for line in lines if " one_hot " in line)
    assert one_hot_line.startswith("1  Background") and " passed " in one_hot_line
    assert datetime.now().strftime("%Y-%m-%d") in one_hot_line
    assert any(line.split() == ["count_rnn_parameters", "not", "yet"] for line in lines)
    assert str(shown) == repr(shown)
    assert shown.table == "\n".join(lines[1:])  # the table without the heading (stable to print in a notebook)


def test_the_heading_abbreviates_the_home_folder(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("COMPANION_CACHE", raising=False)
    assert repr(progress()).splitlines()[0].endswith("(record: ~/.cache/companion/exercises/progress.json)")


def test_reset(cache) -> None:
    check_rnn_step_forward(mine)
    assert progress().passed
    assert progress(reset=True).passed == []
    assert not progress_file().exists()
    reset_progress()  # nothing to delete: no error


def test_a_corrupted_record_is_reported_and_never_breaks_a_checker(cache) -> None:
    path = progress_file()
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    shown = progress()
    assert shown.problem.startswith("not valid JSON")
    assert "The record could not be read (not valid JSON" in repr(shown)
    assert shown.passed == []
    fb = check_rnn_step_forward(mine)
    assert fb.passed
    assert fb.lines[-1].startswith(f"Note: your progress record {path} could not be read (not valid JSON")
    assert "it was kept as progress.json.bad and a new record was started." in fb.lines[-1]
    assert path.with_name("progress.json.bad").read_text() == "{not json"
    assert [r.exercise for r in progress().passed] == ["rnn_step_forward"]


@pytest.mark.parametrize(
    "content",
    ['[1, 2]', '{"format": 1, "passed": {"one_hot": {"first": "yesterday", "last": "x"}}}', '{"format": 7, "passed": {}}'],
)
def test_valid_json_that_is_not_a_record(cache, content) -> None:
    path = progress_file()
    path.parent.mkdir(parents=True)
    path.write_text(content)
    assert progress().problem
    assert check_rnn_step_forward(mine).passed


def test_an_unwritable_cache_does_not_fail_the_check(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv(RECORD_ENV, raising=False)  # tests/conftest.py turns recording off for the suite
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("COMPANION_CACHE", str(blocker))  # the cache "folder" is a file: mkdir fails
    fb = check_rnn_step_forward(mine)
    assert fb.passed
    assert fb.lines[-1].startswith("Note: this pass could not be recorded in ")


def test_recording_can_be_switched_off(cache, monkeypatch) -> None:
    monkeypatch.setenv(RECORD_ENV, "0")
    assert check_rnn_step_forward(mine).passed
    assert not progress_file().exists()


def test_record_with_an_explicit_path_and_time(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv(RECORD_ENV, raising=False)
    path = tmp_path / "elsewhere" / "p.json"
    when = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert record("one_hot", path=path, now=when) is None
    assert json.loads(path.read_text())["passed"]["one_hot"]["first"] == "2025-01-02T03:04:05+00:00"
    row = next(r for r in progress(path=path) if r.exercise == "one_hot")
    assert row.passed_at == when


def test_progress_is_importable_from_the_package() -> None:
    assert exercises.progress is progress and "progress" in exercises.__all__
    assert "reset_progress" in exercises.__all__
