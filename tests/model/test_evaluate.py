"""Calibration and reports over scored scans: thresholds per scene kind, and metrics judged by them."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from vision.datasets import Instance, Sample
from vision.evaluation.evaluate import (
    Scored,
    calibrate,
    clean_alarms,
    format_report,
    instance_hits,
    report,
    split_thresholds,
    thresholds_for_alarms,
)
from vision.infer import Detection, Prediction, Thresholds

BOX = (10.0, 10.0, 40.0, 30.0)


def scored(kind: str, score: float, threat: bool, index: int) -> Scored:
    """One scan of ``kind`` with ``score``; a threat scan carries a blade whose region peaks at ``score``."""
    sample = Sample(
        pathlib.Path(f"{kind}_{index}.png"),
        None,
        kind,
        "test-scanner",
        (Instance("blade", BOX),) if threat else (),
    )
    detections = (Detection("blade", score, BOX),) if threat else ()
    return Scored(sample, Prediction("clear", score, 0.5, detections, np.zeros((1, 1), np.float32)), (1, 1))


def test_each_kind_with_enough_clean_scans_gets_its_own_threshold() -> None:
    rng = np.random.default_rng(0)
    # Clean luggage scores high (cluttered bags), clean vehicles low: one shared threshold would let the
    # luggage spend the whole false-alarm budget.
    items = [scored("luggage", float(v), False, i) for i, v in enumerate(rng.uniform(0.4, 0.9, 40))]
    items += [scored("vehicle", float(v), False, i) for i, v in enumerate(rng.uniform(0.0, 0.3, 40))]
    items += [scored("parcel", float(v), False, i) for i, v in enumerate(rng.uniform(0.0, 0.3, 5))]
    record = calibrate(items, 0.05, min_clean_per_kind=20)
    assert set(record["kinds"]) == {"luggage", "vehicle"}  # 5 clean parcels are too few to calibrate on
    luggage, vehicle = record["kinds"]["luggage"], record["kinds"]["vehicle"]
    assert luggage["clean_images"] == vehicle["clean_images"] == 40
    # 2 of 40 clean scans alarm at 5%: the rate on fresh scans is only known to lie in a wide interval
    assert luggage["false_alarm_rate_ci95"] == [0.0138, 0.165]
    assert report(items, split_thresholds(record)[0])["kinds"]["luggage"]["false_alarm_rate_ci95"] == [
        0.0138,
        0.165,
    ]
    assert vehicle["threshold"] < 0.31 < 0.85 < luggage["threshold"]
    for kind in ("luggage", "vehicle"):
        clean = [s.prediction.score for s in items if s.sample.kind == kind]
        assert np.mean(np.asarray(clean) >= record["kinds"][kind]["threshold"]) <= 0.05
    assert calibrate(items, 0.05)["kinds"] == {}  # the default asks for more clean scans than this
    thresholds, kept = split_thresholds(record)
    assert thresholds == Thresholds(
        record["threshold"], {"luggage": luggage["threshold"], "vehicle": vehicle["threshold"]}
    )
    assert "threshold" not in kept and all("threshold" not in r for r in kept["kinds"].values())
    assert kept["kinds"]["luggage"]["clean_images"] == 40 and "threshold" in record  # the input is untouched


def test_report_judges_each_scan_by_its_kinds_threshold() -> None:
    items = [
        scored("luggage", 0.7, True, 0),  # over the shared threshold, under the luggage one
        scored("luggage", 0.6, False, 1),
        scored("vehicle", 0.3, True, 2),  # under the shared threshold, over the vehicle one
        scored("vehicle", 0.1, False, 3),
    ]
    shared = report(items, Thresholds(0.5))
    assert (
        shared["overall"]["detection_rate"] == 0.5 and shared["kinds"]["luggage"]["false_alarm_rate"] == 1.0
    )
    by_kind = report(items, Thresholds(0.5, {"luggage": 0.8, "vehicle": 0.2}))
    assert by_kind["kind_thresholds"] == {"luggage": 0.8, "vehicle": 0.2}
    luggage = by_kind["kinds"]["luggage"]
    assert (luggage["false_alarm_rate"], luggage["detection_rate"]) == (0.0, 0.0)
    assert by_kind["kinds"]["vehicle"]["detection_rate"] == 1.0
    assert by_kind["overall"]["classes"]["blade"]["recall"] == pytest.approx(0.5)
    assert [m["image"] for m in by_kind["worst_misses"]] == ["luggage_0.png"]
    assert by_kind["confusion"]["blade"] == {"missed": 1, "blade": 1}


def test_instance_hits_line_up_with_recall_scan_by_scan() -> None:
    items = [
        scored("luggage", 0.7, True, 0),
        scored("luggage", 0.3, False, 1),
        scored("vehicle", 0.3, True, 2),
    ]
    thresholds = Thresholds(0.5, {"vehicle": 0.2})
    hits = instance_hits(items, thresholds)
    assert hits == {"blade": [True, True]}  # the clean scan has no instance; the vehicle's own threshold
    assert report(items, thresholds)["overall"]["classes"]["blade"]["recall"] == np.mean(hits["blade"])
    assert instance_hits(items, Thresholds(0.5)) == {"blade": [True, False]}


def test_recall_by_size_tells_small_misses_from_large_ones() -> None:
    # Knives 30, 60 and 120 px long in a 640 px wide scan: small (< 40), medium (< 80) and large.
    knives = [(100.0, 100.0, 130.0, 110.0), (200.0, 100.0, 260.0, 115.0), (300.0, 100.0, 420.0, 130.0)]
    sample = Sample(
        pathlib.Path("bag.png"), None, "luggage", "s", tuple(Instance("blade", b) for b in knives)
    )
    found = (Detection("blade", 0.9, knives[0]), Detection("blade", 0.8, knives[2]))
    item = Scored(sample, Prediction("alarm", 0.9, 0.5, found, np.zeros((480, 640), np.float32)), (480, 640))
    blade = report([item, scored("luggage", 0.1, False, 1)], Thresholds(0.5))["overall"]["classes"]["blade"]
    assert blade["recall"] == pytest.approx(2 / 3, abs=1e-4)
    assert blade["recall_by_size"] == {
        "small": {"instances": 1, "recall": 1.0},
        "medium": {"instances": 1, "recall": 0.0},
        "large": {"instances": 1, "recall": 1.0},
    }
    row = next(
        line for line in format_report(report([item], Thresholds(0.5))).splitlines() if "blade" in line
    )
    assert row.split()[-3:] == ["1.000", "0.000", "1.000"]


def test_thresholds_for_alarms_hold_another_model_to_the_same_false_alarms() -> None:
    rng = np.random.default_rng(3)
    # the baseline's scores; parcels here are all threats: no clean parcel to match on
    draws = (
        [("luggage", False)] * 12
        + [("vehicle", False)] * 9
        + [("luggage", True)] * 6
        + [("parcel", True)] * 4
    )
    scores = rng.uniform(0.05, 0.95, len(draws))
    baseline = [
        scored(kind, float(v), threat, i)
        for i, ((kind, threat), v) in enumerate(zip(draws, scores, strict=True))
    ]
    # the same ranking on another scale: at its own threshold it finds less, at equal false alarms the same
    candidate = [
        scored(kind, float(v) ** 3, threat, i)
        for i, ((kind, threat), v) in enumerate(zip(draws, scores, strict=True))
    ]
    own = Thresholds(0.5, {"luggage": 0.6})
    alarms = clean_alarms(baseline, own)
    assert {kind: clean for kind, (_, clean) in alarms.items()} == {"luggage": 12, "vehicle": 9}
    assert 0 < alarms["luggage"][0] < 12
    assert alarms["luggage"][0] == sum(
        v >= 0.6 for (k, t), v in zip(draws, scores, strict=True) if k == "luggage" and not t
    )
    matched = thresholds_for_alarms(candidate, alarms)
    assert clean_alarms(candidate, matched) == alarms
    assert set(matched.by_kind) == {"luggage", "vehicle"}  # parcels get the shared one, matched on the total
    base_hits = instance_hits(baseline, thresholds_for_alarms(baseline, alarms))
    assert instance_hits(candidate, matched) == base_hits
    assert instance_hits(candidate, own) != base_hits
    # every clean scan alarming: the lowest threshold is 0; no clean scan at all: nothing to match
    assert thresholds_for_alarms(candidate, {"luggage": (12, 12), "vehicle": (9, 9)}).shared == 0.0
    with pytest.raises(ValueError, match="no clean scans"):
        thresholds_for_alarms([item for item in candidate if item.sample.has_threat], alarms)


def test_scored_scans_keep_their_size_but_not_their_heat_maps(
    rigged_model_dir: pathlib.Path, shapes_datasets: dict[str, pathlib.Path]
) -> None:
    import cv2

    from vision.datasets import load_dataset
    from vision.evaluation.evaluate import score_samples
    from vision.infer import Predictor

    samples = load_dataset(shapes_datasets["test"])[:5]
    predictor = Predictor(rigged_model_dir)
    scored = score_samples(predictor, samples, progress=False)
    for item, sample in zip(scored, samples, strict=True):
        image = cv2.imread(str(sample.image_path))
        assert item.image_shape == image.shape[:2] and item.prediction.heatmap.size == 0
        whole = predictor.predict_batch([cv2.cvtColor(image, cv2.COLOR_BGR2RGB)], 0.1, kinds=[sample.kind])[0]
        assert item.prediction.score == pytest.approx(whole.score)
        assert item.prediction.detections == whole.detections
