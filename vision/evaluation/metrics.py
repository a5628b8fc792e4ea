"""Screening metrics (numpy only): AUROC, detection rate at a false-alarm rate, calibration, box AP."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

# The false-alarm rate thresholds are calibrated for unless someone says otherwise (export, site calibration,
# the real-scan figures), and the one reports quote detection at: the one place it is typed.
DEFAULT_FALSE_ALARM_RATE = 0.05


def dr_key(false_alarm_rate: float) -> str:
    """The metrics key of the detection rate at ``false_alarm_rate`` (``"dr_at_far_0.05"``)."""
    return f"dr_at_far_{false_alarm_rate:g}"


DR_KEY = dr_key(DEFAULT_FALSE_ALARM_RATE)
# The same, measured on a training run's validation scans (``triage train``'s log and checkpoints).
VAL_DR_KEY = f"val_{DR_KEY}"

Box = tuple[float, float, float, float]
Scores = Sequence[float] | np.ndarray
Labels = Sequence[bool] | np.ndarray


def auroc(scores: Scores, labels: Labels) -> float | None:
    """Area under the ROC curve (ties count one half); ``None`` without both classes."""
    s, y = np.asarray(scores, np.float64), np.asarray(labels, bool)
    positives, negatives = s[y], s[~y]
    if not len(positives) or not len(negatives):
        return None
    # Mann–Whitney U via ranks with ties averaged.
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), np.float64)
    sorted_s = s[order]
    _, first, counts = np.unique(sorted_s, return_index=True, return_counts=True)
    average = first + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(average, counts)
    u = ranks[y].sum() - len(positives) * (len(positives) + 1) / 2.0
    return float(u / (len(positives) * len(negatives)))


def threshold_at_far(clean_scores: Scores, false_alarm_rate: float) -> float:
    """The lowest threshold at which at most ``false_alarm_rate`` of clean scans alarm (score >= t).

    Args:
        clean_scores: scores of scans without threats.
        false_alarm_rate: target share of clean scans that may alarm, in [0, 1).

    Returns:
        The threshold, just above the highest clean score that must stay clear.
    """
    if not 0.0 <= false_alarm_rate < 1.0:
        raise ValueError(f"false_alarm_rate must be in [0, 1), got {false_alarm_rate}")
    clean = np.sort(np.asarray(clean_scores, np.float64))[::-1]
    if not len(clean):
        raise ValueError("no clean scans to calibrate on")
    allowed = int(np.floor(false_alarm_rate * len(clean) + 1e-9))
    if allowed >= len(clean):
        return 0.0
    return float(np.nextafter(np.float32(clean[allowed]), np.float32(np.inf)))


def detection_rate_at_far(
    scores: Sequence[float], labels: Sequence[bool], false_alarm_rate: float
) -> float | None:
    """Share of threat scans that alarm at the threshold allowing ``false_alarm_rate`` on clean ones."""
    s, y = np.asarray(scores, np.float64), np.asarray(labels, bool)
    if not y.any() or y.all():
        return None
    threshold = threshold_at_far(s[~y], false_alarm_rate)
    return float((s[y] >= threshold).mean())


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float] | None:
    """Wilson score interval of a rate (95 % by default); ``None`` without trials.

    It stays inside [0, 1] and keeps a sensible width at 0 or all successes, where the normal
    approximation collapses: 0 false alarms in 80 clean scans is still up to 4.6 %.
    """
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must be in [0, trials], got {successes} of {trials}")
    if not trials:
        return None
    rate = successes / trials
    centre = (rate + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(rate * (1 - rate) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


def sign_test(lost: int, gained: int) -> float:
    """One-sided exact sign test of ``lost`` against ``gained`` paired changes.

    The chance of losing at least ``lost`` of ``lost + gained`` changes by coin flips: that a fall this
    large happens between two equally good models.

    Args:
        lost: paired cases the baseline got right and the candidate wrong.
        gained: paired cases the candidate got right and the baseline wrong.

    Returns:
        The p-value, 1.0 when nothing changed.
    """
    if lost < 0 or gained < 0:
        raise ValueError(f"counts must not be negative, got {lost} lost and {gained} gained")
    n = lost + gained
    return sum(math.comb(n, k) for k in range(lost, n + 1)) / 2**n


def box_iou(a: Box, b: Box) -> float:
    """Intersection over union of two ``x0, y0, x1, y1`` boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def covered(truth: Box, found: Box, iou: float = 0.3, inside: float = 0.5) -> bool:
    """Whether a found box points an operator at a true object.

    True when IoU reaches ``iou`` or at least ``inside`` of the true box lies in the found one
    (heat-map regions often merge a threat with what touches it, and that still shows where to look).
    """
    ix = max(0.0, min(truth[2], found[2]) - max(truth[0], found[0]))
    iy = max(0.0, min(truth[3], found[3]) - max(truth[1], found[1]))
    area = max((truth[2] - truth[0]) * (truth[3] - truth[1]), 1e-9)
    return box_iou(truth, found) >= iou or ix * iy / area >= inside


def average_precision(
    detections: Sequence[tuple[int, float, Box]], truths: Sequence[tuple[int, Box]], iou: float = 0.5
) -> float | None:
    """VOC-style all-point AP of one class.

    Args:
        detections: ``(image index, score, box)`` of this class over all images.
        truths: ``(image index, box)`` of this class over all images.
        iou: matching IoU.

    Returns:
        AP in [0, 1], or ``None`` when the class has no true instance.
    """
    if not truths:
        return None
    unmatched: dict[int, list[Box]] = {}
    for image, box in truths:
        unmatched.setdefault(image, []).append(box)
    hits = []
    for image, _, box in sorted(detections, key=lambda d: -d[1]):
        candidates = unmatched.get(image, [])
        best = max(range(len(candidates)), key=lambda i: box_iou(box, candidates[i]), default=None)
        if best is not None and box_iou(box, candidates[best]) >= iou:
            candidates.pop(best)
            hits.append(1.0)
        else:
            hits.append(0.0)
    if not hits:
        return 0.0
    tp = np.cumsum(hits)
    recall = tp / len(truths)
    precision = tp / np.arange(1, len(hits) + 1)
    # Precision envelope, then the area under the stepwise curve.
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    previous = np.concatenate([[0.0], recall[:-1]])
    return float(np.sum((recall - previous) * envelope))
