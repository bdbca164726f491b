"""Shared test fixtures: real-data location and hypothesis profiles."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# "ci" is the default: deterministic (derandomized) so CI is reproducible; "dev" explores new examples.
settings.register_profile("ci", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# Under pytest-xdist every worker is a process of its own: torch's intra-op threads (one per core by default) in
# each of them oversubscribe the cores, and OpenMP's spinning threads then slow large-tensor tests tenfold.
if os.environ.get("PYTEST_XDIST_WORKER"):
    import torch

    torch.set_num_threads(1)


def _data_root() -> Path | None:
    env = os.environ.get("SEGLOSSES_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[1].parent / "shared" / "data")
    for path in candidates:
        if path.is_dir():
            return path
    return None


@pytest.fixture(scope="session")
def data_root() -> Path:
    """Root of the real datasets (SEGLOSSES_DATA or ../shared/data); skips the test when absent."""
    root = _data_root()
    if root is None:
        pytest.skip("real data absent: set SEGLOSSES_DATA or place the datasets in ../shared/data")
    return root
