"""Class balancing in training: repeat factors, class-drawn crop centres and the per-class ranking term."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest
import torch

from vision.classes import THREAT_CLASSES
from vision.preprocess import PreprocessSpec
from vision.train.model import NUM_CHANNELS
from vision.train.presets import TrainPreset, soft_targets
from vision.train.train import repeat_factors, segmentation_loss

KNIFE, CARTON = 4, 6  # class-map values of blade and cigarettes
EVEN = torch.ones(NUM_CHANNELS - 1)  # every threat class weighs the same in the ranking term


def test_repeat_factors_raise_scans_of_rare_classes_only() -> None:
    # "gem" is in 1 of 40 scans, "gun" in 4 of 40 (below the 0.1 threshold), "drug" in 8 of 40.
    labels = [["gem", "drug"]] + [["gun"]] * 4 + [["drug"]] * 7 + [[]] * 28
    factors = repeat_factors(labels, threshold=0.1)  # no misses known: rarity only
    assert factors[0] == pytest.approx(2.0)  # sqrt(0.1 / 0.025): the scan's rarest class decides
    assert factors[1] == pytest.approx(np.sqrt(0.1 / 0.1))
    assert np.all(factors[5:] == 1.0)  # common classes and clean scans are drawn as often as before


def test_missed_classes_are_drawn_more_whatever_their_frequency() -> None:
    from vision.train.train import MISS_BOOST, class_misses

    labels = [["blade"]] * 8 + [["gun"]] * 8 + [[]] * 24  # both in 20% of scans: no rarity factor
    misses = class_misses({"blade": 0.0, "gun": 0.75})
    assert misses == {"blade": 1.0, "gun": 0.25}
    factors = repeat_factors(labels, misses)
    assert factors[0] == pytest.approx(1 + MISS_BOOST) and factors[8] == pytest.approx(1 + 0.25 * MISS_BOOST)
    assert np.all(factors[16:] == 1.0)
    assert np.all(repeat_factors(labels) == 1.0)  # before any validation: frequency only


def scene() -> tuple[np.ndarray, np.ndarray]:
    """A 512 px scan with a large carton in one corner and a small knife in the opposite one."""
    mask = np.zeros((512, 512), np.uint8)
    mask[20:240, 20:240] = CARTON
    mask[470:490, 470:478] = KNIFE
    return np.full((512, 512, 3), 200, np.uint8), mask


@pytest.mark.parametrize("balance", [False, True])
def test_class_drawn_crop_centres_show_small_classes(balance: bool) -> None:
    preset = TrainPreset(
        PreprocessSpec(input_size=512), crop_size=128, threat_crop_p=1.0, balance_classes=balance
    )
    rgb, mask = scene()
    knife_crops = sum(
        bool((preset.crop(rgb, mask, np.random.default_rng(i))[1] == KNIFE).any()) for i in range(200)
    )
    # Centred on any threat pixel, the knife (160 of 48 560 threat pixels) is almost never in the crop;
    # centred on a class drawn first, it is in about half of them.
    assert (knife_crops > 70) if balance else (knife_crops < 10)


def two_objects(threat: float, carton: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits with threat map ``threat`` on a knife and ``carton`` (default ~1) on a carton, and targets."""
    mask = np.zeros((64, 64), np.uint8)
    mask[8:24, 4:16] = KNIFE
    mask[40:56, 40:56] = CARTON
    targets = torch.from_numpy(soft_targets(mask, 4, NUM_CHANNELS))[None]
    logits = torch.zeros(1, NUM_CHANNELS, 16, 16)
    logits[:, 0] = 8.0  # confident background everywhere
    logits[0, 0, 10:14, 10:14] = -8.0  # the carton: confident threat
    # background probability 1 - p on the object's cells (the threat channels against background)
    for cells, p in (((slice(2, 6), slice(1, 4)), threat), ((slice(10, 14), slice(10, 14)), carton)):
        if p is not None:
            logits[(0, 0, *cells)] = float(np.log((1 - p) / p) + np.log(NUM_CHANNELS - 1))
    return logits.requires_grad_(), targets


def test_per_class_ranking_pushes_a_missed_object_beside_a_found_one() -> None:
    logits, targets = two_objects(threat=0.05)
    _, any_threat = segmentation_loss(logits, targets, class_weights=None)
    _, each_class = segmentation_loss(logits, targets, class_weights=EVEN)
    # With the carton found, "any threat" is satisfied; per class, the missed knife still costs.
    assert each_class["image"] > any_threat["image"] + 1.0
    found, _ = two_objects(threat=0.95)
    _, both_found = segmentation_loss(found, targets, class_weights=EVEN)
    assert both_found["image"] < 0.2

    loss, _ = segmentation_loss(logits, targets, class_weights=EVEN)
    loss.backward()
    assert logits.grad is not None
    # The knife's background logit is pushed down (towards threat) harder than by the plain term.
    plain_logits, _ = two_objects(threat=0.05)
    plain, _ = segmentation_loss(plain_logits, targets, class_weights=None)
    plain.backward()
    assert plain_logits.grad is not None
    assert logits.grad[0, 0, 2:6, 2].max() > plain_logits.grad[0, 0, 2:6, 2].max() + 0.05


def test_class_peaks_see_objects_thinner_than_a_cell() -> None:
    from vision.train.train import class_peaks

    mask = np.zeros((64, 64), np.uint8)
    mask[9:30, 13] = KNIFE  # one pixel wide: no output cell is mostly knife
    mask[40:56, 40:56] = CARTON
    threat_map = np.zeros((16, 16), np.float32)
    threat_map[2:8, 3] = 0.7
    threat_map[12, 12] = 0.9
    assert class_peaks(mask, threat_map) == pytest.approx({"blade": 0.7, "cigarettes": 0.9})


def test_balancing_keeps_each_folders_mixing_share() -> None:
    from vision.datasets import Instance, Sample
    from vision.train.train import TrainArgs, draw_weights

    def sample(*labels: str) -> Sample:
        instances = tuple(Instance(label, (0.0, 0.0, 1.0, 1.0)) for label in labels)
        return Sample(pathlib.Path("x.png"), None, "parcel", "s", instances)

    # folder 0: 6 clean scans and 2 knives; folder 1: 2 scans, one with a gun
    samples = [sample()] * 6 + [sample("blade")] * 2 + [sample(), sample("firearm")]
    origins = [0] * 8 + [1] * 2
    args = TrainArgs(data=["a", "b"], out="o", mix=[3.0, 1.0], balance=True)
    weights = draw_weights(args, samples, origins, misses={"blade": 1.0})
    assert weights is not None
    assert weights[:8].sum() / weights.sum() == pytest.approx(0.75)  # --mix still holds per folder
    assert weights[6] > weights[0]  # within the folder the missed knives are drawn more


def test_a_missed_class_weighs_more_in_the_ranking_term() -> None:
    from vision.train.train import MISS_BOOST, ranking_weights

    weights = ranking_weights({"blade": 1.0, "cigarettes": 0.0})
    assert weights[KNIFE - 1] == pytest.approx(1 + MISS_BOOST) and weights[CARTON - 1] == 1.0
    logits, targets = two_objects(threat=0.05)  # the knife missed, the carton found
    _, even = segmentation_loss(logits, targets, class_weights=EVEN)
    _, weighted = segmentation_loss(logits, targets, class_weights=weights)
    assert weighted["image"] > even["image"]  # the missed knife's share of the term grew
    found, _ = two_objects(threat=0.95)
    _, even_found = segmentation_loss(found, targets, class_weights=EVEN)
    _, weighted_found = segmentation_loss(found, targets, class_weights=weights)
    assert weighted_found["image"] == pytest.approx(
        even_found["image"], abs=0.05
    )  # a weighted mean, not a sum


def test_weighting_a_missed_class_never_eases_the_push_on_the_others() -> None:
    from vision.train.train import ranking_weights

    weights = ranking_weights({"blade": 1.0, "cigarettes": 0.0})

    def carton_push(class_weights: torch.Tensor) -> float:
        # the knife missed, the carton half found: how hard is the carton's background logit pushed down?
        logits, targets = two_objects(threat=0.05, carton=0.5)
        loss, _ = segmentation_loss(logits, targets, class_weights=class_weights)
        loss.backward()
        assert logits.grad is not None
        return float(logits.grad[0, 0, 10:14, 10:14].max())

    # A weighted mean would give the carton 1/5 of the term instead of 1/2; the floor keeps its full share.
    assert carton_push(weights) == pytest.approx(carton_push(EVEN), rel=1e-4)


def test_hard_negatives_are_drawn_more_within_each_folder_and_its_clean_share() -> None:
    from vision.train.train import hard_factors, respread

    # folder 0: four clean scans (0-3) and two threat scans (4, 5); folder 1: four clean scans (6-9)
    origins = [0] * 6 + [1] * 4
    clean = [0, 1, 2, 3, 6, 7, 8, 9]
    scores = np.asarray([0.1, 0.9, 0.2, 0.3, 0.5, 0.6, 0.95, 0.4])
    factors, cuts = hard_factors(scores, clean, origins, boost=4.0, share=0.25)
    # the top quarter of each folder's clean scans by score: scan 1 in folder 0, scan 8 in folder 1
    assert np.flatnonzero(factors == 4.0).tolist() == [1, 8] and set(cuts) == {0, 1}
    weights = np.asarray([1.0] * 6 + [2.0] * 4)
    groups = [2 * o + (i in clean) for i, o in enumerate(origins)]
    drawn = respread(weights, groups, factors)
    # each folder's share, and within it the clean scans' share, stay as they were
    for group in set(groups):
        members = [i for i, g in enumerate(groups) if g == group]
        assert drawn[members].sum() == pytest.approx(weights[members].sum())
    assert drawn[1] == pytest.approx(4 * drawn[0]) and drawn[8] == pytest.approx(4 * drawn[6])
    assert drawn[4] == weights[4]  # a threat scan is never mined


def test_hard_positives_are_the_threat_scans_whose_least_found_class_peaks_lowest() -> None:
    from vision.train.model import build_model
    from vision.train.train import hard_factors, square_outputs, whole_scan_figures

    spec = PreprocessSpec(input_size=64)
    rgb = np.full((64, 64, 3), 200, np.uint8)
    knife, pistol = np.zeros((64, 64), np.uint8), np.zeros((64, 64), np.uint8)
    knife[8:24, 8:24] = THREAT_CLASSES.index("blade") + 1
    pistol[40:56, 40:56] = THREAT_CLASSES.index("firearm") + 1
    both = np.maximum(knife, pistol)
    scans = [(rgb, knife), (rgb, pistol), (rgb, both), (rgb, np.zeros_like(knife))]
    torch.manual_seed(0)
    model = build_model((4, 8, 8, 8))
    scores, peaks = whole_scan_figures(model, scans, [0, 1, 2, 3], spec)
    with torch.no_grad():
        threat_map = square_outputs(model, [rgb], spec, None)[0][0]
    stride = 64 // threat_map.shape[0]
    knife_peak = threat_map[8 // stride : 24 // stride, 8 // stride : 24 // stride].max()
    pistol_peak = threat_map[40 // stride : 56 // stride, 40 // stride : 56 // stride].max()
    # a scan's peak is over its least-found class; a clean scan has nothing to find
    assert peaks[0] == pytest.approx(knife_peak, abs=1e-6)
    assert peaks[1] == pytest.approx(pistol_peak, abs=1e-6)
    assert peaks[2] == pytest.approx(min(knife_peak, pistol_peak), abs=1e-6) and peaks[3] == 1.0
    assert np.allclose(scores, threat_map.max(), atol=1e-6)
    # mined on the miss (1 - peak): the lowest peaks of each folder are drawn more
    factors, cuts = hard_factors(1.0 - np.asarray([0.9, 0.2, 0.6, 0.4]), [0, 1, 2, 3], [0, 0, 0, 0], 3.0)
    assert np.flatnonzero(factors == 3.0).tolist() == [1] and cuts[0] == pytest.approx(0.65)
