"""Threat image projection (vision.tip, `triage tip`): the physics of composing, the writer, refusals."""

from __future__ import annotations

import json
import pathlib

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from cli.main import app
from vision.classes import category_id, coco_categories
from vision.datasets import load_dataset, read_mask
from vision.tip import MASK_ATTENUATION, TipError, cut_out, project, project_random, write_tip_dataset


def textured_bag(height: int = 120, width: int = 160, seed: int = 0) -> np.ndarray:
    """A light orange bag with smooth texture on a white belt."""
    rng = np.random.default_rng(seed)
    bag = np.full((height, width, 3), 255, np.uint8)
    texture = cv2.GaussianBlur(rng.uniform(160, 240, (height, width)).astype(np.float32), (0, 0), 6)
    bag[10:-10, 10:-10, 0] = 250
    bag[10:-10, 10:-10, 1] = texture[10:-10, 10:-10].astype(np.uint8)
    bag[10:-10, 10:-10, 2] = (texture[10:-10, 10:-10] * 0.6).astype(np.uint8)
    return bag


def test_projection_multiplies_transmission_and_leaves_the_bag_alone_elsewhere() -> None:
    bag = textured_bag()
    ratio = np.ones((30, 40, 3), np.float32)
    ratio[5:25, 5:35] = (0.5, 0.4, 0.8)  # a dense, bluish object
    composite, mask = project(bag, ratio, (50, 40))
    inside = composite[45:65, 55:85].astype(np.float32)
    expected = bag[45:65, 55:85].astype(np.float32) * np.array([0.5, 0.4, 0.8], np.float32)
    assert np.abs(inside - expected).max() <= 0.5 + 1e-6
    untouched = np.ones(mask.shape, bool)
    untouched[40:70, 50:90] = False
    assert np.array_equal(composite[untouched], bag[untouched])
    # The mask is where the projected attenuation is: the object, not the cut-out's frame of ones.
    assert mask[45:65, 55:85].all() and mask.sum() == 20 * 30
    # Composing twice is composing the product (Beer–Lambert: T = T_bag * T_1 * T_2).
    twice, _ = project(composite, ratio, (50, 40))
    once, _ = project(bag, ratio * ratio, (50, 40))
    assert np.abs(twice[45:65, 55:85].astype(int) - once[45:65, 55:85].astype(int)).max() <= 1


def test_projection_past_the_edge_is_cut_and_noise_stays_on_the_object() -> None:
    bag = textured_bag()
    ratio = np.full((30, 30, 3), 0.5, np.float32)
    composite, mask = project(
        bag, ratio, (145, -10), np.random.default_rng(0), noise_sigma=5.0, blur_sigma=0.7
    )
    assert mask.sum() == 15 * 20
    away = np.ones(mask.shape, bool)
    away[:20, 145:] = False
    assert np.array_equal(composite[away], bag[away])


def test_a_cut_out_recovers_the_object_ratio_and_drops_light_clutter_of_a_box() -> None:
    bag = textured_bag(seed=3)
    truth = np.ones((120, 160), np.float32)
    cv2.circle(truth, (80, 60), 12, 0.4, -1)
    scan = np.clip(bag.astype(np.float32) * truth[..., None], 0, 255).astype(np.uint8)
    region = np.zeros((120, 160), bool)
    region[40:80, 60:100] = True
    cutout = cut_out(scan, region, "blade", from_box=True, source="test")
    centre = cutout.ratio[cutout.ratio.shape[0] // 2, cutout.ratio.shape[1] // 2]
    assert np.allclose(centre, 0.4, atol=0.06)
    corner = cutout.ratio[6, 6]  # inside the box, outside the object
    assert np.allclose(corner, 1.0)
    with pytest.raises(TipError):
        cut_out(scan, np.zeros_like(region), "blade", True, "test")
    with pytest.raises(TipError):
        cut_out(scan, region, "teapot", True, "test")


def test_random_projection_lands_on_the_bag_and_labels_its_region() -> None:
    bag = textured_bag()
    ratio = np.ones((20, 20, 3), np.float32)
    ratio[4:16, 4:16] = 0.3
    scan = np.clip(
        bag.astype(np.float32) * np.pad(ratio, ((50, 50), (70, 70), (0, 0)), constant_values=1), 0, 255
    )
    region = np.zeros((120, 160), bool)
    region[50:70, 70:90] = True
    cutout = cut_out(scan.astype(np.uint8), region, "firearm", from_box=False, source="sim")
    for seed in range(5):
        composite, mask, box = project_random(bag, cutout, np.random.default_rng(seed))
        assert mask.any()
        # Outside the mask only the object's faint, blurred rim may show, below the mask's attenuation.
        change = np.abs(composite.astype(int) - bag.astype(int)).max(axis=2)
        assert change[~mask].max() <= 255 * MASK_ATTENUATION + 3
        x0, y0, x1, y1 = box
        ys, xs = np.nonzero(mask)
        assert x0 <= xs.min() and xs.max() < x1 and y0 <= ys.min() and ys.max() < y1


def write_threat_dataset(folder: pathlib.Path, count: int = 3) -> pathlib.Path:
    """Bags with a dark bar labelled ``blade`` by exact mask."""
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    images, annotations = [], []
    for index in range(count):
        rgb = textured_bag(seed=10 + index)
        mask = np.zeros(rgb.shape[:2], np.uint8)
        rgb[50:58, 40:100] = (rgb[50:58, 40:100] * 0.3).astype(np.uint8)
        mask[50:58, 40:100] = category_id("blade")
        cv2.imwrite(str(folder / "images" / f"{index}.png"), rgb[:, :, ::-1])
        cv2.imwrite(str(folder / "masks" / f"{index}.png"), mask)
        images.append(
            {
                "id": index + 1,
                "file_name": f"images/{index}.png",
                "mask_file": f"masks/{index}.png",
                "width": 160,
                "height": 120,
            }
        )
        annotations.append(
            {
                "id": index + 1,
                "image_id": index + 1,
                "category_id": category_id("blade"),
                "bbox": [40, 50, 60, 8],
            }
        )
    coco = {"images": images, "annotations": annotations, "categories": coco_categories()}
    (folder / "annotations.json").write_text(json.dumps(coco))
    return folder


def write_backgrounds(folder: pathlib.Path, count: int = 4) -> pathlib.Path:
    folder.mkdir(parents=True)
    for index in range(count):
        cv2.imwrite(str(folder / f"bag{index}.jpg"), textured_bag(seed=index)[:, :, ::-1])
    return folder


def test_tip_command_writes_a_reproducible_dataset_that_training_reads(tmp_path: pathlib.Path) -> None:
    threats = write_threat_dataset(tmp_path / "threats")
    bags = write_backgrounds(tmp_path / "bags")
    (tmp_path / "val.txt").write_text("bag3.jpg\n")
    runner = CliRunner()
    outputs = []
    for name in ("a", "b"):
        result = runner.invoke(
            app,
            [
                "tip",
                "--backgrounds",
                str(bags),
                "--threats",
                str(threats),
                "--count",
                "6",
                "--seed",
                "4",
                "--out",
                str(tmp_path / name),
                "--exclude-list",
                str(tmp_path / "val.txt"),
                "--quiet",
                "--preview",
                str(tmp_path / f"{name}.png"),
            ],
        )
        assert result.exit_code == 0, result.output
        outputs.append(json.loads((tmp_path / name / "annotations.json").read_text()))
    assert outputs[0] == outputs[1]
    assert (tmp_path / "a.png").is_file()
    samples = load_dataset(tmp_path / "a")
    assert len(samples) == 6 and all(s.has_threat for s in samples)
    assert not any("bag3" in image["background_file"] for image in outputs[0]["images"])
    for sample in samples:
        mask = read_mask(sample.mask_path)  # type: ignore[arg-type]
        assert set(np.unique(mask)) == {0, category_id("blade")}
        rgb = cv2.imread(str(sample.image_path))
        assert rgb.shape[:2] == mask.shape


def test_tip_refuses_bad_input_in_one_line_and_writes_nothing(tmp_path: pathlib.Path) -> None:
    threats = write_threat_dataset(tmp_path / "threats")
    bags = write_backgrounds(tmp_path / "bags")
    empty = tmp_path / "empty"
    empty.mkdir()
    runner = CliRunner()
    cases = [
        ["--backgrounds", str(bags), "--threats", str(threats), "--count", "0"],
        ["--backgrounds", str(empty), "--threats", str(threats), "--count", "2"],
        ["--backgrounds", str(bags), "--threats", str(empty), "--count", "2"],
    ]
    for index, case in enumerate(cases):
        out = tmp_path / f"out{index}"
        result = runner.invoke(app, ["tip", *case, "--out", str(out), "--quiet"])
        assert result.exit_code == 2, result.output
        assert "error:" in result.output and len(result.output.strip().splitlines()) == 1
        assert not (out / "annotations.json").exists()
    with pytest.raises(TipError):
        write_tip_dataset([], [], tmp_path / "x", 1, 0)
