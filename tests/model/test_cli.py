"""`triage train`, `export`, `evaluate` and `scan` end to end on tiny shape datasets."""

from __future__ import annotations

import json
import pathlib
import shutil

import cv2
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from cli.main import app
from vision.classes import THREAT_CLASSES
from vision.infer import Predictor

runner = CliRunner()


@pytest.fixture(scope="module")
def trained_run(
    shapes_datasets: dict[str, pathlib.Path], tmp_path_factory: pytest.TempPathFactory
) -> pathlib.Path:
    out = tmp_path_factory.mktemp("run")
    args = [
        "train",
        "--data",
        str(shapes_datasets["train"]),
        "--val",
        str(shapes_datasets["calibration"]),
        "--out",
        str(out),
        "--batch-size",
        "4",
        "--input-size",
        "64",
        "--crop-size",
        "48",
        "--workers",
        "0",
        "--keep-epochs",
        "--quiet",
    ]
    first = runner.invoke(app, [*args, "--epochs", "1"])
    assert first.exit_code == 0, first.output
    # The same folder again with more epochs resumes after the first instead of starting over.
    second = runner.invoke(app, [*args, "--epochs", "2"])
    assert second.exit_code == 0, second.output
    assert "resuming" in second.stderr and "epoch 1" in second.stderr
    return out


@pytest.mark.slow
def test_train_writes_log_and_checkpoints_and_resumes(trained_run: pathlib.Path) -> None:
    log = [json.loads(line) for line in (trained_run / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [0, 1]
    assert all(np.isfinite(r["loss"]) and r["val_auroc"] is not None for r in log)
    # each class the validation scans hold, with the share of its scans it would have alarmed on its own
    hits = log[-1]["val_class_hits"]
    assert hits and set(hits) <= set(THREAT_CLASSES) and all(0.0 <= v <= 1.0 for v in hits.values())
    assert (trained_run / "checkpoint.pt").is_file() and (trained_run / "model_best.pt").is_file()
    # --keep-epochs: every epoch's checkpoint, across the resume, to be chosen afterwards on other data
    kept = sorted(p.name for p in trained_run.glob("epoch_*.pt"))
    assert kept == ["epoch_000.pt", "epoch_001.pt"]
    assert torch.load(trained_run / "epoch_000.pt", weights_only=False)["epoch"] == 0


@pytest.mark.slow
def test_export_calibrates_and_evaluates_into_a_card(
    trained_run: pathlib.Path, shapes_datasets: dict[str, pathlib.Path], tmp_path: pathlib.Path
) -> None:
    recipe = tmp_path / "recipe.sh"
    recipe.write_text("triage synth --seed 1\ntriage train --seed 0\n")
    result = runner.invoke(
        app,
        [
            "export",
            "--recipe",
            str(recipe),
            "--checkpoint",
            str(trained_run / "model_best.pt"),
            "--calibration",
            str(shapes_datasets["calibration"]),
            "--test",
            str(shapes_datasets["test"]),
            "--name",
            "shapes",
            "--version",
            "0.1",
            "--out",
            str(tmp_path),
            "--far",
            "0.25",
            "--promote",
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    folder = tmp_path / "shapes" / "0.1"
    predictor = Predictor(folder)
    card = predictor.card.to_json()
    assert card["calibration"]["calibrated"] and card["calibration"]["false_alarm_rate"] == 0.25
    assert card["export_check"]["max_abs_diff"] < card["export_check"]["tolerance"]
    assert card["training"]["command"].startswith("triage train") or card["training"]["command"]
    test = card["metrics"]["test_sets"]["test"]
    assert set(test["kinds"]) == {"parcel", "luggage"}
    assert "blade" in test["overall"]["classes"]
    # The calibrated threshold lets at most 25% of the clean calibration scans alarm.
    assert card["calibration"]["clean_images"] > 0
    assert (tmp_path / "PROMOTED").read_text().strip() == "shapes/0.1"
    assert card["training"]["recipe"] == ["triage synth --seed 1", "triage train --seed 0"]
    assert card["training"]["init"] is None  # trained from scratch; a fine-tune names its start
    # the code that trained is recorded beside the code that exported (here the same tree)
    assert card["training"]["source_commit"] == card["source_commit"]
    assert (folder / "reproduce.sh").read_text() == recipe.read_text()

    evaluated = runner.invoke(
        app, ["evaluate", "--model", str(folder), "--data", str(shapes_datasets["test"]), "--json", "--quiet"]
    )
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.stdout)["overall"]["images"] == 12


def test_evaluate_refuses_a_folder_without_annotations(
    tiny_model_dir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    result = runner.invoke(app, ["evaluate", "--model", str(tiny_model_dir), "--data", str(tmp_path)])
    assert result.exit_code != 0 and "annotations.json" in result.output


def test_scan_prints_one_json_line_per_image_and_reports_bad_files(
    rigged_model_dir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    folder = tmp_path / "scans"
    folder.mkdir()
    clean = np.full((80, 120, 3), 255, np.uint8)
    threat = clean.copy()
    threat[20:40, 30:70] = (120, 30, 10)  # dark blue (BGR), as a scanner colours metal
    cv2.imwrite(str(folder / "a_clean.png"), clean)
    cv2.imwrite(str(folder / "b_threat.jpg"), threat)
    (folder / "c_broken.png").write_bytes(b"not a png at all")
    result = runner.invoke(app, ["scan", str(folder), "--model", str(rigged_model_dir)])
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [pathlib.Path(r["path"]).name for r in lines] == ["a_clean.png", "b_threat.jpg"]
    assert [r["verdict"] for r in lines] == ["clear", "alarm"]
    assert lines[1]["detections"][0]["label"] == "blade"
    assert set(lines[0]) == {"path", "verdict", "score", "threshold", "detections", "modality"}
    assert "c_broken.png" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_scan_of_a_good_file_exits_zero(rigged_model_dir: pathlib.Path, tmp_path: pathlib.Path) -> None:
    path = tmp_path / "one.png"
    cv2.imwrite(str(path), np.full((50, 50, 3), 255, np.uint8))
    result = runner.invoke(app, ["scan", str(path), "--model", str(rigged_model_dir), "--text"])
    assert result.exit_code == 0 and "CLEAR" in result.stdout


def test_scan_kind_picks_the_threshold_and_a_bad_kind_is_refused(
    rigged_model_dir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    model = tmp_path / "model"
    shutil.copytree(rigged_model_dir, model)
    card = json.loads((model / "model.json").read_text())
    card["kind_thresholds"] = {"vehicle": 0.25}
    (model / "model.json").write_text(json.dumps(card))
    path = tmp_path / "one.png"
    cv2.imwrite(str(path), np.full((50, 50, 3), 255, np.uint8))
    scanned = runner.invoke(app, ["scan", str(path), "--model", str(model), "--kind", "vehicle"])
    assert scanned.exit_code == 0 and json.loads(scanned.stdout)["threshold"] == 0.25
    refused = runner.invoke(app, ["scan", str(path), "--model", str(model), "--kind", "boat"])
    assert refused.exit_code == 2 and "--kind must be one of" in refused.stderr


def test_scan_with_a_missing_model_is_one_line_error(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "one.png"
    cv2.imwrite(str(path), np.full((50, 50, 3), 255, np.uint8))
    result = runner.invoke(app, ["scan", str(path), "--model", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "does not exist" in result.stderr


@pytest.mark.slow
def test_fine_tune_from_a_model_folder_with_mixed_balanced_data(
    shapes_datasets: dict[str, pathlib.Path], tmp_path: pathlib.Path
) -> None:
    import torch

    from vision.preprocess import PreprocessSpec
    from vision.train.export import export_model
    from vision.train.model import build_model, load_weights
    from vision.train.train import network_of

    torch.manual_seed(3)
    base = export_model(
        build_model((4, 8, 8, 8)),
        tmp_path / "models" / "base" / "1",
        name="base",
        version="1",
        spec=PreprocessSpec(input_size=64, content_fill=0.8),
    )
    out = tmp_path / "run"
    result = runner.invoke(
        app,
        [
            "train", "--init", str(base), "--out", str(out), "--epochs", "1", "--batch-size", "4",
            "--data", f"{shapes_datasets['train']},{shapes_datasets['test']}", "--mix", "3,1",
            "--val", str(shapes_datasets["calibration"]), "--input-size", "64", "--crop-size", "48",
            "--workers", "0", "--balance", "--blocks", "1,1", "--widths", "4,8,12,8", "--precision", "bf16",
            "--epoch-size", "12", "--hard-negatives", "4", "--hard-positives", "3", "--ema", "0.5", "--qat",
            "--mil-line", "1", "--low-res", "0.5", "--repaint", "0.5", "--levers-on", "clean", "--quiet",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (record,) = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert record["steps"] == 3  # --epoch-size 12 in batches of 4, whatever the folders hold
    # the clean scans of both folders were scored and each folder's hard-negative cut recorded
    assert set(record["hard_negative_cuts"]) == {"train", "test"}
    assert all(0.0 <= cut <= 1.0 for cut in record["hard_negative_cuts"].values())
    # and the threat scans of the folders that hold some, with the class peak each was mined below
    assert set(record["hard_positive_cuts"]) and set(record["hard_positive_cuts"]) <= {"train", "test"}
    assert all(0.0 <= cut <= 1.0 for cut in record["hard_positive_cuts"].values())
    state = torch.load(str(out / "model_best.pt"), map_location="cpu", weights_only=False)
    # --ema: the checkpoint's model is the moving average; the last step's weights are kept to resume
    assert state["args"]["ema"] == 0.5 and set(state["raw_model"]) == set(state["model"])
    assert not torch.equal(state["raw_model"]["head.weight"], state["model"]["head.weight"])
    assert state["average"]["n_averaged"].item() == 3
    assert state["args"]["balance"] is True and tuple(state["args"]["blocks"]) == (1, 1)
    assert state["args"]["mil_line"] == 1.0 and state["args"]["low_res"] == state["args"]["repaint"] == 0.5
    assert state["args"]["levers_on"] == "clean"
    # The shipped model framed scans around the bag; the fine-tune keeps its framing (not asked otherwise).
    assert state["args"]["content_fill"] == state["preprocessing"]["content_fill"] == 0.8
    # --qat rounded the forward pass; both checkpointed networks load into plain ones (a strict load: no
    # key of the rounding in the state dict)
    assert state["args"]["qat"] is True
    for weights in ("model", "raw_model"):
        network_of({**state, "model": state[weights]})
    # mixed precision computes in bf16 but keeps (and checkpoints) float32 weights
    assert state["args"]["precision"] == "bf16"
    assert all(v.dtype == torch.float32 for v in state["model"].values() if v.is_floating_point())
    # the starting model was validated first: its per-class hits set the first epoch's draw
    assert set(state["init_validation"]) >= {"val_auroc", "val_class_hits"}
    before = load_weights(base / "weights.npz").state_dict()
    # The shipped model widened at stride 8, deepened by a block at strides 8 and 16; its weights moved on.
    assert tuple(state["args"]["widths"]) == (4, 8, 12, 8)
    assert state["model"]["enc8.1.0.weight"].shape[0] == 12
    assert any(k.startswith("res16.0.") for k in state["model"]) and set(before) < set(state["model"])
    assert any(
        not torch.equal(before[k], v)
        for k, v in state["model"].items()
        if v.is_floating_point() and k in before and v.shape == before[k].shape
    )
    assert state["init"]["version"] == "1" and len(state["init"]["sha256"]) == 64
    assert [d["mix"] for d in state["data"]] == [3.0, 1.0]
    assert all(len(d["sha256"]) == 64 for d in state["data"])
    assert state["args"]["command"]  # the command as typed (here pytest's own argv)


def test_a_run_with_a_moving_average_resumes_it_and_one_without_is_refused(
    shapes_datasets: dict[str, pathlib.Path], tmp_path: pathlib.Path
) -> None:
    args = [
        "train", "--data", str(shapes_datasets["train"]), "--val", str(shapes_datasets["calibration"]),
        "--batch-size", "4", "--input-size", "64", "--crop-size", "48", "--workers", "0",
        "--epoch-size", "8", "--quiet",
    ]  # fmt: skip
    averaged = tmp_path / "averaged"
    for epochs in ("1", "2"):
        result = runner.invoke(app, [*args, "--out", str(averaged), "--ema", "0.9", "--epochs", epochs])
        assert result.exit_code == 0, result.output
    state = torch.load(str(averaged / "checkpoint.pt"), map_location="cpu", weights_only=False)
    assert state["epoch"] == 1 and state["average"]["n_averaged"].item() == 4  # 2 steps an epoch, resumed
    plain = tmp_path / "plain"
    assert runner.invoke(app, [*args, "--out", str(plain), "--epochs", "1"]).exit_code == 0
    result = runner.invoke(app, [*args, "--out", str(plain), "--ema", "0.9", "--epochs", "2"])
    assert result.exit_code != 0
    assert "without --ema" in result.stderr and "\n" not in result.stderr.strip()


def test_fine_tune_refuses_a_folder_without_weights(
    shapes_datasets: dict[str, pathlib.Path], tmp_path: pathlib.Path
) -> None:
    (tmp_path / "old").mkdir()
    result = runner.invoke(
        app,
        ["train", "--init", str(tmp_path / "old"), "--data", str(shapes_datasets["train"]),
         "--out", str(tmp_path / "run"), "--quiet"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "weights.npz" in result.stderr and "\n" not in result.stderr.strip()


@pytest.mark.parametrize("blocks", ["1", "a,b", "1,2,3", "-1,0"])
def test_bad_block_counts_are_one_line_errors(
    shapes_datasets: dict[str, pathlib.Path], tmp_path: pathlib.Path, blocks: str
) -> None:
    result = runner.invoke(
        app, ["train", "--data", str(shapes_datasets["train"]), "--blocks", blocks, "--out", str(tmp_path)]
    )
    assert result.exit_code == 2 and "--blocks" in result.stderr and "\n" not in result.stderr.strip()


@pytest.mark.parametrize("widths", ["16,32,64", "a,b,c,d", "16,32,0,96", "16,32,64,96,128"])
def test_bad_widths_are_one_line_errors(
    shapes_datasets: dict[str, pathlib.Path], tmp_path: pathlib.Path, widths: str
) -> None:
    result = runner.invoke(
        app,
        ["train", "--data", str(shapes_datasets["train"]), "--widths", widths,
         "--out", str(tmp_path / "run")],
    )  # fmt: skip
    assert result.exit_code == 2 and "--widths" in result.stderr and "\n" not in result.stderr.strip()
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--precision", "fp16", "--precision 'fp16': choose one of fp32, bf16"),
        ("--levers-on", "threats", "--levers-on 'threats': choose one of all, clean"),
    ],
)
def test_an_unknown_choice_is_a_one_line_error(
    shapes_datasets: dict[str, pathlib.Path], tmp_path: pathlib.Path, option: str, value: str, message: str
) -> None:
    result = runner.invoke(
        app,
        ["train", "--data", str(shapes_datasets["train"]), option, value, "--out", str(tmp_path / "run")],
    )
    assert result.exit_code == 2 and message in result.stderr
    assert "\n" not in result.stderr.strip() and not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("device", "reason"),
    [("tpu", "choose cpu or cuda"), ("cuda:99", "CUDA GPU"), ("gpu!", "choose cpu or cuda")],
)
def test_a_device_torch_cannot_train_on_is_a_one_line_error(
    shapes_datasets: dict[str, pathlib.Path], tmp_path: pathlib.Path, device: str, reason: str
) -> None:
    result = runner.invoke(
        app,
        ["train", "--data", str(shapes_datasets["train"]), "--device", device,
         "--out", str(tmp_path / "run")],
    )  # fmt: skip
    assert result.exit_code == 2 and f"device {device!r}" in result.stderr and reason in result.stderr
    assert "\n" not in result.stderr.strip() and not (tmp_path / "run").exists()


def test_fine_tune_cannot_remove_blocks(
    shapes_datasets: dict[str, pathlib.Path], tmp_path: pathlib.Path
) -> None:
    from vision.preprocess import PreprocessSpec
    from vision.train.export import export_model
    from vision.train.model import build_model

    base = export_model(
        build_model((4, 8, 8, 8), (1, 1)), tmp_path / "m" / "1", name="m", version="1",
        spec=PreprocessSpec(input_size=64),
    )  # fmt: skip
    result = runner.invoke(
        app,
        ["train", "--init", str(base), "--blocks", "0,1", "--data", str(shapes_datasets["train"]),
         "--input-size", "64", "--out", str(tmp_path / "run"), "--quiet"],
    )  # fmt: skip
    assert result.exit_code == 2 and "cannot remove blocks" in result.stderr
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


@pytest.mark.parametrize("mix", ["1", "1,x", "1,-1"])
def test_bad_mixing_weights_are_one_line_errors(
    shapes_datasets: dict[str, pathlib.Path], tmp_path: pathlib.Path, mix: str
) -> None:
    data = f"{shapes_datasets['train']},{shapes_datasets['test']}"
    result = runner.invoke(app, ["train", "--data", data, "--mix", mix, "--out", str(tmp_path), "--quiet"])
    assert result.exit_code == 2
    assert "--mix" in result.stderr and not (tmp_path / "checkpoint.pt").exists()


@pytest.mark.parametrize(("precision", "kernels", "warned"), [("bf16", False, True), ("bf16", True, False),
                                                              ("fp32", False, False)])  # fmt: skip
def test_bf16_on_a_cpu_without_bf16_kernels_is_warned_of(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path, precision: str, kernels: bool, warned: bool
) -> None:
    import vision.train.train as train

    monkeypatch.setattr(train, "bf16_kernels", lambda device: kernels)
    # A missing data folder stops the run right after the warning.
    result = runner.invoke(
        app,
        ["train", "--data", str(tmp_path / "none"), "--precision", precision, "--out", str(tmp_path / "run")],
    )
    assert result.exit_code == 2 and "error:" in result.stderr
    assert ("warning: this CPU has no bf16 kernels" in result.stderr) == warned


@pytest.mark.slow
def test_export_at_another_input_size_calibrates_there_and_records_both_sizes(
    trained_run: pathlib.Path, shapes_datasets: dict[str, pathlib.Path], tmp_path: pathlib.Path
) -> None:
    base = [
        "export", "--checkpoint", str(trained_run / "model_best.pt"),
        "--calibration", str(shapes_datasets["calibration"]), "--test", str(shapes_datasets["test"]),
        "--name", "shapes", "--out", str(tmp_path), "--far", "0.25", "--quiet",
    ]  # fmt: skip
    result = runner.invoke(app, [*base, "--version", "0.3", "--input-size", "80"])
    assert result.exit_code == 0, result.output
    predictor = Predictor(tmp_path / "shapes" / "0.3")
    card = predictor.card.to_json()
    # The graph takes the new size (the Predictor checks it against the card), torch agrees with it there,
    # and the card says what the network was trained at.
    assert predictor.input_size == card["input_size"] == card["preprocessing"]["input_size"] == 80
    assert card["training"]["input_size"] == card["training"]["args"]["input_size"] == 64
    assert card["export_check"]["max_abs_diff"] < card["export_check"]["tolerance"]
    prediction = predictor.predict(np.zeros((50, 70, 3), np.uint8))
    assert prediction.threat_map.shape == (20, 20) and prediction.threshold == card["threshold"]
    # A side the output stride does not divide is refused with one line, and nothing is written.
    refused = runner.invoke(app, [*base, "--version", "0.4", "--input-size", "66"])
    assert refused.exit_code == 2 and "not a multiple of 4" in refused.stderr
    assert not (tmp_path / "shapes" / "0.4").exists()
    # Test-time mirrors go into the graph, calibrated with them; an unknown choice is refused up front.
    result = runner.invoke(app, [*base, "--version", "0.5", "--mirrors", "h"])
    assert result.exit_code == 0, result.output
    mirrored = Predictor(tmp_path / "shapes" / "0.5")
    assert mirrored.card.to_json()["architecture"]["test_time_mirrors"] == "h"
    assert mirrored.card.to_json()["export_check"]["max_abs_diff"] < card["export_check"]["tolerance"]
    scan = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    assert mirrored.predict(scan).score == pytest.approx(mirrored.predict(scan[:, ::-1]).score, abs=1e-5)
    refused = runner.invoke(app, [*base, "--version", "0.6", "--mirrors", "x"])
    assert refused.exit_code == 2 and "--mirrors must be one of none, h, hv" in refused.stderr
    assert not (tmp_path / "shapes" / "0.6").exists()
    # Framing around the bag is part of the preprocessing the card carries (the Predictor applies it).
    result = runner.invoke(app, [*base, "--version", "0.7", "--content-fill", "0.5"])
    assert result.exit_code == 0, result.output
    framed = Predictor(tmp_path / "shapes" / "0.7")
    assert framed.spec.content_fill == 0.5 and framed.card.to_json()["training"]["content_fill"] == 0.0
    bag = np.random.default_rng(1).integers(0, 200, (40, 40, 3), dtype=np.uint8)
    on_belt = np.pad(bag, ((0, 0), (100, 100), (0, 0)), constant_values=255)
    assert framed.predict(on_belt).placement.crop_width == 80  # type: ignore[union-attr]
    refused = runner.invoke(app, [*base, "--version", "0.8", "--content-fill", "1.5"])
    assert refused.exit_code == 2 and not (tmp_path / "shapes" / "0.8").exists()


@pytest.mark.slow
def test_export_with_real_sets_calibrates_on_their_clean_bags_and_writes_the_real_section(
    trained_run: pathlib.Path, shapes_datasets: dict[str, pathlib.Path], tmp_path: pathlib.Path
) -> None:
    from tests.model.test_real import write_kit

    kit = write_kit(tmp_path / "kit")
    result = runner.invoke(
        app,
        [
            "export", "--checkpoint", str(trained_run / "model_best.pt"),
            "--calibration", str(shapes_datasets["calibration"]), "--test", str(shapes_datasets["test"]),
            "--name", "shapes", "--version", "0.2", "--out", str(tmp_path), "--far", "0.25",
            "--real", str(kit), "--real-views", "2", "--quiet",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    card = Predictor(tmp_path / "shapes" / "0.2").card.to_json()
    real_calibration = card["calibration"]["real"]
    # Each clean bag counted in two views (as it is and turned half round), still four bags.
    assert real_calibration["sets"]["clean-bags"]["clean_images"] == 4 and real_calibration["views"] == 2
    assert card["real"]["in_views"]["views"] == 2
    assert set(card["real"]["in_views"]["sets"]) == {"clean-bags", "voc-threats", "yolo-knives"}
    # shared and luggage thresholds come from the real clean bags; parcel keeps no real threshold
    assert card["threshold"] == real_calibration["sets"]["clean-bags"]["threshold"]
    assert card["kind_thresholds"].get("luggage") == card["threshold"]
    real = card["real"]
    assert real["threshold"] == card["threshold"]
    assert set(real["sets"]) == {"clean-bags", "voc-threats", "yolo-knives"}
    assert real["sets"]["clean-bags"]["false_alarms"] <= 0.25
    assert set(real["sources"]) == set(real["sets"]) and all("terms" in v for v in real["sources"].values())


def test_training_on_box_labelled_scans_runs_and_records_the_multiple_instance_term(
    shapes_datasets: dict[str, pathlib.Path], tmp_path: pathlib.Path
) -> None:
    import shutil

    boxed = tmp_path / "boxed"
    shutil.copytree(shapes_datasets["train"], boxed)
    coco = json.loads((boxed / "annotations.json").read_text())
    for image in coco["images"]:
        image["mask_source"] = "box"
    (boxed / "annotations.json").write_text(json.dumps(coco))
    out = tmp_path / "run"
    result = runner.invoke(
        app,
        [
            "train", "--data", f"{boxed},{shapes_datasets['train']}", "--mix", "1,1", "--out", str(out),
            "--val", str(shapes_datasets["calibration"]), "--epochs", "1", "--batch-size", "4",
            "--input-size", "64", "--crop-size", "48", "--workers", "0", "--balance", "--quiet",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    record = json.loads((out / "log.jsonl").read_text().splitlines()[-1])
    assert record["mil"] > 0 and np.isfinite(record["loss"])


SAMPLES = pathlib.Path(__file__).resolve().parents[2] / "sample_images" / "xray"


def test_scan_pairs_raw_channels_and_never_scores_one_alone(
    rigged_model_dir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    folder = tmp_path / "scans"
    folder.mkdir()
    for name in ("luggage_threat.png", "luggage_threat_high.tiff", "luggage_threat_low.tiff"):
        shutil.copy(SAMPLES / name, folder / name)
    shutil.copy(SAMPLES / "luggage_threat_high.tiff", folder / "lone_high.tiff")
    result = runner.invoke(app, ["scan", str(folder), "--model", str(rigged_model_dir)])
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line.get("path", line.get("high")) for line in lines] == [
        str(folder / "luggage_threat.png"),
        str(folder / "luggage_threat_high.tiff"),
    ]
    assert lines[1]["low"] == str(folder / "luggage_threat_low.tiff")
    assert [line["modality"] for line in lines] == ["false-colour", "dual-energy"]
    # The lone channel is grey: refused (the served model reads false colour), with a hint; exit 1.
    assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1
    assert "lone_high.tiff" in result.stderr and "grey single-energy" in result.stderr
    assert "lone_low.* is not beside it" in result.stderr
    explicit = runner.invoke(
        app,
        [
            "scan",
            "--model",
            str(rigged_model_dir),
            "--high",
            str(folder / "luggage_threat_high.tiff"),
            "--low",
            str(folder / "luggage_threat_low.tiff"),
        ],
    )
    assert explicit.exit_code == 0 and json.loads(explicit.stdout)["modality"] == "dual-energy"
    lone = str(folder / "lone_high.tiff")
    half = runner.invoke(app, ["scan", "--model", str(rigged_model_dir), "--high", lone])
    assert half.exit_code == 2 and "--high and --low go together" in half.stderr
