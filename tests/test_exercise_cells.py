"""A check cell run without its stub never says "passed", and no notebook cell takes a stub's name.

For every notebook under ``book/`` (read as JSON, no kernel): execute its FIRST code cell (imports and
seeding, IPython ``%``/``!`` lines skipped) in a fresh namespace, with the working directory and
``COMPANION_DATA`` the notebook tests use, then each check cell (a code cell that is exactly
``check_<name>(<name>)``) -- never the stub cells.  The verdict must be the reference refusal ("this is the
reference implementation, not yours") or "not implemented yet", or the check must raise ``NameError`` for the
stub's name: a learner who runs the check before writing the stub must never read "passed".

The second test is the notebook convention behind it: no code cell other than the stub binds the stub's name
(``from companion.numpy.rnn import rnn_forward`` in a demo cell is overwritten by the stub, and the check would
grade the course's own code).  Import the module instead (``import companion.numpy.rnn as rnn_ref``).
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import random
import re
import warnings
from pathlib import Path

import matplotlib
import numpy as np
import pytest

from companion.exercises import Feedback

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))
SHARED_DATA = Path(os.environ.get("COMPANION_DATA", ROOT.parent / "shared" / "data"))
CHECK_CELL = re.compile(r"check_\w+\((\w+)\)")


def _code_cells(path: Path) -> list[tuple[int, str]]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return [(i, "".join(c["source"])) for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"]


def _without_magics(source: str) -> str:
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def _check_cells() -> list[tuple[Path, int, str, str]]:
    out = []
    for path in NOTEBOOKS:
        for index, source in _code_cells(path):
            m = CHECK_CELL.fullmatch(source.strip())
            if m:
                out.append((path, index, source.strip(), m.group(1)))
    return out


CHECK_CELLS = _check_cells()


@pytest.fixture(autouse=True)
def _keep_global_state(tmp_path, monkeypatch):
    """The first cells seed generators, set torch's dtype and threads: give every later test its state back."""
    import torch

    monkeypatch.setenv("COMPANION_CACHE", str(tmp_path))  # a pass (there should be none) stays private
    monkeypatch.setenv("COMPANION_DATA", str(SHARED_DATA))
    saved = (
        torch.get_default_dtype(),
        torch.get_num_threads(),
        torch.random.get_rng_state(),
        np.random.get_state(),
        random.getstate(),
        np.geterr(),
        dict(matplotlib.rcParams),
    )
    with warnings.catch_warnings():
        yield
    dtype, threads, torch_rng, np_rng, py_rng, err, rc = saved
    torch.set_default_dtype(dtype)
    torch.set_num_threads(threads)
    torch.random.set_rng_state(torch_rng)
    np.random.set_state(np_rng)
    random.setstate(py_rng)
    np.seterr(**err)
    import matplotlib.pyplot as plt

    plt.close("all")
    matplotlib.rcParams.update(rc)


_NAMESPACES: dict[Path, dict] = {}


def _after_first_cell(path: Path, monkeypatch) -> dict:
    """A fresh namespace in which the notebook's first code cell has run (once per notebook)."""
    if path not in _NAMESPACES:
        index, source = _code_cells(path)[0]
        ns: dict = {"__name__": "__main__"}
        monkeypatch.chdir(BOOK)
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(_without_magics(source), f"{path.name} (cell {index})", "exec"), ns)
        _NAMESPACES[path] = ns
    return _NAMESPACES[path]


@pytest.mark.parametrize(
    ("path", "index", "source", "stub"),
    CHECK_CELLS,
    ids=[f"{p.stem}-cell{i}-{stub}" for p, i, _, stub in CHECK_CELLS],
)
def test_check_cell_without_its_stub_never_passes(path: Path, index: int, source: str, stub: str, monkeypatch) -> None:
    ns = _after_first_cell(path, monkeypatch)
    monkeypatch.chdir(BOOK)
    try:
        verdict = eval(compile(source, f"{path.name} (cell {index})", "eval"), dict(ns))
    except NameError as exc:
        assert exc.name == stub, f"{path.name} cell {index}: `{source}` raised NameError for {exc.name!r}, not the stub"
        return
    assert isinstance(verdict, Feedback), f"{path.name} cell {index}: `{source}` returned {verdict!r}"
    assert verdict.status in ("refused", "not_implemented"), (
        f"{path.name} cell {index}: `{source}` run after the first cell only (stub skipped) says:\n{verdict.text}"
    )


def _bindings(tree: ast.Module) -> list[tuple[str, int, str]]:
    """Every name a cell binds at module level (not inside function or class bodies): (name, line, how)."""
    found = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                name = alias.asname or alias.name.split(".")[0]
                what = f"from {node.module} import {alias.name}" if isinstance(node, ast.ImportFrom) else "import"
                found.append((name, node.lineno, what + (f" as {alias.asname}" if alias.asname else "")))
            return
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.append((node.name, node.lineno, f"def {node.name}"))
            return  # names inside the body are local
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            found.append((node.id, node.lineno, f"{node.id} = ..."))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _is_stub(source: str, name: str) -> bool:
    return bool(re.search(rf"(?m)^def {re.escape(name)}\(", source)) and "NotImplementedError" in source


STUBS_BY_NOTEBOOK = {}
for _p, _i, _s, _stub in CHECK_CELLS:
    STUBS_BY_NOTEBOOK.setdefault(_p, set()).add(_stub)


@pytest.mark.parametrize("path", sorted(STUBS_BY_NOTEBOOK), ids=lambda p: p.stem)
def test_no_cell_but_the_stub_takes_a_stub_name(path: Path) -> None:
    stubs = STUBS_BY_NOTEBOOK[path]
    problems = []
    for index, source in _code_cells(path):
        try:
            tree = ast.parse(_without_magics(source))
        except SyntaxError:
            continue
        for name, line, how in _bindings(tree):
            if name in stubs and not _is_stub(source, name):
                problems.append(f"cell {index}, line {line}: `{how}` takes the stub's name {name!r}")
    assert not problems, (
        f"{path.name}: a demo cell binds the name a stub will take, so re-running it after the stub breaks, and a "
        "check run before the stub grades the course's code. Import the module instead (e.g. "
        "`import companion.numpy.rnn as rnn_ref`, then `rnn_ref.rnn_forward`):\n  " + "\n  ".join(problems)
    )
