"""Run a learner's function on seeded cases and explain, in plain words, what is wrong.

The runner never raises on a learner's mistake.  Before anything else it refuses the
course's own code: a function defined inside the ``companion`` package (imported under
the exercise's name, wrapped in ``functools.partial``, a method of a companion class) is
the reference, and checking it would print "passed" for work the learner has not done.
Then, for each case, in order, it

1. checks that the function can be called the way the checker calls it (a parameter
   list that does not fit is a signature problem; any other ``TypeError`` is not);
2. calls the function under a time limit (:func:`default_time_limit`, a few seconds per
   case; ``time_limit=`` on every checker): a hung or very slow function is stopped and
   reported with the case and how long it ran.  ``Ctrl-C`` still interrupts the checker.
   A ``NotImplementedError`` means "still the stub"; any other exception is reported
   with its type, message and the learner's own line;
3. checks what came back: type (``None``, a tuple of the wrong length, a list
   instead of an array), shape ("looks transposed"), NaN/inf;
4. checks that the inputs were not modified in place;
5. compares the values with the reference and points at the single largest error
   (case, time step, gate or parameter, index, both values) -- nothing more of the
   reference is shown;
6. when the answer is wrong, recomputes a few *known wrong* versions (forgot the bias,
   transposed weight, ...) and, if the learner's output equals one of them, says so;
7. checks the exercise's extra promises: requirements on every case (e.g. "a new dict
   of new arrays") and, once all values are right, "without a Python loop" (by counting
   the Python lines the learner's code executes on a small and a large input).

A pass is recorded in the learner's local progress file (``record`` in
``companion.exercises.progress``), and a pass that took long gets a note.

How the time limit is enforced
------------------------------
* On the main thread of a process on Linux or macOS -- where a Jupyter kernel runs the
  cells -- a ``SIGALRM`` timer (``signal.setitimer``) raises :class:`TimeLimitExceeded`
  inside the learner's code.  It also wakes ``time.sleep`` and other blocking calls; a
  single long call into compiled code (one huge matrix product) is stopped when it
  returns.  A previous ``SIGALRM`` handler and timer are restored afterwards.
* Elsewhere (another thread, Windows), a watcher thread asks CPython to raise the same
  exception in the checked thread at its next bytecode; a blocking call such as
  ``time.sleep`` is then only stopped when it returns.
* Where neither is available (not CPython), there is no limit; the time taken is still
  measured and a slow pass gets its note.

``KeyboardInterrupt`` (Ctrl-C, "interrupt the kernel") is never caught: it stops the
checker at once, and the timer is disarmed on the way out.  The exception derives from
``BaseException``, so a learner's ``except Exception:`` cannot swallow it, and it is
raised again every 0.1 s should a bare ``except:`` swallow one.
"""

from __future__ import annotations

import ctypes
import functools
import inspect
import linecache
import math
import os
import signal
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from companion.exercises import feedback as fb
from companion.exercises.feedback import Feedback

__all__ = [
    "Case",
    "Variant",
    "Exercise",
    "Output",
    "Array",
    "Scalar",
    "Integer",
    "IntList",
    "Anything",
    "Tuple",
    "Dict",
    "Problem",
    "LoopFree",
    "Outcome",
    "TimeLimitExceeded",
    "DEFAULT_TIME_LIMIT",
    "TIME_LIMIT_ENV",
    "default_time_limit",
    "call_protected",
    "reference_origin",
    "run",
    "fmt",
]

LSTM_GATES = ("i (input)", "f (forget)", "g (candidate)", "o (output)")
GRU_GATES = ("r (reset)", "z (update)", "n (candidate)")
AXIS_WORDS = {
    "N": "sample",
    "T": "time step",
    "D": "input feature",
    "H": "hidden unit",
    "V": "token",
    "C": "class",
    "M": "window",
    "W": "window position",
    "K": "horizon step",
    "O": "output unit",
    "F": "feature",
}
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_PACKAGE_REAL = os.path.realpath(_PACKAGE_DIR)

#: Seconds one case may run before it is stopped, unless ``time_limit=`` or :data:`TIME_LIMIT_ENV` says otherwise.
DEFAULT_TIME_LIMIT = 5.0
#: Environment variable that overrides :data:`DEFAULT_TIME_LIMIT` (seconds; ``0``, ``off`` or ``none``: no limit).
TIME_LIMIT_ENV = "COMPANION_TIME_LIMIT"
#: A pass whose slowest case took longer than this (or half the limit, if less) gets a "slow" note.
SLOW_SECONDS = 1.0


def fmt(value: float) -> str:
    """Print a number the same way everywhere (6 significant digits; ``-0`` prints as ``0``)."""
    v = float(value)
    text = f"{v:.6g}"
    return "0" if text in ("-0", "0") else text


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


# --------------------------------------------------------------------------------------
# Cases and wrong variants
# --------------------------------------------------------------------------------------
@dataclass
class Case:
    """One seeded input and the reference's answer to it.

    ``args``/``kwargs`` are what the learner's function is called with; ``raw`` holds
    the named inputs that the known-wrong variants recompute from (for a backward pass
    the learner gets a cache, the variants get ``x``, ``h_prev``, ...).
    """

    args: tuple
    expected: Any
    label: str
    dims: dict[str, int] = field(default_factory=dict)
    kwargs: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Variant:
    """A known mistake: ``fn(case)`` returns what a function with that mistake returns."""

    hint: str
    fn: Callable[[Case], Any]


# --------------------------------------------------------------------------------------
# What a function must return
# --------------------------------------------------------------------------------------
@dataclass
class Problem:
    """What is wrong with one part of the output."""

    kind: str  # "type" | "shape" | "nonfinite" | "values"
    key: tuple  # path to the part (tuple index / dict key), for matching variants
    lines: list[str]
    leaf: Output | None = None


class Output:
    """Describes (and checks) one part of a function's return value."""

    name: str = "result"

    def check(self, got: Any, exp: Any, case: Case, key: tuple = ()) -> Problem | None:
        raise NotImplementedError

    def same(self, got: Any, exp: Any) -> bool:
        """Used to match a known mistake: equal shape and values (NaN equal to NaN)."""
        try:
            g, e = np.asarray(got), np.asarray(exp)
            if g.shape != e.shape:
                return False
            if g.dtype.kind in "biuf" and e.dtype.kind in "biuf":
                return bool(np.allclose(g.astype(float), e.astype(float), rtol=1e-5, atol=1e-7, equal_nan=True))
            return bool(np.array_equal(g, e))
        except Exception:
            return False


def _type_name(x: Any) -> str:
    if x is None:
        return "None"
    if isinstance(x, np.ndarray):
        return f"a numpy array of shape {x.shape}"
    if isinstance(x, (tuple, list)):
        return f"a {type(x).__name__} of {_plural(len(x), 'value')}"
    name = type(x).__name__
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def _shape_symbols(shape: tuple[int, ...], dims: dict[str, int]) -> str | None:
    """Read a shape as symbols, e.g. (3, 4) -> '(N, D)', if every size names one dimension."""
    by_size: dict[int, list[str]] = {}
    for sym, size in dims.items():
        by_size.setdefault(size, []).append(sym)
    out = []
    for s in shape:
        names = by_size.get(s, [])
        if len(names) != 1:
            return None
        out.append(names[0])
    return "(" + ", ".join(out) + ")"


def _axis_phrase(tok: str, i: int, size: int) -> str:
    if tok == "4H":
        h = size // 4
        return f"gate {LSTM_GATES[i // h]} unit {i % h}"
    if tok == "3H":
        h = size // 3
        return f"gate {GRU_GATES[i // h]} unit {i % h}"
    word = AXIS_WORDS.get(tok)
    return f"{word} {i}" if word else f"{tok}={i}"


def describe_index(idx: tuple[int, ...], axes: str | None, shape: tuple[int, ...]) -> str:
    """'index (0, 2) (sample 0, hidden unit 2)': the raw index plus what each axis means."""
    raw = "(" + ", ".join(str(i) for i in idx) + (",)" if len(idx) == 1 else ")")
    if not axes or len(axes.split()) != len(idx):
        return f"index {raw}"
    words = [_axis_phrase(tok, i, size) for tok, i, size in zip(axes.split(), idx, shape)]
    return f"index {raw} ({', '.join(words)})"


@dataclass
class Array(Output):
    """A numpy array.

    Parameters
    ----------
    name : str
        How the task calls it (``h_next``, ``dWx``).
    axes : str, optional
        Symbolic axes (``"N H"``, ``"D 4H"``) used to say *where* an error is and to
        read a wrong shape back as symbols.
    dtype : {"float", "int", "number"}
        Which dtypes are acceptable.
    gradient : bool
        Report mismatches as "gradient mismatch in dWx".
    rtol, atol : float
        Tolerance; ``atol`` is scaled by the largest reference magnitude (at least 1).
    what : str, optional
        What the quantity is, said after its name in a mismatch, e.g.
        ``"dL/dc_{t-1}, the gradient for the previous step's cell state"``.
    """

    name: str
    axes: str | None = None
    dtype: str = "float"
    gradient: bool = False
    rtol: float = 1e-5
    atol: float = 1e-7
    what: str | None = None

    def _shape_text(self, shape: tuple[int, ...]) -> str:
        if self.axes and len(self.axes.split()) == len(shape):
            syms = self.axes.split()
            return f"({', '.join(syms)}{',' if len(syms) == 1 else ''}) = {tuple(shape)}"
        return str(tuple(shape))

    def check(self, got: Any, exp: Any, case: Case, key: tuple = ()) -> Problem | None:
        exp = np.asarray(exp)
        if not isinstance(got, np.ndarray):
            extra = ""
            if isinstance(got, (list, tuple)):
                extra = " (wrap it with np.array(...), or build it with numpy operations)"
            elif np.isscalar(got):
                extra = " (a single number where a whole array was expected)"
            return Problem("type", key, [f"{self.name} should be a numpy array, but it is {_type_name(got)}{extra}."])
        if self.dtype == "float" and not np.issubdtype(got.dtype, np.floating):
            return Problem(
                "type",
                key,
                [f"{self.name} has dtype {got.dtype}; expected floating-point values (float64)."],
            )
        if self.dtype == "int" and not np.issubdtype(got.dtype, np.integer):
            return Problem("type", key, [f"{self.name} has dtype {got.dtype}; expected integers (e.g. int64)."])
        if self.dtype == "number" and got.dtype.kind not in "biuf":
            return Problem("type", key, [f"{self.name} has dtype {got.dtype}; expected numbers."])
        if got.shape != exp.shape:
            expected = self._shape_text(exp.shape)
            lines = [f"{self.name} has the wrong shape: expected {expected}, got {tuple(got.shape)}."]
            if got.ndim >= 2 and got.shape == exp.shape[::-1] and got.shape != exp.shape:
                lines.append("It looks transposed (the axes are in reverse order).")
            elif sorted(got.shape) == sorted(exp.shape) and self.axes and len(self.axes.split()) == exp.ndim:
                sym = _shape_symbols(got.shape, {t: s for t, s in zip(self.axes.split(), exp.shape)})
                if sym:
                    lines.append(f"The sizes are right but the axes are in the wrong order: you have {sym}.")
            else:
                sym = _shape_symbols(got.shape, case.dims)
                if sym and self.axes:
                    lines.append(f"Your shape reads as {sym} with this case's sizes {_dims_text(case.dims)}.")
            return Problem("shape", key, lines, self)
        g = got.astype(np.float64) if got.dtype.kind in "biuf" else got
        e = exp.astype(np.float64)
        bad = ~np.isfinite(g) & np.isfinite(e)
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            what = "NaN" if np.isnan(g[idx]) else "inf"
            return Problem(
                "nonfinite",
                key,
                [
                    f"{self.name} contains NaN or inf: {int(bad.sum())} entries, the first at "
                    f"{describe_index(idx, self.axes, exp.shape)} is {what}."
                ],
                self,
            )
        scale = max(1.0, float(np.max(np.abs(e)))) if e.size else 1.0
        err = np.abs(g - e)
        tol = self.atol * scale + self.rtol * np.abs(e)
        if np.all(err <= tol):
            return None
        idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(err - tol)), err.shape))
        head = f"Gradient mismatch in {self.name}" if self.gradient else f"Wrong values in {self.name}"
        if self.what:
            head += f" ({self.what})"
        return Problem(
            "values",
            key,
            [
                f"{head}.",
                f"Largest error at {describe_index(idx, self.axes, exp.shape)}: "
                f"expected {fmt(e[idx])}, got {fmt(g[idx])}.",
            ],
            self,
        )


def _dims_text(dims: dict[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in dims.items())


@dataclass
class Scalar(Output):
    """A single real number (a loss, a norm, a perplexity)."""

    name: str
    gradient: bool = False
    rtol: float = 1e-6
    atol: float = 1e-9

    def check(self, got: Any, exp: Any, case: Case, key: tuple = ()) -> Problem | None:
        if isinstance(got, np.ndarray) and got.ndim == 0:
            got = got[()]
        if isinstance(got, bool) or not isinstance(got, (int, float, np.integer, np.floating)):
            extra = ""
            if isinstance(got, np.ndarray):
                extra = " (reduce it to one number, e.g. with .sum() or .mean(), or take float(...))"
            msg = f"{self.name} should be a single number (float), but it is {_type_name(got)}{extra}."
            return Problem("type", key, [msg])
        g, e = float(got), float(exp)
        if not np.isfinite(g) and np.isfinite(e):
            return Problem("nonfinite", key, [f"{self.name} is {g} (not a finite number)."], self)
        if abs(g - e) <= self.atol + self.rtol * abs(e):
            return None
        head = f"Gradient mismatch in {self.name}" if self.gradient else f"Wrong value of {self.name}"
        return Problem("values", key, [f"{head}: expected {fmt(e)}, got {fmt(g)}."], self)


@dataclass
class Integer(Output):
    """An exact integer (a count, a sampled token id)."""

    name: str

    def check(self, got: Any, exp: Any, case: Case, key: tuple = ()) -> Problem | None:
        if isinstance(got, np.ndarray) and got.ndim == 0 and np.issubdtype(got.dtype, np.integer):
            got = got[()]
        if isinstance(got, bool) or not isinstance(got, (int, np.integer)):
            extra = ""
            if isinstance(got, (float, np.floating)) and float(got).is_integer():
                extra = " (convert it with int(...))"
            return Problem("type", key, [f"{self.name} should be an int, but it is {_type_name(got)}{extra}."])
        if int(got) != int(exp):
            return Problem("values", key, [f"Wrong {self.name}: expected {int(exp)}, got {int(got)}."], self)
        return None

    def same(self, got: Any, exp: Any) -> bool:
        try:
            return int(got) == int(exp)
        except Exception:
            return False


@dataclass
class IntList(Output):
    """A sequence of integers (a decoded token sequence); compared exactly."""

    name: str

    def check(self, got: Any, exp: Any, case: Case, key: tuple = ()) -> Problem | None:
        if isinstance(got, np.ndarray) and got.ndim == 1 and np.issubdtype(got.dtype, np.integer):
            got = got.tolist()
        if not isinstance(got, (list, tuple)) or not all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in got
        ):
            return Problem("type", key, [f"{self.name} should be a list of ints, but it is {_type_name(got)}."])
        got, exp = [int(v) for v in got], [int(v) for v in exp]
        if got == exp:
            return None
        if len(got) != len(exp):
            return Problem("values", key, [f"{self.name} has {_plural(len(got), 'token')}; expected {len(exp)}."], self)
        i = next(k for k, (a, b) in enumerate(zip(got, exp)) if a != b)
        msg = f"{self.name} differs first at position {i}: expected {exp[i]}, got {got[i]}."
        return Problem("values", key, [msg], self)

    def same(self, got: Any, exp: Any) -> bool:
        try:
            return [int(v) for v in got] == [int(v) for v in exp]
        except Exception:
            return False


@dataclass
class Anything(Output):
    """A part that is not graded (a cache)."""

    name: str

    def check(self, got: Any, exp: Any, case: Case, key: tuple = ()) -> Problem | None:
        return None

    def same(self, got: Any, exp: Any) -> bool:
        return True


class Tuple(Output):
    """A fixed-length tuple, e.g. ``(h_next, cache)``.

    ``order`` (optional) lists the item indices in the order their wrong values are
    reported, e.g. the gate-shaped gradients of an LSTM before ``dx``.
    """

    def __init__(self, *items: Output, order: Sequence[int] | None = None) -> None:
        self.items = items
        self.order = tuple(order) if order is not None else tuple(range(len(items)))
        self.name = "(" + ", ".join(i.name for i in items) + ")"

    def check(self, got: Any, exp: Any, case: Case, key: tuple = ()) -> Problem | None:
        n = len(self.items)
        if not isinstance(got, (tuple, list)):
            return Problem("type", key, [f"It returned {_type_name(got)}; expected a tuple of {n} values {self.name}."])
        if len(got) != n:
            return Problem(
                "type",
                key,
                [f"It returned a {type(got).__name__} of {_plural(len(got), 'value')}; expected {n} values {self.name}."],
            )
        problems = []
        for i in self.order:
            item, g, e = self.items[i], got[i], exp[i]
            p = item.check(g, e, case, key + (i,))
            if p is not None:
                problems.append((item, p))
        if not problems:
            return None
        for _, p in problems:  # a wrong type or shape is reported before any wrong value
            if p.kind in ("type", "shape"):
                return p
        first = problems[0][1]
        if len(problems) > 1:
            first.lines.append("Also wrong: " + ", ".join(item.name for item, _ in problems[1:]) + ".")
        return first

    def same(self, got: Any, exp: Any) -> bool:
        try:
            return len(got) == len(self.items) and all(i.same(g, e) for i, g, e in zip(self.items, got, exp))
        except Exception:
            return False


@dataclass
class Dict(Output):
    """A dict with the same keys as the reference, every value checked by ``value(key)``."""

    name: str
    value: Callable[[str], Output] = lambda k: Array(k)

    def check(self, got: Any, exp: Any, case: Case, key: tuple = ()) -> Problem | None:
        if not isinstance(got, dict):
            return Problem("type", key, [f"{self.name} should be a dict, but it is {_type_name(got)}."])
        missing = [k for k in exp if k not in got]
        extra = [k for k in got if k not in exp]
        if missing or extra:
            parts = []
            if missing:
                parts.append("missing keys " + ", ".join(repr(k) for k in missing))
            if extra:
                parts.append("unexpected keys " + ", ".join(repr(k) for k in extra))
            return Problem("type", key, [f"{self.name} must have the same keys as the input: {'; '.join(parts)}."])
        for k in exp:
            p = self.value(f"{self.name}[{k!r}]").check(got[k], exp[k], case, key + (k,))
            if p is not None:
                return p
        return None

    def same(self, got: Any, exp: Any) -> bool:
        try:
            return set(got) == set(exp) and all(self.value(str(k)).same(got[k], exp[k]) for k in exp)
        except Exception:
            return False


def _part(out: Any, key: tuple) -> Any:
    for k in key:
        out = out[k]
    return out


# --------------------------------------------------------------------------------------
# Inputs modified in place
# --------------------------------------------------------------------------------------
def _snapshot(obj: Any) -> Any:
    """Copy the arrays inside ``obj`` (nested tuples/lists/dicts); other objects are skipped."""
    if isinstance(obj, np.ndarray):
        return obj.copy()
    if isinstance(obj, (tuple, list)):
        return type(obj)(_snapshot(o) for o in obj) if isinstance(obj, list) else tuple(_snapshot(o) for o in obj)
    if isinstance(obj, dict):
        return {k: _snapshot(v) for k, v in obj.items()}
    return None


def _first_change(before: Any, after: Any, path: str) -> tuple[str, str] | None:
    if isinstance(before, np.ndarray):
        if not isinstance(after, np.ndarray) or after.shape != before.shape:
            return path, "replaced"
        same = after == before
        if after.dtype.kind in "fc":
            same = same | (np.isnan(after) & np.isnan(before))
        diff = ~np.asarray(same, dtype=bool)
        if diff.any():
            idx = tuple(int(i) for i in np.argwhere(diff)[0])
            return path, "index " + (str(idx) if len(idx) != 1 else f"({idx[0]},)")
        return None
    if isinstance(before, (tuple, list)):
        if not isinstance(after, (tuple, list)) or len(after) != len(before):
            return path, "replaced"
        for i, (b, a) in enumerate(zip(before, after)):
            r = _first_change(b, a, f"{path}[{i}]")
            if r:
                return r
    if isinstance(before, dict):
        if not isinstance(after, dict) or set(after) != set(before):
            return path, "its keys changed"
        for k in before:
            r = _first_change(before[k], after[k], f"{path}[{k!r}]")
            if r:
                return r
    return None


# --------------------------------------------------------------------------------------
# Whose code is it?
# --------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=4096)
def _is_library(filename: str) -> bool:
    """True for numpy, the standard library and companion itself: not the learner's code."""
    f = os.path.abspath(filename)
    if f.startswith(_PACKAGE_DIR + os.sep) or "site-packages" in f or "dist-packages" in f:
        return True
    if os.path.realpath(f).startswith(_PACKAGE_REAL + os.sep):
        return True
    stdlib = os.path.join(os.path.abspath(sys.base_prefix), "lib")
    return f.startswith(stdlib + os.sep) or filename.startswith("<frozen ")


def _in_package(filename: str) -> bool:
    return os.path.realpath(os.path.abspath(filename)).startswith(_PACKAGE_REAL + os.sep)


def _is_companion_module(module: Any) -> bool:
    return isinstance(module, str) and (module == "companion" or module.startswith("companion."))


def _qualified(obj: Any) -> str:
    module = getattr(obj, "__module__", None) or "companion"
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or type(obj).__name__
    return f"{module}.{name}"


def reference_origin(fn: Any) -> str | None:
    """Where ``fn`` comes from if it is the course's own code, e.g. ``"companion.numpy.rnn.rnn_forward"``.

    ``fn`` counts as the course's code when, after unwrapping ``functools.partial``,
    ``numpy.vectorize``, bound methods and ``__wrapped__`` chains (``functools.wraps``,
    ``lru_cache``), it is a function whose code lives under the ``companion`` package
    directory (closures built by companion code included), a class defined in
    ``companion``, or an instance of one.  A function the learner defined counts as the
    learner's even if it calls companion code inside; ``None`` is returned for it.
    """
    obj, seen = fn, set()
    while id(obj) not in seen:
        seen.add(id(obj))
        if isinstance(obj, functools.partial):
            obj = obj.func
        elif isinstance(obj, np.vectorize):
            obj = obj.pyfunc
        elif inspect.ismethod(obj):
            if _is_companion_module(getattr(type(obj.__self__), "__module__", None)) and not inspect.isclass(
                obj.__self__
            ):
                return _qualified(obj.__func__)
            obj = obj.__func__
        elif getattr(obj, "__wrapped__", None) is not None:
            code = getattr(obj, "__code__", None)
            if code is not None and _in_package(code.co_filename):
                return _qualified(obj)
            obj = obj.__wrapped__
        else:
            break
    code = getattr(obj, "__code__", None)
    if code is not None:
        return _qualified(obj) if _in_package(code.co_filename) else None
    if inspect.isclass(obj):
        return _qualified(obj) if _is_companion_module(obj.__module__) else None
    if _is_companion_module(getattr(type(obj), "__module__", None)):
        return f"an instance of {_qualified(type(obj))}"
    return None


# --------------------------------------------------------------------------------------
# Time limits
# --------------------------------------------------------------------------------------
class TimeLimitExceeded(BaseException):
    """Raised inside the learner's code when a case runs past its time limit.

    It derives from ``BaseException`` (like ``KeyboardInterrupt``), so a learner's
    ``except Exception:`` cannot swallow it.
    """


def default_time_limit() -> float | None:
    """Seconds per case: ``$COMPANION_TIME_LIMIT`` if set, else :data:`DEFAULT_TIME_LIMIT`.

    ``0``, ``off`` or ``none`` in the environment variable turn the limit off (``None``).
    A value that is not a number is ignored.
    """
    env = os.environ.get(TIME_LIMIT_ENV, "").strip().lower()
    if env in ("0", "off", "none", "inf"):
        return None
    if env:
        try:
            value = float(env)
        except ValueError:
            return DEFAULT_TIME_LIMIT
        return value if value > 0 and math.isfinite(value) else None
    return DEFAULT_TIME_LIMIT


def _resolve_limit(time_limit: float | None) -> float | None:
    if time_limit is None:
        return default_time_limit()
    if isinstance(time_limit, bool) or not isinstance(time_limit, (int, float)):
        raise TypeError(f"time_limit must be a number of seconds or None, got {type(time_limit).__name__}")
    return float(time_limit) if time_limit > 0 and math.isfinite(time_limit) else None


_REPEAT_S = 0.1  # after the limit, keep interrupting every 0.1 s (a learner's bare `except:` may swallow one)
_local = threading.local()


def _set_async_exc(thread_id: int, exc: type[BaseException] | None) -> None:
    """CPython: raise ``exc`` in another thread at its next bytecode (``None`` cancels a pending one)."""
    arg = ctypes.py_object(exc) if exc is not None else ctypes.c_void_p(0)
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), arg)


_HAS_ASYNC_EXC = sys.implementation.name == "cpython" and hasattr(ctypes, "pythonapi")


class _Deadline:
    """Interrupt the code inside the ``with`` block after ``seconds``.

    * Main thread with ``signal.setitimer`` (Linux, macOS; a Jupyter kernel runs cells
      there): a ``SIGALRM`` handler raises :class:`TimeLimitExceeded`.  This also wakes
      ``time.sleep`` and other blocking calls; a single long call into compiled code
      (one huge matrix product) is interrupted when it returns.
    * Elsewhere (another thread, Windows): a watcher thread asks CPython to raise the
      exception in the checked thread at its next bytecode; a blocking call
      (``time.sleep``) is interrupted only when it returns.
    * Neither available (not CPython): no limit; the time taken is still reported.

    A ``Ctrl-C`` (``KeyboardInterrupt``) is never caught and passes straight through.
    Nested deadlines do nothing: the outermost one applies.
    """

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.mode = "none"
        self._armed = False

    def __enter__(self) -> _Deadline:
        if self.seconds is None or getattr(_local, "active", False):
            return self
        self._armed = True
        if hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread():
            try:
                self._old_handler = signal.signal(signal.SIGALRM, self._on_alarm)
            except (ValueError, OSError):  # e.g. an embedded interpreter that forbids it
                pass
            else:
                self._t0 = time.monotonic()
                self._old_timer = signal.setitimer(signal.ITIMER_REAL, self.seconds, _REPEAT_S)
                self.mode = "signal"
        if self.mode == "none" and _HAS_ASYNC_EXC:
            self._tid = threading.get_ident()
            self._lock = threading.Lock()
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._watch, name="companion-time-limit", daemon=True)
            self.mode = "thread"
            self._thread.start()
        _local.active = self.mode != "none"
        return self

    def _on_alarm(self, signum: int, frame: Any) -> None:
        if self._armed:
            raise TimeLimitExceeded

    def _watch(self) -> None:
        if self._stop.wait(self.seconds):
            return
        while True:
            with self._lock:
                if not self._armed:
                    return
                _set_async_exc(self._tid, TimeLimitExceeded)
            if self._stop.wait(_REPEAT_S):
                return

    def __exit__(self, *exc: Any) -> None:
        if self.mode == "none":
            return
        try:
            if self.mode == "thread":
                with self._lock:
                    self._armed = False
                    _set_async_exc(self._tid, None)  # one sent but not yet raised is dropped
                self._stop.set()
            else:
                self._armed = False
        finally:
            if self.mode == "signal":
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, self._old_handler)
                delay, interval = self._old_timer
                if delay > 0:  # someone else's timer was running: give it back what is left
                    left = max(delay - (time.monotonic() - self._t0), 1e-3)
                    signal.setitimer(signal.ITIMER_REAL, left, interval)
            _local.active = False


class _Quiet:
    """Silence NumPy floating-point warnings while learner code runs (they would go to stderr)."""

    def __enter__(self) -> None:
        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore")
        self._e = np.errstate(all="ignore")
        self._e.__enter__()

    def __exit__(self, *exc: Any) -> None:
        self._e.__exit__(*exc)
        self._w.__exit__(*exc)


@dataclass
class Outcome:
    """What one protected call of learner code gave.

    Exactly one of ``value`` (it returned), ``error`` (it raised), ``timed_out`` or
    ``not_implemented`` (it raised ``NotImplementedError``: still the stub) describes it;
    ``seconds`` is how long it ran.
    """

    value: Any = None
    error: Exception | None = None
    seconds: float = 0.0
    timed_out: bool = False
    not_implemented: bool = False

    @property
    def ok(self) -> bool:
        """It returned (whatever the value)."""
        return self.error is None and not self.timed_out and not self.not_implemented


def _protected(thunk: Callable[[], Any], limit: float | None) -> Outcome:
    start = time.perf_counter()
    try:
        with _Quiet(), _Deadline(limit):
            value = thunk()
    except TimeLimitExceeded:
        return Outcome(seconds=time.perf_counter() - start, timed_out=True)
    except NotImplementedError:
        return Outcome(seconds=time.perf_counter() - start, not_implemented=True)
    except Exception as exc:  # the learner's bug: described by the caller, never re-raised
        return Outcome(error=exc, seconds=time.perf_counter() - start)
    return Outcome(value=value, seconds=time.perf_counter() - start)


def call_protected(fn: Callable, args: Sequence = (), kwargs: dict[str, Any] | None = None,
                   time_limit: float | None = None) -> Outcome:
    """Call learner code the way :func:`run` does: time limit, warnings silenced, exceptions caught.

    ``time_limit`` is in seconds (``None``: :func:`default_time_limit`).  Only
    ``KeyboardInterrupt`` (and other non-``Exception`` errors) propagate.
    """
    kwargs = kwargs or {}
    return _protected(lambda: fn(*args, **kwargs), _resolve_limit(time_limit))


# --------------------------------------------------------------------------------------
# Exceptions
# --------------------------------------------------------------------------------------
def _learner_frame(exc: BaseException) -> traceback.FrameSummary | None:
    """The last frame of the traceback that is the learner's code (not numpy, not companion)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not _is_library(f.filename)]
    return frames[-1] if frames else None


def exception_lines(exc: BaseException, where: str, who: str = "It") -> list[str]:
    """``"It raised ValueError on case 1 of 5 (...): message"`` and the learner's line that raised it."""
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if len(msg) > 160:
        msg = msg[:157] + "..."
    lines = [f"{who} raised {type(exc).__name__} on {where}" + (f": {msg}" if msg else ".")]
    frame = _learner_frame(exc)
    if frame is not None:
        text = (frame.line or linecache.getline(frame.filename, frame.lineno or 0)).strip()
        at = f"  in {frame.name}, line {frame.lineno}"
        lines.append(f"{at}: {text}" if text else at)
    return lines


_exception_lines = exception_lines  # the old private name


def _raised_at_call(exc: BaseException) -> bool:
    """The exception came from the call itself (no frame of the called code in the traceback)."""
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and os.path.abspath(frames[-1].filename) == os.path.abspath(__file__)


def _describe_callable(fn: Any) -> str:
    name = getattr(fn, "__name__", None) or type(fn).__name__
    try:
        return f"{name}{inspect.signature(fn)}"
    except (TypeError, ValueError):
        return name


def _signature_mismatch(fn: Callable, case: Case) -> str | None:
    """Why ``fn(*case.args, **case.kwargs)`` cannot bind, or ``None`` (also when the signature is unknown)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    try:
        sig.bind(*case.args, **case.kwargs)
    except TypeError as exc:
        return str(exc)
    return None


# --------------------------------------------------------------------------------------
# Loops the exercise forbids
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LoopFree:
    """Require that the learner's code does no Python loop over one size (the batch, time).

    After every case has passed, the learner's function runs once on ``probe(sizes[0])``
    and once on ``probe(sizes[1])``, two valid inputs whose size ``symbol`` differs.  The checker counts the Python lines executed (and calls made) in the
    learner's own code -- never in numpy or companion.  A vectorised solution executes
    the same number for both sizes (a loop over ``ceil(log2 T)`` rounds adds a handful);
    a ``for``/``while`` loop, a comprehension, ``map``/``np.vectorize`` of a Python
    function or a recursion per element adds about one line per element.  More than
    ``(sizes[1] - sizes[0]) / 2`` extra lines fails.  This judges behaviour, so it works
    for lambdas and for code whose source is not available.
    """

    over: str
    symbol: str
    probe: Callable[[int], Case]
    sizes: tuple[int, int]
    advice: str = ""


def _count_learner_lines(fn: Callable, case: Case, call: Callable, limit: float | None) -> tuple[int, Outcome]:
    count = 0

    def local(frame: Any, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "line":
            count += 1
        return local

    def on_call(frame: Any, event: str, arg: Any) -> Any:
        nonlocal count
        if _is_library(frame.f_code.co_filename):
            return None
        count += 1
        return local

    old = sys.gettrace()
    sys.settrace(on_call)
    try:
        outcome = _protected(lambda: call(fn, case), limit)
    finally:
        sys.settrace(old)
    return count, outcome


def _loop_verdict(ex: Exercise, learner: Callable, call: Callable, limit: float | None) -> Feedback | None:
    rule = ex.loop_free
    counts = []
    for size in rule.sizes:
        case = rule.probe(size)
        where = f"the extra case {case.label} (it checks for a Python loop over {rule.over})"
        n, outcome = _count_learner_lines(learner, case, call, limit)
        if outcome.timed_out:
            return fb.timed_out(ex.name, where, outcome.seconds, limit or 0.0, _TIMEOUT_HINT)
        if outcome.error is not None:
            return fb.failed(ex.name, *exception_lines(outcome.error, where))
        if not outcome.ok:
            return None
        counts.append(n)
    growth = counts[1] - counts[0]
    if growth <= (rule.sizes[1] - rule.sizes[0]) / 2:
        return None
    s0, s1 = rule.sizes
    return fb.failed(
        ex.name,
        f"Its values are right, but it loops over {rule.over} in Python: with {rule.symbol}={s1} your code "
        f"executed {growth} more Python lines than with {rule.symbol}={s0} (a loop-free version executes about "
        "the same number whatever the size).",
        f"The exercise asks for no Python loop over {rule.over} (no `for`/`while`, comprehension or per-element "
        "function call)." + (f" Hint: {rule.advice}" if rule.advice else ""),
    )


# --------------------------------------------------------------------------------------
# The runner
# --------------------------------------------------------------------------------------
@dataclass
class Exercise:
    """Everything a checker needs besides the cases.

    Parameters
    ----------
    name : str
        The learner's function name (used in every message).
    signature : str
        How the checker calls it, e.g. ``"rnn_step_forward(x, h_prev, Wx, Wh, b)"``.
    returns : Output
        What it must return.
    variants : sequence of Variant
        Known mistakes to recognise.
    hints : sequence of callables ``(case, got, problem) -> str | None``
        Property-based hints, tried when no variant matches.
    exception_hint : callable ``(exc, case) -> str | None``
        Extra advice for an exception (e.g. a matmul shape error).
    requirements : sequence of callables ``(case, got) -> str | None``
        Promises of the exercise text checked on every case once its values are right
        (e.g. "a new dict of new arrays"); a returned sentence fails the check.
    loop_free : LoopFree, optional
        "Without a Python loop over ...", checked after all cases passed.
    diagnose : callable ``(case, got, problem, ask) -> list of str``, optional
        Extra explanation of a wrong value (which gate, which draw) when no known
        mistake (variant or hint) explains it.  ``ask(case)`` runs
        the learner's function on another (probe) input under the same protection and
        returns what it returned, or ``None`` if it raised or ran out of time.
    """

    name: str
    signature: str
    returns: Output
    variants: Sequence[Variant] = ()
    hints: Sequence[Callable[[Case, Any, Problem], str | None]] = ()
    exception_hint: Callable[[BaseException, Case], str | None] | None = None
    requirements: Sequence[Callable[[Case, Any], str | None]] = ()
    loop_free: LoopFree | None = None
    diagnose: Callable[[Case, Any, Problem, Callable[[Case], Any]], Sequence[str]] | None = None

    @property
    def arg_names(self) -> list[str]:
        inside = self.signature[self.signature.index("(") + 1 : self.signature.rindex(")")]
        return [a.split("=")[0].strip() for a in inside.split(",") if a.strip()]


def _call(fn: Callable, case: Case) -> Any:
    return fn(*case.args, **case.kwargs)


def _variant_hint(ex: Exercise, case: Case, got: Any, problem: Problem) -> str | None:
    """The hint of the first known mistake that reproduces the learner's output.

    A variant that reproduces the WHOLE output wins; otherwise one that reproduces the
    part found wrong (e.g. dWh) and differs from the reference there.
    """
    leaf = problem.leaf
    if leaf is None:
        return None
    try:
        mine = _part(got, problem.key)
        ref = _part(case.expected, problem.key)
    except Exception:
        return None
    outputs = []
    for v in ex.variants:
        try:
            with _Quiet():
                outputs.append((v, v.fn(case)))
        except Exception:
            continue
    for v, wrong in outputs:
        if ex.returns.same(got, wrong) and not ex.returns.same(wrong, case.expected):
            return v.hint
    for v, wrong in outputs:
        try:
            part = _part(wrong, problem.key)
        except Exception:
            continue
        if not leaf.same(part, ref) and leaf.same(mine, part):
            return v.hint
    for h in ex.hints:
        try:
            with _Quiet():
                text = h(case, got, problem)
        except Exception:
            text = None
        if text:
            return text
    return None


def _diagnosis(ex: Exercise, learner: Callable, call: Callable, case: Case, got: Any, problem: Problem,
               limit: float | None) -> list[str]:
    if ex.diagnose is None or problem.kind != "values":
        return []

    def ask(probe: Case) -> Any:
        outcome = _protected(lambda: call(learner, probe), limit)
        return outcome.value if outcome.ok else None

    try:
        with _Quiet():
            return [line for line in ex.diagnose(case, got, problem, ask) if line]
    except Exception:  # a diagnosis is a bonus: never let it hide the verdict
        return []


_TIMEOUT_HINT = (
    "Hint: look for a loop that never ends (a `while` whose condition never changes) or for work that grows far "
    "faster than the input (the cases are small). To allow more time, pass time_limit=<seconds> to the check."
)


def _slow_note(timings: list[tuple[float, str]], limit: float | None) -> str:
    if not timings:
        return ""
    seconds, where = max(timings)
    threshold = SLOW_SECONDS if limit is None else min(SLOW_SECONDS, limit / 2)
    if seconds <= threshold:
        return ""
    return (
        f"Note: it is slow: {where} took {seconds:.1f} s, where the reference needs milliseconds. On real data "
        "(thousands of steps, large batches) this will hurt: look for Python loops over array elements."
    )


def run(
    ex: Exercise,
    learner: Any,
    cases: Sequence[Case],
    call: Callable[[Callable, Case], Any] = _call,
    *,
    time_limit: float | None = None,
    record: bool = True,
) -> Feedback:
    """Check ``learner`` on ``cases``; never raises on the learner's mistakes.

    Parameters
    ----------
    ex : Exercise
    learner : callable
        The learner's function.
    cases : sequence of Case
    call : callable ``(fn, case) -> result``
        How to call it (default ``fn(*case.args, **case.kwargs)``).
    time_limit : float, optional
        Seconds each case may run (default :func:`default_time_limit`); ``0`` or
        ``inf``: no limit.  How the limit is enforced, and where it cannot be, is
        described in the module's docstring.  ``KeyboardInterrupt`` (Ctrl-C) always
        propagates.
    record : bool
        Record a pass in the learner's progress file (``companion.exercises.progress``).

    Returns
    -------
    Feedback
        ``refused`` if ``learner`` is the course's own code (:func:`reference_origin`),
        ``timed_out`` if a case ran past the limit, else as before: ``passed``,
        ``not_implemented``, ``failed`` or ``unusable``.
    """
    if not callable(learner):
        return fb.unusable(
            ex.name,
            f"Pass your function itself, e.g. check_{ex.name}({ex.name}), not {_type_name(learner)}.",
        )
    origin = reference_origin(learner)
    if origin is not None:
        return fb.refused(ex.name, origin)
    limit = _resolve_limit(time_limit)
    n = len(cases)
    timings: list[tuple[float, str]] = []
    for i, case in enumerate(cases):
        where = f"case {i + 1} of {n} ({case.label})"
        if call is _call:
            mismatch = _signature_mismatch(learner, case)
            if mismatch is not None:
                return fb.failed(
                    ex.name,
                    f"It cannot be called the way the checker calls it on {where}: {mismatch}.",
                    f"The checker calls {ex.signature}; your function is {_describe_callable(learner)}.",
                    "Hint: give your function exactly the parameters of the exercise, in that order.",
                )
        before = _snapshot((case.args, case.kwargs))
        outcome = _protected(lambda: call(learner, case), limit)
        if outcome.timed_out:
            return fb.timed_out(ex.name, where, outcome.seconds, limit or 0.0, _TIMEOUT_HINT)
        if outcome.not_implemented:
            return fb.not_implemented(ex.name)
        if outcome.error is not None:
            exc = outcome.error
            lines = exception_lines(exc, where)
            hint = None
            if isinstance(exc, TypeError) and _raised_at_call(exc):
                hint = f"The checker calls {ex.signature}: check your function's parameters."
            elif ex.exception_hint is not None:
                try:
                    hint = ex.exception_hint(exc, case)
                except Exception:
                    hint = None
            return fb.failed(ex.name, *lines, f"Hint: {hint}" if hint else "")
        got = outcome.value
        timings.append((outcome.seconds, where))
        if got is None:
            return fb.failed(
                ex.name,
                f"It returned None on {where}: did you forget the `return` statement?",
                f"It must return {ex.returns.name}.",
            )
        try:
            problem = ex.returns.check(got, case.expected, case)
        except Exception as exc:  # a structure the checks did not foresee
            problem = Problem("type", (), [f"Its result could not be read ({type(exc).__name__}): {_type_name(got)}."])
        changed = _first_change(before, (case.args, case.kwargs), "")
        if problem is not None and problem.kind in ("type", "shape"):
            hint = _variant_hint(ex, case, got, problem) if problem.kind == "shape" else None
            return fb.failed(ex.name, f"On {where}:", *problem.lines, f"Hint: {hint}" if hint else "")
        if changed is not None:
            path, at = changed
            arg = _arg_path(ex, case, path)
            return fb.failed(
                ex.name,
                f"It modified its input {arg} in place on {where} (first change at {at}).",
                "Do not change the arguments: build new arrays (e.g. `a = a + 1`, not `a += 1` or `a[...] = ...`).",
            )
        if problem is not None:
            hint = _variant_hint(ex, case, got, problem)
            extra = _diagnosis(ex, learner, call, case, got, problem, limit) if hint is None else []
            return fb.failed(ex.name, f"On {where}:", *problem.lines, *extra, f"Hint: {hint}" if hint else "")
        for requirement in ex.requirements:
            try:
                message = requirement(case, got)
            except Exception:
                message = None
            if message:
                return fb.failed(ex.name, f"On {where}:", message)
    if ex.loop_free is not None:
        verdict = _loop_verdict(ex, learner, call, limit)
        if verdict is not None:
            return verdict
    verdict = fb.passed(ex.name, n, [c.label for c in cases], tuple(filter(None, [_slow_note(timings, limit)])))
    if record:
        from companion.exercises.progress import record as record_pass  # here: progress imports the checkers

        verdict = fb.with_notes(verdict, record_pass(ex.name) or "")
    return verdict


def _arg_path(ex: Exercise, case: Case, path: str) -> str:
    """Turn '[0][1][2]' (args index 1, then inside) into 'h_prev' or 'cache[2]'."""
    parts = path.split("]")
    try:
        group = int(parts[0].lstrip("["))
        inner = parts[1].lstrip("[")
        rest = "]".join(parts[2:])
        if group == 0:
            names = ex.arg_names
            idx = int(inner)
            name = names[idx] if idx < len(names) else f"argument {idx + 1}"
        else:
            name = inner.strip("'\"")
        return f"`{name}{rest}`"
    except (ValueError, IndexError):
        return "argument"
