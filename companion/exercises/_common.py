"""Small helpers the chapter checkers share: seeded inputs, the known-wrong building blocks, hints."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from companion.exercises.feedback import Feedback, failed
from companion.exercises.runner import call_protected, exception_lines, reference_origin

__all__ = [
    "generator",
    "normal",
    "copies",
    "sigmoid",
    "matmul_hint",
    "is_matmul_error",
    "broadcast_hint",
    "softmax",
    "log_softmax",
    "own_forward_caches",
]


def generator(name: str) -> np.random.Generator:
    """A generator seeded from the exercise name: the same cases on every run and machine."""
    return np.random.default_rng(sum((i + 1) * ord(ch) for i, ch in enumerate(name)))


def normal(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> np.ndarray:
    """Float64 Gaussian noise of the given shape."""
    return scale * rng.standard_normal(shape)


def copies(*objs: Any) -> tuple:
    """Independent deep copies, so the reference, the learner and the variants never share an input."""
    return tuple(copy.deepcopy(o) for o in objs)


def sigmoid(a: np.ndarray) -> np.ndarray:
    """The logistic function (inputs in the checkers are small, no overflow care needed)."""
    return 1.0 / (1.0 + np.exp(-a))


def log_softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """Stable log-softmax."""
    z = z - z.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """Stable softmax."""
    return np.exp(log_softmax(z, axis=axis))


def is_matmul_error(exc: BaseException) -> bool:
    """True for NumPy's shape error of a matrix product (``@``, ``np.matmul``, ``np.dot``), not for other errors."""
    msg = str(exc)
    return isinstance(exc, ValueError) and (
        msg.startswith("matmul:") or "core dimension" in msg or bool(re.search(r"shapes .* not aligned", msg))
    )


def broadcast_hint(exc: BaseException, case: Any) -> str | None:
    """Advice for an element-wise operation on arrays whose shapes do not broadcast."""
    msg = str(exc)
    if isinstance(exc, ValueError) and "could not be broadcast" in msg:
        return (
            "an element-wise operation (+, -, *, /) met two arrays whose shapes do not fit together. Write each "
            "array's shape next to the line: the trailing axes must be equal or 1."
        )
    return None


def matmul_hint(exc: BaseException, case: Any) -> str | None:
    """Advice for a shape error in a matrix product (the cases use D != H on purpose); broadcasting errors get their own."""
    if is_matmul_error(exc):
        return (
            "a shape mismatch in a matrix product. Write each array's shape next to the line: x (N, D) @ Wx (D, H) "
            "and h_prev (N, H) @ Wh (H, H) both give (N, H). The checker uses D != H, so swapping Wx and Wh, "
            "or transposing one of them, fails here."
        )
    return broadcast_hint(exc, case)


def own_forward_caches(
    name: str,
    forward_name: str,
    forward: Callable,
    check_forward: Callable[..., Feedback],
    arg_sets: Sequence[tuple],
    cache_index: int,
    cache_fields: str,
    time_limit: float | None,
) -> list[Any] | Feedback:
    """The caches of the learner's own forward pass (``forward=`` of a backward checker), or why there are none.

    The forward is first graded by its own checker; then it is called on every case
    under the same protection as any learner code (time limit, exceptions caught), and
    every problem becomes a verdict that names the forward: an exception, a result
    without a cache, ``cache=None``.
    """
    backward = f"check_{name}({name})"
    if reference_origin(forward) is not None:
        return failed(
            name,
            f"The forward= you passed is the course's reference {forward_name} ({reference_origin(forward)}), "
            "not yours.",
            f"Pass your own {forward_name} (run its stub cell after writing it), or call {backward} without "
            "`forward=` to grade your backward on the reference cache.",
        )
    verdict = check_forward(forward, time_limit=time_limit)
    if not verdict.passed:
        return failed(
            name,
            f"Your {forward_name} does not pass its own check yet, so its cache cannot be trusted:",
            *("  " + line for line in verdict.lines),
            f"Fix {forward_name} first, or call {backward} without `forward=` to use the "
            "reference forward pass and its cache.",
        )
    who = f"Your {forward_name} (passed as forward=)"
    caches = []
    for i, args in enumerate(arg_sets):
        where = f"case {i + 1} of {len(arg_sets)}"
        out = call_protected(forward, copies(*args), time_limit=time_limit)
        if out.timed_out:
            return failed(name, f"{who} did not finish {where} within the time limit (stopped after {out.seconds:.1f} s).")
        if out.not_implemented:
            return failed(name, f"{who} raised NotImplementedError on {where}: run its cell after writing it.")
        if out.error is not None:
            return failed(name, *exception_lines(out.error, where, who=who))
        result = out.value
        if not isinstance(result, (tuple, list)) or len(result) <= cache_index:
            return failed(
                name,
                f"{who} returned {type(result).__name__ if result is not None else 'None'} on {where}, so there is no "
                f"cache to take from it: it must return a tuple whose item {cache_index} is the cache.",
            )
        cache = result[cache_index]
        if cache is None:
            return failed(
                name,
                f"{who} returned cache=None on {where}, so {name} would receive nothing to work with "
                f"(that is why unpacking it fails).",
                f"Return what your backward needs as the cache, e.g. {cache_fields}, or call {backward} without "
                "`forward=` to use the reference cache.",
            )
        caches.append(cache)
    return caches
