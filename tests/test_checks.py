"""The shared input validation: every message must name the argument, the axis and both sizes."""

from __future__ import annotations

import numpy as np
import pytest

from companion._checks import check_array, check_int_array, check_positive, check_rng, check_shapes, check_size


def test_check_shapes_binds_and_returns_sizes() -> None:
    x, h0, w = np.zeros((2, 5, 3)), np.zeros((2, 4)), np.zeros((3, 16))
    assert check_shapes(x=(x, "N T D"), h0=(h0, "N H"), Wx=(w, "D 4H")) == {"N": 2, "T": 5, "D": 3, "H": 4}


def test_check_shapes_names_the_conflicting_dimension() -> None:
    with pytest.raises(ValueError, match=r"h0 axis 0 should be N=2 to match x \(N=2\), got 3"):
        check_shapes(x=(np.zeros((2, 5, 3)), "N T D"), h0=(np.zeros((3, 4)), "N H"))


def test_check_shapes_wrong_rank() -> None:
    with pytest.raises(ValueError, match=r"x must have 3 dimensions \(N, T, D\), got 2 with shape \(2, 5\)"):
        check_shapes(x=(np.zeros((2, 5)), "N T D"))


def test_check_shapes_multiple_and_literal() -> None:
    with pytest.raises(ValueError, match="not a multiple of 4"):
        check_shapes(b=(np.zeros(10), "4H"))
    with pytest.raises(ValueError, match="must have size 2"):
        check_shapes(p=(np.zeros((3, 3)), "N 2"))
    with pytest.raises(ValueError, match=r"should be 4H=16"):
        check_shapes(h=(np.zeros((1, 4)), "N H"), b=(np.zeros(12), "4H"))


@pytest.mark.parametrize(
    ("value", "error", "pattern"),
    [
        ([1.0, 2.0], TypeError, "must be a numpy.ndarray, got list"),
        (np.arange(3), TypeError, "floating-point array .* got dtype int64"),
        (np.zeros((0, 3)), ValueError, r"is empty \(shape \(0, 3\)\)"),
        (np.array([[1.0, np.nan]]), ValueError, r"NaN or inf \(first at index \(0, 1\)"),
        (np.array([np.inf]), ValueError, "NaN or inf"),
    ],
)
def test_check_array_rejects(value: object, error: type, pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        check_array("x", value)


def test_check_array_accepts_float32_and_float64() -> None:
    for dtype in (np.float32, np.float64):
        a = np.ones(3, dtype=dtype)
        assert check_array("x", a) is a


def test_check_int_array() -> None:
    assert check_int_array("y", np.array([0, 2]), low=0, high=3).tolist() == [0, 2]
    with pytest.raises(TypeError, match="integer array"):
        check_int_array("y", np.array([0.0]))
    with pytest.raises(ValueError, match="has value 3 but must be < 3"):
        check_int_array("y", np.array([3]), high=3)
    with pytest.raises(ValueError, match="below the allowed minimum 0"):
        check_int_array("y", np.array([-1]), low=0)


def test_check_positive() -> None:
    assert check_positive("lr", 0.1) == 0.1
    assert check_positive("clip", 0, allow_zero=True) == 0.0
    with pytest.raises(ValueError, match=r"lr must be finite and > 0, got 0"):
        check_positive("lr", 0)
    with pytest.raises(TypeError, match="must be a number"):
        check_positive("lr", "0.1")
    with pytest.raises(ValueError):
        check_positive("lr", float("nan"))


def test_check_size_and_rng() -> None:
    assert check_size("hidden_size", np.int64(3)) == 3
    with pytest.raises(TypeError, match="hidden_size must be an int, got float"):
        check_size("hidden_size", 3.0)
    with pytest.raises(TypeError, match="must be an int, got bool"):
        check_size("hidden_size", True)
    with pytest.raises(ValueError, match="hidden_size must be >= 1, got 0"):
        check_size("hidden_size", 0)
    g = np.random.default_rng(0)
    assert check_rng(g) is g
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator, got int"):
        check_rng(0)
