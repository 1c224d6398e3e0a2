"""Static checks on the stored notebooks: nbval proves they reproduce; these prove they were stored properly.

A notebook that was saved unexecuted, with an error, with stderr noise (which would make nbval flaky) or
without seeding would slip past a plain build; each of those is a defect a reader would notice.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import importlib.util

import pytest

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))
_SPEC = importlib.util.spec_from_file_location("book_conftest", BOOK / "conftest.py")
NBVAL_TOLERANCE = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(NBVAL_TOLERANCE)


def _toc_files() -> set[str]:
    return set(re.findall(r"(?:file|root):\s*(\S+)", (ROOT / "_toc.yml").read_text()))


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def test_there_are_notebooks() -> None:
    assert len(NOTEBOOKS) >= 1


def test_every_toc_entry_exists_and_every_page_is_in_the_toc() -> None:
    toc = _toc_files()
    for entry in toc:
        matches = list(ROOT.glob(entry + ".*"))
        assert matches, f"_toc.yml lists {entry} but no such file exists"
    pages = {str(p.relative_to(ROOT).with_suffix("")) for p in BOOK.glob("*") if p.suffix in {".md", ".ipynb"}}
    missing = pages - toc
    assert not missing, f"pages not in _toc.yml (they would not be built): {sorted(missing)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_executed_in_order(path: Path) -> None:
    cells = _code_cells(_load(path))
    counts = [c["execution_count"] for c in cells if c["source"]]
    assert None not in counts, f"{path.name}: some code cells were never executed"
    assert counts == list(range(1, len(counts) + 1)), f"{path.name}: not executed top to bottom in one run: {counts}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_no_errors_or_stderr(path: Path) -> None:
    for i, cell in enumerate(_code_cells(_load(path))):
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", f"{path.name} code cell {i}: stored error {out.get('ename')}"
            if out["output_type"] == "stream":
                assert out["name"] == "stdout", f"{path.name} code cell {i}: stderr output {''.join(out['text'])[:200]!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_seeded_before_any_randomness(path: Path) -> None:
    cells = _code_cells(_load(path))
    first = "".join(cells[0]["source"]) if cells else ""
    assert "seed_everything(" in first, f"{path.name}: the first code cell must call companion.seed_everything"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_one_title_and_uses_the_python3_kernel(path: Path) -> None:
    nb = _load(path)
    assert nb["metadata"]["kernelspec"]["name"] == "python3", f"{path.name}: kernel must be python3"
    first = nb["cells"][0]
    # An optional MyST label line "(ch-name)=" may precede the title, for {numref} cross-references.
    assert first["cell_type"] == "markdown" and re.match(r"(\([\w-]+\)=\n)?# ", "".join(first["source"])), (
        f"{path.name}: the first cell must be the markdown title"
    )
    titles = [c for c in nb["cells"] if c["cell_type"] == "markdown" and re.search(r"(?m)^# ", "".join(c["source"]))]
    assert len(titles) == 1, f"{path.name}: exactly one H1 title expected, found {len(titles)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_ignored_outputs_still_assert_something(path: Path) -> None:
    for i, cell in enumerate(_code_cells(_load(path))):
        src = "".join(cell["source"])
        if "NBVAL_IGNORE_OUTPUT" in src or "nbval-ignore-output" in cell.get("metadata", {}).get("tags", []):
            assert "assert" in src, f"{path.name} code cell {i}: output ignored by nbval but the cell asserts nothing"
        assert "NBVAL_SKIP" not in src and "nbval-skip" not in cell.get("metadata", {}).get("tags", []), (
            f"{path.name} code cell {i}: skipped cells hide failures"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_tolerances_are_capped_and_masks_are_asserted(path: Path) -> None:
    """The opt-in comparison of book/conftest.py: rtol within its cap, masked values asserted by the cell."""
    for i, cell in enumerate(_code_cells(_load(path))):
        rtol, masks = NBVAL_TOLERANCE.cell_options(cell.get("metadata", {}))  # raises on a bad option
        if masks:
            assert re.search(r"\bassert\b", "".join(cell["source"])), (
                f"{path.name} code cell {i}: masks {masks} but asserts nothing about the masked quantity"
            )


CHAPTERS = [p for p in NOTEBOOKS if p.name != "00_setup.ipynb"]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_has_objectives_summary_and_checked_exercises(path: Path) -> None:
    nb = _load(path)
    markdown = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    code = [("".join(c["source"]), c) for c in _code_cells(nb)]
    assert re.search(r"(?i)learning objectives", markdown), f"{path.name}: no learning objectives"
    assert re.search(r"(?m)^## Summary", markdown), f"{path.name}: no '## Summary' section"
    exercises = re.findall(r"(?m)^:::+\{exercise\}", markdown)
    assert len(exercises) >= 3, f"{path.name}: {len(exercises)} exercises, at least 3 expected"
    checks = [(src, cell) for src, cell in code if re.search(r"(?m)^check_\w+\(\w+\)\s*$", src)]
    assert len(checks) >= 2, f"{path.name}: {len(checks)} graded coding exercises, at least 2 expected"
    for src, cell in checks:
        shown = "".join("".join(o.get("data", {}).get("text/plain", "")) for o in cell["outputs"])
        # The stored verdict is the honest one for the unsolved stub (see book/intro.md).
        assert "not implemented yet" in shown, f"{path.name}: check cell {src.strip()!r} stores {shown[:80]!r}"
    solutions = re.findall(r"(?m)^:::+\{solution\}", markdown)
    assert len(solutions) >= len(exercises), f"{path.name}: {len(exercises)} exercises but {len(solutions)} solutions"
