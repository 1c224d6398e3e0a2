"""Input checks for the PyTorch half of the course.

The same promise as :mod:`companion._checks`: a wrong shape or dtype stops the
computation with a message naming the argument, the axis and both sizes, never a
silent broadcast.  Only shapes and dtypes are checked here (cheap); scanning every
tensor for NaN on each forward pass would slow training down for no benefit.
"""

from __future__ import annotations

import torch

__all__ = ["check_tensor", "check_float_tensor", "check_long_tensor", "check_size", "check_choice"]


def check_tensor(name: str, x: object, ndims: tuple[int, ...] | int) -> torch.Tensor:
    """Return ``x`` if it is a ``torch.Tensor`` with one of the allowed numbers of dimensions."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    allowed = (ndims,) if isinstance(ndims, int) else ndims
    if x.dim() not in allowed:
        want = " or ".join(str(n) for n in allowed)
        raise ValueError(f"{name} must have {want} dimensions, got {x.dim()} with shape {tuple(x.shape)}")
    if x.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(x.shape)})")
    return x


def check_float_tensor(
    name: str, x: object, ndims: tuple[int, ...] | int, dtype: torch.dtype | None = None
) -> torch.Tensor:
    """Return ``x`` if it is a floating-point tensor (of ``dtype`` when given)."""
    x = check_tensor(name, x, ndims)
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if dtype is not None and x.dtype != dtype:
        raise TypeError(
            f"{name} has dtype {x.dtype} but the module's parameters are {dtype}; "
            f"convert one of them (e.g. module.to({dtype}) or {name}.to({dtype}))"
        )
    return x


def check_long_tensor(name: str, x: object, ndims: tuple[int, ...] | int, high: int | None = None) -> torch.Tensor:
    """Return ``x`` if it is an integer tensor of class/token indices in ``[0, high)``."""
    x = check_tensor(name, x, ndims)
    if x.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
        raise TypeError(f"{name} must be an integer tensor of token indices (torch.long), got dtype {x.dtype}")
    lo, hi = int(x.min()), int(x.max())
    if lo < 0:
        raise ValueError(f"{name} has value {lo}, but indices must be >= 0")
    if high is not None and hi >= high:
        raise ValueError(f"{name} has value {hi}, but indices must be < {high}")
    return x


def check_size(name: str, x: torch.Tensor, axis: int, expected: int, what: str) -> None:
    """Raise a ``ValueError`` if ``x.shape[axis] != expected``; ``what`` names the expected size."""
    if x.shape[axis] != expected:
        raise ValueError(
            f"{name} axis {axis % x.dim()} should be {what}={expected}, got {x.shape[axis]} (shape {tuple(x.shape)})"
        )


def check_choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(repr(c) for c in choices)}; got {value!r}")
    return value  # type: ignore[return-value]


def check_count(name: str, value: object, *, minimum: int = 1) -> int:
    """Return ``value`` if it is an integer >= ``minimum`` (bools are rejected)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value
