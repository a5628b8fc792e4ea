"""Training targets: the class shares per output cell that the loss is computed against."""

from __future__ import annotations

import numpy as np
import pytest

from tests.model.test_palette import bag, hue_sat
from vision.palette import REAL_SATURATIONS, REAL_WARM_HUES, bag_palette
from vision.preprocess import PreprocessSpec
from vision.train.presets import TrainPreset, lower_resolution, repaint, soft_targets


def shares_cell_by_cell(mask: np.ndarray, stride: int, channels: int) -> np.ndarray:
    """The definition, one cell at a time: the share of each class among the cell's pixels."""
    rows, cols = mask.shape[0] // stride, mask.shape[1] // stride
    out = np.zeros((channels, rows, cols), np.float32)
    for r in range(rows):
        for c in range(cols):
            cell = mask[r * stride : (r + 1) * stride, c * stride : (c + 1) * stride]
            for k in range(channels):
                out[k, r, c] = (cell == k).mean()
    return out


@pytest.mark.parametrize("shape", [(16, 16), (18, 23), (3, 9)])
def test_shares_match_the_definition_and_drop_the_partial_edge_cells(shape: tuple[int, int]) -> None:
    mask = np.random.default_rng(sum(shape)).integers(0, 5, shape).astype(np.uint8)
    targets = soft_targets(mask, 4, 5)
    assert targets.shape == (5, shape[0] // 4, shape[1] // 4) and targets.dtype == np.float32
    assert targets.flags.c_contiguous
    np.testing.assert_array_equal(targets, shares_cell_by_cell(mask, 4, 5))
    if targets.size:
        np.testing.assert_allclose(targets.sum(axis=0), 1.0)


def test_a_thin_object_leaves_a_fractional_target() -> None:
    mask = np.zeros((8, 8), np.uint8)
    mask[:, 1] = 3  # a one-pixel-wide blade seen edge-on
    targets = soft_targets(mask, 4, 4)
    assert targets[3, :, 0].tolist() == [0.25, 0.25] and targets[3, :, 1].tolist() == [0.0, 0.0]


def test_a_class_id_beyond_the_channels_is_refused() -> None:
    mask = np.zeros((8, 8), np.uint8)
    mask[0, 0] = 4
    with pytest.raises(ValueError, match="class id 4 in a mask of 4 channels"):
        soft_targets(mask, 4, 4)


def bar_scan() -> tuple[np.ndarray, np.ndarray]:
    """A 640 x 480 grey scan with one 40 x 10 px bar of class 4 (a knife) near its middle."""
    rgb = np.full((480, 640, 3), 120, np.uint8)
    mask = np.zeros((480, 640), np.uint8)
    rgb[235:245, 300:340], mask[235:245, 300:340] = 30, 4
    return rgb, mask


@pytest.mark.parametrize("zoom", [0.7, 1.0, 1.35])
def test_a_crop_shows_the_scan_at_the_drawn_zoom_in_any_orientation(zoom: float) -> None:
    preset = TrainPreset(
        PreprocessSpec(input_size=512), crop_size=128, scale_range=(zoom, zoom), threat_crop_p=1.0,
        photometric_p=0.0,
    )  # fmt: skip
    rgb, mask = bar_scan()
    # At the model's input the 640 px long side is 512 x zoom, so the 40 x 10 bar is 32 x 8 px times zoom.
    long_side, short_side = 40 * 512 / 640 * zoom, 10 * 512 / 640 * zoom
    orientations = set()
    for seed in range(24):
        image, crop_mask = preset(rgb, mask, np.random.default_rng(seed))
        assert image.shape == (3, 128, 128) and image.dtype == np.float32
        assert crop_mask.shape == (128, 128) and set(np.unique(crop_mask)) <= {0, 4}
        ys, xs = np.nonzero(crop_mask == 4)
        assert len(ys), "a threat-centred crop holds its threat"
        if ys.min() == 0 or xs.min() == 0 or ys.max() == 127 or xs.max() == 127:
            continue  # cut by the crop's edge
        extent = sorted((int(np.ptp(ys)) + 1, int(np.ptp(xs)) + 1))
        assert abs(extent[1] - long_side) <= 2 and abs(extent[0] - short_side) <= 2, (extent, zoom)
        orientations.add(bool(np.ptp(xs) > np.ptp(ys)))
        # the bar is dark on grey: the image follows the mask
        assert image[:, crop_mask == 4].mean() < image[:, crop_mask == 0].mean()
    assert orientations == {True, False}, "bags lie both ways round on the belt"


def test_a_scan_smaller_than_the_window_is_padded_with_belt_white() -> None:
    spec = PreprocessSpec(input_size=512)
    preset = TrainPreset(spec, crop_size=128, scale_range=(1.0, 1.0), photometric_p=0.0)
    rgb = np.full((40, 60, 3), 30, np.uint8)  # 60 px long side: the 128 px crop is a 15 px window
    mask = np.zeros((40, 60), np.uint8)
    image, crop_mask = preset(rgb, mask, np.random.default_rng(0))
    assert image.shape == (3, 128, 128) and not crop_mask.any()
    # at zoom 1 the window is 15 px of a 40 x 60 scan, inside it: no padding
    assert np.allclose(image, image.flat[0])
    small = TrainPreset(spec, crop_size=128, scale_range=(0.1, 0.1), photometric_p=0.0)
    # at zoom 0.1 the window is 150 px, larger than the scan: padding with the belt's white fills the rest
    padded, _ = small(rgb, mask, np.random.default_rng(0))
    white = (spec.pad_value / 255 - spec.mean[0]) / spec.std[0]
    assert np.isclose(padded, white).mean() > 0.5 and (padded < 0).any()


def test_framed_training_draws_the_same_crops_however_much_belt_surrounds_the_bag() -> None:
    framed = PreprocessSpec(input_size=512, content_fill=1.0)
    rgb, mask = bar_scan()
    on_belt = np.pad(rgb, ((100, 100), (300, 300), (0, 0)), constant_values=255)
    belt_mask = np.pad(mask, ((100, 100), (300, 300)))
    preset = TrainPreset(framed, crop_size=128, threat_crop_p=1.0, photometric_p=0.0)
    for seed in range(4):
        image, crop_mask = preset(rgb, mask, np.random.default_rng(seed))
        belt_image, belt_crop = preset(on_belt, belt_mask, np.random.default_rng(seed))
        # The bar is drawn at the same zoom: as inference frames the scan, the belt is cut away first.
        np.testing.assert_array_equal(crop_mask, belt_crop)
        np.testing.assert_array_equal(image, belt_image)
    # Whole scans (no framing): the belt shrinks the bar in the crops.
    whole = TrainPreset(PreprocessSpec(input_size=512), crop_size=128, threat_crop_p=1.0, photometric_p=0.0)
    bar, bar_on_belt = (
        whole(s, m, np.random.default_rng(0))[1] == 4 for s, m in ((rgb, mask), (on_belt, belt_mask))
    )
    assert bar_on_belt.sum() < 0.8 * bar.sum()


def checkerboard(height: int, width: int, square: int) -> np.ndarray:
    """Black and white squares of ``square`` px: detail that only a fine resolution keeps."""
    ys, xs = np.indices((height, width))
    return np.repeat((((ys // square + xs // square) % 2) * 255).astype(np.uint8)[..., None], 3, axis=2)


def test_a_lower_resolution_keeps_the_size_and_flat_areas_and_loses_the_fine_detail() -> None:
    rgb = checkerboard(200, 300, 2)
    rgb[:100, :100] = 90  # a flat patch, larger than the shrunk pixels
    rng = np.random.default_rng(0)
    assert lower_resolution(rgb, 1.0, rng) is rgb and lower_resolution(rgb, 1.5, rng) is rgb
    for seed in range(4):  # with and without the JPEG step
        low = lower_resolution(rgb, 0.25, np.random.default_rng(seed))
        assert low.shape == rgb.shape and low.dtype == np.uint8
        assert np.abs(low[20:80, 20:80].astype(int) - 90).max() <= 3
        # 2 px squares seen at a quarter of the resolution: mid grey, the pattern gone
        board = low[120:, 120:].astype(float)
        assert abs(board.mean() - 127.5) < 10 and board.std() < 20


def test_low_resolution_training_blurs_large_exports_and_leaves_small_ones_and_the_labels() -> None:
    spec = PreprocessSpec(input_size=512)
    sharp = TrainPreset(spec, crop_size=128, scale_range=(1.0, 1.0), threat_crop_p=1.0, photometric_p=0.0)
    low = TrainPreset(
        spec, crop_size=128, scale_range=(1.0, 1.0), threat_crop_p=1.0, photometric_p=0.0, low_res_p=1.0
    )
    # A 1600 px export of 4 px squares, shown at 512 px: 1.3 px squares, detail a 360-800 px export lacks.
    large, mask = checkerboard(1200, 1600, 4), np.zeros((1200, 1600), np.uint8)
    mask[600:620, 700:800] = 4
    for seed in range(3):
        (image, crop_mask), (low_image, low_mask) = (
            p(large, mask, np.random.default_rng(seed)) for p in (sharp, low)
        )
        assert low_image.std() < 0.6 * image.std()
        assert (low_mask == 4).sum() == (crop_mask == 4).sum() > 0
    # A 300 px export is below every drawn long side: the crop keeps all its pixels (only turned).
    small, small_mask = checkerboard(225, 300, 3), np.zeros((225, 300), np.uint8)
    for seed in range(3):
        image, _ = sharp(small, small_mask, np.random.default_rng(seed))
        low_image, _ = low(small, small_mask, np.random.default_rng(seed))
        np.testing.assert_array_equal(np.sort(image, axis=None), np.sort(low_image, axis=None))


def test_a_repainted_scan_takes_a_real_scanners_palette_and_keeps_its_materials_apart() -> None:
    rgb = bag(30.0, 90)
    palette = bag_palette(rgb)
    assert palette is not None and abs(palette.warm_hue - 30.0) < 2 and abs(palette.saturation - 90) < 2
    assert bag_palette(np.full((200, 200, 3), 255, np.uint8)) is None  # empty belt: no palette
    hues, saturations = [], []
    for seed in range(40):
        out = repaint(rgb, palette, np.random.default_rng(seed))
        after = bag_palette(out)
        assert after is not None and after.warm_hue is not None
        hues.append(after.warm_hue)
        saturations.append(after.saturation)
        assert (out[:5, :5] == 255).all()  # the belt stays white
        # the metal patch turned as far as the organic one: still blue, the order of colours kept
        organic, metal = (hue_sat(out, x)[0] for x in (30, 75))
        assert abs(metal - organic - 190) < 6
    assert REAL_WARM_HUES[0] - 3 <= min(hues) and max(hues) <= REAL_WARM_HUES[1] + 3
    assert max(hues) - min(hues) > 20  # drawn across the real range, not nudged around the scan's own
    assert REAL_SATURATIONS[0] - 5 <= min(saturations) and max(saturations) <= REAL_SATURATIONS[1] + 5
    assert max(saturations) / min(saturations) > 2


def test_repainting_in_training_moves_the_palette_and_nothing_else() -> None:
    spec = PreprocessSpec(input_size=512)
    rgb, mask = bag(30.0, 90), np.zeros((100, 100), np.uint8)
    mask[10:90, 60:90] = 4
    plain = TrainPreset(spec, crop_size=64, scale_range=(1.0, 1.0), photometric_p=0.0)
    painted = TrainPreset(spec, crop_size=64, scale_range=(1.0, 1.0), photometric_p=0.0, repaint_p=1.0)
    moved = 0
    for seed in range(6):
        (image, crop_mask), (painted_image, painted_mask) = (
            p(rgb, mask, np.random.default_rng(seed)) for p in (plain, painted)
        )
        assert (crop_mask == 4).sum() == (painted_mask == 4).sum()
        moved += not np.allclose(image.mean(axis=(1, 2)), painted_image.mean(axis=(1, 2)), atol=0.02)
    assert moved >= 5


def test_levers_on_clean_scans_only_leave_the_threat_scans_as_they_were() -> None:
    spec = PreprocessSpec(input_size=512)
    rgb, clean_mask = bag(30.0, 90), np.zeros((100, 100), np.uint8)
    threat_mask = clean_mask.copy()
    threat_mask[10:90, 60:90] = 4
    options = {"crop_size": 64, "scale_range": (1.0, 1.0), "photometric_p": 0.0}
    plain = TrainPreset(spec, **options)
    clean_only = TrainPreset(spec, **options, repaint_p=1.0, levers_clean_only=True)
    moved = 0
    for seed in range(6):
        for mask in (threat_mask, clean_mask):
            image, _ = plain(rgb, mask, np.random.default_rng(seed))
            levered, _ = clean_only(rgb, mask, np.random.default_rng(seed))
            if mask is threat_mask:
                np.testing.assert_array_equal(levered, image)
            else:
                moved += not np.allclose(image.mean(axis=(1, 2)), levered.mean(axis=(1, 2)), atol=0.02)
    assert moved >= 5
