"""Input validation shared by every public function of :mod:`companion`.

A wrong shape, dtype or a NaN must stop the computation with a message that names
the argument and the dimension at fault, never broadcast silently into a wrong
answer.  Shapes are written as strings of symbolic dimensions, ``"N T D"``;
a token such as ``4H`` says "four times the size bound to ``H``" (stacked gates).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

__all__ = ["check_array", "check_shapes", "check_int_array", "check_positive", "check_size", "check_rng"]

_TOKEN = re.compile(r"^(\d*)([A-Za-z_]\w*)$|^(\d+)$")


def check_array(name: str, x: Any, *, finite: bool = True, allow_empty: bool = False) -> np.ndarray:
    """Return ``x`` if it is a non-empty, finite, floating-point ``ndarray``.

    Raises
    ------
    TypeError
        If ``x`` is not an ``ndarray`` or its dtype is not floating point.
    ValueError
        If ``x`` is empty or holds NaN/inf (the message gives the first bad index).
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(x).__name__}")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{name} must be a floating-point array (float32 or float64), got dtype {x.dtype}")
    if x.size == 0 and not allow_empty:
        raise ValueError(f"{name} is empty (shape {x.shape}); sequences and batches need at least one element")
    if finite and x.size and not np.all(np.isfinite(x)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(x))[0])
        raise ValueError(f"{name} contains NaN or inf (first at index {bad}: {x[bad]})")
    return x


def check_int_array(name: str, x: Any, *, low: int | None = None, high: int | None = None) -> np.ndarray:
    """Return ``x`` if it is an integer ``ndarray`` with values in ``[low, high)``."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray of integers, got {type(x).__name__}")
    if not np.issubdtype(x.dtype, np.integer):
        raise TypeError(f"{name} must be an integer array (class indices), got dtype {x.dtype}")
    if x.size == 0:
        raise ValueError(f"{name} is empty (shape {x.shape})")
    if low is not None and x.min() < low:
        raise ValueError(f"{name} has value {int(x.min())} below the allowed minimum {low}")
    if high is not None and x.max() >= high:
        raise ValueError(f"{name} has value {int(x.max())} but must be < {high}")
    return x


def check_positive(name: str, value: Any, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a float if it is a finite number > 0 (or >= 0)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    v = float(value)
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {bound}, got {value}")
    return v


def check_size(name: str, value: Any) -> int:
    """Return ``value`` as an int if it is an integer >= 1 (a size, a length, a count)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return int(value)


def check_rng(rng: Any) -> np.random.Generator:
    """Return ``rng`` if it is a ``numpy.random.Generator`` (randomness is always passed explicitly)."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return rng


def _parse(spec: str) -> list[tuple[int, str | None]]:
    parts: list[tuple[int, str | None]] = []
    for tok in spec.split():
        m = _TOKEN.match(tok)
        if m is None:
            raise ValueError(f"bad shape token {tok!r} in {spec!r}")
        if m.group(3) is not None:
            parts.append((int(m.group(3)), None))
        else:
            parts.append((int(m.group(1) or 1), m.group(2)))
    return parts


def check_shapes(**arrays: tuple[np.ndarray, str]) -> dict[str, int]:
    """Check that arrays agree on symbolic dimensions and return the sizes.

    Parameters
    ----------
    **arrays
        ``name=(array, "N T D")`` pairs, checked in the order given.  The first
        array that mentions a dimension binds its size; later ones must agree.

    Returns
    -------
    dict
        Size of every symbolic dimension, e.g. ``{"N": 4, "T": 7, "D": 3}``.

    Raises
    ------
    ValueError
        Wrong number of dimensions, or a size that disagrees with an earlier
        array; the message names both arrays, the axis and both sizes.

    Examples
    --------
    >>> x, h0 = np.zeros((2, 5, 3)), np.zeros((2, 4))
    >>> check_shapes(x=(x, "N T D"), h0=(h0, "N H"))
    {'N': 2, 'T': 5, 'D': 3, 'H': 4}
    """
    sizes: dict[str, int] = {}
    source: dict[str, str] = {}
    for name, (arr, spec) in arrays.items():
        parts = _parse(spec)
        shape = np.shape(arr)
        pretty = "(" + ", ".join(spec.split()) + ")"
        if len(shape) != len(parts):
            raise ValueError(
                f"{name} must have {len(parts)} dimensions {pretty}, got {len(shape)} with shape {tuple(shape)}"
            )
        for axis, ((mult, dim), size) in enumerate(zip(parts, shape)):
            label = f"{mult if mult != 1 else ''}{dim or ''}"
            if dim is None:
                if size != mult:
                    raise ValueError(f"{name} axis {axis} must have size {mult}, got {size} (shape {tuple(shape)})")
                continue
            if size % mult:
                raise ValueError(
                    f"{name} axis {axis} is {label}={size}, which is not a multiple of {mult} (shape {tuple(shape)})"
                )
            if dim in sizes:
                if sizes[dim] * mult != size:
                    raise ValueError(
                        f"{name} axis {axis} should be {label}={sizes[dim] * mult} to match {source[dim]}, "
                        f"got {size} (shape {tuple(shape)})"
                    )
            else:
                sizes[dim] = size // mult
                source[dim] = f"{name} ({dim}={size // mult})"
    return sizes
