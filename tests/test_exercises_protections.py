"""What every checker does for any learner: refuse the course's code, stop a hang, see mutations and wrong types.

The tests are parametrized over :data:`companion.exercises.CHECKERS`, so a checker added later is covered
without editing this file.
"""

from __future__ import annotations

import copy
import functools
import re
import signal
import sys
import threading
import time

import numpy as np
import pytest

import companion.exercises as exercises
from companion.exercises import check_one_hot, check_rnn_step_forward
from companion.exercises import runner
from companion.exercises.runner import TimeLimitExceeded, call_protected, default_time_limit, reference_origin
from companion.numpy import rnn as rnn_ref
from companion.data.vocab import Vocab

CHECKER_NAMES = [n for names in exercises.CHECKERS.values() for n in names]
#: Short, so the ~25 hanging functions below cost a few seconds in all.
LIMIT = 0.15


@pytest.fixture(autouse=True)
def _private_progress(tmp_path, monkeypatch):
    """Passes are recorded under a temporary cache, never in the developer's own."""
    monkeypatch.setenv("COMPANION_CACHE", str(tmp_path))


def any_stub(*args, **kwargs):
    raise NotImplementedError


def exercise_name(check) -> str:
    return check(any_stub).name


def capture_cases(check, monkeypatch):
    """Make ``check`` hand its cases to the test: returns a dict filled with ``cases`` during each run."""
    module = sys.modules[check.__module__]
    real_run = module.run
    seen: dict = {}

    def spying_run(ex, learner, cases, *args, **kwargs):
        seen["cases"] = cases
        return real_run(ex, learner, cases, *args, **kwargs)

    monkeypatch.setattr(module, "run", spying_run)
    return seen


def _first_array(obj, path=()):
    """The path to the first ndarray inside nested args (tuples, lists, dicts), or None."""
    if isinstance(obj, np.ndarray) and obj.size:
        return path
    if isinstance(obj, (tuple, list)):
        for i, o in enumerate(obj):
            p = _first_array(o, path + (i,))
            if p is not None:
                return p
    if isinstance(obj, dict):
        for k, o in obj.items():
            p = _first_array(o, path + (k,))
            if p is not None:
                return p
    return None


# -- the course's own code is refused ------------------------------------------------------------


class _Shadow:
    """A learner-side class whose method is defined here (its bound method is the learner's)."""

    def rnn_step_forward(self, *args):
        return rnn_ref.rnn_step_forward(*args)


COURSE_CODE = {
    "function": rnn_ref.rnn_forward,
    "partial": functools.partial(rnn_ref.rnn_forward),
    "wrapped": functools.wraps(rnn_ref.rnn_forward)(lambda *a, **k: rnn_ref.rnn_forward(*a, **k)),
    "vectorize": np.vectorize(rnn_ref.count_rnn_parameters),
    "bound method": Vocab(["a", "b"]).encode,
    "class": Vocab,
}


@pytest.mark.parametrize("kind", COURSE_CODE)
@pytest.mark.parametrize("name", CHECKER_NAMES)
def test_every_checker_refuses_the_course_code(name, kind) -> None:
    check = getattr(exercises, name)
    fn = COURSE_CODE[kind]
    fb = check(fn, time_limit=LIMIT)
    ex = exercise_name(check)
    assert fb.status == "refused" and not fb.passed
    assert fb.lines[0] == f"{ex}: this is the reference implementation, not yours."
    assert "the course's own code" in fb.lines[1]
    assert f"Write your solution in the stub cell `def {ex}(...)`, run that cell, then run this check again" in fb.text


def test_refusal_names_the_function() -> None:
    fb = check_rnn_step_forward(rnn_ref.rnn_step_forward)
    assert fb.text == (
        "rnn_step_forward: this is the reference implementation, not yours.\n"
        "The function you passed is companion.numpy.rnn.rnn_step_forward, the course's own code, so checking it "
        "proves nothing.\n"
        "Write your solution in the stub cell `def rnn_step_forward(...)`, run that cell, then run this check again "
        "(or pass your function under the name you gave it)."
    )
    assert "companion.numpy.rnn.rnn_forward" in check_rnn_step_forward(functools.partial(rnn_ref.rnn_forward)).text
    assert "companion.data.vocab.Vocab.encode" in check_rnn_step_forward(Vocab(["a"]).encode).text


def test_learner_code_that_calls_the_course_is_allowed() -> None:
    assert reference_origin(lambda *a: rnn_ref.rnn_step_forward(*a)) is None
    assert reference_origin(_Shadow().rnn_step_forward) is None
    assert reference_origin(functools.partial(lambda *a: rnn_ref.rnn_step_forward(*a))) is None
    assert reference_origin(np.tanh) is None  # numpy is not the course
    assert check_rnn_step_forward(_Shadow().rnn_step_forward).passed


def test_closures_built_by_course_code_are_refused() -> None:
    from companion.exercises.ch6 import _step_fn

    assert reference_origin(_step_fn(np.zeros((1, 2, 2)))) == "companion.exercises.ch6._step_fn.<locals>.step_fn"


# -- a hang is stopped --------------------------------------------------------------------------


def hang(*args, **kwargs):
    while True:
        pass


@pytest.mark.parametrize("name", CHECKER_NAMES)
def test_every_checker_stops_a_hanging_function(name) -> None:
    check = getattr(exercises, name)
    start = time.perf_counter()
    fb = check(hang, time_limit=LIMIT)
    elapsed = time.perf_counter() - start
    assert fb.status == "timed_out" and not fb.passed
    assert fb.lines[0] == f"{fb.name}: stopped, too slow."
    assert fb.lines[1].startswith("It did not finish case 1 of ")
    assert re.search(rf"within the time limit: stopped after 0\.\d s \(time_limit={LIMIT:g} s\)\.$", fb.lines[1])
    assert "pass time_limit=<seconds>" in fb.text
    assert elapsed < LIMIT + 1.0
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)  # nothing left armed


def test_sleep_and_a_swallowing_except_are_stopped_too() -> None:
    def sleeps(idx, V):
        time.sleep(30)

    def swallows(idx, V):
        while True:
            try:
                while True:
                    pass
            except Exception:  # a learner's blanket except cannot catch the time limit
                pass

    for fn in (sleeps, swallows):
        start = time.perf_counter()
        assert check_one_hot(fn, time_limit=LIMIT).status == "timed_out"
        assert time.perf_counter() - start < 2.0


def test_time_limit_off_a_main_thread() -> None:
    result = {}
    worker = threading.Thread(target=lambda: result.update(fb=check_rnn_step_forward(hang, time_limit=LIMIT)))
    worker.start()
    worker.join(10)
    assert not worker.is_alive()
    assert result["fb"].status == "timed_out"


def test_ctrl_c_still_interrupts_the_checker() -> None:
    def interrupted(x, h_prev, Wx, Wh, b):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        check_rnn_step_forward(interrupted)

    before = signal.getsignal(signal.SIGALRM)
    # A kernel turns SIGINT into KeyboardInterrupt; a test run started in the background (nohup, `&`)
    # inherits SIGINT ignored, so install the kernel's handler for the duration of the test.
    sigint = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.2, lambda: signal.pthread_kill(threading.main_thread().ident, signal.SIGINT))
    try:
        timer.start()
        start = time.perf_counter()
        with pytest.raises(KeyboardInterrupt):  # Ctrl-C in a kernel is SIGINT on the main thread
            check_rnn_step_forward(hang, time_limit=30)
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, sigint)
    assert time.perf_counter() - start < 5
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)  # the alarm was disarmed on the way out
    assert signal.getsignal(signal.SIGALRM) is before


def test_someone_elses_alarm_is_restored() -> None:
    fired = []
    old = signal.signal(signal.SIGALRM, lambda *a: fired.append(1))
    try:
        signal.setitimer(signal.ITIMER_REAL, 5.0)
        check_rnn_step_forward(hang, time_limit=LIMIT)
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 3.0 < left <= 5.0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert not fired


def test_default_time_limit_and_its_environment_variable(monkeypatch) -> None:
    monkeypatch.delenv("COMPANION_TIME_LIMIT", raising=False)
    assert default_time_limit() == runner.DEFAULT_TIME_LIMIT == 5.0
    monkeypatch.setenv("COMPANION_TIME_LIMIT", "0.2")
    assert default_time_limit() == 0.2
    start = time.perf_counter()
    assert check_rnn_step_forward(hang).status == "timed_out"  # the environment's limit applies
    assert time.perf_counter() - start < 2
    for off in ("0", "off", "none"):
        monkeypatch.setenv("COMPANION_TIME_LIMIT", off)
        assert default_time_limit() is None
    monkeypatch.setenv("COMPANION_TIME_LIMIT", "soon")
    assert default_time_limit() == 5.0
    with pytest.raises(TypeError, match="time_limit must be a number"):
        check_rnn_step_forward(hang, time_limit="1")


def test_a_slow_pass_gets_a_note() -> None:
    calls = []

    def slow_once(x, h_prev, Wx, Wh, b):
        calls.append(1)
        if len(calls) == 2:
            time.sleep(0.12)
        return np.tanh(x @ Wx + h_prev @ Wh + b), None

    fb = check_rnn_step_forward(slow_once, time_limit=0.2)
    assert fb.passed
    assert fb.lines[1].startswith("Note: it is slow: case 2 of 5 (N=1, D=3, H=2) took 0.1 s")
    assert len(check_rnn_step_forward(lambda *a: rnn_ref.rnn_step_forward(*a)).lines) == 1  # no note when fast


def test_call_protected() -> None:
    assert call_protected(lambda a, b: a + b, (1, 2)).value == 3
    assert call_protected(hang, time_limit=LIMIT).timed_out
    out = call_protected(lambda: 1 / 0)
    assert isinstance(out.error, ZeroDivisionError) and not out.ok
    assert issubclass(TimeLimitExceeded, BaseException) and not issubclass(TimeLimitExceeded, Exception)


# -- inputs modified in place, wrong return types -------------------------------------------------


@pytest.mark.parametrize("name", CHECKER_NAMES)
def test_every_checker_reports_a_mutated_input(name, monkeypatch) -> None:
    check = getattr(exercises, name)
    seen = capture_cases(check, monkeypatch)

    def right_answer_but_mutates(*args, **kwargs):
        case = next(c for c in seen["cases"] if all(a is b for a, b in zip(c.args, args)))
        path = _first_array((args, kwargs))
        if path is None:
            pytest.skip(f"{name} passes no array to the learner")
        target = (args, kwargs)
        for k in path:
            target = target[k]
        target.flat[0] = target.flat[0] + 1
        return copy.deepcopy(case.expected)

    fb = check(right_answer_but_mutates, time_limit=5)
    assert not fb.passed and fb.status == "failed"
    assert "It modified its input `" in fb.text and "in place on case 1 of" in fb.text
    assert "Do not change the arguments" in fb.text


@pytest.mark.parametrize("name", CHECKER_NAMES)
def test_every_checker_reports_a_wrong_return_type(name) -> None:
    fb = getattr(exercises, name)(lambda *args, **kwargs: object(), time_limit=5)
    assert fb.status == "failed"
    assert "an object" in fb.text and "case 1 of" in fb.text


@pytest.mark.parametrize("name", CHECKER_NAMES)
def test_every_checker_explains_a_signature_that_does_not_fit(name) -> None:
    fb = getattr(exercises, name)(lambda: None, time_limit=5)
    assert fb.status == "failed"
    assert "It cannot be called the way the checker calls it on case 1 of" in fb.text
    assert "your function is <lambda>()." in fb.text
