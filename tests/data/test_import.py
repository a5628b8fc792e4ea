"""Importing COCO, VOC and YOLO datasets into the project's layout (vision.dataimport, `triage import`)."""

from __future__ import annotations

import json
import pathlib

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from cli.main import app
from vision.classes import category_id
from vision.dataimport import ImportFailed, decode_rle, import_dataset
from vision.datasets import load_dataset, read_mask


def write_png(path: pathlib.Path, width: int = 40, height: int = 30) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.full((height, width, 3), 200, np.uint8))


def encode_rle_string(counts: list[int]) -> str:
    """The pycocotools compressed-RLE encoder (rleToString), written out independently for the test."""
    out = []
    for i, count in enumerate(counts):
        x = count - counts[i - 2] if i > 2 else count
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = x != -1 if c & 0x10 else x != 0
            if more:
                c |= 0x20
            out.append(chr(c + 48))
    return "".join(out)


def column_major_runs(mask: np.ndarray) -> list[int]:
    flat = mask.T.reshape(-1).astype(np.uint8)
    runs, current, length = [], 0, 0
    for value in flat:
        if value == current:
            length += 1
        else:
            runs.append(length)
            current, length = value, 1
    runs.append(length)
    return runs


def test_rle_decoding_matches_the_reference_encoding() -> None:
    assert encode_rle_string([0, 4]) == "04"
    assert decode_rle({"size": [2, 2], "counts": "04"}, 2, 2).all()
    rng = np.random.default_rng(3)
    mask = rng.random((9, 13)) > 0.6
    runs = column_major_runs(mask)
    np.testing.assert_array_equal(decode_rle({"size": [9, 13], "counts": runs}, 13, 9), mask)
    compressed = encode_rle_string(runs)
    np.testing.assert_array_equal(decode_rle({"size": [9, 13], "counts": compressed}, 13, 9), mask)
    with pytest.raises(ValueError, match="runs cover"):
        decode_rle({"size": [9, 13], "counts": [5, 5]}, 13, 9)


@pytest.fixture
def coco_source(tmp_path: pathlib.Path) -> pathlib.Path:
    source = tmp_path / "coco"
    write_png(source / "imgs" / "a.png")
    write_png(source / "imgs" / "b.png")
    write_png(source / "imgs" / "clean.png")
    knife_mask = np.zeros((30, 40), bool)
    knife_mask[5:10, 20:35] = True
    coco = {
        "categories": [{"id": 7, "name": "knife"}, {"id": 9, "name": "pistol"}, {"id": 11, "name": "bottle"}],
        "images": [
            {"id": 1, "file_name": "imgs/a.png", "width": 40, "height": 30},
            {"id": 2, "file_name": "imgs/b.png", "width": 40, "height": 30},
            {"id": 3, "file_name": "imgs/clean.png", "width": 40, "height": 30},
        ],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 9,
                "bbox": [2, 3, 10, 8],
                "segmentation": [[2, 3, 12, 3, 12, 11, 2, 11]],
            },
            {
                "id": 2,
                "image_id": 2,
                "category_id": 7,
                "bbox": [20, 5, 15, 5],
                "segmentation": {
                    "size": [30, 40],
                    "counts": encode_rle_string(column_major_runs(knife_mask)),
                },
            },
            {"id": 3, "image_id": 2, "category_id": 11, "bbox": [0, 0, 4, 4], "segmentation": []},
        ],
    }
    (source / "instances.json").write_text(json.dumps(coco))
    return source


def test_coco_round_trip_into_the_training_reader(coco_source: pathlib.Path, tmp_path: pathlib.Path) -> None:
    out = tmp_path / "out"
    report = import_dataset(
        coco_source / "instances.json", out, "coco", {"knife": "blade", "pistol": "firearm", "bottle": None}
    )
    assert (report.images, report.objects, report.broken_files) == (3, 2, [])
    samples = load_dataset(out)
    labels = [[i.label for i in s.instances] for s in samples]
    assert labels == [["firearm"], ["blade"], []]
    pistol_mask = read_mask(samples[0].mask_path)  # type: ignore[arg-type]
    assert (pistol_mask == category_id("firearm")).sum() == pytest.approx(11 * 9, abs=12)
    knife_mask = read_mask(samples[1].mask_path)  # type: ignore[arg-type]
    assert set(np.unique(knife_mask)) == {0, category_id("blade")}
    assert (knife_mask[5:10, 20:35] == category_id("blade")).all() and (knife_mask > 0).sum() == 75
    assert samples[0].image_path.read_bytes() == (coco_source / "imgs" / "a.png").read_bytes()


def test_unmapped_classes_fail_and_write_nothing(coco_source: pathlib.Path, tmp_path: pathlib.Path) -> None:
    out, source = tmp_path / "out", coco_source / "instances.json"
    with pytest.raises(ImportFailed, match=r"bottle \(1\).*knife \(1\).*pistol \(1\)"):
        import_dataset(source, out, "coco")
    assert not (out / "annotations.json").exists()
    report = import_dataset(source, out, "coco", {"knife": "blade"}, drop_unknown=True)
    assert dict(report.unknown_classes) == {"bottle": 1, "pistol": 1}
    saved = json.loads((out / "import_report.json").read_text())
    assert saved["unknown_classes"] == {"bottle": 1, "pistol": 1}
    with pytest.raises(ImportFailed, match="already holds a dataset"):
        import_dataset(source, out, "coco", {"knife": "blade"}, drop_unknown=True)


def test_voc_round_trip_with_box_masks(tmp_path: pathlib.Path) -> None:
    source = tmp_path / "voc"
    write_png(source / "JPEGImages" / "bag1.png")
    (source / "Annotations").mkdir(parents=True)
    (source / "Annotations" / "bag1.xml").write_text(
        "<annotation><filename>bag1.png</filename>"
        "<object><name>Gun</name><bndbox><xmin>4</xmin><ymin>6</ymin><xmax>14</xmax><ymax>16</ymax></bndbox></object>"
        "</annotation>"
    )
    (source / "Annotations" / "broken.xml").write_text("<annotation><object>")
    out = tmp_path / "out"
    report = import_dataset(source, out, "voc", {"Gun": "firearm"})
    assert report.images == 1 and len(report.broken_files) == 1 and "broken.xml" in report.broken_files[0]
    coco = json.loads((out / "annotations.json").read_text())
    assert coco["images"][0]["mask_source"] == "box"
    assert coco["annotations"][0]["bbox"] == [4, 6, 10, 10]
    assert (read_mask(out / coco["images"][0]["mask_file"]) > 0).sum() == 100


def test_yolo_boxes_polygons_clean_images_and_broken_files(tmp_path: pathlib.Path) -> None:
    source = tmp_path / "yolo"
    for name in ("one", "two", "clean", "junk"):
        write_png(source / "images" / f"{name}.png")
    (source / "images" / "junk.png").write_bytes(b"not a png")
    (source / "labels").mkdir()
    (source / "labels" / "one.txt").write_text("0 0.5 0.5 0.25 0.2\n")
    (source / "labels" / "two.txt").write_text("1 0.1 0.1 0.4 0.1 0.4 0.5 0.1 0.5\n")
    (source / "data.yaml").write_text("names: {0: knife, 1: gun}\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "import",
            str(source),
            "--format",
            "yolo",
            "--out",
            str(out),
            "--map",
            "knife=blade",
            "--map",
            "gun=firearm",
            "--kind",
            "parcel",
        ],
    )
    assert result.exit_code == 1, result.output  # the junk image is reported and makes the run fail
    assert "junk.png" in result.output
    samples = load_dataset(out)
    assert len(samples) == 3 and {s.kind for s in samples} == {"parcel"}
    by_name = {s.image_path.stem.split("_", 1)[1]: s for s in samples}
    one, two, clean = by_name["one"], by_name["two"], by_name["clean"]
    assert one.instances[0].label == "blade"
    assert one.instances[0].box == pytest.approx((15.0, 12.0, 25.0, 18.0))
    assert two.instances[0].label == "firearm" and not clean.instances
    assert (read_mask(two.mask_path) == category_id("firearm")).sum() > 100  # type: ignore[arg-type]


def test_cli_bad_arguments_give_one_line(tmp_path: pathlib.Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["import", str(tmp_path), "--format", "pascal", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "unknown format 'pascal'" in result.output
    result = runner.invoke(
        app,
        ["import", str(tmp_path), "--format", "voc", "--out", str(tmp_path / "o"), "--map", "knife=spoon"],
    )
    assert result.exit_code == 2 and "'spoon'; ours are firearm" in result.output


def test_file_lists_split_an_import_into_training_and_validation(tmp_path: pathlib.Path) -> None:
    source = tmp_path / "yolo"
    for name in ("a", "b", "c"):
        write_png(source / "images" / f"{name}.png")
        (source / "labels").mkdir(parents=True, exist_ok=True)
        (source / "labels" / f"{name}.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (source / "data.yaml").write_text("names: [knife]\n")
    (source / "val.txt").write_text("b.png\n\n")
    runner = CliRunner()
    common = ["import", str(source), "--format", "yolo", "--map", "knife=blade"]
    train = runner.invoke(
        app, [*common, "--out", str(tmp_path / "train"), "--exclude-list", str(source / "val.txt")]
    )
    val = runner.invoke(
        app, [*common, "--out", str(tmp_path / "val"), "--only-list", str(source / "val.txt")]
    )
    assert train.exit_code == 0 and val.exit_code == 0, train.output + val.output
    train_files = {pathlib.Path(s.image_path).name.split("_", 1)[1] for s in load_dataset(tmp_path / "train")}
    val_files = {pathlib.Path(s.image_path).name.split("_", 1)[1] for s in load_dataset(tmp_path / "val")}
    assert train_files == {"a.png", "c.png"} and val_files == {"b.png"}
    assert all(s.mask_source == "box" for s in load_dataset(tmp_path / "val"))
    # A list naming nothing that exists leaves nothing to import: refused, nothing written.
    (tmp_path / "none.txt").write_text("zzz.png\n")
    empty = runner.invoke(
        app, [*common, "--out", str(tmp_path / "x"), "--only-list", str(tmp_path / "none.txt")]
    )
    assert empty.exit_code == 2 and "no images left" in empty.output
    assert not (tmp_path / "x" / "annotations.json").exists()
    missing = runner.invoke(
        app, [*common, "--out", str(tmp_path / "y"), "--only-list", str(tmp_path / "nope.txt")]
    )
    assert missing.exit_code == 2 and "cannot read file list" in missing.output
