"""CDnet scoring rules, checked end to end on a hand-made sequence whose screening result is known."""

from __future__ import annotations

import json
import pathlib

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from cli.main import app
from vision.motion.cdnet import Confusion, SequenceError, evaluate, find_sequence
from vision.motion.config import CameraConfig, Mog2Params

HEIGHT, WIDTH = 48, 64
SQUARE = (slice(16, 32), slice(24, 40))  # the moving object in the two scored frames: 16×16 = 256 px


def write_sequence(folder: pathlib.Path, with_roi: bool = True) -> pathlib.Path:
    """Ten plain grey frames to learn the background on, then two frames with a bright square.

    Ground truth of the two scored frames (11 and 12):
    - the square's left 4 columns are 170 (unknown): ignored, 64 px;
    - the rest of the square is 255: 12×16 = 192 true positives per frame;
    - a 4×16 strip right of the square is 255 but not bright: 64 false negatives per frame;
    - a 50 (shadow) strip under the square, where nothing is drawn: true negatives.
    ROI.bmp excludes the bottom 8 rows, and the ground truth marks 85 in the top row: neither is scored.
    """
    (folder / "input").mkdir(parents=True)
    (folder / "groundtruth").mkdir()
    for number in range(1, 13):
        frame = np.full((HEIGHT, WIDTH, 3), 100, np.uint8)
        truth = np.zeros((HEIGHT, WIDTH), np.uint8)
        truth[0, :] = 85
        if number > 10:
            frame[SQUARE] = 230
            truth[SQUARE] = 255
            truth[16:32, 24:28] = 170
            truth[16:32, 40:44] = 255
            truth[32:36, 24:40] = 50
        cv2.imwrite(str(folder / "input" / f"in{number:06d}.png"), frame)
        cv2.imwrite(str(folder / "groundtruth" / f"gt{number:06d}.png"), truth)
    if with_roi:
        roi = np.full((HEIGHT, WIDTH), 255, np.uint8)
        roi[40:, :] = 0
        cv2.imwrite(str(folder / "ROI.bmp"), roi)
    (folder / "temporalROI.txt").write_text("11 12\n")
    return folder


# MOG2 alone, no morphology and no median: the predicted mask is exactly the bright square.
EXACT = CameraConfig(opening_px=0, median_px=0, subtractor=Mog2Params(), confirm=None)


def test_hand_made_sequence_gives_exact_precision_and_recall(tmp_path: pathlib.Path) -> None:
    sequence = find_sequence(*(2 * [write_sequence(tmp_path / "seq")]))
    result = evaluate(sequence, EXACT)
    assert result.frames == 2 and result.frames_screened == 12
    # Per frame: 192 TP (square minus its unknown columns), 0 FP, 64 FN (the dull strip).
    assert (result.confusion.tp, result.confusion.fp, result.confusion.fn) == (384, 0, 128)
    assert result.confusion.precision == 1.0
    assert result.confusion.recall == pytest.approx(384 / 512)
    assert result.confusion.f_measure == pytest.approx(2 * 0.75 / 1.75)


def test_shadow_counts_as_negative_and_outside_roi_is_ignored() -> None:
    truth = np.array([[255, 50, 0, 170, 85, 255]], np.uint8)
    predicted = np.array([[True, True, True, True, True, False]])
    roi = np.array([[True, True, True, True, True, False]])
    confusion = Confusion()
    confusion.add(predicted, truth, roi)
    # 255 → TP; 50 and 0 marked → 2 FP; 170 and 85 ignored; last pixel outside the ROI.
    assert (confusion.tp, confusion.fp, confusion.fn, confusion.tn) == (1, 2, 0, 0)
    confusion.add(predicted, truth, None)
    assert (confusion.tp, confusion.fp, confusion.fn) == (2, 4, 1)


def test_cli_prints_the_json_object(tmp_path: pathlib.Path) -> None:
    folder = write_sequence(tmp_path / "seq")
    config = tmp_path / "cameras.yaml"
    config.write_text(
        "cameras:\n  exact: {opening_px: 0, median_px: 0, subtractor: {kind: mog2}, confirm: null}\n"
    )
    result = CliRunner().invoke(
        app,
        ["motion-eval", "--input", str(folder / "input"), "--groundtruth", str(folder / "groundtruth"),
         "--json", "--config", str(config), "--camera", "exact"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert set(summary) == {"precision", "recall", "f_measure", "fps", "frames"}
    assert summary["precision"] == 1.0 and summary["recall"] == 0.75 and summary["frames"] == 2
    text = CliRunner().invoke(app, ["motion-eval", "--input", str(folder), "--groundtruth", str(folder)])
    assert text.exit_code == 0 and "F-measure" in text.stdout


def test_explicit_temporal_roi_and_roi_files_are_used(tmp_path: pathlib.Path) -> None:
    folder = write_sequence(tmp_path / "seq", with_roi=False)
    only_last = tmp_path / "t.txt"
    only_last.write_text("12 12")
    sequence = find_sequence(folder, folder, temporal_roi=only_last)
    assert sequence.temporal_roi == (12, 12) and sequence.roi is None
    result = evaluate(sequence, EXACT)
    assert result.frames == 1 and result.confusion.tp == 192


@pytest.mark.parametrize("problem", ["missing", "ambiguous", "no_groundtruth"])
def test_bad_folders_are_one_line_errors(tmp_path: pathlib.Path, problem: str) -> None:
    folder = write_sequence(tmp_path / "seq")
    if problem == "missing":
        args = ["--input", str(tmp_path / "nope"), "--groundtruth", str(folder)]
    elif problem == "ambiguous":
        (folder / "input" / "input").mkdir()
        cv2.imwrite(str(folder / "input" / "input" / "in000001.png"), np.zeros((4, 4), np.uint8))
        args = ["--input", str(folder / "input"), "--groundtruth", str(folder)]
    else:
        (folder / "groundtruth" / "gt000012.png").unlink()
        args = ["--input", str(folder), "--groundtruth", str(folder)]
    result = CliRunner().invoke(app, ["motion-eval", *args])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    with pytest.raises(SequenceError):
        find_sequence(*args[1::2])


def test_a_category_folder_is_accepted_only_with_one_sequence(tmp_path: pathlib.Path) -> None:
    write_sequence(tmp_path / "baseline" / "highway")
    sequence = find_sequence(tmp_path / "baseline", tmp_path / "baseline")
    assert sequence.temporal_roi == (11, 12) and sequence.roi is not None
    write_sequence(tmp_path / "baseline" / "office")
    with pytest.raises(SequenceError, match="highway, office"):
        find_sequence(tmp_path / "baseline", tmp_path / "baseline")


def test_all_scores_every_sequence_under_a_folder_in_one_table(tmp_path: pathlib.Path) -> None:
    write_sequence(tmp_path / "kit" / "baseline" / "one")
    write_sequence(tmp_path / "kit" / "two")
    config = tmp_path / "cameras.yaml"
    config.write_text(
        "cameras:\n  exact: {opening_px: 0, median_px: 0, subtractor: {kind: mog2}, confirm: null}\n"
    )
    runner = CliRunner()
    args = ["motion-eval", "--all", str(tmp_path / "kit"), "--config", str(config), "--camera", "exact"]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    table = json.loads(result.stdout)
    assert set(table["sequences"]) == {"baseline/one", "two"}
    assert all(row["recall"] == 0.75 for row in table["sequences"].values())
    assert table["mean_f_measure"] == pytest.approx(2 * 0.75 / 1.75, abs=1e-4)
    text = runner.invoke(app, args)
    assert text.exit_code == 0 and "baseline/one" in text.stdout and "mean" in text.stdout
    (tmp_path / "empty").mkdir()
    empty = runner.invoke(app, ["motion-eval", "--all", str(tmp_path / "empty")])
    assert empty.exit_code == 2 and "no CDnet sequence" in empty.output
    both = runner.invoke(app, ["motion-eval", "--all", str(tmp_path / "kit"), "--input", str(tmp_path)])
    assert both.exit_code == 2
    neither = runner.invoke(app, ["motion-eval"])
    assert neither.exit_code == 2


REAL_CAMERA = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "real" / "camera"
# The default pipeline's floors on real footage (issue: people, and trees in wind with cars): a change
# that helps the synthetic scenes and loses real footage fails here.
REAL_FLOORS = {"pedestrians": 0.92, "fall": 0.85}


@pytest.mark.slow
@pytest.mark.skipif(not REAL_CAMERA.is_dir(), reason="real CDnet sequences not beside the project")
def test_the_default_holds_its_floors_on_real_footage() -> None:
    from vision.motion.cdnet import find_sequences

    sequences = find_sequences(REAL_CAMERA)
    assert set(REAL_FLOORS) <= set(sequences)
    scores = {name: evaluate(sequences[name], CameraConfig()).confusion.f_measure for name in REAL_FLOORS}
    assert all(scores[name] >= floor for name, floor in REAL_FLOORS.items()), scores
