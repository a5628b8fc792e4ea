"""Scenes: determinism, labels where the threat's attenuation is, every kind renders."""

from __future__ import annotations

import numpy as np
import pytest

from vision.classes import THREAT_CLASSES, category_id
from vision.physics.profiles import PROFILES
from vision.synth import objects
from vision.synth.objects import Ctx
from vision.synth.projector import MASK_MIN_ATTENUATION, Canvas
from vision.synth.scene import _labels, generate

SIZE = (160, 120)


@pytest.mark.parametrize("kind", ["parcel", "luggage", "vehicle"])
def test_generate_is_deterministic_and_well_formed(kind: str) -> None:
    a = generate(kind, 5, "delta140", threat_probability=1.0, size=SIZE)
    b = generate(kind, 5, "delta140", threat_probability=1.0, size=SIZE)
    c = generate(kind, 6, "delta140", threat_probability=1.0, size=SIZE)
    assert a.rgb.shape == (120, 160, 3) and a.rgb.dtype == np.uint8
    for x, y in ((a.rgb, b.rgb), (a.high, b.high), (a.low, b.low), (a.mask, b.mask)):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.high, c.high)
    for t in (a.high, a.low):
        assert t.dtype == np.float32 and t.min() > 0 and t.max() <= 1
    assert (a.kind, a.profile, a.seed) == (kind, "delta140", 5)
    assert set(np.unique(a.mask)) <= set(range(len(THREAT_CLASSES) + 1))


def test_default_profile_is_a_training_profile_and_clean_scans_have_no_labels() -> None:
    from vision.physics.profiles import TRAIN_PROFILES

    scan = generate("parcel", 3, threat_probability=0.0, size=SIZE)
    assert scan.profile in TRAIN_PROFILES
    assert scan.instances == [] and scan.mask.max() == 0


def test_instances_agree_with_the_class_map() -> None:
    for seed in range(4):
        scan = generate("luggage", seed, "delta140", threat_probability=1.0, size=(320, 240))
        assert scan.instances
        for inst in scan.instances:
            ys, xs = np.nonzero(inst.mask)
            x, y, w, h = inst.bbox
            assert (x, y, w, h) == (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
            assert inst.category_id == category_id(inst.label)
            # Every labelled pixel carries a threat class (another threat may win where two overlap).
            assert scan.mask[inst.mask > 0].min() >= 1
        union = np.zeros_like(scan.mask, bool)
        for inst in scan.instances:
            union |= inst.mask > 0
        np.testing.assert_array_equal(union, scan.mask > 0)


@pytest.mark.parametrize("threat", sorted(objects.THREATS))
def test_a_threats_mask_is_where_its_attenuation_is(threat: str) -> None:
    canvas = Canvas(200, 260, 1.5, "kv160")
    objects.THREATS[threat](Ctx(canvas, np.random.default_rng(1)), 130, 100, 0.4)
    _, att_high = canvas.attenuation()
    high = np.exp(-att_high).astype(np.float32)
    class_map, instances = _labels(canvas, high, PROFILES["aurora160"])
    assert instances and all(i.label == threat for i in instances)
    labelled = class_map > 0
    # On an empty belt every labelled pixel is attenuated, and clearly attenuated pixels are labelled
    # unless they belong to unlabelled packaging (cartons, wraps).
    assert np.all(att_high[labelled] >= MASK_MIN_ATTENUATION * 0.5)
    assert labelled.sum() > 0
    strong = att_high > 0.5
    assert (labelled & strong).sum() >= 0.6 * strong.sum()
    assert np.all(class_map[labelled] == category_id(threat))
