"""`triage quantize`: an INT8 version kept only where measured to pay, with its own thresholds."""

from __future__ import annotations

import json
import pathlib
import shutil

import pytest
from typer.testing import CliRunner

from cli.main import app
from vision.datasets import load_datasets, read_rgb
from vision.errors import ModelLoadError
from vision.infer import Predictor
from vision.registry import INT8_FILE
from vision.train.export import set_threshold
from vision.train.quantize import QuantisationRefused, quantize_model

runner = CliRunner()


def calibrated_copy(source: pathlib.Path, target: pathlib.Path) -> pathlib.Path:
    shutil.copytree(source, target)
    set_threshold(target, 0.5, {"false_alarm_rate": 0.25})
    return target


def real_calibrated_copy(source: pathlib.Path, target: pathlib.Path, kit: pathlib.Path) -> pathlib.Path:
    """A copy whose shared and luggage thresholds come from the kit's real clean bags, as `export --real`."""
    from vision.evaluation.real import discover, with_real_thresholds
    from vision.infer import Thresholds

    calibrated_copy(source, target)
    thresholds, record = with_real_thresholds(
        Predictor(target), discover(kit), Thresholds(0.5, {}), {"false_alarm_rate": 0.25}, kit, 0.25, False
    )
    set_threshold(target, thresholds.shared, record, thresholds.by_kind)
    return target


def test_a_kept_int8_version_is_written_with_its_own_thresholds(
    tiny_model_dir: pathlib.Path, shapes_datasets: dict[str, pathlib.Path], tmp_path: pathlib.Path
) -> None:
    folder = calibrated_copy(tiny_model_dir, tmp_path / "model")
    calibration, test = str(shapes_datasets["calibration"]), str(shapes_datasets["test"])
    # The tiny untrained model is not worth quantising for speed; accept any ratio to test the mechanics.
    entry = quantize_model(
        folder, [calibration], [test], images=4, min_speedup=0.0, max_auroc_drop=1.0, progress=False
    )
    assert (folder / INT8_FILE).is_file() and entry["file"] == INT8_FILE
    assert entry["speedup"] > 0 and 0.0 <= entry["int8_auroc"] <= 1.0
    card = json.loads((folder / "model.json").read_text())
    assert card["int8"] == json.loads(json.dumps(entry))
    quantised = Predictor(folder, int8=True)
    assert quantised.precision == "int8" and quantised.threshold == entry["threshold"]
    # The INT8 threshold lets at most 25% of the clean calibration scans alarm, like FP32's.
    clean = [s for s in load_datasets([calibration]) if not s.has_threat]
    alarms = [quantised.predict(read_rgb(s.image_path)).verdict == "alarm" for s in clean]
    assert sum(alarms) <= 0.25 * len(clean)
    assert Predictor(folder).precision == "fp32"  # FP32 stays the default


def test_a_model_served_in_int8_by_default_runs_int8_everywhere_unless_fp32_is_asked_for(
    tiny_model_dir: pathlib.Path, shapes_datasets: dict[str, pathlib.Path], tmp_path: pathlib.Path
) -> None:
    from service.models import ModelManager

    folder = calibrated_copy(tiny_model_dir, tmp_path / "models" / "tiny" / "1")
    calibration, test = str(shapes_datasets["calibration"]), str(shapes_datasets["test"])
    command = ["quantize", "--model", str(folder), "--calibration", calibration, "--test", test, "--quiet"]
    kept = runner.invoke(
        app, [*command, "--images", "4", "--min-speedup", "0", "--max-auroc-drop", "1", "--default"]
    )
    assert kept.exit_code == 0, kept.output
    assert json.loads(kept.stdout)["default"] is True
    card = json.loads((folder / "model.json").read_text())
    assert card["int8"]["default"] is True
    served = Predictor(folder)
    assert served.precision == "int8" and served.threshold == card["int8"]["threshold"]
    assert Predictor(folder, int8=False).precision == "fp32"
    assert Predictor(folder, int8=False).threshold == card["threshold"]
    # The service follows the card unless TRIAGE_INT8 says otherwise.
    assert ModelManager(tmp_path / "models").load(folder).precision == "int8"
    assert ModelManager(tmp_path / "models", int8=False).load(folder).precision == "fp32"
    # `triage scan` and `triage evaluate` run the served graph, and say so; --fp32 runs the other.
    image = str(next(shapes_datasets["test"].glob("images/*")))
    default_scan = runner.invoke(app, ["scan", image, "--model", str(folder), "--jsonl"])
    fp32_scan = runner.invoke(app, ["scan", image, "--model", str(folder), "--jsonl", "--fp32"])
    assert default_scan.exit_code == 0 and fp32_scan.exit_code == 0, default_scan.output
    assert json.loads(default_scan.stdout)["threshold"] == pytest.approx(card["int8"]["threshold"], abs=1e-4)
    assert json.loads(fp32_scan.stdout)["threshold"] == pytest.approx(card["threshold"], abs=1e-4)
    evaluated = runner.invoke(app, ["evaluate", "--model", str(folder), "--data", test, "--json", "--quiet"])
    assert evaluated.exit_code == 0 and json.loads(evaluated.stdout)["precision"] == "int8"
    evaluated = runner.invoke(app, ["evaluate", "--model", str(folder), "--data", test, "--fp32", "--quiet"])
    assert evaluated.exit_code == 0 and "its FP32 graph" in evaluated.stdout


def test_a_mirrored_graph_quantises_and_its_int8_version_still_scores_a_mirror_alike(
    shapes_datasets: dict[str, pathlib.Path], tmp_path: pathlib.Path
) -> None:
    import numpy as np
    import torch

    from vision.preprocess import PreprocessSpec
    from vision.train.export import export_model
    from vision.train.model import build_model

    torch.manual_seed(3)
    net = build_model((4, 8, 8, 8))
    with torch.no_grad():
        for parameter in net.head.parameters():
            parameter.mul_(20)  # maps that vary from cell to cell
    folder = export_model(
        net, tmp_path / "m" / "1", name="m", version="1", spec=PreprocessSpec(64), mirrors="h"
    )
    set_threshold(folder, 0.5, {"false_alarm_rate": 0.25})
    calibration, test = str(shapes_datasets["calibration"]), str(shapes_datasets["test"])
    quantize_model(
        folder, [calibration], [test], images=4, min_speedup=0.0, max_auroc_drop=1.0, progress=False
    )
    quantised = Predictor(folder, int8=True)
    scan = np.random.default_rng(5).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    straight, mirrored = quantised.predict(scan), quantised.predict(np.ascontiguousarray(scan[:, ::-1]))
    assert mirrored.score == pytest.approx(straight.score, abs=1e-5)
    np.testing.assert_allclose(mirrored.threat_map, straight.threat_map[:, ::-1], atol=1e-5)


def test_an_int8_version_that_does_not_pay_is_refused_and_nothing_is_written(
    tiny_model_dir: pathlib.Path, shapes_datasets: dict[str, pathlib.Path], tmp_path: pathlib.Path
) -> None:
    folder = calibrated_copy(tiny_model_dir, tmp_path / "model")
    before = (folder / "model.json").read_text()
    calibration, test = str(shapes_datasets["calibration"]), str(shapes_datasets["test"])
    with pytest.raises(QuantisationRefused, match="not fast enough"):
        quantize_model(folder, [calibration], [test], images=4, min_speedup=1000.0, progress=False)
    command = [
        "quantize",
        "--model",
        str(folder),
        "--calibration",
        calibration,
        "--test",
        test,
        "--images",
        "4",
    ]
    refused = runner.invoke(app, [*command, "--min-speedup", "1000", "--quiet"])
    assert refused.exit_code == 1 and "INT8 not kept: INT8 is not fast enough" in refused.stderr
    negative = runner.invoke(app, [*command, "--max-auroc-drop", "-0.5", "--quiet"])
    assert negative.exit_code == 2 and "--max-auroc-drop" in negative.output
    assert not (folder / INT8_FILE).exists() and (folder / "model.json").read_text() == before
    with pytest.raises(ModelLoadError, match="no INT8 version"):
        Predictor(folder, int8=True)


def test_quantize_refuses_an_uncalibrated_model(
    tiny_model_dir: pathlib.Path, shapes_datasets: dict[str, pathlib.Path]
) -> None:
    data = shapes_datasets
    command = ["quantize", "--model", str(tiny_model_dir), "--calibration", str(data["calibration"])]
    result = runner.invoke(app, [*command, "--test", str(data["test"]), "--quiet"])
    assert result.exit_code == 2 and "not calibrated" in result.stderr


def test_with_the_real_kit_int8_is_calibrated_on_real_clean_bags_and_judged_on_real_first(
    rigged_model_dir: pathlib.Path,
    shapes_datasets: dict[str, pathlib.Path],
    tmp_path: pathlib.Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from service.models import ModelManager
    from tests.model.test_real import write_kit

    kit = write_kit(tmp_path / "kit")
    calibration, test = str(shapes_datasets["calibration"]), str(shapes_datasets["test"])
    # A threshold set on simulated scans only would not compare with INT8's real one: refused up front.
    simulated = calibrated_copy(rigged_model_dir, tmp_path / "simulated")
    with pytest.raises(ValueError, match="calibrated on simulated scans only; export it with --real"):
        quantize_model(simulated, [calibration], [test], images=4, real_kit=kit, progress=False)
    assert not (simulated / INT8_FILE).exists()
    folder = real_calibrated_copy(rigged_model_dir, tmp_path / "model", kit)
    before = (folder / "model.json").read_text()
    # Asked to gain real localisation, which quantising a graph cannot promise: refused, nothing written.
    with pytest.raises(QuantisationRefused, match="real voc-threats localised"):
        quantize_model(
            folder, [calibration], [test], images=4, min_speedup=0.0, max_auroc_drop=1.0,
            real_kit=kit, real_views=2, max_real_drop=-0.5, alpha=None, progress=False,
        )  # fmt: skip
    assert not (folder / INT8_FILE).exists() and (folder / "model.json").read_text() == before
    entry = quantize_model(
        folder, [calibration], [test], images=4, min_speedup=0.0, max_auroc_drop=1.0,
        real_kit=kit, real_views=2, progress=False,
    )  # fmt: skip
    real = entry["real"]
    assert real["views"] == 2 and real["kit"] == str(kit)
    # The rigged graph has no convolution to quantise, so INT8 computes what FP32 does: same figures.
    assert real["int8"]["sets"] == real["fp32"]["sets"]
    assert set(real["int8"]["sets"]) == {"voc-threats", "yolo-knives", "clean-bags"}
    # Judged as the INT8 gate judges: each graph at its own threshold, paired file by file; the figure
    # averaged over each graph's thresholds for 2-10% real false alarms is shown beside it.
    assert real["judged_on"].startswith("each graph at its own threshold, paired")
    assert real["sets"]["yolo-knives"]["metric"] == "localised" and real["sets"]["yolo-knives"]["lost"] == 0
    assert real["sets"]["clean-bags"]["metric"] == "false_alarms" and real["alpha"] == 0.05
    assert real["int8"]["sets"]["yolo-knives"]["localised_over_2_10pct_real_fa"] is not None
    # Shared and luggage thresholds from the real clean bags (in two views); the record says so.
    record = entry["calibration"]["real"]
    assert record["views"] == 2 and entry["threshold"] == real["int8"]["threshold"]
    assert entry["kind_thresholds"]["luggage"] == entry["threshold"]
    assert entry["calibration"]["shared_and_luggage_from"].startswith("real clean bags")
    assert Predictor(folder, int8=True).threshold == entry["threshold"]
    with caplog.at_level("WARNING", logger="triage.models"):
        assert ModelManager(tmp_path, int8=True).load(folder).precision == "int8"
    assert "never judged on real scans" not in caplog.text
    # A station threshold is priced on the graph the station runs: INT8's own localisation scores (in the
    # judge's two views), FP32's from the card's real section.
    from vision.calibration import detection_at

    served = Predictor(folder, int8=True).real
    assert served is not None and set(served["localised_scores"]) == {"voc-threats", "yolo-knives"}
    assert len(served["localised_scores"]["yolo-knives"]) == 2  # one knife image, two views
    at_own = detection_at(served, entry["threshold"])
    assert at_own == {s: real["int8"]["sets"][s]["localised"] for s in ("voc-threats", "yolo-knives")}
    assert Predictor(folder, int8=False).real == json.loads((folder / "model.json").read_text()).get("real")


def test_the_real_judge_is_the_int8_gates(rigged_model_dir: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """quantize refuses what `triage compare --int8` would fail: a graph that, at its own threshold, loses
    real threats found at FP32's, unless the sign test puts the loss down to chance."""
    from tests.model.test_real import write_kit
    from vision.train.quantize import _real_comparison

    kit = write_kit(tmp_path / "kit")
    fp32 = real_calibrated_copy(rigged_model_dir, tmp_path / "fp32", kit)
    # A stand-in for an INT8 graph whose threshold fell above every threat: it finds none of them.
    blind = shutil.copytree(fp32, tmp_path / "blind")
    set_threshold(blind, 0.999, {"false_alarm_rate": 0.25})
    judge = (Predictor(fp32), Predictor(blind), kit, 1, 0.02)
    with pytest.raises(QuantisationRefused, match=r"real yolo-knives localised 1\.000 -> 0\.000 \(1 lost"):
        _real_comparison(*judge, None, False)
    # One knife lost: a coin flip for the sign test (p 0.5), so at alpha 0.05 it is not a refusal.
    comparison = _real_comparison(*judge, 0.05, False)
    knives = comparison["sets"]["yolo-knives"]
    assert knives["lost"] == 1 and knives["candidate"] == 0.0 and knives["within_chance"]


def test_activation_ranges_come_from_every_calibration_folder(
    shapes_datasets: dict[str, pathlib.Path],
) -> None:
    from vision.train.quantize import spread

    folders = [str(shapes_datasets["calibration"]), str(shapes_datasets["test"])]
    drawn = spread([load_datasets([folder]) for folder in folders], 6)
    assert len(drawn) == 6
    assert {s.image_path.parent.parent for s in drawn} == {pathlib.Path(f) for f in folders}


def test_quantize_command_with_the_real_kit(
    rigged_model_dir: pathlib.Path, shapes_datasets: dict[str, pathlib.Path], tmp_path: pathlib.Path
) -> None:
    from tests.model.test_real import write_kit

    kit = write_kit(tmp_path / "kit")
    folder = real_calibrated_copy(rigged_model_dir, tmp_path / "model", kit)
    data = shapes_datasets
    command = ["quantize", "--model", str(folder), "--calibration", str(data["calibration"])]
    command += ["--test", str(data["test"]), "--images", "4", "--real", str(kit), "--quiet"]
    refused = runner.invoke(app, [*command, "--real-views", "5"])
    assert refused.exit_code == 2 and "--real-views" in refused.output
    # At alpha 0 every real loss would pass as chance: refused up front, as `triage compare` refuses it.
    refused = runner.invoke(app, [*command, "--alpha", "0"])
    assert refused.exit_code == 2 and "alpha must be in (0, 1)" in refused.stderr
    assert not (folder / INT8_FILE).exists()
    simulated = calibrated_copy(rigged_model_dir, tmp_path / "simulated")
    refused = runner.invoke(app, ["quantize", "--model", str(simulated), *command[3:]])
    assert refused.exit_code == 2 and "export it with --real first" in refused.stderr
    accept_any = ["--min-speedup", "0", "--max-auroc-drop", "1"]
    result = runner.invoke(app, [*command, "--real-views", "2", *accept_any])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["real"]["views"] == 2 and printed["threshold"] == printed["real"]["int8"]["threshold"]


def test_the_service_warns_of_an_int8_version_never_judged_on_real_scans(
    tiny_model_dir: pathlib.Path,
    shapes_datasets: dict[str, pathlib.Path],
    tmp_path: pathlib.Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from service.models import ModelManager

    folder = calibrated_copy(tiny_model_dir, tmp_path / "models" / "tiny" / "1")
    manager = ModelManager(tmp_path / "models", int8=True)
    with caplog.at_level("WARNING", logger="triage.models"):
        assert manager.load(folder).precision == "fp32"
    assert "no INT8 version; serving FP32" in caplog.text
    data = [str(shapes_datasets["calibration"])], [str(shapes_datasets["test"])]
    quantize_model(folder, *data, images=4, min_speedup=0.0, max_auroc_drop=1.0, progress=False)
    caplog.clear()
    with caplog.at_level("WARNING", logger="triage.models"):
        assert manager.load(folder).precision == "int8"
    assert "never judged on real scans" in caplog.text
