"""Operator feedback in the store becomes a training dataset (`triage feedback export`)."""

from __future__ import annotations

import datetime as dt
import json
import pathlib
import uuid
from collections.abc import Iterator

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cli.main import app
from service.app import create_app
from service.feedback_export import export_feedback
from service.settings import Settings
from service.store.base import utc_now
from service.store.tables import Feedback
from tests.service.backends import database  # noqa: F401  (SQLite and PostgreSQL)
from tests.service.conftest import png_bytes
from vision.classes import category_id
from vision.dataimport import ImportFailed
from vision.datasets import load_dataset, read_mask


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
def client(settings: Settings) -> Iterator[TestClient]:
    """A running app whose model alarms on every parcel (feedback that judges an alarm needs one)."""
    assert settings.model_dir is not None
    card_path = settings.model_dir / "model.json"
    card = json.loads(card_path.read_text())
    card["kind_thresholds"] = {"parcel": 0.0}
    card_path.write_text(json.dumps(card))
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def judged_scans(client: TestClient, scanner: dict[str, str]) -> dict[str, str]:
    """Five scans: confirmed, false alarm, missed with a box, missed without (stored before the API
    refused that), and one never judged."""
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
    store = client.app.state.triage.store  # type: ignore[attr-defined]
    with store.session() as session:
        session.add(
            Feedback(
                scan_id=uuid.UUID(ids["unlocated"]),
                outcome="missed",
                boxes=[],
                note="somewhere in the lining",
                created=utc_now(),
            )
        )
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
    if settings.database_url:
        monkeypatch.setenv("TRIAGE_DATABASE_URL", settings.database_url)
    runner = CliRunner()
    args = ["feedback", "export", "--out", str(tmp_path / "fb"), "--since", "2020-01-01"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1])["images"] == 3
    bad = runner.invoke(app, ["feedback", "export", "--out", str(tmp_path / "x"), "--since", "last week"])
    assert bad.exit_code == 2 and "not an ISO date" in bad.output


def test_a_dual_energy_scan_names_both_stored_channels(
    client: TestClient, scanner: dict[str, str], tmp_path: pathlib.Path
) -> None:
    samples = pathlib.Path(__file__).resolve().parents[2] / "sample_images" / "xray"
    files = {
        channel: (f"{channel}.tiff", (samples / f"luggage_threat_{channel}.tiff").read_bytes(), "image/tiff")
        for channel in ("high", "low")
    }
    response = client.post("/v1/scans", files=files, data={"kind": "parcel"}, headers=scanner)
    assert response.status_code == 201, response.text
    scan_id = response.json()["id"]
    give_feedback(client, scanner, scan_id, {"outcome": "confirmed"})
    state = client.app.state.triage  # type: ignore[attr-defined]
    export_feedback(state.store, state.images, tmp_path / "fb")
    (image,) = json.loads((tmp_path / "fb" / "annotations.json").read_text())["images"]
    high, low = pathlib.Path(image["source_file"]), pathlib.Path(image["source_low_file"])
    assert high.read_bytes() == files["high"][1] and low.read_bytes() == files["low"][1]
