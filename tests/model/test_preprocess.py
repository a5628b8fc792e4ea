"""The shared preprocessing: letterbox placement, normalisation, mapping maps and boxes back."""

from __future__ import annotations

import numpy as np
import pytest

from vision.preprocess import PreprocessSpec, letterbox, letterbox_mask, preprocess


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
