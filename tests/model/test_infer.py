"""The onnxruntime Predictor: results, mapping back to the scan, batches, bad folders, no torch."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.helpers import copy_model
from vision.errors import ModelLoadError
from vision.infer import VIEWS, Prediction, Predictor
from vision.registry import default_model_dir

ROOT = pathlib.Path(__file__).resolve().parents[2]


def scan_with_dark_square(height: int, width: int, box: tuple[int, int, int, int]) -> np.ndarray:
    image = np.full((height, width, 3), 255, np.uint8)
    x0, y0, x1, y1 = box
    image[y0:y1, x0:x1] = 0
    return image


def test_tiny_model_loads_with_its_card(tiny_model_dir: pathlib.Path) -> None:
    predictor = Predictor(tiny_model_dir)
    assert (predictor.name, predictor.version, predictor.input_size) == ("tiny-threat", "0.0.1", 64)
    assert predictor.threshold == 0.5
    assert "blade" in predictor.classes and "background" not in predictor.classes
    assert predictor.card.calibration["calibrated"] is False


def test_prediction_has_heatmap_at_scan_size_and_is_json(tiny_model_dir: pathlib.Path) -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (75, 130, 3), dtype=np.uint8)
    prediction = Predictor(tiny_model_dir).predict(image)
    assert prediction.heatmap.shape == (75, 130) and prediction.heatmap.dtype == np.float32
    assert 0.0 <= prediction.heatmap.min() <= prediction.heatmap.max() <= 1.0
    assert prediction.verdict == ("alarm" if prediction.score >= prediction.threshold else "clear")
    out = json.loads(json.dumps(prediction.to_dict()))
    assert set(out) == {"verdict", "score", "threshold", "detections"}


def test_dark_region_is_flagged_with_its_box_and_class(rigged_model_dir: pathlib.Path) -> None:
    predictor = Predictor(rigged_model_dir)
    # A wide scan, so the letterbox pads top and bottom and the box must be mapped back.
    image = scan_with_dark_square(300, 600, (400, 100, 480, 180))
    prediction = predictor.predict(image)
    assert prediction.verdict == "alarm" and prediction.score > 0.9
    assert len(prediction.detections) == 1
    detection = prediction.detections[0]
    assert detection.label == "blade"
    # One output cell covers 4 input pixels = about 19 scan pixels here; allow that much slack.
    assert np.allclose(detection.box, (400, 100, 480, 180), atol=20), detection.box
    assert prediction.heatmap[140, 440] > 0.9 and prediction.heatmap[20, 20] < 0.1


def test_reduced_heatmap_keeps_aspect_and_agrees_with_the_full_one(rigged_model_dir: pathlib.Path) -> None:
    prediction = Predictor(rigged_model_dir).predict(scan_with_dark_square(300, 600, (400, 100, 480, 180)))
    small = prediction.heatmap_within(150)
    assert small.shape == (75, 150) and small.dtype == np.float32
    # Each reduced pixel samples the middle of its 4 x 4 block of the full-size map.
    assert small[35, 110] > 0.9 and small[5, 5] < 0.1
    assert np.abs(small - prediction.heatmap[1::4, 1::4]).max() < 0.1
    # A scan smaller than the limit keeps its size.
    assert prediction.heatmap_within(1000).shape == (300, 600)


def test_clean_scan_is_clear_with_no_detections(rigged_model_dir: pathlib.Path) -> None:
    prediction = Predictor(rigged_model_dir).predict(np.full((200, 150, 3), 255, np.uint8))
    assert prediction.verdict == "clear" and prediction.detections == ()
    assert prediction.score < 0.1


def test_batch_matches_single_predictions_for_mixed_sizes(rigged_model_dir: pathlib.Path) -> None:
    predictor = Predictor(rigged_model_dir)
    images = [
        scan_with_dark_square(300, 600, (400, 100, 480, 180)),
        np.full((90, 40, 3), 255, np.uint8),
        scan_with_dark_square(500, 200, (20, 20, 80, 60)),
    ]
    batch = predictor.predict_batch(images)
    singles = [predictor.predict(image) for image in images]
    assert [p.verdict for p in batch] == ["alarm", "clear", "alarm"]
    for together, alone in zip(batch, singles, strict=True):
        assert together.score == pytest.approx(alone.score, abs=1e-5)
        assert together.detections == alone.detections or np.allclose(
            [d.box for d in together.detections], [d.box for d in alone.detections], atol=1e-3
        )
    assert predictor.predict_batch([]) == []


def test_a_mirrored_view_reports_boxes_in_the_scans_own_pixels(rigged_model_dir: pathlib.Path) -> None:
    predictor = Predictor(rigged_model_dir)
    # Off-centre in both axes, on a wide scan (letterbox pads top and bottom): a map not mirrored back
    # would put the box in the opposite corner.
    image = scan_with_dark_square(300, 600, (400, 40, 480, 120))
    plain = predictor.predict(image)
    for view in VIEWS:
        [seen] = predictor.predict_batch([image], view=view)
        assert seen.verdict == "alarm" and seen.score == pytest.approx(plain.score, abs=0.02), view
        [detection] = seen.detections
        # The centred letterbox may sit a pixel off when mirrored: allow a cell (~19 scan pixels) as above.
        assert np.allclose(detection.box, plain.detections[0].box, atol=20), (view, detection.box)
        assert seen.heatmap[80, 440] > 0.9 and seen.heatmap[250, 100] < 0.1, view
    with pytest.raises(ValueError, match="view 'rot90'"):
        predictor.predict_batch([image], view="rot90")


def test_grey_input_is_accepted_and_float_input_refused(rigged_model_dir: pathlib.Path) -> None:
    predictor = Predictor(rigged_model_dir)
    assert isinstance(predictor.predict(np.full((50, 50), 255, np.uint8)), Prediction)
    with pytest.raises(ValueError, match="uint8"):
        predictor.predict(np.zeros((50, 50, 3), np.float32))


def test_missing_folder_or_files_give_model_load_error(
    tiny_model_dir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    with pytest.raises(ModelLoadError, match="does not exist"):
        Predictor(tmp_path / "nope")
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    (broken / "model.json").unlink()
    with pytest.raises(ModelLoadError, match=r"lacks model\.json"):
        Predictor(broken)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "model.json").write_text("{not json"), "not valid JSON"),
        (lambda d: (d / "model.onnx").write_bytes(b"\x00garbage" * 10), "not a loadable ONNX model"),
        (lambda d: _edit_card(d, input_size_in_spec=96), "does not match the card's input size"),
        (lambda d: _edit_card(d, drop="threshold"), "lacks threshold"),
        (lambda d: _edit_card(d, classes=["a", "b"]), "metadata classes differ"),
    ],
)
def test_damaged_model_folder_gives_a_clear_reason(
    tiny_model_dir: pathlib.Path, tmp_path: pathlib.Path, damage: object, message: str
) -> None:
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    damage(folder)  # type: ignore[operator]
    with pytest.raises(ModelLoadError, match=message):
        Predictor(folder)


def _edit_card(
    folder: pathlib.Path,
    input_size_in_spec: int | None = None,
    drop: str | None = None,
    classes: list[str] | None = None,
) -> None:
    card = json.loads((folder / "model.json").read_text())
    if input_size_in_spec:
        card["preprocessing"]["input_size"] = input_size_in_spec
    if drop:
        del card[drop]
    if classes:
        card["classes"] = classes
    (folder / "model.json").write_text(json.dumps(card))


def test_default_model_dir_prefers_promoted_then_newest(
    tiny_model_dir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    with pytest.raises(ModelLoadError, match="no model found"):
        default_model_dir(tmp_path)
    old, new = tmp_path / "m" / "1", tmp_path / "m" / "2"
    shutil.copytree(tiny_model_dir, old)
    shutil.copytree(tiny_model_dir, new)
    now = time.time()
    os.utime(old, (now - 100, now - 100))
    os.utime(new, (now, now))
    assert default_model_dir(tmp_path) == new
    (tmp_path / "PROMOTED").write_text("m/1\n")
    assert default_model_dir(tmp_path) == old
    (tmp_path / "PROMOTED").write_text("m/9\n")
    with pytest.raises(ModelLoadError, match="names"):
        default_model_dir(tmp_path)


def test_inference_never_imports_torch(rigged_model_dir: pathlib.Path) -> None:
    code = (
        "import sys, numpy as np\n"
        "from vision.infer import Predictor\n"
        f"p = Predictor({str(rigged_model_dir)!r}).predict(np.zeros((40, 60, 3), np.uint8))\n"
        "assert p.verdict == 'alarm', p\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision', 'onnx'))\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_a_scan_of_a_known_kind_is_judged_by_that_kinds_threshold(
    rigged_model_dir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    folder = copy_model(
        rigged_model_dir, tmp_path / "model", kind_thresholds={"luggage": 0.95, "vehicle": 0.2}
    )
    predictor = Predictor(folder)
    image = np.full((300, 600, 3), 255, np.uint8)
    image[100:180, 400:480] = 135  # a mid-grey square: a threat score between the two thresholds
    shared, luggage = predictor.predict(image), predictor.predict(image, "luggage")
    assert shared.score == pytest.approx(luggage.score) and 0.5 <= shared.score < 0.95
    assert (shared.verdict, shared.threshold, len(shared.detections)) == ("alarm", 0.5, 1)
    # The stricter luggage threshold clears the same scan, and reports no boxes below it.
    assert (luggage.verdict, luggage.threshold, luggage.detections) == ("clear", 0.95, ())
    # Kinds without their own threshold, and scans of unknown kind, use the shared one.
    assert predictor.predict(image, "parcel").threshold == 0.5
    batch = predictor.predict_batch([image, image, image], kinds=["vehicle", None, "luggage"])
    assert [p.threshold for p in batch] == [0.2, 0.5, 0.95]
    with pytest.raises(ValueError, match="2 kinds for 1 images"):
        predictor.predict_batch([image], kinds=["parcel", "luggage"])


@pytest.mark.parametrize(
    ("by_kind", "message"),
    [
        ({"submarine": 0.5}, "unknown scene kind"),
        ({"luggage": 1.5}, r"kind_thresholds\.luggage must be a number in \[0, 1\]"),
        ({"luggage": "high"}, "must be a number"),
        ([0.5], "kind_thresholds must be a JSON object"),
    ],
)
def test_bad_kind_thresholds_in_a_card_give_a_clear_reason(
    tiny_model_dir: pathlib.Path, tmp_path: pathlib.Path, by_kind: object, message: str
) -> None:
    folder = copy_model(tiny_model_dir, tmp_path / "model", kind_thresholds=by_kind)
    with pytest.raises(ModelLoadError, match=message):
        Predictor(folder)


def test_the_card_names_the_modalities_its_model_serves(
    tiny_model_dir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    from vision.errors import UnsupportedModality

    served = Predictor(tiny_model_dir)
    assert served.modalities == ("false-colour", "dual-energy")  # written by export
    served.check_modality("dual-energy")
    with pytest.raises(UnsupportedModality, match="grey single-energy scan; model tiny-threat"):
        served.check_modality("grey")
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    card = json.loads((folder / "model.json").read_text())
    del card["modalities"]  # a card from before modalities were named: its model read false colour
    (folder / "model.json").write_text(json.dumps(card))
    assert Predictor(folder).modalities == ("false-colour", "dual-energy")
    for bad in (["x-ray"], [], "grey"):
        (folder / "model.json").write_text(json.dumps({**card, "modalities": bad}))
        with pytest.raises(ModelLoadError, match="modalities"):
            Predictor(folder)
