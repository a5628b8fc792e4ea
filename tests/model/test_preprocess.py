"""The shared preprocessing: letterbox placement, normalisation, mapping maps and boxes back."""

from __future__ import annotations

import numpy as np
import pytest

from vision.preprocess import (
    PreprocessSpec,
    content_window,
    letterbox,
    letterbox_mask,
    preprocess,
    window_of,
)


def test_wide_scan_is_centred_with_white_bars() -> None:
    image = np.zeros((100, 200, 3), np.uint8)
    square, placement = letterbox(image, 64)
    assert square.shape == (64, 64, 3)
    assert (placement.pad_x, placement.pad_y, placement.inner_width, placement.inner_height) == (
        0,
        16,
        64,
        32,
    )
    assert (square[:16] == 255).all() and (square[48:] == 255).all() and (square[16:48] == 0).all()


def test_normalised_input_is_channels_first_float() -> None:
    spec = PreprocessSpec(input_size=32)
    array, _ = preprocess(np.full((10, 20, 3), 255, np.uint8), spec)
    assert array.shape == (3, 32, 32) and array.dtype == np.float32
    assert array.max() == pytest.approx((1 - 0.5) / 0.25)


def test_map_and_box_round_trip_to_the_scan() -> None:
    height, width = 300, 500
    image = np.full((height, width), 255, np.uint8)
    image[100:200, 300:400] = 0
    square, placement = letterbox(image, 128)
    back = placement.map_to_image(square.astype(np.float32) / 255)
    assert back.shape == (height, width)
    assert back[150, 350] < 0.05 and back[50, 50] > 0.95
    # Box of the dark square found on the input, mapped back.
    ys, xs = np.nonzero(square < 128)
    box = placement.box_to_image((xs.min(), ys.min(), xs.max() + 1, ys.max() + 1))
    assert np.allclose(box, (300, 100, 400, 200), atol=4), box


def test_mask_letterbox_keeps_class_ids() -> None:
    mask = np.zeros((40, 80), np.uint8)
    mask[10:20, 10:30] = 4
    out = letterbox_mask(mask, 40)
    assert set(np.unique(out)) == {0, 4}
    assert out.shape == (40, 40)


def test_bad_spec_is_refused() -> None:
    with pytest.raises(ValueError, match="bad preprocessing spec"):
        PreprocessSpec.from_dict({"input_size": 64})
    assert PreprocessSpec.from_dict(PreprocessSpec(input_size=96).to_dict()) == PreprocessSpec(input_size=96)


def bag_on_belt(pad_x: int = 0, pad_y: int = 0, height: int = 60) -> np.ndarray:
    """A ``height`` x 80 'bag' (textured, darker than the belt) with ``pad_x`` / ``pad_y`` px of belt each
    side (at most 256 px in all, so the window is found at full resolution)."""
    bag = np.random.default_rng(1).integers(20, 200, (height, 80, 3), dtype=np.uint8)
    return np.pad(bag, ((pad_y, pad_y), (pad_x, pad_x), (0, 0)), constant_values=255)


def test_content_window_frames_the_bag_so_it_spans_the_fill() -> None:
    scan = bag_on_belt(pad_x=80, pad_y=50)  # 160 x 240, bag at x 80-160, y 50-110
    # The window is the bag's box widened on each axis to its longer side over the fill, centred on it.
    assert content_window(scan, 1.0) == (80, 40, 160, 120)
    assert content_window(scan, 0.5) == (40, 0, 200, 160)  # 160 px: as tall as the scan allows
    # Off, a blank belt, or a bag that already spans the fill: the whole scan.
    whole = (0, 0, 240, 160)
    assert content_window(scan, 0.0) == whole
    assert content_window(np.full((160, 240, 3), 255, np.uint8), 1.0) == whole
    assert content_window(bag_on_belt(), 1.0) == (0, 0, 80, 60)
    # A speck of dirt on the belt is not bag.
    specked = scan.copy()
    specked[5, 5] = 0
    assert content_window(specked, 1.0) == (80, 40, 160, 120)
    # A long scan is found on a smaller copy: the window is as exact as that copy allows.
    long_scan = np.pad(bag_on_belt(), ((0, 0), (600, 600), (0, 0)), constant_values=255)
    assert np.allclose(content_window(long_scan, 1.0), (600, 0, 680, 60), atol=4)


def test_framing_gives_a_scan_the_same_input_however_much_belt_surrounds_it() -> None:
    framed = PreprocessSpec(input_size=64, content_fill=1.0)
    plain = PreprocessSpec(input_size=64)
    alone, _ = preprocess(bag_on_belt(height=80), framed)
    for pads in [(80, 0), (0, 70), (30, 45)]:
        on_belt = bag_on_belt(*pads, height=80)
        np.testing.assert_array_equal(preprocess(on_belt, framed)[0], alone)
        # Without framing the belt shrinks the bag in the input.
        assert not np.array_equal(preprocess(on_belt, plain)[0], preprocess(bag_on_belt(height=80), plain)[0])


def test_a_framed_map_and_box_map_back_onto_the_whole_scan() -> None:
    scan = bag_on_belt(pad_x=80, pad_y=50)
    _, placement = letterbox(scan, 64, window=content_window(scan, 1.0))
    crop = (placement.crop_x, placement.crop_y, placement.crop_width, placement.crop_height)
    assert crop == (80, 40, 80, 80)
    heat = np.ones((16, 16), np.float32)  # the whole input hot: only the window may come back hot
    back = placement.map_to_image(heat)
    assert back.shape == (160, 240)
    assert back[40:120, 80:160].min() == pytest.approx(1.0)
    outside = np.ones(back.shape, bool)
    outside[40:120, 80:160] = False
    assert back[outside].max() == 0
    small = placement.map_to_image(heat, (120, 80))  # a half-size heat map (what overlays draw)
    assert small[20:60, 40:80].min() == pytest.approx(1.0) and small[:, :40].max() == 0
    # The input (the window fills it) maps back to the window.
    assert np.allclose(placement.box_to_image((0, 0, 64, 64)), (80, 40, 160, 120), atol=1)
    mask = np.zeros(scan.shape[:2], np.uint8)
    mask[60:70, 110:130] = 4
    boxed = letterbox_mask(mask, 64, window=window_of(placement))
    ys, xs = np.nonzero(boxed == 4)
    box = placement.box_to_image((xs.min(), ys.min(), xs.max() + 1, ys.max() + 1))
    assert np.allclose(box, (110, 60, 130, 70), atol=2)


def test_content_fill_is_read_from_cards_and_bounded() -> None:
    old = PreprocessSpec(input_size=96).to_dict()
    del old["content_fill"]  # a card written before framing existed letterboxed whole scans
    assert PreprocessSpec.from_dict(old).content_fill == 0.0
    spec = PreprocessSpec(input_size=96, content_fill=0.5)
    assert PreprocessSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(ValueError, match="content_fill is a share"):
        PreprocessSpec.from_dict({**spec.to_dict(), "content_fill": 1.5})
    with pytest.raises(ValueError, match="not inside"):
        letterbox(bag_on_belt(), 64, window=(0, 0, 81, 60))
