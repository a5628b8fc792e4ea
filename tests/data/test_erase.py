"""Threat-free twins (vision.erase, `triage erase`): the threat goes, the bag stays, refusals."""

from __future__ import annotations

import json
import pathlib

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.data.test_tip import textured_bag, write_threat_dataset
from vision.datasets import load_dataset, read_mask, read_rgb
from vision.erase import EraseError, erase_threats, write_erased_dataset


def test_erasing_fills_the_threat_from_its_bag_and_leaves_the_rest_alone() -> None:
    bag = textured_bag(seed=5)
    scan = bag.copy()
    scan[50:58, 40:100] = (scan[50:58, 40:100] * 0.3).astype(np.uint8)  # a dark blade
    region = np.zeros(scan.shape[:2], bool)
    region[50:58, 40:100] = True
    erased = erase_threats(scan, region, pad=2)
    # The blade is gone: what fills its place is as bright as the bag around it, not the blade's dark.
    inside = erased[50:58, 40:100].astype(np.float32)
    assert np.abs(inside - bag[50:58, 40:100]).mean() < 12
    assert scan[50:58, 40:100].mean() < 0.5 * inside.mean()
    # Nothing farther than the margin from the blade changes.
    near = cv2.dilate(region.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    assert np.array_equal(erased[~near], scan[~near])
    assert np.array_equal(erase_threats(scan, np.zeros_like(region), 3), scan)
    # Two blades one pixel apart once grown: each is filled from the bag, not from the other blade beside
    # it (filled from everything around it, the nearest rows came out 16 levels darker than the bag).
    pair = bag.copy()
    pair[50:58, 40:100] = (pair[50:58, 40:100] * 0.3).astype(np.uint8)
    pair[63:71, 40:100] = (pair[63:71, 40:100] * 0.1).astype(np.uint8)
    both = np.zeros(pair.shape[:2], bool)
    both[50:58, 40:100] = both[63:71, 40:100] = True
    cleared = erase_threats(pair, both, pad=2).astype(np.float32)
    for rows in (slice(50, 58), slice(63, 71), slice(55, 58)):
        assert np.abs(cleared[rows, 40:100] - bag[rows, 40:100]).mean() < 4
    with pytest.raises(EraseError):
        erase_threats(scan, region, -1)


def test_erase_command_writes_clean_twins_of_the_threat_scans(tmp_path: pathlib.Path) -> None:
    threats = write_threat_dataset(tmp_path / "threats", count=3)
    # A fourth scan without a threat has no twin to make.
    coco = json.loads((threats / "annotations.json").read_text())
    cv2.imwrite(str(threats / "images" / "3.png"), textured_bag(seed=20)[:, :, ::-1])
    cv2.imwrite(str(threats / "masks" / "3.png"), np.zeros((120, 160), np.uint8))
    coco["images"].append(
        {"id": 4, "file_name": "images/3.png", "mask_file": "masks/3.png", "width": 160, "height": 120}
    )
    (threats / "annotations.json").write_text(json.dumps(coco))
    result = CliRunner().invoke(
        app, ["erase", "--data", str(threats), "--out", str(tmp_path / "twins"), "--quiet"]
    )
    assert result.exit_code == 0, result.output
    twins = load_dataset(tmp_path / "twins")
    sources = load_dataset(threats)
    assert len(twins) == 3 and not any(s.has_threat for s in twins)
    for twin, source in zip(twins, sources[:3], strict=True):
        rgb, original = read_rgb(twin.image_path).astype(int), read_rgb(source.image_path).astype(int)
        assert rgb.shape == original.shape
        assert rgb[50:58, 40:100].mean() > original[50:58, 40:100].mean() + 60  # the dark bar is gone
        assert np.abs(rgb[:30] - original[:30]).mean() < 2  # far from it, the bag (JPEG 95 aside)
        assert not read_mask(twin.mask_path).any()  # type: ignore[arg-type]
    listed = json.loads((tmp_path / "twins" / "annotations.json").read_text())
    assert listed["annotations"] == [] and listed["images"][0]["erased_from"].endswith("0.png")


def test_erase_refuses_bad_input_in_one_line_and_writes_nothing(tmp_path: pathlib.Path) -> None:
    threats = write_threat_dataset(tmp_path / "threats", count=1)
    clean = tmp_path / "clean"
    write_erased_dataset([threats], clean, progress=False)
    not_a_dataset = tmp_path / "nothing"
    not_a_dataset.mkdir()
    runner = CliRunner()
    cases = [
        (["--data", str(not_a_dataset)], "not a dataset folder"),
        (["--data", str(clean)], "nothing to erase"),  # twins hold no threat
        (["--data", str(threats), "--pad", "0.5"], "--pad"),
    ]
    for index, (case, reason) in enumerate(cases):
        out = tmp_path / f"out{index}"
        result = runner.invoke(app, ["erase", *case, "--out", str(out), "--quiet"])
        assert result.exit_code == 2 and reason in result.output, result.output
        assert "error:" in result.output and len(result.output.strip().splitlines()) == 1
        assert not (out / "annotations.json").exists()
    before = (clean / "annotations.json").read_text()
    again = runner.invoke(app, ["erase", "--data", str(threats), "--out", str(clean), "--quiet"])
    assert again.exit_code == 2 and "already holds a dataset" in again.output
    assert (clean / "annotations.json").read_text() == before
