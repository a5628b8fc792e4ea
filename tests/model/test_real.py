"""Real sets in their own layouts (vision.evaluation.real, `triage evaluate --real`), and the real-first gate.

A tiny kit is written in the three layouts of ``../shared/real/xray`` (VOC threats, YOLO threats, YOLO clean
bags), and the rigged model (dark is a blade) scores it: its answers are known in advance, so the figures
are too. The same kit is scored by ``../shared/checks/real_xray.py`` where it exists, and the two agree.
"""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from cli.main import app
from vision.evaluation import real as real_module
from vision.evaluation.gate import judge_real
from vision.evaluation.real import (
    KIT_SHORTCUTS,
    RealKitError,
    RealScore,
    Stress,
    at_long_side,
    calibrate_on_clean_sets,
    discover,
    evaluate_real,
    evaluate_stresses,
    format_real,
    format_stresses,
    real_report,
)
from vision.infer import Predictor
from vision.io import read_image
from vision.palette import Palette, bag_palette, set_palette

CHECK = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "checks" / "real_xray.py"


def bag(dark_box: tuple[int, int, int, int] | None, size: tuple[int, int] = (160, 120)) -> np.ndarray:
    width, height = size
    rgb = np.full((height, width, 3), 255, np.uint8)
    rgb[10:-10, 10:-10] = (250, 200, 120)
    if dark_box is not None:
        x0, y0, x1, y1 = dark_box
        rgb[y0:y1, x0:x1] = (20, 30, 120)
    return rgb


def write_kit(root: pathlib.Path) -> pathlib.Path:
    """VOC 'guns' (one found, one missed: its box is elsewhere), YOLO knives, clean bags (one dark)."""
    voc = root / "voc-threats"
    (voc / "Annotations").mkdir(parents=True)
    (voc / "JPEGImages").mkdir()
    for name, dark, box, label in [
        ("g1", (40, 40, 90, 70), (35, 35, 95, 75), "Gun"),
        ("g2", (40, 40, 90, 70), (110, 80, 140, 100), "Knife"),
        ("w1", None, (40, 40, 90, 70), "Wrench"),
    ]:
        cv2.imwrite(str(voc / "JPEGImages" / f"{name}.png"), bag(dark)[:, :, ::-1])
        x0, y0, x1, y1 = box
        (voc / "Annotations" / f"{name}.xml").write_text(
            f"<annotation><filename>{name}.png</filename><object><name>{label}</name><bndbox>"
            f"<xmin>{x0}</xmin><ymin>{y0}</ymin><xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox></object></annotation>"
        )
    yolo = root / "yolo-knives"
    (yolo / "images").mkdir(parents=True)
    (yolo / "labels").mkdir()
    (yolo / "data.yaml").write_text("names: [scissors, folding_knife]\n")
    # k1: a folding knife on the dark region; k2: scissors boxed away from it (not localised).
    for name, label in (("k1", "1 0.5 0.458 0.25 0.083"), ("k2", "0 0.1 0.1 0.1 0.1")):
        cv2.imwrite(str(yolo / "images" / f"{name}.png"), bag((60, 50, 100, 60))[:, :, ::-1])
        (yolo / "labels" / f"{name}.txt").write_text(label + "\n")
    (yolo / "val.txt").write_text("k1.png\n")
    clean = root / "clean-bags"
    (clean / "images").mkdir(parents=True)
    (clean / "labels").mkdir()
    for index, dark in enumerate([None, None, None, (70, 50, 90, 60)]):
        cv2.imwrite(str(clean / "images" / f"c{index}.png"), bag(dark)[:, :, ::-1])
        (clean / "labels" / f"c{index}.txt").write_text("")
    return root


def test_real_figures_of_a_known_model(rigged_model_dir: pathlib.Path, tmp_path: pathlib.Path) -> None:
    kit = write_kit(tmp_path / "kit")
    report = evaluate_real(Predictor(rigged_model_dir), kit, progress=False)
    sets = report["sets"]
    assert sets["clean-bags"]["n"] == 4 and sets["clean-bags"]["false_alarms"] == 0.25
    # One alarm in four bags: the 95% Wilson interval says how little that pins down.
    low, high = sets["clean-bags"]["false_alarms_ci95"]
    assert 0.04 < low < 0.05 and 0.69 < high < 0.70
    # g1's box holds the dark region; g2's box is elsewhere (flagged, not localised); w1 is no threat.
    assert sets["voc-threats"]["n"] == 2
    assert sets["voc-threats"]["flagged"] == 1.0 and sets["voc-threats"]["localised"] == 0.5
    assert sets["voc-threats"]["classes"]["firearm"]["localised"] == 1.0
    assert sets["voc-threats"]["classes"]["blade"]["pointing"] == 0.0
    # Only val.txt's file is scored where a set has one.
    assert sets["yolo-knives"]["n"] == 1 and sets["yolo-knives"]["localised"] == 1.0
    # Every file with all_files; the source's two kinds of knife, both our blade, get figures of their own.
    every = evaluate_real(Predictor(rigged_model_dir), kit, all_files=True, progress=False)
    knives = every["sets"]["yolo-knives"]
    assert knives["n"] == 2 and knives["localised"] == 0.5 and "classes" not in knives
    assert knives["source_classes"]["folding_knife"]["localised"] == 1.0
    scissors = knives["source_classes"]["scissors"]
    assert scissors["n"] == 1 and scissors["localised"] == 0.0
    [line] = [line for line in format_real(every).splitlines() if "(scissors)" in line]
    assert "n    1  localised 0.000" in line
    assert "source_classes" not in sets["voc-threats"]  # Gun and Knife are firearm and blade: nothing merged
    assert "n    4  false alarms 0.250 (95% CI 0.046-0.699)" in format_real(report)
    # Each threat image's localisation level, for the detection a station threshold keeps: at the card's
    # threshold it gives the localised figure back.
    from vision.calibration import detection_at

    assert set(report["localised_scores"]) == {"voc-threats", "yolo-knives"}
    assert detection_at(report, report["threshold"]) == {"voc-threats": 0.5, "yolo-knives": 1.0}
    assert detection_at(report, 1.0) == {"voc-threats": 0.0, "yolo-knives": 0.0}


def test_mirrored_views_count_as_scans_but_not_as_bags(
    rigged_model_dir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    kit = write_kit(tmp_path / "kit")
    predictor = Predictor(rigged_model_dir)
    plain = evaluate_real(predictor, kit, progress=False)
    mirrored = evaluate_real(predictor, kit, progress=False, views=4)
    assert plain["views"] == 1 and mirrored["views"] == 4
    # The rigged network sees dark wherever it is, so every view agrees with the plain scan; the counts
    # and the false-alarm interval stay those of the four bags, not of sixteen scans. (The level for 5%
    # (or 2-10%) of the clean scans moves: a quantile of 16 scores is not one of 4.)
    for name, figures in plain["sets"].items():
        at_card = {k: v for k, v in figures.items() if not k.startswith(("localised_at_", "localised_over_"))}
        assert {k: mirrored["sets"][name][k] for k in at_card} == at_card, name
    assert mirrored["false_alarms_pooled"] == plain["false_alarms_pooled"]
    assert "each in 4 views" in format_real(mirrored) and "views" not in format_real(plain)
    threshold, record = calibrate_on_clean_sets(predictor, discover(kit), 0.3, progress=False, views=4)
    assert record["views"] == 4 and "4 views" in record["rule"]
    assert record["sets"]["clean-bags"]["clean_images"] == 4
    assert record["sets"]["clean-bags"]["false_alarm_rate_at_threshold"] <= 0.3
    assert threshold == calibrate_on_clean_sets(predictor, discover(kit), 0.3, progress=False)[0]
    with pytest.raises(ValueError, match="views must be between 1 and 4"):
        evaluate_real(predictor, kit, progress=False, views=5)


def test_evaluate_command_prints_the_real_table_and_refuses_a_bad_kit(
    rigged_model_dir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    kit = write_kit(tmp_path / "kit")
    runner = CliRunner()
    result = runner.invoke(
        app, ["evaluate", "--model", str(rigged_model_dir), "--real", str(kit), "--json", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["real"]["sets"]["clean-bags"]["false_alarms"] == 0.25
    viewed = runner.invoke(
        app,
        ["evaluate", "--model", str(rigged_model_dir), "--real", str(kit), "--views", "4", "--quiet"],
    )
    assert viewed.exit_code == 0 and "each in 4 views" in viewed.output, viewed.output
    too_many = runner.invoke(
        app, ["evaluate", "--model", str(rigged_model_dir), "--real", str(kit), "--views", "5"]
    )
    assert too_many.exit_code == 2
    (tmp_path / "empty").mkdir()
    bad = runner.invoke(
        app, ["evaluate", "--model", str(rigged_model_dir), "--real", str(tmp_path / "empty")]
    )
    assert bad.exit_code == 2 and "no real sets" in bad.output
    neither = runner.invoke(app, ["evaluate", "--model", str(rigged_model_dir)])
    assert neither.exit_code == 2
    with pytest.raises(RealKitError):
        discover(tmp_path / "missing")


def test_files_laid_on_belt_keep_their_true_boxes(tmp_path: pathlib.Path) -> None:
    from tests.model.conftest import RIGGED_SIZE, DarkIsBladeNet
    from vision.preprocess import PreprocessSpec
    from vision.train.export import export_model

    kit = write_kit(tmp_path / "kit")
    # A model that frames each scan around the bag sees the same input however much belt is around it,
    # so its figures on the files laid on belt are those on the files as they are, if the true boxes moved
    # with the files (were they left behind, nothing would be localised).
    spec = PreprocessSpec(input_size=RIGGED_SIZE, content_fill=1.0)
    folder = export_model(DarkIsBladeNet(), tmp_path / "framed" / "1", name="framed", version="1", spec=spec)
    predictor = Predictor(folder)
    plain = evaluate_real(predictor, kit, progress=False)
    wide = evaluate_real(predictor, kit, progress=False, belt=3.0)
    assert wide["belt"] == 3.0 and "belt" not in plain
    assert wide["sets"] == plain["sets"] and plain["sets"]["voc-threats"]["localised"] == 0.5
    assert "each laid on belt 3 times its width" in format_real(wide)
    with pytest.raises(ValueError, match="belt must be at least 1"):
        evaluate_real(predictor, kit, progress=False, belt=0.5)
    refused = CliRunner().invoke(
        app, ["evaluate", "--model", str(folder), "--real", str(kit), "--belt", "0.5"]
    )
    assert refused.exit_code == 2


def test_files_shrunk_to_a_long_side_keep_their_true_boxes(
    rigged_model_dir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    kit = write_kit(tmp_path / "kit")
    predictor = Predictor(rigged_model_dir)
    plain = evaluate_real(predictor, kit, progress=False)
    # The kit's 160 px bags at 80 px: the letterbox enlarges them back, and the dark boxes are still found
    # where the true boxes went (were the boxes left at full size, the found one would miss them).
    small = evaluate_real(predictor, kit, progress=False, long_side=80)
    assert small["long_side"] == 80 and "long_side" not in plain
    for name in ("voc-threats", "yolo-knives"):
        figures = ("localised", "pointing", "flagged")
        assert [small["sets"][name][f] for f in figures] == [plain["sets"][name][f] for f in figures]
    assert plain["sets"]["voc-threats"]["localised"] == 0.5
    assert small["sets"]["clean-bags"]["false_alarms"] == plain["sets"]["clean-bags"]["false_alarms"]
    assert "each shrunk to a long side of 80 px" in format_real(small)
    rgb = bag(None)
    assert at_long_side(rgb, 160)[0] is rgb and at_long_side(rgb, 400)[1] == 1.0
    shrunk, factor = at_long_side(rgb, 40)
    assert shrunk.shape == (30, 40, 3) and factor == 0.25
    with pytest.raises(ValueError, match="long side must be at least 16"):
        evaluate_real(predictor, kit, progress=False, long_side=8)
    refused = CliRunner().invoke(
        app, ["evaluate", "--model", str(rigged_model_dir), "--real", str(kit), "--long-side", "8"]
    )
    assert refused.exit_code == 2


def test_files_recoloured_to_a_palette(rigged_model_dir: pathlib.Path, tmp_path: pathlib.Path) -> None:
    kit = write_kit(tmp_path / "kit")
    predictor = Predictor(rigged_model_dir)
    plain = evaluate_real(predictor, kit, progress=False)
    # The kit's bags are near warm hue 36 and saturation 130: a palette close to theirs changes nothing
    # for a model that reads brightness; saturating every colour darkens the bags (their lesser channels
    # fall) and it alarms on all of them.
    near = evaluate_real(predictor, kit, progress=False, palette=Palette(40.0, 100.0))
    assert near["sets"] == plain["sets"] and near["palette"] == {"warm_hue": 40.0, "saturation": 100.0}
    vivid = evaluate_real(predictor, kit, progress=False, palette=Palette(40.0, 255.0))
    assert vivid["sets"]["clean-bags"]["false_alarms"] == 1.0 > plain["sets"]["clean-bags"]["false_alarms"]
    assert "each recoloured to warm hue 40 deg and saturation 255" in format_real(vivid)
    runner = CliRunner()
    ok = runner.invoke(
        app,
        ["evaluate", "--model", str(rigged_model_dir), "--real", str(kit), "--palette", "40,100", "--quiet"],
    )
    assert ok.exit_code == 0 and "recoloured to warm hue 40 deg" in ok.output, ok.output
    for bad in ("120,50", "40", "40,0", "hue,sat"):
        refused = runner.invoke(
            app, ["evaluate", "--model", str(rigged_model_dir), "--real", str(kit), "--palette", bad]
        )
        assert refused.exit_code == 2 and "--palette" in refused.output, (bad, refused.output)


def test_a_palette_recolours_each_set_as_one_scanner(
    rigged_model_dir: pathlib.Path, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kit = write_kit(tmp_path / "kit")
    # Two of the clean bags paler than the rest: a scanner's bags differ in palette with what they hold.
    for index in (0, 1):
        path = kit / "clean-bags" / "images" / f"c{index}.png"
        hsv = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2HSV_FULL)
        hsv[..., 1] //= 3
        cv2.imwrite(str(path), cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR_FULL))
    seen: list[tuple[Palette, Palette]] = []

    def recorded(rgb: np.ndarray, own: Palette, target: Palette) -> np.ndarray:
        seen.append((own, target))
        return rgb

    monkeypatch.setattr(real_module, "recolour", recorded)
    target = Palette(45.0, 80.0)
    evaluate_real(Predictor(rigged_model_dir), kit, progress=False, palette=target)
    # Every file of a set is turned from the set's palette, so the paler bags stay paler than the rest.
    # The sets are scored in name order: the four clean bags first, then two guns (not the wrench), one knife.
    assert len(seen) == 4 + 2 + 1 and {t for _, t in seen} == {target}
    clean_own = {own for own, _ in seen[:4]}
    assert len(clean_own) == 1
    files = [read_image(p).rgb for p in sorted((kit / "clean-bags" / "images").iterdir())]
    assert clean_own == {set_palette(bag_palette(rgb) for rgb in files)}
    assert len({bag_palette(rgb) for rgb in files}) == 2


def test_stresses_score_the_kit_once_each_at_the_models_threshold(
    rigged_model_dir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    kit = write_kit(tmp_path / "kit")
    predictor = Predictor(rigged_model_dir)
    plain = evaluate_real(predictor, kit, progress=False)
    suite = (
        Stress("near", palette=Palette(40.0, 100.0)),
        Stress("vivid", palette=Palette(40.0, 255.0)),
        Stress("small", long_side=80),
        Stress("erased", erase=True),
    )
    stressed = evaluate_stresses(predictor, kit, suite, progress=False)
    assert list(stressed) == ["near", "vivid", "small", "erased"]
    assert stressed["near"]["sets"] == plain["sets"]
    # Each stress is the one-off evaluation it names (the brightness-reading model alarms on vivid bags).
    assert stressed["vivid"]["sets"]["clean-bags"]["false_alarms"] == 1.0
    assert stressed["small"]["long_side"] == 80 and "palette" not in stressed["small"]
    assert {r["threshold"] for r in stressed.values()} == {plain["threshold"]}
    table = format_stresses(plain, stressed).splitlines()
    assert "false alarms (clean-bags)" in table[0] and "localised (voc-threats / yolo-knives)" in table[0]
    assert [row.split()[0] for row in table[1:]] == ["as", "near", "vivid", "small", "erased"]
    assert table[3].split()[1] == "1.000"
    # The last columns: the threshold a site calibrated on the bags shown so would run at, and the threats
    # localised there. The vivid bags all alarm at the card's threshold, so their site's threshold is higher.
    sites = {row.split()[0]: row.split("|")[1].split() for row in table[1:5]}
    assert sites["as"] == [f"{plain['threshold_at_5pct_real_fa']:.4f}", "0.500", "/", "1.000"]
    assert float(sites["vivid"][0]) > float(sites["near"][0]) + 0.2
    assert "|" not in table[5]
    # Erased, the threat sets' bags are judged as clean bags: g1's dark region lay in its box and went
    # with it, g2's lies away from its box and stays; k1's knife was its box.
    erased = stressed["erased"]
    assert erased["threats_erased"] and set(erased["sets"]) == {"voc-threats", "yolo-knives"}
    assert erased["sets"]["voc-threats"]["false_alarms"] == 0.5
    assert erased["sets"]["yolo-knives"]["false_alarms"] == 0.0
    assert table[5].endswith("false alarms (voc-threats / yolo-knives) 0.500 / 0.000")
    assert [s.long_side for s in KIT_SHORTCUTS] == [0, 0, 416, 0]
    assert [s.erase for s in KIT_SHORTCUTS] == [False, False, False, True]

    runner = CliRunner()
    ok = runner.invoke(
        app, ["evaluate", "--model", str(rigged_model_dir), "--real", str(kit), "--stresses", "--quiet"]
    )
    assert ok.exit_code == 0 and "under the kit's shortcuts" in ok.output, ok.output
    assert "palette 52,55 (SIXray threats')" in ok.output and "long side 416 (OPIXray's)" in ok.output
    assert "threats erased" in ok.output
    for extra in (["--palette", "40,100"], ["--long-side", "80"], ["--belt", "2"]):
        refused = runner.invoke(
            app, ["evaluate", "--model", str(rigged_model_dir), "--real", str(kit), "--stresses", *extra]
        )
        assert refused.exit_code == 2 and "--stresses" in refused.output, (extra, refused.output)
    alone = runner.invoke(app, ["evaluate", "--model", str(rigged_model_dir), "--stresses"])
    assert alone.exit_code == 2
    # A kit of clean bags alone has nothing to erase: that stress is left out, the others run.
    shutil.rmtree(kit / "voc-threats")
    shutil.rmtree(kit / "yolo-knives")
    assert list(evaluate_stresses(predictor, kit, suite, progress=False)) == ["near", "vivid", "small"]


def test_a_site_calibrated_on_bags_that_alarm_pays_in_threats() -> None:
    # Four clean bags shown as a new scanner shows them, one scoring 0.9; two knives at 0.6 and 0.95, both
    # localised at the card's threshold 0.5. A station calibrating its threshold on those bags (5% of them
    # through: 0.81) stops the alarm and loses the fainter knife; the table prints that price.
    knife = {"points": True, "classes": ("blade",)}
    rows = [RealScore("bags", score, -1.0, False, ()) for score in (0.1, 0.2, 0.3, 0.9)]
    rows += [RealScore("knives", s, s, best_hit_traced=s, **knife) for s in (0.6, 0.95)]  # type: ignore[arg-type]
    shown = real_report(rows, 0.5, ["bags"])
    assert shown["sets"]["bags"]["false_alarms"] == 0.25 and shown["sets"]["knives"]["localised"] == 1.0
    assert shown["threshold_at_5pct_real_fa"] == pytest.approx(0.81)
    assert shown["sets"]["knives"]["localised_at_5pct_real_fa"] == 0.5
    plain = real_report([r for r in rows if r.score != 0.9], 0.5, ["bags"])
    table = format_stresses(plain, {"new scanner": shown}).splitlines()
    assert table[2].split() == ["new", "scanner", "0.250", "1.000", "|", "0.8100", "0.500"]
    assert table[1].split()[-3:] == ["|", f"{plain['threshold_at_5pct_real_fa']:.4f}", "1.000"]
    # With no clean bags there is no site threshold to read: nothing is made up.
    alone = real_report([r for r in rows if r.set_name == "knives"], 0.5, [])
    assert alone["sets"]["knives"]["localised_at_5pct_real_fa"] is None
    assert format_real(alone).endswith("threshold for 5% of them -")


@pytest.mark.slow
@pytest.mark.skipif(not CHECK.is_file(), reason="the shared real-scan check is not beside the project")
def test_the_shared_check_agrees_with_evaluate(
    rigged_model_dir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    kit = write_kit(tmp_path / "kit")
    ours = evaluate_real(Predictor(rigged_model_dir), kit, progress=False)
    triage = pathlib.Path(sys.executable).parent / "triage"
    out = subprocess.run(
        [sys.executable, str(CHECK), str(triage), str(rigged_model_dir), "--kit", str(kit), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    theirs = json.loads(out.stdout)
    assert theirs["false_alarms_pooled"] == pytest.approx(ours["false_alarms_pooled"])
    for name, figures in theirs["sets"].items():
        for key, value in figures.items():
            assert ours["sets"][name][key] == pytest.approx(value, abs=1e-4), (name, key)


def rows(set_name: str, scores: list[float], best: list[float] | None = None) -> list[RealScore]:
    best = best or [-1.0] * len(scores)
    return [
        RealScore(set_name, s, b, False, ("blade",) if b >= 0 else ())
        for s, b in zip(scores, best, strict=True)
    ]


def test_localised_over_2_to_10pct_false_alarms_averages_the_thresholds_of_the_clean_bags() -> None:
    from dataclasses import replace

    # 100 clean bags scoring 0.00 ... 0.99: the thresholds letting 2% ... 10% through are 0.97 ... 0.89.
    clean = rows("clean", [i / 100 for i in range(100)])
    # Knives localised up to 0.95 (scored higher, their box's region lower), 0.92 (found only in a region
    # below the card's threshold), 0.50 and never.
    knives = [
        replace(row, best_hit_traced=traced)
        for row, traced in zip(
            rows("knives", [0.99, 0.92, 0.5, 0.99], [0.95, -1.0, 0.5, -1.0]),
            [0.95, 0.92, 0.5, -1.0],
            strict=True,
        )
    ]
    report = real_report(clean + knives, 0.97, ["clean"])
    figures = report["sets"]["knives"]
    thresholds = np.quantile([i / 100 for i in range(100)], [1 - f / 100 for f in range(2, 11)])
    expected = np.mean([(np.array([0.95, 0.92, 0.5, -1.0]) > t).mean() for t in thresholds])
    assert figures["localised_over_2_10pct_real_fa"] == pytest.approx(expected, abs=1e-4)
    # The 0.95 knife under the six thresholds 0.9405 ... 0.891, the 0.92 one under the last three.
    assert figures["localised_over_2_10pct_real_fa"] == (6 + 3) / 9 / 4
    assert figures["localised"] == 0.0  # at the card's 0.97 none is
    assert "over 2-10% 0." in format_real(report)


def test_real_gate_fails_more_false_alarms_or_less_localisation_beyond_the_margin() -> None:
    base = rows("clean", [0.1] * 20) + rows("knives", [0.9] * 10, [0.9] * 10)
    worse_clean = rows("clean", [0.1] * 17 + [0.9] * 3) + rows("knives", [0.9] * 10, [0.9] * 10)
    verdict = judge_real(base, worse_clean, (0.5, 0.5), {"clean"}, 0.02)
    assert verdict["sets"]["clean"]["metric"] == "false_alarms"
    assert verdict["sets"]["clean"]["candidate"] == 0.15 and not verdict["sets"]["clean"]["passed"]
    assert verdict["sets"]["knives"]["passed"] and len(verdict["failures"]) == 1
    lost_knives = rows("clean", [0.1] * 20) + rows("knives", [0.9] * 10, [0.9] * 5 + [0.2] * 5)
    assert not judge_real(base, lost_knives, (0.5, 0.5), {"clean"}, 0.02)["sets"]["knives"]["passed"]
    # Each model is judged by its own threshold: a higher one that keeps the knives passes.
    better = rows("clean", [0.6] * 20) + rows("knives", [0.9] * 10, [0.9] * 10)
    assert judge_real(base, better, (0.5, 0.7), {"clean"}, 0.02)["failures"] == []
    # With alpha, one lost image of ten is within chance.
    one_lost = rows("clean", [0.1] * 20) + rows("knives", [0.9] * 10, [0.9] * 9 + [0.2])
    assert judge_real(base, one_lost, (0.5, 0.5), {"clean"}, 0.02, alpha=0.05)["failures"] == []


def in_views(scored: list[RealScore], views: list[list[float]]) -> list[RealScore]:
    """Each row followed by its mirrored views, whose scores (and hits) are ``views[i]``."""
    from dataclasses import replace

    from vision.infer import VIEWS

    names = list(VIEWS)
    out = []
    for row, extra in zip(scored, views, strict=True):
        out.append(row)
        for name, score in zip(names[1:], extra, strict=True):
            hit = score if row.best_hit >= 0 else -1.0
            out.append(replace(row, view=name, score=score, best_hit=hit))
    return out


def test_real_gate_in_views_counts_every_view_but_pairs_the_images() -> None:
    # Ten knives; the candidate loses two views of four on each of three images (no image entirely).
    base = in_views(rows("knives", [0.9] * 10, [0.9] * 10), [[0.9, 0.9, 0.9]] * 10)
    cand = in_views(
        rows("knives", [0.9] * 10, [0.2] * 3 + [0.9] * 7), [[0.2, 0.9, 0.9]] * 3 + [[0.9, 0.9, 0.9]] * 7
    )
    row = judge_real(base, cand, (0.5, 0.5), set(), 0.02, alpha=0.05)["sets"]["knives"]
    assert row["instances"] == 10 and row["candidate"] == 0.85 and row["baseline"] == 1.0
    # Three images lost, none gained: p 0.125, a fall within chance. Paired view by view it would be six
    # lost scans (p 0.016) and fail, as if each bag's views were independent scans.
    assert (row["lost"], row["gained"]) == (3, 0) and row["passed"] and row.get("within_chance")
    # Rows of different views do not pair.
    plain = rows("knives", [0.9] * 40, [0.9] * 40)
    with pytest.raises(ValueError, match="not the same images"):
        judge_real(base, plain, (0.5, 0.5), set(), 0.02)


def test_compare_judges_the_real_files_in_views(
    rigged_model_dir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    from tests.model.conftest import write_shapes_dataset

    kit = write_kit(tmp_path / "kit")
    data = write_shapes_dataset(tmp_path / "gate", 8, seed=3)
    same = tmp_path / "rigged" / "2"
    shutil.copytree(rigged_model_dir, same)
    result = CliRunner().invoke(
        app,
        [
            "compare", "--candidate", str(same), "--baseline", str(rigged_model_dir), "--data", str(data),
            "--real", str(kit), "--real-views", "2", "--quiet",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "each in 2 views" in result.output
    real = json.loads((same / "gate.json").read_text())["real"]
    assert real["views"] == 2 and real["sets"]["clean-bags"]["instances"] == 4
