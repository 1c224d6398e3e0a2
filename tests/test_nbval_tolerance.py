"""The opt-in numeric tolerance of book/conftest.py: what it absorbs, and that a changed result still fails."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest

_SPEC = importlib.util.spec_from_file_location("book_conftest", Path(__file__).resolve().parents[1] / "book" / "conftest.py")
tol = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(tol)


@pytest.mark.parametrize(
    ("ref", "test"),
    [
        ("val loss 1.6712 after 500 steps", "val loss 1.6790 after 500 steps"),  # 0.47 %
        ("grad 3.4e-07, 0.72", "grad 3.5e-07, 0.71"),  # exponent and decimal, 2.9 % and 1.4 %
        ("MSE  9.999 | ok", "MSE 10.001 | ok"),  # the column width changes by one digit
        ("-0.000", "0.000"),
        ("[+0.4219, -0.1489]", "[+0.4220, -0.1489]"),
    ],
)
def test_absorbs_mild_drift(ref: str, test: str) -> None:
    assert tol.texts_match(ref, test, 0.03)
    assert tol.reconcile(ref, test, 0.03, []) == (ref, ref)


@pytest.mark.parametrize(
    ("ref", "test", "why"),
    [
        ("val loss 1.6712", "val loss 1.9100", "a changed result (14 %)"),
        ("diverged at step 317", "diverged at step 318", "integers are exact"),
        ("loss 0.25", "loss inf", "a word where a number was"),
        ("loss nan", "loss 0.25", "a number where a word was"),
        ("1.5 1.6", "1.5 1.6 1.7", "the count of numbers"),
        ("best: LSTM 0.0006", "best: GRU 0.0006", "words around the numbers"),
        ("a 0.5\nb 0.6", "a 0.5 b 0.6", "line breaks are layout"),
        ("9 wrong", "9.0 wrong", "an integer is not a float"),
    ],
)
def test_still_fails_on_real_changes(ref: str, test: str, why: str) -> None:
    assert not tol.texts_match(ref, test, 0.03), why
    assert tol.reconcile(ref, test, 0.03, []) == (ref, test), why


def test_tolerance_is_relative_to_the_larger_magnitude() -> None:
    assert tol.numbers_close("1.00", "1.03", 0.03)
    assert not tol.numbers_close("1.00", "1.04", 0.03)
    assert not tol.numbers_close("0.0", "1e-9", 0.03)  # no absolute tolerance: zero stays zero


def test_masks_apply_to_both_texts_and_nothing_else() -> None:
    ref, test = tol.reconcile("non-finite at step 19, loss 2.5", "non-finite at step 23, loss 2.5", None,
                              [r"step \d+"])
    assert ref == test == "non-finite at <masked>, loss 2.5"
    ref, test = tol.reconcile("step 19, loss 2.5", "step 23, loss 2.6", None, [r"step \d+"])
    assert ref != test  # the unmasked number still compares exactly


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({"nbval": {"rtol": 0.06}}, "rtol must be"),
        ({"nbval": {"rtol": 0}}, "rtol must be"),
        ({"nbval": {"rtol": True}}, "rtol must be"),
        ({"nbval": {"rtol": "0.01"}}, "rtol must be"),
        ({"nbval": {"atol": 1e-3}}, "unknown nbval cell option"),
        ({"nbval": {"mask": "step"}}, "mask must be a list"),
        ({"nbval": {"mask": [""]}}, "mask must be a list"),
        ({"nbval": 0.01}, "must be a mapping"),
    ],
)
def test_bad_options_are_refused(metadata: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        tol.cell_options(metadata)


def test_no_options_means_exact() -> None:
    assert tol.cell_options({}) == (None, [])
    assert tol.cell_options({"nbval": {"rtol": 0.05, "mask": ["x"]}}) == (0.05, ["x"])


def _stream(text: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_output("stream", name="stdout", text=text)


def _result(text: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_output("execute_result", data={"text/plain": text}, execution_count=1)


def test_outputs_are_reconciled_field_by_field() -> None:
    ref = [_stream("loss 1.000\n"), _stream("acc 0.900\n"), _result("0.5")]
    test = [_stream("loss 1.010\nacc 0.905\n"), _result("0.501")]  # streams arrive split differently
    new_test, new_ref = tol.reconcile_outputs(test, ref, 0.02, [])
    assert [o.get("text") for o in new_test] == [o.get("text") for o in new_ref]
    assert new_test[1]["data"]["text/plain"] == "0.5"
    assert test[0]["text"] == "loss 1.010\nacc 0.905\n"  # the inputs are not modified


def test_a_different_set_of_outputs_is_left_to_nbval() -> None:
    ref, test = [_stream("a 1.0\n")], [_stream("a 1.0\n"), _result("x")]
    new_test, new_ref = tol.reconcile_outputs(test, ref, 0.02, [])
    assert len(new_test) == 2 and len(new_ref) == 1
