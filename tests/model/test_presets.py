"""Training targets: the class shares per output cell that the loss is computed against."""

from __future__ import annotations

import numpy as np
import pytest

from vision.train.presets import soft_targets


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
