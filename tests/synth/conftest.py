"""Fixtures of the simulator tests: tiny datasets written once per session."""

from __future__ import annotations

import pathlib

import pytest

from vision.synth.dataset import write_dataset

# The smallest-resolution training profile keeps images around 400-650 px wide.
SMALL_PROFILE = "delta140"


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """Three scans (one per kind), all with threats, written in one process."""
    out = tmp_path_factory.mktemp("synth_a")
    write_dataset(
        out, "all", 3, seed=11, workers=1, profile=SMALL_PROFILE, threat_probability=1.0, quiet=True
    )
    return out
