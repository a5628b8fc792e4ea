"""Screening metrics against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from vision.evaluation.metrics import (
    auroc,
    average_precision,
    box_iou,
    covered,
    detection_rate_at_far,
    sign_test,
    threshold_at_far,
    wilson_interval,
)


def test_auroc_counts_ties_as_half_and_needs_both_classes() -> None:
    assert auroc([0.1, 0.4, 0.35, 0.8], [False, False, True, True]) == pytest.approx(0.75)
    assert auroc([0.5, 0.5], [False, True]) == pytest.approx(0.5)
    assert auroc([0.2, 0.3], [True, True]) is None
    rng = np.random.default_rng(0)
    scores, labels = rng.random(200), rng.random(200) < 0.3
    pairs = [(p > n) + 0.5 * (p == n) for p in scores[labels] for n in scores[~labels]]
    assert auroc(scores, labels) == pytest.approx(np.mean(pairs))


def test_threshold_lets_at_most_the_target_share_of_clean_scans_alarm() -> None:
    clean = np.linspace(0.0, 0.99, 100)
    threshold = threshold_at_far(clean, 0.05)
    assert (clean >= threshold).sum() == 5
    assert threshold_at_far(clean, 0.0) > clean.max()
    with pytest.raises(ValueError, match="no clean scans"):
        threshold_at_far([], 0.05)


def test_detection_rate_at_far() -> None:
    scores = [0.1, 0.2, 0.3, 0.9, 0.25, 0.95]
    labels = [False, False, False, False, True, True]
    # With 4 clean scans a 25% budget lets the 0.9 alarm, so the threshold sits just above 0.3.
    assert detection_rate_at_far(scores, labels, 0.25) == pytest.approx(0.5)
    assert detection_rate_at_far(scores, labels, 0.0) == pytest.approx(0.5)


def test_boxes_iou_and_coverage() -> None:
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(1 / 3)
    assert covered((10, 10, 20, 20), (0, 0, 100, 100))  # a large region that contains the object
    assert not covered((10, 10, 20, 20), (30, 30, 40, 40))


def test_average_precision_ranks_by_score() -> None:
    truths = [(0, (0.0, 0.0, 10.0, 10.0)), (1, (0.0, 0.0, 10.0, 10.0))]
    perfect = [(0, 0.9, (0.0, 0.0, 10.0, 10.0)), (1, 0.8, (1.0, 0.0, 10.0, 10.0))]
    assert average_precision(perfect, truths) == pytest.approx(1.0)
    # A false positive ranked first: precision 1/2 then 2/3; the envelope lifts both steps to 2/3.
    noisy = [(0, 0.95, (50.0, 50.0, 60.0, 60.0)), *perfect]
    assert average_precision(noisy, truths) == pytest.approx(2 / 3)
    # Ranked last instead, it costs nothing.
    assert average_precision([*perfect, (0, 0.1, (50.0, 50.0, 60.0, 60.0))], truths) == pytest.approx(1.0)
    assert average_precision([], truths) == 0.0
    assert average_precision(perfect, []) is None


def test_mixing_weights_give_each_folder_its_share() -> None:
    from vision.train.train import image_loss_weight, mixing_weights

    origins = [0] * 90 + [1] * 10  # a large simulator folder and a small folder of real scans
    weights = mixing_weights(origins, [1.0, 1.0])
    assert weights[:90].sum() == pytest.approx(0.5) and weights[90:].sum() == pytest.approx(0.5)
    weights = mixing_weights(origins, [3.0, 1.0])
    assert weights[90:].sum() == pytest.approx(0.25)
    with pytest.raises(ValueError, match="positive"):
        mixing_weights(origins, [1.0, 0.0])
    with pytest.raises(ValueError, match="supplies no training scans"):
        mixing_weights([0, 0], [1.0, 1.0])
    # The ranking term is off for the first quarter of training and full from the half on.
    assert image_loss_weight(0.1) == 0.0 and image_loss_weight(0.5) == image_loss_weight(0.9) > 0


def test_sign_test_is_the_chance_of_losing_as_many_by_coin_flips() -> None:
    assert sign_test(0, 0) == 1.0  # nothing changed
    assert sign_test(3, 0) == pytest.approx(1 / 8)  # three of three flips lost
    assert sign_test(2, 2) == pytest.approx(11 / 16)  # 2, 3 or 4 of 4 lost
    assert sign_test(0, 5) == 1.0
    assert sign_test(8, 0) < 0.005 < sign_test(6, 1)
    # against a brute-force count over all 2**10 splits
    n, lost = 10, 7
    brute = sum(bin(mask).count("1") >= lost for mask in range(2**n)) / 2**n
    assert sign_test(lost, n - lost) == pytest.approx(brute)
    with pytest.raises(ValueError, match="negative"):
        sign_test(-1, 2)


def test_wilson_interval_brackets_the_rate_and_keeps_width_at_the_edges() -> None:
    low, high = wilson_interval(38, 554)  # 1.8.0's false alarms on the gate's clean scans
    assert low < 38 / 554 < high
    assert wilson_interval(38, 554) == pytest.approx((0.0504, 0.0928), abs=1e-4)
    low, high = wilson_interval(0, 80)
    assert low == 0.0 and high == pytest.approx(0.0458, abs=1e-4)  # none seen is not "never"
    assert wilson_interval(80, 80)[1] == 1.0 and wilson_interval(0, 0) is None
    narrow, wide = wilson_interval(50, 1000), wilson_interval(5, 100)
    assert narrow[1] - narrow[0] < wide[1] - wide[0]
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(5, 4)
