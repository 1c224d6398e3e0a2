"""Small helpers the chapter checkers share: seeded inputs, the known-wrong building blocks, hints."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

__all__ = ["generator", "normal", "copies", "sigmoid", "matmul_hint", "softmax", "log_softmax"]


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


def matmul_hint(exc: BaseException, case: Any) -> str | None:
    """Advice for a shape error in a matrix product (the cases use D != H on purpose)."""
    msg = str(exc)
    if isinstance(exc, ValueError) and ("matmul" in msg or "shapes" in msg or "aligned" in msg or "broadcast" in msg):
        return (
            "a shape mismatch. Write each array's shape next to the line: x (N, D) @ Wx (D, H) and "
            "h_prev (N, H) @ Wh (H, H) both give (N, H). The checker uses D != H, so swapping Wx and Wh, "
            "or transposing one of them, fails here."
        )
    return None
