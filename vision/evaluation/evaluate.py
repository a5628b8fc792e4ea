"""Evaluation of an exported model folder on a dataset, through the same Predictor the service runs.

Reported per scene kind and overall: image AUROC, detection rate at 1% and 5% false alarms, false-alarm
and detection rate at the model's own thresholds (each scan judged by its kind's, where the model has
one), per-class recall and box AP@0.5, a confusion of true class against the label of the region that
covered it, and the worst misses.

Definitions (also written into the model card):
- recall of a class: share of its instances covered by a region reported at the scan's threshold
  (IoU >= 0.3, or half the true box inside the region), whatever label the region carries;
  ``label_recall`` also requires the label to match.
- AP@0.5: VOC all-point AP of regions with a matching label, ranked by peak score, regions traced down
  to a score of ``AP_FLOOR``.
- recall by size: recall of the instances whose box's long side is under 1/16 of the scan's long side
  (``small``: under 32 px at a 512 px model input), under 1/8 (``medium``) or larger (``large``); it
  tells a class the model cannot resolve from one it does not recognise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from tqdm import tqdm

from vision.classes import SCENE_KINDS, THREAT_CLASSES
from vision.datasets import Sample, read_rgb
from vision.evaluation.metrics import (
    DEFAULT_FALSE_ALARM_RATE,
    DR_KEY,
    Box,
    auroc,
    average_precision,
    covered,
    detection_rate_at_far,
    dr_key,
    threshold_at_far,
    wilson_interval,
)
from vision.infer import Detection, Prediction, Predictor, Thresholds

FAR_TARGETS = (0.01, DEFAULT_FALSE_ALARM_RATE)
AP_FLOOR = 0.1
_NO_HEATMAP = np.zeros((0, 0), np.float32)
# Size buckets of an instance: its box's long side as a share of the scan's long side (upper bounds).
SIZE_BUCKETS = (("small", 1 / 16), ("medium", 1 / 8), ("large", float("inf")))
MISSED = "missed"
# A scene kind gets its own threshold only with this many clean calibration scans (at 5% false alarms,
# the 15 highest clean scores set it). Measured: clean vehicle scores crowd just below the threshold, and
# one calibrated on 158 of them let 11% of 191 fresh clean vehicles alarm instead of 5%.
MIN_CLEAN_PER_KIND = 300


@dataclass(frozen=True)
class Scored:
    """One evaluated scan: its sample, image score and regions (down to ``AP_FLOOR``), and its size
    ``(height, width)`` (:func:`score_samples` keeps no heat map)."""

    sample: Sample
    prediction: Prediction
    image_shape: tuple[int, int]


def score_samples(
    predictor: Predictor, samples: Sequence[Sample], batch_size: int = 4, progress: bool = True
) -> list[Scored]:
    """Run the predictor over ``samples`` (regions reported down to ``AP_FLOOR``).

    Heat maps are dropped as they come (evaluation needs scores, regions and the scan's size): at the
    scan's size, float32, they held ~3 MB a scan, and an export calibrating on 5700 scans was killed for
    memory at 15 GB; at the model's resolution they would still hold 64 kB a scan.
    """
    out: list[Scored] = []
    bar = tqdm(total=len(samples), desc="evaluating", unit="img", disable=not progress)
    for start in range(0, len(samples), batch_size):
        chunk = samples[start : start + batch_size]
        images = [read_rgb(s.image_path) for s in chunk]
        predictions = predictor.predict_batch(images, AP_FLOOR, kinds=[s.kind for s in chunk])
        out.extend(
            Scored(s, replace(p, threat_map=_NO_HEATMAP, placement=None), (image.shape[0], image.shape[1]))
            for s, image, p in zip(chunk, images, predictions, strict=True)
        )
        bar.update(len(chunk))
    bar.close()
    return out


def calibrate(
    scored: Sequence[Scored], false_alarm_rate: float, min_clean_per_kind: int = MIN_CLEAN_PER_KIND
) -> dict[str, Any]:
    """Thresholds allowing ``false_alarm_rate`` on the clean scans of a calibration set, with their record.

    Returns:
        ``threshold`` (shared: all clean scans), the counts behind it, and ``kinds``: the same record per
        scene kind that has at least ``min_clean_per_kind`` clean scans.
    """
    record = _calibration_record(scored, false_alarm_rate)
    record["kinds"] = {}
    for kind in SCENE_KINDS:
        group = [s for s in scored if s.sample.kind == kind]
        if sum(not s.sample.has_threat for s in group) >= min_clean_per_kind:
            record["kinds"][kind] = _calibration_record(group, false_alarm_rate)
    record["min_clean_per_kind"] = min_clean_per_kind
    return record


def split_thresholds(record: dict[str, Any]) -> tuple[Thresholds, dict[str, Any]]:
    """The thresholds in a :func:`calibrate` record, and the record without them (what a card keeps)."""
    kinds = {kind: {k: v for k, v in r.items() if k != "threshold"} for kind, r in record["kinds"].items()}
    rest = {k: v for k, v in record.items() if k not in ("threshold", "kinds")}
    by_kind = {kind: r["threshold"] for kind, r in record["kinds"].items()}
    return Thresholds(record["threshold"], by_kind), {**rest, "kinds": kinds}


def _calibration_record(scored: Sequence[Scored], false_alarm_rate: float) -> dict[str, Any]:
    clean = [s.prediction.score for s in scored if not s.sample.has_threat]
    threshold = threshold_at_far(clean, false_alarm_rate)
    threats = [s.prediction.score for s in scored if s.sample.has_threat]
    alarms = sum(v >= threshold for v in clean)
    return {
        "threshold": threshold,
        "false_alarm_rate": false_alarm_rate,
        # Where the rate on fresh clean scans may land: the calibration set's count only estimates it.
        "false_alarm_rate_ci95": _interval(alarms, len(clean)),
        "clean_images": len(clean),
        "threat_images": len(threats),
        "detection_rate_on_calibration": float(np.mean([v >= threshold for v in threats]))
        if threats
        else None,
    }


def _group_metrics(scored: Sequence[Scored], thresholds: Thresholds) -> dict[str, Any]:
    scores = [s.prediction.score for s in scored]
    labels = [s.sample.has_threat for s in scored]
    alarms = [s.prediction.score >= thresholds.for_kind(s.sample.kind) for s in scored]
    clean = [a for a, y in zip(alarms, labels, strict=True) if not y]
    threats = [a for a, y in zip(alarms, labels, strict=True) if y]
    metrics: dict[str, Any] = {
        "images": len(scored),
        "threat_images": len(threats),
        "auroc": _round(auroc(scores, labels)),
        **{dr_key(far): _round(detection_rate_at_far(scores, labels, far)) for far in FAR_TARGETS},
        "false_alarm_rate": _round(float(np.mean(clean)) if clean else None),
        "false_alarm_rate_ci95": _interval(sum(clean), len(clean)),
        "detection_rate": _round(float(np.mean(threats)) if threats else None),
        "detection_rate_ci95": _interval(sum(threats), len(threats)),
    }
    metrics["classes"] = _class_metrics(scored, thresholds)
    return metrics


def _regions(item: Scored, thresholds: Thresholds) -> list[Detection]:
    """The regions an operator would see for this scan: those reaching its alarm threshold."""
    threshold = thresholds.for_kind(item.sample.kind)
    return [d for d in item.prediction.detections if d.score >= threshold]


def _class_metrics(scored: Sequence[Scored], thresholds: Thresholds) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label in THREAT_CLASSES:
        truths: list[tuple[int, Box]] = []
        detections: list[tuple[int, float, Box]] = []
        label_hits = 0
        by_size: dict[str, list[bool]] = {name: [] for name, _ in SIZE_BUCKETS}
        for index, item in enumerate(scored):
            regions = _regions(item, thresholds)
            for instance in item.sample.instances:
                if instance.label != label:
                    continue
                truths.append((index, instance.box))
                hit = _found(instance.box, regions)
                label_hits += any(covered(instance.box, d.box) and d.label == label for d in regions)
                by_size[_size_bucket(instance.box, item.image_shape)].append(hit)
            detections += [(index, d.score, d.box) for d in item.prediction.detections if d.label == label]
        if truths:
            hits = sum(sum(outcomes) for outcomes in by_size.values())
            out[label] = {
                "instances": len(truths),
                "recall": round(hits / len(truths), 4),
                "label_recall": round(label_hits / len(truths), 4),
                "ap50": _round(average_precision(detections, truths)),
                "recall_by_size": {
                    name: {
                        "instances": len(outcomes),
                        "recall": _round(float(np.mean(outcomes)) if outcomes else None),
                    }
                    for name, outcomes in by_size.items()
                },
            }
    return out


def instance_hits(scored: Sequence[Scored], thresholds: Thresholds) -> dict[str, list[bool]]:
    """Per class, whether each true instance is found (as ``recall`` counts it), in scan and instance order.

    Two models scored on the same samples give lists that line up instance by instance: the pairing the
    promotion gate's sign test needs.
    """
    hits: dict[str, list[bool]] = {}
    for item in scored:
        regions = _regions(item, thresholds)
        for instance in item.sample.instances:
            hits.setdefault(instance.label, []).append(_found(instance.box, regions))
    return hits


def clean_alarms(scored: Sequence[Scored], thresholds: Thresholds) -> dict[str, tuple[int, int]]:
    """Per scene kind with clean scans: how many of them alarm at ``thresholds``, and how many there are."""
    counts: dict[str, tuple[int, int]] = {}
    for item in scored:
        if not item.sample.has_threat:
            alarms, clean = counts.get(item.sample.kind, (0, 0))
            alarm = item.prediction.score >= thresholds.for_kind(item.sample.kind)
            counts[item.sample.kind] = (alarms + alarm, clean + 1)
    return counts


def thresholds_for_alarms(scored: Sequence[Scored], alarms: dict[str, tuple[int, int]]) -> Thresholds:
    """The lowest thresholds at which this model alarms on as many clean scans as ``alarms`` says.

    ``alarms`` is :func:`clean_alarms` of another model on the same samples: two models judged at the
    thresholds this gives each of them raise the same number of false alarms per scene kind, so their
    recall compares like with like. Kinds without clean scans get the shared threshold, matched on the
    total.
    """

    def lowest(clean: list[float], count: int) -> float:
        # all of them alarm: the lowest threshold is 0 (threshold_at_far takes rates under 1 only)
        return threshold_at_far(clean, count / len(clean)) if count < len(clean) else 0.0

    by_kind = {}
    for kind, (count, _) in alarms.items():
        by_kind[kind] = lowest(
            [s.prediction.score for s in scored if s.sample.kind == kind and not s.sample.has_threat], count
        )
    every_clean = [s.prediction.score for s in scored if not s.sample.has_threat]
    if not every_clean:
        raise ValueError("no clean scans to match false alarms on")
    return Thresholds(lowest(every_clean, sum(count for count, _ in alarms.values())), by_kind)


def _found(box: Box, regions: Sequence[Detection]) -> bool:
    return any(covered(box, d.box) for d in regions)


def _size_bucket(box: Box, image_shape: tuple[int, ...]) -> str:
    """The :data:`SIZE_BUCKETS` name of ``box`` (x0, y0, x1, y1) in a scan of ``image_shape`` (H, W)."""
    x0, y0, x1, y1 = box
    share = max(x1 - x0, y1 - y0) / max(image_shape[0], image_shape[1], 1)
    return next(name for name, bound in SIZE_BUCKETS if share < bound)


def _confusion(scored: Sequence[Scored], thresholds: Thresholds) -> dict[str, dict[str, int]]:
    """True class → label of the highest region covering it at the threshold (or ``missed``)."""
    table: dict[str, dict[str, int]] = {}
    for item in scored:
        regions = _regions(item, thresholds)
        for instance in item.sample.instances:
            found = [d for d in regions if covered(instance.box, d.box)]
            label = max(found, key=lambda d: d.score).label if found else MISSED
            row = table.setdefault(instance.label, {})
            row[label] = row.get(label, 0) + 1
    return table


def _worst_misses(scored: Sequence[Scored], thresholds: Thresholds, count: int = 10) -> list[dict[str, Any]]:
    misses = sorted(
        (
            s
            for s in scored
            if s.sample.has_threat and s.prediction.score < thresholds.for_kind(s.sample.kind)
        ),
        key=lambda s: s.prediction.score,
    )
    return [
        {
            "image": s.sample.image_path.name,
            "kind": s.sample.kind,
            "scanner": s.sample.scanner,
            "classes": sorted({i.label for i in s.sample.instances}),
            "score": round(s.prediction.score, 4),
        }
        for s in misses[:count]
    ]


def report(scored: Sequence[Scored], thresholds: Thresholds) -> dict[str, Any]:
    """All metrics overall and per scene kind, each scan judged by its kind's threshold or the shared one."""
    kinds = sorted({s.sample.kind for s in scored})
    return {
        "threshold": thresholds.shared,
        "kind_thresholds": dict(thresholds.by_kind),
        "scanners": sorted({s.sample.scanner for s in scored}),
        "overall": _group_metrics(scored, thresholds),
        "kinds": {k: _group_metrics([s for s in scored if s.sample.kind == k], thresholds) for k in kinds},
        "confusion": _confusion(scored, thresholds),
        "worst_misses": _worst_misses(scored, thresholds),
        "definitions": {
            "recall": "instance covered (IoU>=0.3 or half its box inside) by a region at the threshold, "
            "any label",
            "label_recall": "as recall, and the region's label matches",
            "ap50": f"VOC all-point AP, IoU>=0.5, label must match, regions down to score {AP_FLOOR}",
            "recall_by_size": "recall of instances whose box's long side is under 1/16 of the scan's long "
            "side (small), under 1/8 (medium), or larger (large)",
            "dr_at_far_X": "share of threat scans alarming at the threshold that lets X of clean scans alarm",
            "threshold": "scans of a kind in kind_thresholds are judged by its threshold, others by this",
            "X_ci95": "95% Wilson score interval of rate X: what the count of scans behind it allows",
        },
    }


def evaluate_model(predictor: Predictor, samples: Sequence[Sample], progress: bool = True) -> dict[str, Any]:
    """Score ``samples`` with ``predictor`` and report at the model's own thresholds."""
    return report(score_samples(predictor, samples, progress=progress), predictor.thresholds)


def format_report(result: dict[str, Any]) -> str:
    """A short plain-text table of a :func:`report` for the terminal."""
    by_kind = "".join(f", {kind} {value:.4f}" for kind, value in result.get("kind_thresholds", {}).items())
    lines = [f"threshold {result['threshold']:.4f}{by_kind}  scanners {', '.join(result['scanners'])}"]
    header = (
        f"{'group':<10}{'images':>7}{'threat':>7}{'AUROC':>8}{'DR@1%':>8}{'DR@5%':>8}{'FAR@t':>8}{'DR@t':>8}"
    )
    lines.append(header)
    groups = {"all": result["overall"], **result["kinds"]}
    for name, m in groups.items():
        lines.append(
            f"{name:<10}{m['images']:>7}{m['threat_images']:>7}{_fmt(m['auroc']):>8}{_fmt(m['dr_at_far_0.01']):>8}"
            f"{_fmt(m[DR_KEY]):>8}{_fmt(m['false_alarm_rate']):>8}{_fmt(m['detection_rate']):>8}"
        )
    sizes = "".join(f"{name:>8}" for name, _ in SIZE_BUCKETS)
    lines.append(f"{'class':<14}{'n':>6}{'recall':>8}{'label':>8}{'AP50':>8}{sizes}")
    for label, c in result["overall"]["classes"].items():
        by_size = c["recall_by_size"]
        recall_by_size = "".join(f"{_fmt(by_size[name]['recall']):>8}" for name, _ in SIZE_BUCKETS)
        lines.append(
            f"{label:<14}{c['instances']:>6}{_fmt(c['recall']):>8}{_fmt(c['label_recall']):>8}{_fmt(c['ap50']):>8}"
            f"{recall_by_size}"
        )
    if result["worst_misses"]:
        worst = ", ".join(
            f"{m['image']} ({'/'.join(m['classes'])}, {m['score']:.3f})" for m in result["worst_misses"][:5]
        )
        lines.append(f"worst misses: {worst}")
    return "\n".join(lines)


def _interval(successes: int, trials: int) -> list[float] | None:
    interval = wilson_interval(successes, trials)
    return None if interval is None else [round(bound, 4) for bound in interval]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
