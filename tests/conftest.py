"""Shared fixtures for the unit tests."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")  # plotting tests draw off-screen; notebooks choose their own (inline) backend

# A checker that passes records the learner's progress in the cache folder; tests must not write into the
# developer's own record (the progress tests use a temporary folder of their own).
os.environ["COMPANION_RECORD_PROGRESS"] = "0"

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("COMPANION_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture
def rng() -> np.random.Generator:
    """A freshly seeded generator per test, so tests do not depend on their order."""
    return np.random.default_rng(1234)


@pytest.fixture
def shared_data() -> Path:
    """The folder of real datasets (../shared/data); tests that need it skip cleanly without it."""
    if not (SHARED_DATA / "PROVENANCE.md").is_file():
        if os.environ.get("CI"):  # CI always has ../shared beside the clone: absence is a failure there
            pytest.fail(f"real datasets not found at {SHARED_DATA} (set COMPANION_DATA)")
        pytest.skip(f"real datasets not found at {SHARED_DATA}")
    return SHARED_DATA
