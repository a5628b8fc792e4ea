"""`triage calibrate`: a station threshold from a folder of clean scans; bad input writes nothing."""

from __future__ import annotations

import json
import pathlib

import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.service.conftest import png_bytes
from vision.calibration import read_station_file

runner = CliRunner()


@pytest.fixture
def clean_folder(tmp_path: pathlib.Path) -> pathlib.Path:
    folder = tmp_path / "clean"
    folder.mkdir()
    for seed in range(40):
        (folder / f"bag-{seed:02d}.png").write_bytes(png_bytes(seed=seed))
    return folder


def calibrate(model: pathlib.Path, *args: str) -> object:
    return runner.invoke(app, ["calibrate", "--model", str(model), "--quiet", *args])


def test_calibrate_prints_the_threshold_and_interval_and_writes_the_station_file(
    tiny_model_dir: pathlib.Path, clean_folder: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    out = tmp_path / "stations.json"
    args = ["--clean", str(clean_folder), "--min-scans", "30", "--target-fa", "0.1", "--json"]
    result = calibrate(tiny_model_dir, *args, "--station", "lane-4", "--kind", "parcel", "--out", str(out))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["n"] == 40 and report["alarms"] <= 4 and 0 <= report["threshold"] <= 1
    low, high = report["false_alarm_interval"]
    assert low <= report["false_alarm_rate"] <= high
    [entry] = read_station_file(out)
    assert (entry.station, entry.kind, entry.model_name) == ("lane-4", "parcel", "tiny-threat")
    assert entry.threshold == report["threshold"] and entry.n == 40
    # a split's list keeps the files it names
    listed = tmp_path / "half.txt"
    listed.write_text("\n".join(f"bag-{i:02d}.png" for i in range(0, 40, 2)))
    half = calibrate(
        tiny_model_dir, "--clean", str(clean_folder), "--min-scans", "20", "--only-list", str(listed)
    )
    assert half.exit_code == 0, half.output
    assert "on 20 clean scans" in half.stdout and "not written" in half.stdout


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--min-scans", "300"], "40 clean scans"),
        (["--target-fa", "0.6"], "must be in (0, 0.5]"),
        (["--target-fa", "0"], "must be in (0, 0.5]"),
        (["--kind", "boat"], "--kind must be one of"),
    ],
)
def test_calibrate_refuses_bad_input_in_one_line_and_writes_nothing(
    tiny_model_dir: pathlib.Path,
    clean_folder: pathlib.Path,
    tmp_path: pathlib.Path,
    extra: list[str],
    message: str,
) -> None:
    out = tmp_path / "stations.json"
    result = calibrate(
        tiny_model_dir, "--clean", str(clean_folder), "--station", "lane-4", "--out", str(out), *extra
    )
    assert result.exit_code == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_calibrate_refuses_a_folder_without_images(
    tiny_model_dir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no scans here")
    result = calibrate(tiny_model_dir, "--clean", str(empty))
    assert result.exit_code == 2 and "no image files" in result.stderr
    missing = calibrate(tiny_model_dir, "--clean", str(tmp_path / "absent"))
    assert missing.exit_code == 2 and "no such folder" in missing.stderr
