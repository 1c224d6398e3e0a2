"""nbval, with an opt-in numeric tolerance per cell.

nbval compares every stored text output with the fresh one, character by character. That stays the rule.
A cell whose printed numbers drift mildly with the CPU's float kernels (a loss after a short training run
at four significant digits) may opt in through its metadata::

    {"nbval": {"rtol": 0.02}}

Then decimal and exponent numbers (``0.4219``, ``3.1e-05``) whose relative difference is at most ``rtol``
compare equal. Everything else stays exact: words (``inf``, ``nan``), the text around the numbers, how many
numbers there are, and integers (step counts, sizes, counts of mistakes). Runs of spaces next to numbers may
differ, so a column whose width changes by one digit still lines up. ``rtol`` is capped at
:data:`MAX_RTOL`: a quantity that needs more is chaotic and must be printed as a bound or a rounded claim.

A cell may also mask a quantity that it asserts itself (``tests/test_notebooks.py`` checks the assert)::

    {"nbval": {"mask": ["after \\d+ steps"]}}

Both the stored and the fresh text have each match replaced by ``<masked>`` before the comparison.
"""

from __future__ import annotations

import re
from typing import Any

MAX_RTOL = 0.05
KNOWN_KEYS = {"rtol", "mask"}

# A number with a decimal point or an exponent is a float (tolerance applies); digits alone are an integer.
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
MASKED = "<masked>"


def is_float_token(token: str) -> bool:
    """``"0.5"``, ``"1e-3"``, ``"2."`` are floats; ``"317"`` is an integer."""
    return any(ch in token for ch in ".eE")


def numbers_close(ref: str, test: str, rtol: float) -> bool:
    """Two number tokens agree: identical, or both floats within ``rtol`` of the larger magnitude."""
    if ref == test:
        return True
    if not (is_float_token(ref) and is_float_token(test)):
        return False
    a, b = float(ref), float(test)
    return abs(a - b) <= rtol * max(abs(a), abs(b))


def _squeeze_spaces(parts: list[str]) -> list[str]:
    return [re.sub(r" +", " ", p) for p in parts]


def texts_match(ref: str, test: str, rtol: float) -> bool:
    """Same text around the numbers (up to runs of spaces), same count of numbers, each pair close."""
    ref_nums, test_nums = NUMBER.findall(ref), NUMBER.findall(test)
    if len(ref_nums) != len(test_nums):
        return False
    if _squeeze_spaces(NUMBER.split(ref)) != _squeeze_spaces(NUMBER.split(test)):
        return False
    return all(numbers_close(r, t, rtol) for r, t in zip(ref_nums, test_nums))


def apply_masks(text: str, masks: list[str]) -> str:
    for pattern in masks:
        text = re.sub(pattern, MASKED, text)
    return text


def cell_options(metadata: dict[str, Any]) -> tuple[float | None, list[str]]:
    """Read and validate ``metadata["nbval"]``; returns (rtol or None, masks)."""
    opts = metadata.get("nbval", {})
    if not isinstance(opts, dict):
        raise ValueError(f"cell metadata 'nbval' must be a mapping, got {opts!r}")
    unknown = set(opts) - KNOWN_KEYS
    if unknown:
        raise ValueError(f"unknown nbval cell option(s) {sorted(unknown)}; known: {sorted(KNOWN_KEYS)}")
    rtol = opts.get("rtol")
    if rtol is not None:
        if isinstance(rtol, bool) or not isinstance(rtol, (int, float)) or not 0 < rtol <= MAX_RTOL:
            raise ValueError(f"nbval rtol must be a number in (0, {MAX_RTOL}], got {rtol!r}: "
                             "a quantity that drifts more than that must be printed as a bound or a rounded claim")
    masks = opts.get("mask", [])
    if not isinstance(masks, list) or not all(isinstance(m, str) and m for m in masks):
        raise ValueError(f"nbval mask must be a list of non-empty regular expressions, got {masks!r}")
    for m in masks:
        re.compile(m)
    return (float(rtol) if rtol is not None else None), masks


def reconcile(ref: str, test: str, rtol: float | None, masks: list[str]) -> tuple[str, str]:
    """The pair of texts nbval then compares exactly: masked, and the fresh one replaced by the stored one
    when the two agree within the tolerance (so a real difference still shows nbval's normal diff)."""
    ref, test = apply_masks(ref, masks), apply_masks(test, masks)
    if rtol is not None and ref != test and texts_match(ref, test, rtol):
        test = ref
    return ref, test


def _text_fields(output: Any) -> list[tuple[Any, str]]:
    """(container, key) of every string nbval compares in one output."""
    fields: list[tuple[Any, str]] = []
    if output.get("output_type") == "stream":
        fields.append((output, "text"))
    for key, value in output.get("data", {}).items():
        if isinstance(value, str) and key.startswith("text/"):
            fields.append((output["data"], key))
    return fields


def reconcile_outputs(test: list, ref: list, rtol: float | None, masks: list[str]) -> tuple[list, list]:
    """Apply :func:`reconcile` to corresponding text fields of the fresh and stored outputs (copies)."""
    import copy

    from nbval.plugin import coalesce_streams

    test, ref = coalesce_streams(copy.deepcopy(list(test))), coalesce_streams(copy.deepcopy(list(ref)))
    if len(test) != len(ref):
        return test, ref  # a different set of outputs: nbval reports it
    for t_out, r_out in zip(test, ref):
        if t_out.get("output_type") != r_out.get("output_type"):
            continue
        r_fields = dict((key, box) for box, key in _text_fields(r_out))
        for t_box, key in _text_fields(t_out):
            if key in r_fields:
                r_fields[key][key], t_box[key] = reconcile(r_fields[key][key], t_box[key], rtol, masks)
    return test, ref


def pytest_collection_modifyitems(items: list) -> None:
    """Wrap nbval's comparison for the cells that opt in; all other cells compare exactly."""
    for item in items:
        if type(item).__name__ != "IPyNbCell":
            continue
        rtol, masks = cell_options(item.cell.get("metadata", {}))
        if rtol is None and not masks:
            continue
        exact = item.compare_outputs

        def tolerant(test, ref, skip_compare=None, _exact=exact, _rtol=rtol, _masks=masks):
            test, ref = reconcile_outputs(test, ref, _rtol, _masks)
            return _exact(test, ref, skip_compare)

        item.compare_outputs = tolerant
