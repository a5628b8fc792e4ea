"""`triage synth` at the command line: output layout, and one-line errors with a non-zero exit."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest


def _triage(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", "synth", *args], capture_output=True, text=True, timeout=120
    )


def _triage_in_process(*args: str) -> tuple[int, str]:
    from typer.testing import CliRunner

    from cli.main import app

    result = CliRunner().invoke(app, ["synth", *args])
    return result.exit_code, result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("--kind", "boat", "--out", "X"),
        ("--count", "0", "--out", "X"),
        ("--profile", "nope", "--out", "X"),
        ("--workers", "0", "--out", "X"),
        (
            "--count",
            "2",
        ),
        ("--preview", "sheet.jpg"),
        ("--threat-probability", "2", "--out", "X"),
    ],
)
def test_bad_arguments_give_one_line_and_non_zero_exit(args: tuple[str, ...], tmp_path: pathlib.Path) -> None:
    fixed = tuple(str(tmp_path / a) if a in ("X", "sheet.jpg") else a for a in args)
    code, stderr = _triage_in_process(*fixed)
    assert code != 0
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), stderr


def test_a_real_process_exits_non_zero_with_one_line(tmp_path: pathlib.Path) -> None:
    result = _triage("--kind", "boat", "--out", str(tmp_path))
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr


@pytest.mark.slow
def test_cli_writes_the_dataset_layout(tmp_path: pathlib.Path) -> None:
    result = _triage(
        "--kind",
        "parcel",
        "--count",
        "2",
        "--seed",
        "4",
        "--out",
        str(tmp_path),
        "--profile",
        "delta140",
        "--workers",
        "1",
    )
    assert result.returncode == 0, result.stderr
    coco = json.loads((tmp_path / "annotations.json").read_text())
    assert len(coco["images"]) == 2
    for im in coco["images"]:
        for key in ("file_name", "mask_file", "raw_high_file", "raw_low_file"):
            assert (tmp_path / im[key]).is_file()
