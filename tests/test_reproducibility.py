"""seed_everything makes NumPy, Python and torch repeatable and fixes the thread count."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from companion import environment_report, seed_everything
from companion.reproducibility import default_rng


def test_same_seed_same_draws() -> None:
    draws = []
    for _ in range(2):
        rng = seed_everything(7)
        draws.append((rng.normal(size=3).tolist(), random.random(), np.random.rand(), torch.rand(2).tolist()))
    assert draws[0] == draws[1]


def test_threads_are_fixed() -> None:
    before = torch.get_num_threads()
    try:
        seed_everything(0, threads=1)
        assert torch.get_num_threads() == 1
        assert torch.are_deterministic_algorithms_enabled()
    finally:
        torch.set_num_threads(before)
        torch.use_deterministic_algorithms(False)


@pytest.mark.parametrize("bad", [-1, 1.5, "0", True])
def test_bad_seed(bad: object) -> None:
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        seed_everything(bad)  # type: ignore[arg-type]


def test_bad_threads() -> None:
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        seed_everything(0, threads=0)


def test_default_rng_passes_generators_through() -> None:
    g = np.random.default_rng(3)
    assert default_rng(g) is g
    assert default_rng(3).random() == np.random.default_rng(3).random()


def test_environment_report_lists_pinned_libraries() -> None:
    report = environment_report()
    assert report["torch"] == "2.13.0"
    assert {"python", "numpy", "matplotlib"} <= set(report)
