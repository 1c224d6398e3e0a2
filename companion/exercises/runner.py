"""Run a learner's function on seeded cases and explain, in plain words, what is wrong.

The runner never raises on a learner's mistake.  For each case, in order, it

1. calls the function (a ``NotImplementedError`` means "still the stub"; any other
   exception is reported with its type, message and the learner's own line);
2. checks what came back: type (``None``, a tuple of the wrong length, a list
   instead of an array), shape ("looks transposed"), NaN/inf;
3. checks that the inputs were not modified in place;
4. compares the values with the reference and points at the single largest error
   (case, time step, gate or parameter, index, both values) -- nothing more of the
   reference is shown;
5. when the answer is wrong, recomputes a few *known wrong* versions (forgot the bias,
   transposed weight, ...) and, if the learner's output equals one of them, says so.
"""

from __future__ import annotations

import linecache
import os
import sys
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


def fmt(value: float) -> str:
    """Print a number the same way everywhere (6 significant digits)."""
    return f"{float(value):.6g}"


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
        return f"a {type(x).__name__} of {len(x)} values"
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
    """

    name: str
    axes: str | None = None
    dtype: str = "float"
    gradient: bool = False
    rtol: float = 1e-5
    atol: float = 1e-7

    def _shape_text(self, shape: tuple[int, ...]) -> str:
        if self.axes and len(self.axes.split()) == len(shape):
            return f"({', '.join(self.axes.split())}) = {tuple(shape)}"
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
            return Problem("values", key, [f"{self.name} has {len(got)} tokens; expected {len(exp)}."], self)
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
    """A fixed-length tuple, e.g. ``(h_next, cache)``."""

    def __init__(self, *items: Output) -> None:
        self.items = items
        self.name = "(" + ", ".join(i.name for i in items) + ")"

    def check(self, got: Any, exp: Any, case: Case, key: tuple = ()) -> Problem | None:
        n = len(self.items)
        if not isinstance(got, (tuple, list)):
            return Problem("type", key, [f"It returned {_type_name(got)}; expected a tuple of {n} values {self.name}."])
        if len(got) != n:
            return Problem(
                "type",
                key,
                [f"It returned a {type(got).__name__} of {len(got)} values; expected {n} values {self.name}."],
            )
        problems = []
        for i, (item, g, e) in enumerate(zip(self.items, got, exp)):
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
# Exceptions
# --------------------------------------------------------------------------------------
def _is_library(filename: str) -> bool:
    """True for numpy, the standard library and companion itself: not the learner's code."""
    f = os.path.abspath(filename)
    if f.startswith(_PACKAGE_DIR + os.sep) or "site-packages" in f or "dist-packages" in f:
        return True
    stdlib = os.path.join(os.path.abspath(sys.base_prefix), "lib")
    return f.startswith(stdlib + os.sep)


def _learner_frame(exc: BaseException) -> traceback.FrameSummary | None:
    """The last frame of the traceback that is the learner's code (not numpy, not companion)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not _is_library(f.filename)]
    return frames[-1] if frames else None


def _exception_lines(exc: BaseException, where: str) -> list[str]:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if len(msg) > 160:
        msg = msg[:157] + "..."
    lines = [f"It raised {type(exc).__name__} on {where}" + (f": {msg}" if msg else ".")]
    frame = _learner_frame(exc)
    if frame is not None:
        text = (frame.line or linecache.getline(frame.filename, frame.lineno or 0)).strip()
        where = f"  in {frame.name}, line {frame.lineno}"
        lines.append(f"{where}: {text}" if text else where)
    return lines


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
    """

    name: str
    signature: str
    returns: Output
    variants: Sequence[Variant] = ()
    hints: Sequence[Callable[[Case, Any, Problem], str | None]] = ()
    exception_hint: Callable[[BaseException, Case], str | None] | None = None

    @property
    def arg_names(self) -> list[str]:
        inside = self.signature[self.signature.index("(") + 1 : self.signature.rindex(")")]
        return [a.split("=")[0].strip() for a in inside.split(",") if a.strip()]


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


def run(
    ex: Exercise,
    learner: Any,
    cases: Sequence[Case],
    call: Callable[[Callable, Case], Any] = _call,
) -> Feedback:
    """Check ``learner`` on ``cases``; never raises on the learner's mistakes."""
    if not callable(learner):
        return fb.unusable(
            ex.name,
            f"Pass your function itself, e.g. check_{ex.name}({ex.name}), not {_type_name(learner)}.",
        )
    n = len(cases)
    for i, case in enumerate(cases):
        where = f"case {i + 1} of {n} ({case.label})"
        before = _snapshot((case.args, case.kwargs))
        try:
            with _Quiet():
                got = call(learner, case)
        except NotImplementedError:
            return fb.not_implemented(ex.name)
        except Exception as exc:  # the learner's bug: describe it, never re-raise
            lines = _exception_lines(exc, where)
            hint = None
            if isinstance(exc, TypeError) and _learner_frame(exc) is None:
                hint = f"The checker calls {ex.signature}: check your function's parameters."
            elif ex.exception_hint is not None:
                try:
                    hint = ex.exception_hint(exc, case)
                except Exception:
                    hint = None
            return fb.failed(ex.name, *lines, f"Hint: {hint}" if hint else "")
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
            return fb.failed(ex.name, f"On {where}:", *problem.lines, f"Hint: {hint}" if hint else "")
    return fb.passed(ex.name, n, [c.label for c in cases])


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
