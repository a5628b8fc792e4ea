"""Operator drills: threats projected into real scans, shown as the scan, revealed on decision, reported."""

from __future__ import annotations

import csv
import hashlib
import io
import uuid

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import undefer

from service.app import create_app
from service.feedback_export import export_feedback
from service.settings import Settings
from service.store.drills import Drill
from service.store.tables import Feedback, Scan
from tests.service.backends import database  # noqa: F401  (SQLite and PostgreSQL)
from tests.service.conftest import new_key


def bag_png(seed: int = 0, width: int = 320, height: int = 240) -> bytes:
    """A bag-like false-colour scan: a textured orange-brown case on the belt's white."""
    rng = np.random.default_rng(seed)
    image = np.full((height, width, 3), 250, np.uint8)
    case = rng.normal((200, 160, 110), 12, (height - 60, width - 80, 3))
    image[30:-30, 40:-40] = np.clip(case, 0, 255).astype(np.uint8)
    ok, data = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    assert ok
    return data.tobytes()


def decode(png: bytes) -> np.ndarray:
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def drills_on(client: TestClient, admin: dict[str, str], station: str = "*", **body: object) -> None:
    answer = client.put(
        f"/v1/drills/settings/{station}", headers=admin, json={"enabled": True, "rate": 1.0, **body}
    )
    assert answer.status_code == 200, answer.text


def post(client: TestClient, key: dict[str, str], data: bytes, station: str = "lane-1") -> dict:
    answer = client.post(
        "/v1/scans", headers=key, files={"file": ("bag.png", data, "image/png")}, data={"station": station}
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def drill_of(client: TestClient, scan_id: str) -> Drill | None:
    store = client.app.state.triage.store  # type: ignore[attr-defined]
    with store.sessions() as session:
        query = select(Drill).options(undefer(Drill.footprint_png)).where(Drill.scan_id == uuid.UUID(scan_id))
        return session.scalars(query).first()


def footprint(drill: Drill, shape: tuple[int, int]) -> np.ndarray:
    """The pixels the drill's projection changed, as a mask of the whole image."""
    patch = cv2.imdecode(np.frombuffer(drill.footprint_png, np.uint8), cv2.IMREAD_GRAYSCALE) > 0
    whole = np.zeros(shape, bool)
    whole[drill.patch_y : drill.patch_y + patch.shape[0], drill.patch_x : drill.patch_x + patch.shape[1]] = (
        patch
    )
    return whole


def clearing(scan: dict) -> dict:
    """The feedback of an operator who finds nothing in the scan, whatever the model said."""
    return {"outcome": "false_alarm" if scan["verdict"] == "alarm" else "cleared"}


def test_rate_one_shows_every_scan_with_a_threat_only_inside_its_mask(
    client: TestClient, admin: dict[str, str], scanner: dict[str, str]
) -> None:
    drills_on(client, admin)
    original = bag_png(1)
    for _ in range(3):
        scan = post(client, scanner, original)
        drill = drill_of(client, scan["id"])
        assert drill is not None and drill.decided is None
        shown = decode(client.get(f"/v1/scans/{scan['id']}/image", headers=scanner).content)
        changed = np.any(shown != decode(original), axis=2)
        inside = footprint(drill, changed.shape)
        assert changed.any(), "the projected threat changed nothing"
        assert not (changed & ~inside).any(), "pixels outside the drill's mask changed"
        assert inside.sum() < inside.size * 0.5
        x0, y0, x1, y1 = drill.box
        assert 0 <= x0 < x1 <= 320 and 0 <= y0 < y1 <= 240
        # Nothing in the API's answers tells the drill: the record names the shown image's hash.
        record = client.get(f"/v1/scans/{scan['id']}", headers=scanner).json()
        assert record["image_sha256"] == drill.patch_sha256 != hashlib.sha256(original).hexdigest()
        assert set(record) == set(client.get("/v1/scans", headers=scanner).json()["items"][0])
        listed = {s["id"]: s for s in client.get("/v1/scans", headers=scanner).json()["items"]}
        assert listed[scan["id"]]["image_sha256"] == drill.patch_sha256
        assert all(f["drill"] is None for f in record["feedback"])


def test_drills_off_or_elsewhere_leave_scans_alone(
    client: TestClient, admin: dict[str, str], scanner: dict[str, str]
) -> None:
    scan = post(client, scanner, bag_png(2))
    assert drill_of(client, scan["id"]) is None  # off by default
    drills_on(client, admin, "lane-9")
    drills_on(client, admin, "lane-8", kinds=["vehicle"])
    assert drill_of(client, post(client, scanner, bag_png(2), station="lane-1")["id"]) is None
    assert drill_of(client, post(client, scanner, bag_png(2), station="lane-8")["id"]) is None
    assert drill_of(client, post(client, scanner, bag_png(2), station="lane-9")["id"]) is not None
    settings = client.get("/v1/drills/settings", headers=admin).json()
    assert [s["station"] for s in settings["items"]] == ["*", "lane-8", "lane-9"]
    assert settings["items"][0]["enabled"] is False
    assert sum(settings["library"].values()) > 0


def test_a_cleared_drill_is_revealed_as_a_miss_and_the_scan_becomes_its_original(
    client: TestClient, admin: dict[str, str], scanner: dict[str, str]
) -> None:
    drills_on(client, admin)
    original = bag_png(3)
    scan = post(client, scanner, original)
    answer = client.post(f"/v1/scans/{scan['id']}/feedback", headers=scanner, json=clearing(scan))
    assert answer.status_code == 201, answer.text
    reveal = answer.json()["drill"]
    drill = drill_of(client, scan["id"])
    assert drill is not None
    assert reveal["outcome"] == "miss" == drill.outcome
    assert reveal["label"] == drill.label and reveal["box"] == drill.box
    assert reveal["outline"] and all(len(p) >= 3 for p in reveal["outline"])
    assert reveal["shown_verdict"] == scan["verdict"] and reveal["decision_s"] >= 0
    # The scan now shows and judges the original image.
    shown = decode(client.get(f"/v1/scans/{scan['id']}/image", headers=scanner).content)
    assert np.array_equal(shown, decode(original))
    record = client.get(f"/v1/scans/{scan['id']}", headers=scanner).json()
    assert record["image_sha256"] == hashlib.sha256(original).hexdigest()
    assert record["feedback"][0]["drill"]["outcome"] == "miss"
    plain = post(client, new_key(client, "scan"), original, station="lane-x")  # drilled too: rate 1
    assert drill_of(client, plain["id"]) is not None
    # The decided drill's image is the projected one, outlined; an undecided one does not exist to the API.
    image = client.get(f"/v1/drills/{reveal['id']}/image", headers=scanner)
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    undecided = drill_of(client, plain["id"])
    assert undecided is not None
    assert client.get(f"/v1/drills/{undecided.id}/image", headers=scanner).status_code == 404
    # A second decision is an ordinary one on the original scan.
    again = client.post(f"/v1/scans/{scan['id']}/feedback", headers=scanner, json=clearing(record))
    assert again.status_code == 201 and again.json()["drill"] is None


def test_a_threat_found_is_a_hit_and_a_box_elsewhere_a_miss(
    client: TestClient, admin: dict[str, str], scanner: dict[str, str]
) -> None:
    drills_on(client, admin)
    outcomes = []
    for seed, on_it in ((4, True), (5, False)):
        scan = post(client, scanner, bag_png(seed))
        drill = drill_of(client, scan["id"])
        assert drill is not None
        x0, y0, x1, y1 = drill.box
        box = [x0, y0, x1, y1] if on_it else ([0, 0, 4, 4] if x0 > 5 and y0 > 5 else [310, 230, 319, 239])
        body = {"outcome": "missed", "boxes": [{"label": "blade", "box": box}]}
        answer = client.post(f"/v1/scans/{scan['id']}/feedback", headers=scanner, json=body)
        assert answer.status_code == 201, answer.text
        outcomes.append(answer.json()["drill"]["outcome"])
    assert outcomes == ["hit", "miss"]


def test_feedback_on_drills_is_never_exported(
    client: TestClient, admin: dict[str, str], scanner: dict[str, str], tmp_path
) -> None:
    drills_on(client, admin)
    scan = post(client, scanner, bag_png(6))
    assert (
        client.post(f"/v1/scans/{scan['id']}/feedback", headers=scanner, json=clearing(scan)).status_code
        == 201
    )
    state = client.app.state.triage  # type: ignore[attr-defined]
    result = export_feedback(state.store, state.images, tmp_path / "only-drills")
    assert result.report.images == 0
    # Feedback on the revealed original is the operator's judgement of a real scan: exported.
    box = {"label": "blade", "box": [50, 50, 90, 80]}
    real = {"outcome": "missed", "boxes": [box]}
    assert client.post(f"/v1/scans/{scan['id']}/feedback", headers=scanner, json=real).status_code == 201
    result = export_feedback(state.store, state.images, tmp_path / "after")
    assert result.report.images == 1 and dict(result.outcomes) == {"missed": 1}


def test_the_report_counts_hits_misses_and_real_decisions_exactly(
    client: TestClient, admin: dict[str, str]
) -> None:
    alice, bob = new_key(client, "scan", "feedback"), new_key(client, "scan", "feedback")
    drills_on(client, admin, "lane-1")
    decided = {"alice": [], "bob": []}
    for index, (who, key, hit) in enumerate(
        [("alice", alice, True), ("alice", alice, False), ("alice", alice, True), ("bob", bob, False)]
    ):
        scan = post(client, key, bag_png(10 + index))
        drill = drill_of(client, scan["id"])
        assert drill is not None
        body = (
            {"outcome": "missed", "boxes": [{"label": drill.label, "box": list(drill.box)}]}
            if hit
            else clearing(scan)
        )
        answer = client.post(f"/v1/scans/{scan['id']}/feedback", headers=key, json=body)
        assert answer.json()["drill"]["outcome"] == ("hit" if hit else "miss")
        decided[who].append(drill.label)
    # Real traffic at another station, judged by alice: one flagged, one passed.
    for seed, flag in ((30, True), (31, False)):
        scan = post(client, alice, bag_png(seed), station="lane-2")
        body = (
            {"outcome": "missed", "boxes": [{"label": "blade", "box": [50, 50, 90, 80]}]}
            if flag
            else clearing(scan)
        )
        assert client.post(f"/v1/scans/{scan['id']}/feedback", headers=alice, json=body).status_code == 201
    rows = client.get("/v1/drills/report", headers=admin).json()["items"]
    assert {r["operator"] for r in rows if r["station"] == "lane-1"} == {"test"}  # both keys are named so
    by_key = {r["key_id"]: r for r in rows if r["station"] == "lane-1"}
    assert sorted((r["drills"], r["hits"], r["misses"]) for r in by_key.values()) == [(1, 0, 1), (3, 2, 1)]
    alice_row = next(r for r in by_key.values() if r["drills"] == 3)
    assert alice_row["hit_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert sum(c["drills"] for c in alice_row["by_class"].values()) == 3
    assert sum(c["hits"] for c in alice_row["by_size"].values()) == 2
    assert alice_row["mean_decision_s"] is not None
    lane2 = [r for r in rows if r["station"] == "lane-2"]
    assert len(lane2) == 1 and (lane2[0]["drills"], lane2[0]["real_decided"], lane2[0]["real_flagged"]) == (
        0,
        2,
        1,
    )
    # Drill decisions are not real decisions.
    assert all(r["real_decided"] == 0 for r in by_key.values())
    table = list(csv.DictReader(io.StringIO(client.get("/v1/drills/report?format=csv", headers=admin).text)))
    totals = [r for r in table if r["group"] == "all" and r["station"] == "lane-1"]
    assert sorted(int(r["hits"]) for r in totals) == [0, 2]
    assert {r["group"].split(":")[0] for r in table} == {"all", "class", "size"}
    only = client.get("/v1/drills/report?station=lane-2", headers=admin).json()["items"]
    assert [r["station"] for r in only] == ["lane-2"]
    metrics = client.get("/metrics").text
    assert 'triage_drills_decided_total{outcome="hit",station="lane-1"} 2.0' in metrics
    assert 'triage_drills_shown_total{station="lane-1"} 4.0' in metrics


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"enabled": True, "rate": 0}, "rate"),
        ({"enabled": True, "rate": 1.5}, "rate"),
        ({"enabled": True, "rate": 0.1, "classes": ["teapot"]}, "classes"),
        ({"enabled": True, "rate": 0.1, "kinds": ["boat"]}, "kinds"),
        ({"enabled": True}, "rate"),
        ({"enabled": True, "rate": 0.1, "colour": "red"}, "colour"),
    ],
)
def test_bad_settings_are_refused_with_a_reason(
    client: TestClient, admin: dict[str, str], body: dict, reason: str
) -> None:
    answer = client.put("/v1/drills/settings/lane-1", headers=admin, json=body)
    assert answer.status_code == 422 and reason in answer.text
    assert [s["station"] for s in client.get("/v1/drills/settings", headers=admin).json()["items"]] == ["*"]


def test_a_class_the_library_lacks_is_refused(settings: Settings, admin: dict[str, str], tmp_path) -> None:
    import json
    import shutil

    from service.drills import BUNDLED_LIBRARY

    library = tmp_path / "library"
    shutil.copytree(BUNDLED_LIBRARY, library)
    index = json.loads((library / "library.json").read_text())
    index["threats"] = [t for t in index["threats"] if t["label"] == "blade"]
    (library / "library.json").write_text(json.dumps(index))
    with TestClient(create_app(settings.model_copy(update={"drill_library": library}))) as client:
        answer = client.put(
            "/v1/drills/settings/*", headers=admin, json={"enabled": True, "rate": 1, "classes": ["cash"]}
        )
        assert answer.status_code == 422 and "holds no cash" in answer.text
        drills_on(client, admin, classes=["blade"])
        scan = post(client, new_key(client, "scan"), bag_png(7))
        drill = drill_of(client, scan["id"])
        assert drill is not None and drill.label == "blade"


def test_an_undecided_drill_survives_a_restart(settings: Settings, admin: dict[str, str]) -> None:
    with TestClient(create_app(settings)) as client:
        drills_on(client, admin)
        key = new_key(client, "scan", "feedback")
        scan = post(client, key, bag_png(8))
        before = client.get(f"/v1/scans/{scan['id']}/image", headers=key).content
    with TestClient(create_app(settings)) as client:  # start-up sweeps unreferenced images: not this one
        after = client.get(f"/v1/scans/{scan['id']}/image", headers=key)
        assert after.status_code == 200 and after.content == before
        store = client.app.state.triage.store  # type: ignore[attr-defined]
        with store.sessions() as session:
            assert session.scalar(select(Scan.id).where(Scan.id == uuid.UUID(scan["id"]))) is not None
            assert not session.scalars(select(Feedback)).all()


def test_an_outline_is_polygons_of_three_points_or_more() -> None:
    from service.drills import outline_of

    mask = np.zeros((40, 40), bool)
    mask[5:20, 5:12] = True
    mask[30, 30] = True  # a speck
    assert [len(p) >= 3 for p in outline_of(mask)] == [True]
    speck = np.zeros((10, 10), bool)
    speck[4, 4] = True
    assert outline_of(speck) == [[[4, 4], [5, 4], [5, 5], [4, 5]]]


def test_feedback_needs_no_model_but_a_reveal_does_and_loses_nothing(
    client: TestClient, admin: dict[str, str], scanner: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    drills_on(client, admin, "drill-lane")
    drilled = post(client, scanner, bag_png(40), station="drill-lane")
    plain = post(client, scanner, bag_png(41), station="lane-1")
    manager = client.app.state.triage.models  # type: ignore[attr-defined]
    monkeypatch.setattr(manager, "current", None)
    answer = client.post(f"/v1/scans/{plain['id']}/feedback", headers=scanner, json=clearing(plain))
    assert answer.status_code == 201 and answer.json()["drill"] is None
    refused = client.post(f"/v1/scans/{drilled['id']}/feedback", headers=scanner, json=clearing(drilled))
    assert refused.status_code == 503 and refused.headers["Retry-After"]
    drill = drill_of(client, drilled["id"])
    assert drill is not None and drill.decided is None
    assert client.get(f"/v1/scans/{drilled['id']}", headers=scanner).json()["feedback"] == []
