"""The dataset on disk: COCO that a plain JSON reader can check, masks, raw 16-bit channels, determinism."""

from __future__ import annotations

import hashlib
import json
import pathlib

import cv2
import numpy as np
import pytest
from PIL import Image

from tests.synth.conftest import SMALL_PROFILE
from vision.classes import coco_categories
from vision.synth.dataset import scan_seed, write_dataset, write_preview


def _digest(folder: pathlib.Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _polygon_mask(segmentation: list[list[float]], height: int, width: int) -> np.ndarray:
    mask = np.zeros((height, width), np.uint8)
    for poly in segmentation:
        pts = np.asarray(poly, np.float64).reshape(-1, 2)
        cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 1)
    return mask


def test_coco_file_loads_and_boxes_match_masks(tiny_dataset: pathlib.Path) -> None:
    coco = json.loads((tiny_dataset / "annotations.json").read_text())
    assert coco["categories"] == coco_categories()
    images = {im["id"]: im for im in coco["images"]}
    assert {im["kind"] for im in images.values()} == {"parcel", "luggage", "vehicle"}
    ann_ids = [a["id"] for a in coco["annotations"]]
    assert len(ann_ids) == len(set(ann_ids)) and coco["annotations"]
    for im in images.values():
        rgb = np.asarray(Image.open(tiny_dataset / im["file_name"]))
        assert rgb.shape == (im["height"], im["width"], 3)
        assert im["scanner"] == SMALL_PROFILE and isinstance(im["seed"], int)
        class_map = np.asarray(Image.open(tiny_dataset / im["mask_file"]))
        assert class_map.shape == rgb.shape[:2] and class_map.dtype == np.uint8
        for key in ("raw_high_file", "raw_low_file"):
            raw = np.asarray(Image.open(tiny_dataset / im[key]))
            assert raw.dtype == np.uint16 and raw.shape == rgb.shape[:2] and raw.min() > 0
    for ann in coco["annotations"]:
        im = images[ann["image_id"]]
        assert ann["iscrowd"] == 0 and ann["area"] > 0
        class_map = np.asarray(Image.open(tiny_dataset / im["mask_file"]))
        decoded = _polygon_mask(ann["segmentation"], im["height"], im["width"])
        ys, xs = np.nonzero(decoded)
        x, y, w, h = ann["bbox"]
        # Polygons trace pixel centres of the boundary, so the decoded box equals the stored box.
        assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (x, y, x + w, y + h)
        # The class map labels the instance's pixels with a threat class.
        assert class_map[decoded > 0].mean() > 0
        assert ann["category_id"] in set(np.unique(class_map[y : y + h, x : x + w]))


def test_about_half_the_scans_are_clean_and_raw_is_optional(tmp_path: pathlib.Path) -> None:
    write_dataset(tmp_path, "parcel", 24, seed=2, workers=1, profile=SMALL_PROFILE, quiet=True, raw=False)
    coco = json.loads((tmp_path / "annotations.json").read_text())
    with_threat = {a["image_id"] for a in coco["annotations"]}
    assert 5 <= len(with_threat) <= 19
    # Without raw channels the files and their entries are left out.
    assert not any((tmp_path / "raw").iterdir())
    assert all("raw_high_file" not in im for im in coco["images"])


@pytest.mark.slow
def test_same_seed_same_bytes_whatever_the_worker_count(
    tiny_dataset: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    write_dataset(
        tmp_path, "all", 3, seed=11, workers=2, profile=SMALL_PROFILE, threat_probability=1.0, quiet=True
    )
    assert _digest(tmp_path) == _digest(tiny_dataset)


def test_scan_seeds_depend_on_index_and_base_seed() -> None:
    seeds = {scan_seed(0, i) for i in range(100)} | {scan_seed(1, i) for i in range(100)}
    assert len(seeds) == 200
    assert scan_seed(7, 3) == scan_seed(7, 3) >= 0


def test_bad_arguments_raise_value_error(tmp_path: pathlib.Path) -> None:
    for kwargs in ({"kind": "boat"}, {"count": 0}, {"seed": -1}, {"workers": 0}, {"profile": "nope"}):
        args = {"kind": "parcel", "count": 1, "seed": 0, "workers": 1, **kwargs}
        with pytest.raises(ValueError):
            write_dataset(tmp_path, **args)  # type: ignore[arg-type]


def test_preview_writes_a_contact_sheet(tmp_path: pathlib.Path) -> None:
    path = write_preview(tmp_path / "sheet.png", "parcel", 2, seed=1, profile=SMALL_PROFILE)
    sheet = np.asarray(Image.open(path))
    assert sheet.ndim == 3 and sheet.shape[1] >= 2 * 300
