"""Re-execute stored notebooks in place, the same way for everyone: ``make execute [NB=book/x.ipynb]``.

Each notebook runs top to bottom in a fresh ``python3`` kernel of the current environment, from ``book/``
(so relative paths resolve as in the built book), with no per-cell timing metadata, so a re-run changes
only what the code prints. A cell that raises stops that notebook and the command fails.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def execute(path: Path, timeout: int) -> float:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        cell.get("metadata", {}).pop("execution", None)  # timings of an earlier run
    start = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    nbformat.write(nb, path)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    args = parser.parse_args(argv)
    for path in args.notebooks:
        if path.suffix != ".ipynb" or not path.is_file():
            print(f"execute: {path} is not a notebook file", file=sys.stderr)
            return 2
        print(f"executing {path} ...", flush=True)
        print(f"  done in {execute(path, args.timeout):.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
