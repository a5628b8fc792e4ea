"""Site calibration's arithmetic (vision.calibration): exact intervals, proposals, drift, station files."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

from vision.calibration import (
    CalibrationError,
    StationEntry,
    clopper_pearson,
    detection_at,
    drift,
    propose,
    read_station_file,
    write_station_file,
)


def test_clopper_pearson_matches_the_exact_interval() -> None:
    # reference values of the exact binomial interval (e.g. R's binom.test)
    low, high = clopper_pearson(5, 100)
    assert low == pytest.approx(0.01643, abs=2e-5) and high == pytest.approx(0.11283, abs=2e-5)
    # none in 80: up to 1 - 0.025 ** (1 / 80)
    assert clopper_pearson(0, 80) == (0.0, pytest.approx(1 - 0.025 ** (1 / 80), abs=1e-6))
    assert clopper_pearson(80, 80) == (pytest.approx(0.025 ** (1 / 80), abs=1e-6), 1.0)
    with pytest.raises(ValueError):
        clopper_pearson(3, 2)


def test_a_proposal_holds_the_target_on_its_scans_and_states_its_interval() -> None:
    scores = np.random.default_rng(0).beta(2, 5, 1000).astype(np.float32)  # as the model scores
    proposal = propose(scores, target_fa=0.05, min_scans=300)
    assert proposal.n == 1000 and proposal.alarms == int((scores >= proposal.threshold).sum())
    # as many alarms as the target allows (50), not one more; and the lowest such threshold
    assert proposal.alarms == 50
    assert (scores >= np.nextafter(np.float32(proposal.threshold), np.float32(0))).sum() > 50
    low, high = proposal.false_alarm_interval
    assert low < 0.05 < high and high - low < 0.03


@pytest.mark.parametrize(
    ("scores", "target", "message"),
    [
        (np.linspace(0, 1, 299), 0.05, "299 cleared scans; a threshold needs at least 300"),
        (np.linspace(0, 1, 400), 0.0, "must be in \\(0, 0.5\\]"),
        (np.linspace(0, 1, 400), 0.6, "must be in \\(0, 0.5\\]"),
        (np.r_[np.linspace(0, 1, 399), np.nan], 0.05, "not a finite number"),
    ],
)
def test_a_proposal_is_refused_with_a_reason(scores: np.ndarray, target: float, message: str) -> None:
    with pytest.raises(CalibrationError, match=message):
        propose(scores, target)


def test_drift_flags_a_rate_its_target_does_not_explain() -> None:
    held = drift(10, 200, 0.05)
    assert not held.drifting and held.expected[0] < 0.05 < held.expected[1]
    assert drift(30, 200, 0.05).drifting  # tripled: a re-palette or a new traffic mix
    assert drift(0, 200, 0.05).drifting  # silent: a scanner sending blank images, say
    assert not drift(0, 0, 0.05).drifting


def entry(station: str, threshold: float, version: str = "1.0.0") -> StationEntry:
    return StationEntry(
        station=station,
        kind="luggage",
        threshold=threshold,
        target_fa=0.05,
        false_alarm_rate=0.048,
        false_alarm_interval=(0.03, 0.07),
        n=400,
        alarms=19,
        confidence=0.95,
        model_name="xray-threat",
        model_version=version,
        created="2026-12-02T08:00:00+00:00",
    )


def test_station_files_merge_by_station_kind_and_model(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "stations.json"
    write_station_file(path, [entry("lane-1", 0.8), entry("lane-2", 0.7)])
    held = write_station_file(path, [entry("lane-1", 0.85), entry("lane-1", 0.6, version="2.0.0")])
    assert [(e.station, e.model_version, e.threshold) for e in held] == [
        ("lane-1", "1.0.0", 0.85),
        ("lane-1", "2.0.0", 0.6),
        ("lane-2", "1.0.0", 0.7),
    ]
    assert read_station_file(path) == held
    assert not list(tmp_path.glob("*.part"))  # written through a renamed temporary file


def test_a_bad_station_file_is_refused_and_left_as_it_is(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "stations.json"
    path.write_text('{"format": 1, "thresholds": [{"station": "lane-1", "threshold": 2}]}')
    with pytest.raises(CalibrationError, match="entry 0"):
        read_station_file(path)
    with pytest.raises(CalibrationError):
        write_station_file(path, [entry("lane-1", 0.8)])
    assert 'threshold": 2' in path.read_text()
    raw = entry("lane-1", 0.8).to_dict() | {"target_fa": 0.9}
    path.write_text(json.dumps({"format": 1, "thresholds": [raw]}))
    with pytest.raises(CalibrationError, match=r"must be in \(0, 0.5\]"):
        read_station_file(path)
    assert read_station_file(tmp_path / "absent.json") == []


def test_detection_at_reads_the_cards_localisation_scores() -> None:
    real = {"localised_scores": {"knives": [0.2, 0.5, 0.7, 0.9], "empty": []}}
    assert detection_at(real, 0.6) == {"knives": 0.5, "empty": None}
    assert detection_at(real, 0.95) == {"knives": 0.0, "empty": None}
    assert detection_at({"sets": {}}, 0.5) is None and detection_at(None, 0.5) is None
