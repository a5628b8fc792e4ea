"""Helpers of the gate and registry tests: a tiny simulated dataset and gated copies of the tiny model."""

from __future__ import annotations

import json
import pathlib

import pytest

from tests.helpers import copy_model
from vision.evaluation.gate import compare_models, write_gate
from vision.synth.dataset import write_dataset


@pytest.fixture(scope="session")
def gate_data(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """Eight small simulated scans (half with threats), no raw channels."""
    out = tmp_path_factory.mktemp("gate_data")
    write_dataset(out, "all", 8, seed=2, workers=1, profile="delta140", quiet=True, raw=False)
    return out


def set_threshold(model_dir: pathlib.Path, threshold: float) -> pathlib.Path:
    """Rewrite the card's threshold (1.0 makes a model that never alarms: deliberately worse)."""
    card = json.loads((model_dir / "model.json").read_text())
    card["threshold"] = threshold
    (model_dir / "model.json").write_text(json.dumps(card))
    return model_dir


def gate(candidate: pathlib.Path, baseline: pathlib.Path, data: pathlib.Path) -> dict[str, object]:
    """Run the real comparison and write ``gate.json`` into ``candidate``."""
    verdict = compare_models(candidate, baseline, data, progress=False)
    write_gate(candidate, verdict)
    return verdict


__all__ = ["copy_model", "gate", "gate_data", "set_threshold"]
