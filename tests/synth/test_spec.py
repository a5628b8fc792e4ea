"""Threat/concealment spec files: validation, rendering into labelled masks, and the ``--spec`` CLI."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from cli.main import app
from vision.classes import category_id
from vision.synth.projector import MASK_MIN_ATTENUATION
from vision.synth.scene import generate
from vision.synth.spec import SpecError, ThreatSpec, inserter, load_spec, parse_spec, shipped_specs

PROFILE = "delta140"

BOX_SPEC: dict[str, Any] = {
    "name": "test_brick",
    "class": "narcotics",
    "material": "cocaine",
    "kinds": ["parcel"],
    "hides_in": ["parcel_padding"],
    "count": 1,
    "size": {"unit": "mm", "width": [120, 150], "height": [70, 90], "depth_mm": 40},
    "shape": {"parts": [{"primitive": "box", "corner_mm": 4}]},
}


def _render(spec: ThreatSpec | None, kind: str, seed: int) -> Any:
    insert = None if spec is None else inserter([spec], kind)
    return generate(kind, seed, PROFILE, threat_probability=0.0, insert=insert)


def test_shipped_specs_cover_the_known_concealments() -> None:
    names = {path.stem for path in shipped_specs()}
    assert {
        "spare_tyre_drugs",
        "false_floor_drugs",
        "door_panel_cash",
        "fuel_tank_drugs",
        "parcel_padding_drugs",
    } <= names


@pytest.mark.parametrize("path", shipped_specs(), ids=lambda p: p.stem)
def test_every_shipped_spec_renders_labelled_objects(path: pathlib.Path) -> None:
    spec = load_spec(path)
    kind = spec.kinds[0]
    scan = _render(spec, kind, seed=4)
    mine = [inst for inst in scan.instances if inst.label == spec.label]
    assert len(mine) >= spec.count[0] >= 1
    assert all(inst.mask.sum() >= 4 for inst in mine)
    assert category_id(spec.label) in np.unique(scan.mask)
    if spec.compartment is not None:
        assert any(inst.label == "concealment" for inst in scan.instances)


def test_mask_is_where_the_object_attenuates() -> None:
    spec = parse_spec(BOX_SPEC)
    without = _render(None, "parcel", seed=7)
    with_object = _render(spec, "parcel", seed=7)
    assert without.instances == [] and [i.label for i in with_object.instances] == ["narcotics"]
    mask = with_object.instances[0].mask.astype(bool)
    # The inserted object draws from its own random stream: the rest of the scan is unchanged, so the
    # difference in high-energy attenuation is the object alone (blurred by the detector).
    added = np.log(without.high.astype(np.float64)) - np.log(with_object.high.astype(np.float64))
    visible = added > -np.log(1.0 - MASK_MIN_ATTENUATION)
    iou = (visible & mask).sum() / (visible | mask).sum()
    assert iou > 0.85, iou
    near = cv2.dilate(mask.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    assert np.abs(added[~near]).max() < 1e-3
    assert np.median(added[mask]) > 0.3  # 40 mm of cocaine: a strong signal, not noise
    assert (with_object.mask[mask] == category_id("narcotics")).mean() > 0.95


def test_rendering_is_deterministic_per_seed() -> None:
    spec = parse_spec(BOX_SPEC)
    first, again, other = (_render(spec, "parcel", seed) for seed in (3, 3, 4))
    assert np.array_equal(first.rgb, again.rgb) and np.array_equal(first.mask, again.mask)
    assert not np.array_equal(first.rgb, other.rgb)


def test_polygon_and_mask_image_shapes(tmp_path: pathlib.Path) -> None:
    grey = np.zeros((40, 40), np.uint8)
    grey[5:35, 15:25] = 255  # a bar a quarter of the width
    cv2.imwrite(str(tmp_path / "bar.png"), grey)
    bar = parse_spec(
        {
            **BOX_SPEC,
            "material": "steel",
            "size": {"width": 160, "height": 160, "depth_mm": 10},
            "shape": {"mask": "bar.png"},
        },
        tmp_path,
    )
    mask = _render(bar, "parcel", seed=2).instances[0].mask
    ys, xs = np.nonzero(mask)
    (_, _), (side_a, side_b), _ = cv2.minAreaRect(np.stack([xs, ys], 1).astype(np.float32))
    # Long and thin like the image's bar (3:1), not the 1:1 box it is stretched over (the host may turn it).
    assert max(side_a, side_b) > 2.3 * min(side_a, side_b)
    triangle = parse_spec(
        {
            **BOX_SPEC,
            "material": "steel",
            "shape": {"parts": [{"primitive": "polygon", "points": [[-0.5, 0.5], [0.5, 0.5], [-0.5, -0.5]]}]},
        },
    )
    tri = _render(triangle, "parcel", seed=2).instances[0].mask
    ys, xs = np.nonzero(tri)
    box_area = (ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1)
    assert 0.35 < tri.sum() / box_area < 0.65  # half its bounding box, as a right triangle is


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"colour": "red"}, "colour"),
        ({"material": "kryptonite"}, "material"),
        ({"class": "bomb"}, "unknown class 'bomb'"),
        ({"hides_in": ["spare_tyre"]}, "exists only in vehicle"),
        ({"hides_in": ["glovebox"]}, "unknown host"),
        ({"count": [3, 1]}, "count"),
        ({"shape": {"parts": [{"primitive": "box", "wobble": 1}]}}, "wobble"),
        ({"shape": {"parts": [{"primitive": "polygon"}]}}, "at least 3 points"),
        ({"shape": {"mask": "missing.png"}}, "cannot read image"),
    ],
)
def test_invalid_specs_name_the_field(change: dict[str, Any], field: str, tmp_path: pathlib.Path) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec({**BOX_SPEC, **change}, tmp_path)
    message = str(caught.value)
    assert field in message and "\n" not in message


def _synth(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["synth", *args])
    return result.exit_code, result.stdout, result.stderr


SPEC_YAML = (
    "name: x\nclass: {label}\nmaterial: {material}\nhides_in: [anywhere]\n"
    "size: {{width: 10, height: 10, depth_mm: 5}}\nshape: {{parts: [{{primitive: box}}]}}\n{extra}"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (SPEC_YAML.format(label="narcotics", material="cocaine", extra="smell: strong\n"), "smell"),
        (
            SPEC_YAML.format(label="narcotics", material="unobtainium", extra=""),
            "unknown material 'unobtainium'",
        ),
        (SPEC_YAML.format(label="drugs", material="cocaine", extra=""), "unknown class 'drugs'"),
        ("name: [unclosed\n", "not valid YAML"),
    ],
)
def test_cli_bad_spec_is_one_line(tmp_path: pathlib.Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    code, _, err = _synth("--spec", str(path), "--count", "1", "--out", str(tmp_path / "out"))
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: ") and expected in err and "bad.yaml" in err
    assert not (tmp_path / "out").exists()


def test_cli_synth_with_spec_writes_labelled_dataset(tmp_path: pathlib.Path) -> None:
    spec_path = tmp_path / "brick.json"
    spec_path.write_text(json.dumps(BOX_SPEC))
    out = tmp_path / "data"
    code, _, err = _synth(
        "--spec",
        str(spec_path),
        "--kind",
        "parcel",
        "--count",
        "2",
        "--seed",
        "1",
        "--profile",
        PROFILE,
        "--threat-probability",
        "0",
        "--workers",
        "1",
        "--no-raw",
        "--quiet",
        "--out",
        str(out),
    )
    assert code == 0, err
    coco = json.loads((out / "annotations.json").read_text())
    assert coco["info"]["specs"] == ["test_brick"]
    per_image = [
        [a["category_id"] for a in coco["annotations"] if a["image_id"] == image["id"]]
        for image in coco["images"]
    ]
    assert per_image == [[category_id("narcotics")], [category_id("narcotics")]]
    for image in coco["images"]:
        mask = cv2.imread(str(out / image["mask_file"]), cv2.IMREAD_UNCHANGED)
        assert (mask == category_id("narcotics")).sum() > 100
