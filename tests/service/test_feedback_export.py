"""Operator feedback in the store becomes a training dataset (`triage feedback export`)."""

from __future__ import annotations

import datetime as dt
import json
import pathlib

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from service.cli import app
from service.feedback_export import export_feedback
from service.settings import Settings
from tests.service.conftest import png_bytes
from vision.classes import category_id
from vision.dataimport import ImportFailed
from vision.train.data import load_dataset, read_mask


def post_scan(client: TestClient, headers: dict[str, str], seed: int) -> str:
    files = {"file": (f"bag{seed}.png", png_bytes(seed=seed), "image/png")}
    form = {"kind": "parcel", "station": "lane-1"}
    response = client.post("/v1/scans", files=files, data=form, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def give_feedback(client: TestClient, headers: dict[str, str], scan_id: str, body: dict[str, object]) -> None:
    response = client.post(f"/v1/scans/{scan_id}/feedback", json=body, headers=headers)
    assert response.status_code == 201, response.text


@pytest.fixture
def judged_scans(client: TestClient, scanner: dict[str, str]) -> dict[str, str]:
    """Five scans: confirmed, false alarm, missed with a box, missed without, and one never judged."""
    ids = {
        name: post_scan(client, scanner, seed)
        for seed, name in enumerate(("confirmed", "false_alarm", "missed", "unlocated", "unjudged"))
    }
    give_feedback(
        client,
        scanner,
        ids["confirmed"],
        {"outcome": "confirmed", "boxes": [{"label": "blade", "box": [10, 20, 50, 40]}]},
    )
    # The operator first called it a miss, then corrected it: the latest judgement wins.
    give_feedback(
        client,
        scanner,
        ids["false_alarm"],
        {"outcome": "missed", "boxes": [{"label": "cash", "box": [0, 0, 9, 9]}]},
    )
    give_feedback(client, scanner, ids["false_alarm"], {"outcome": "false_alarm"})
    brick = {"label": "narcotics", "box": [100, 60, 140, 100]}
    give_feedback(client, scanner, ids["missed"], {"outcome": "missed", "boxes": [brick]})
    give_feedback(client, scanner, ids["unlocated"], {"outcome": "missed", "note": "somewhere in the lining"})
    return ids


def test_export_labels_follow_the_operators(
    client: TestClient, settings: Settings, judged_scans: dict[str, str], tmp_path: pathlib.Path
) -> None:
    state = client.app.state.triage  # type: ignore[attr-defined]
    out = tmp_path / "feedback"
    result = export_feedback(state.store, state.images, out)
    assert dict(result.outcomes) == {"confirmed": 1, "false_alarm": 1, "missed": 1}
    assert result.unlocated == [judged_scans["unlocated"]]
    coco = json.loads((out / "annotations.json").read_text())
    by_scan = {image["scan_id"]: image for image in coco["images"]}
    assert set(by_scan) == {judged_scans[k] for k in ("confirmed", "false_alarm", "missed")}
    samples = {s.image_path.name: s for s in load_dataset(out)}
    confirmed = samples[pathlib.Path(by_scan[judged_scans["confirmed"]]["file_name"]).name]
    assert [(i.label, i.box) for i in confirmed.instances] == [("blade", (10.0, 20.0, 50.0, 40.0))]
    mask = read_mask(confirmed.mask_path)  # type: ignore[arg-type]
    assert (mask == category_id("blade")).sum() == 40 * 20
    assert not samples[pathlib.Path(by_scan[judged_scans["false_alarm"]]["file_name"]).name].instances
    missed = samples[pathlib.Path(by_scan[judged_scans["missed"]]["file_name"]).name]
    assert [i.label for i in missed.instances] == ["narcotics"] and missed.kind == "parcel"
    # The exported image is the stored scan, byte for byte.
    exported = cv2.imread(str(missed.image_path))
    np.testing.assert_array_equal(exported, cv2.imdecode(np.frombuffer(png_bytes(seed=2), np.uint8), 1))


def test_since_filters_and_an_existing_dataset_is_kept(
    client: TestClient, judged_scans: dict[str, str], tmp_path: pathlib.Path
) -> None:
    state = client.app.state.triage  # type: ignore[attr-defined]
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    result = export_feedback(state.store, state.images, tmp_path / "none", since=later)
    assert result.report.images == 0 and not result.outcomes
    with pytest.raises(ImportFailed, match="already holds a dataset"):
        export_feedback(state.store, state.images, tmp_path / "none")


def test_cli_exports_from_the_configured_store(
    client: TestClient,
    settings: Settings,
    judged_scans: dict[str, str],
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRIAGE_DATA_DIR", str(settings.data_dir))
    runner = CliRunner()
    args = ["feedback", "export", "--out", str(tmp_path / "fb"), "--since", "2020-01-01"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1])["images"] == 3
    bad = runner.invoke(app, ["feedback", "export", "--out", str(tmp_path / "x"), "--since", "last week"])
    assert bad.exit_code == 2 and "not an ISO date" in bad.output
