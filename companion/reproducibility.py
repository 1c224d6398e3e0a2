"""Seeding and environment reporting, so every notebook and test is repeatable."""

from __future__ import annotations

import os
import platform
import random

import numpy as np

__all__ = ["seed_everything", "environment_report", "default_rng"]


def seed_everything(seed: int = 0, threads: int = 1) -> np.random.Generator:
    """Seed Python, NumPy and PyTorch and fix the number of CPU threads.

    Parameters
    ----------
    seed : int
        Seed for ``random``, NumPy's legacy global generator and ``torch``.
    threads : int
        CPU threads for PyTorch.  Floating-point sums can depend on how work is
        split across threads, so stored notebook outputs are made with a fixed
        count (1 by default) and are then the same on any number of cores.

    Returns
    -------
    numpy.random.Generator
        A fresh generator seeded with ``seed``: pass it explicitly rather than
        relying on global state.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise ValueError(f"threads must be a positive integer, got {threads!r}")
    random.seed(seed)
    np.random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    try:
        import torch
    except ImportError:  # the NumPy half of the course works without torch
        pass
    else:
        torch.manual_seed(seed)
        torch.set_num_threads(int(threads))
        torch.use_deterministic_algorithms(True)
    return np.random.default_rng(seed)


def default_rng(seed: int | np.random.Generator | None = 0) -> np.random.Generator:
    """Return ``seed`` if it is a Generator, else a new Generator seeded with it."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def environment_report() -> dict[str, str]:
    """Versions of Python and the libraries the course depends on."""
    import matplotlib

    report = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "matplotlib": matplotlib.__version__,
    }
    try:
        import torch

        report["torch"] = torch.__version__.split("+")[0]
        report["torch threads"] = str(torch.get_num_threads())
    except ImportError:
        report["torch"] = "not installed"
    return report
