"""Box-labelled real scans: box pixels carry no per-pixel target, and a multiple-instance term instead."""

from __future__ import annotations

import json
import pathlib

import cv2
import numpy as np
import torch

from vision.classes import category_id, coco_categories
from vision.datasets import cache_samples, load_dataset
from vision.train.presets import BOX_LABEL_OFFSET, class_map, training_targets
from vision.train.train import NUM_CHANNELS, class_cells, multiple_instance_loss, segmentation_loss

BLADE = category_id("blade")


def box_mask() -> np.ndarray:
    mask = np.zeros((64, 64), np.uint8)
    mask[8:32, 8:32] = BOX_LABEL_OFFSET + BLADE
    return mask


def test_box_cells_get_no_class_target_but_a_bag() -> None:
    targets = training_targets(box_mask(), 4, NUM_CHANNELS)
    assert targets.shape == (2 * NUM_CHANNELS - 1, 16, 16)
    shares, bags = targets[:NUM_CHANNELS], targets[NUM_CHANNELS:]
    assert shares[:, 3, 3].sum() == 0  # wholly inside the box: neither background nor blade
    assert shares[0, 12, 12] == 1  # outside every box: background
    assert bags[BLADE - 1, 3, 3] == 1 and bags.sum() == 36
    assert np.array_equal(class_map(box_mask())[8:32, 8:32], np.full((24, 24), BLADE, np.uint8))
    assert class_cells(box_mask())["blade"].sum() == 36


def test_the_loss_rewards_an_object_in_the_box_not_the_whole_box() -> None:
    targets = torch.from_numpy(training_targets(box_mask(), 4, NUM_CHANNELS))[None]
    logits = torch.zeros(1, NUM_CHANNELS, 16, 16)
    logits[:, 0] = 4.0  # confident background everywhere
    one_cell = logits.clone()
    # A 3x3-cell object (the image score smooths the map over 3x3 cells) somewhere in the box.
    one_cell[0, BLADE, 3:6, 3:6], one_cell[0, 0, 3:6, 3:6] = 8.0, -4.0
    painted = logits.clone()
    painted[0, BLADE, 2:8, 2:8], painted[0, 0, 2:8, 2:8] = 8.0, -4.0
    base, _ = segmentation_loss(logits, targets)
    found, parts = segmentation_loss(one_cell, targets)
    whole, _ = segmentation_loss(painted, targets)
    assert found < base
    # Painting the whole box earns nothing more than the object (the box's other pixels are unknown).
    assert abs(float(whole) - float(found)) < 0.05 * float(found)
    assert parts["mil"] < 0.01
    probs = torch.softmax(one_cell, 1)[:, 1:]
    assert multiple_instance_loss(probs, torch.zeros(1, 0, 16, 16)) == 0


def test_a_line_sized_bag_asks_for_a_blade_not_a_tip_nor_the_box() -> None:
    """--mil-line 1: a 6x6-cell box asks for its best 6 cells (a blade across it), not 1 nor 36."""
    bags = torch.from_numpy(training_targets(box_mask(), 4, NUM_CHANNELS)[NUM_CHANNELS:])[None]
    probs = torch.full((1, NUM_CHANNELS - 1, 16, 16), 0.01)
    tip = probs.clone()
    tip[0, BLADE - 1, 2, 2] = 0.99
    blade = probs.clone()
    for cell in range(2, 8):  # the box's diagonal
        blade[0, BLADE - 1, cell, cell] = 0.99
    painted = probs.clone()
    painted[0, BLADE - 1, 2:8, 2:8] = 0.99
    # One cell is all the default bag asks for; the line-sized bag is still far from content with a tip.
    assert multiple_instance_loss(tip, bags) < 0.02 and multiple_instance_loss(tip, bags, 1.0) > 3.0
    assert multiple_instance_loss(blade, bags, 1.0) < 0.02
    # Painting the whole box earns nothing more than the blade.
    assert multiple_instance_loss(painted, bags, 1.0) == multiple_instance_loss(blade, bags, 1.0)
    # A box of fewer cells than asked for asks for all of them.
    small = torch.zeros_like(bags)
    small[0, BLADE - 1, 4, 4] = 1
    assert multiple_instance_loss(tip, small, 5.0) > 4.0
    tip[0, BLADE - 1, 4, 4] = 0.99
    assert multiple_instance_loss(tip, small, 5.0) < 0.02


def test_cached_box_labelled_masks_are_marked_as_boxes(tmp_path: pathlib.Path) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    mask = np.zeros((40, 40), np.uint8)
    mask[5:20, 5:20] = BLADE
    cv2.imwrite(str(tmp_path / "images" / "a.png"), np.full((40, 40, 3), 200, np.uint8))
    cv2.imwrite(str(tmp_path / "masks" / "a.png"), mask)
    images = [{"id": 1, "file_name": "images/a.png", "mask_file": "masks/a.png", "mask_source": "box"}]
    annotations = [{"id": 1, "image_id": 1, "category_id": BLADE, "bbox": [5, 5, 15, 15]}]
    coco = {"images": images, "annotations": annotations, "categories": coco_categories()}
    (tmp_path / "annotations.json").write_text(json.dumps(coco))
    [(_, cached)] = cache_samples(load_dataset(tmp_path), 640, progress=False)
    assert set(np.unique(cached)) == {0, BOX_LABEL_OFFSET + BLADE}
