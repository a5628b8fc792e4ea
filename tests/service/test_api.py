"""The HTTP API end to end through a TestClient: auth, scans, overlays, listing, feedback and every error."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import pathlib
import shutil
import threading
import time

import cv2
import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from service.app import create_app
from service.settings import Settings
from service.store.tables import Scan
from tests.helpers import png_bomb
from tests.service.backends import database  # noqa: F401  (SQLite and PostgreSQL)
from tests.service.conftest import MAX_PIXELS, bearer, new_key, png_bytes


def post_scan(client: TestClient, headers: dict[str, str], data: bytes | None = None, **form: str):
    files = {"file": ("scan.png", data if data is not None else png_bytes(), "image/png")}
    return client.post("/v1/scans", files=files, data=form, headers=headers)


def scan_count(client: TestClient) -> int:
    with client.app.state.triage.store.sessions() as session:  # type: ignore[attr-defined]
        return int(session.scalar(select(func.count()).select_from(Scan)) or 0)


def stored_files(client: TestClient) -> list[pathlib.Path]:
    root = client.app.state.triage.images.root  # type: ignore[attr-defined]
    return [p for p in root.rglob("*") if p.is_file()]


def test_health_ready_and_request_id(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["model"] == {"name": "tiny-threat", "version": "0.0.1"}
    echoed = client.get("/healthz", headers={"X-Request-ID": "ws-42.abc"})
    assert echoed.headers["X-Request-ID"] == "ws-42.abc"
    fresh = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert fresh.headers["X-Request-ID"] != "bad id with spaces" and len(fresh.headers["X-Request-ID"]) == 32


def test_auth_missing_unknown_revoked_and_wrong_scope(client: TestClient, admin: dict[str, str]) -> None:
    missing = post_scan(client, {})
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == "Bearer"
    assert "detail" in missing.json()
    assert post_scan(client, bearer("tri_not-a-real-key-at-all-0123456789")).status_code == 401
    feedback_only = new_key(client, "feedback")
    assert post_scan(client, feedback_only).status_code == 403
    camera_only = new_key(client, "camera")
    assert client.get("/v1/scans", headers=camera_only).status_code == 403
    scan_only = new_key(client, "scan")
    assert client.post("/v1/models/tiny-threat/0.0.2/promote", headers=scan_only).status_code == 403
    assert post_scan(client, scan_only).status_code == 201
    # Revoking takes effect on the next request.
    from service.auth import hash_key, revoke_key
    from service.store.tables import ApiKey

    secret = scan_only["Authorization"].removeprefix("Bearer ")
    store = client.app.state.triage.store  # type: ignore[attr-defined]
    with store.session() as session:
        row = session.scalars(select(ApiKey).where(ApiKey.key_sha256 == hash_key(secret))).one()
        revoke_key(session, row.id)
    assert post_scan(client, scan_only).status_code == 401
    assert post_scan(client, admin).status_code == 201  # admin holds every scope
    with store.sessions() as session:
        hashes = list(session.scalars(select(ApiKey.key_sha256)))
    assert secret not in hashes and hash_key(secret) in hashes  # stored hashed, never in clear


def test_the_scan_kind_picks_the_models_threshold_for_it(settings: Settings, admin: dict[str, str]) -> None:
    assert settings.model_dir is not None
    card_path = settings.model_dir / "model.json"
    card = json.loads(card_path.read_text())
    card["kind_thresholds"] = {"vehicle": 0.0, "luggage": 1.0}
    card_path.write_text(json.dumps(card))
    with TestClient(create_app(settings)) as client:
        answers = {
            kind: post_scan(client, admin, kind=kind).json() for kind in ("vehicle", "luggage", "parcel")
        }
        answers[None] = post_scan(client, admin).json()
        assert {k: a["threshold"] for k, a in answers.items()} == {
            "vehicle": 0.0,
            "luggage": 1.0,
            "parcel": card["threshold"],  # no threshold of its own
            None: card["threshold"],  # kind unknown
        }
        assert answers["vehicle"]["verdict"] == "alarm" and answers["luggage"]["verdict"] == "clear"
        stored = client.get(f"/v1/scans/{answers['vehicle']['id']}", headers=admin).json()
        assert (stored["threshold"], stored["verdict"]) == (0.0, "alarm")
        (served,) = [m for m in client.get("/v1/models", headers=admin).json() if m["serving"]]
        assert served["kind_thresholds"] == {"vehicle": 0.0, "luggage": 1.0}


def test_int8_setting_serves_the_int8_version_where_a_model_has_one(
    settings: Settings, admin: dict[str, str]
) -> None:
    assert settings.model_dir is not None
    with TestClient(create_app(settings.model_copy(update={"int8": True}))) as client:
        # No INT8 version yet: FP32 serves (and says so in the log).
        assert post_scan(client, admin).json()["threshold"] == 0.5
    # A stand-in INT8 version: the same graph under the INT8 name, with a threshold of its own.
    shutil.copy(settings.model_dir / "model.onnx", settings.model_dir / "model_int8.onnx")
    card_path = settings.model_dir / "model.json"
    card = json.loads(card_path.read_text())
    card["int8"] = {"file": "model_int8.onnx", "threshold": 0.0}
    card_path.write_text(json.dumps(card))
    with TestClient(create_app(settings.model_copy(update={"int8": True}))) as client:
        assert post_scan(client, admin).json()["threshold"] == 0.0
        assert client.app.state.triage.models.current.precision == "int8"  # type: ignore[attr-defined]
    with TestClient(create_app(settings)) as client:  # off by default
        assert post_scan(client, admin).json()["threshold"] == 0.5


def test_scan_round_trip_overlay_listing_and_feedback(client: TestClient, scanner: dict[str, str]) -> None:
    image = png_bytes(200, 150, seed=3)
    created = post_scan(client, scanner, image, kind="parcel", station="lane-3")
    assert created.status_code == 201, created.text
    scan = created.json()
    assert set(scan) == {
        "id",
        "verdict",
        "score",
        "threshold",
        "threshold_source",
        "model",
        "detections",
        "latency_ms",
        "modality",
    }
    assert scan["threshold_source"] == "model"  # no station threshold applied
    assert scan["modality"] == "false-colour"
    assert scan["verdict"] == ("alarm" if scan["score"] >= scan["threshold"] else "clear")
    assert scan["model"] == {"name": "tiny-threat", "version": "0.0.1"}
    assert scan["latency_ms"] > 0

    record = client.get(f"/v1/scans/{scan['id']}", headers=scanner).json()
    assert record["score"] == scan["score"] and record["station"] == "lane-3" and record["kind"] == "parcel"
    assert (record["width"], record["height"], record["format"]) == (200, 150, "png")
    assert record["image_sha256"] == hashlib.sha256(image).hexdigest()
    (stored,) = stored_files(client)
    assert stored.read_bytes() == image

    overlay = client.get(f"/v1/scans/{scan['id']}/overlay.png", headers=scanner)
    assert overlay.status_code == 200 and overlay.headers["content-type"] == "image/png"
    picture = cv2.imdecode(np.frombuffer(overlay.content, np.uint8), cv2.IMREAD_COLOR)
    assert picture is not None and picture.shape == (150, 200, 3)

    feedback = client.post(
        f"/v1/scans/{scan['id']}/feedback",
        json={
            "outcome": "missed",
            "boxes": [{"label": "blade", "box": [10, 20, 60, 80]}],
            "note": "in lining",
        },
        headers=scanner,
    )
    assert feedback.status_code == 201, feedback.text
    again = client.get(f"/v1/scans/{scan['id']}", headers=scanner).json()
    assert [f["outcome"] for f in again["feedback"]] == ["missed"]
    assert again["feedback"][0]["boxes"] == [{"label": "blade", "box": [10.0, 20.0, 60.0, 80.0]}]


def test_listing_filters_and_pages(client: TestClient, scanner: dict[str, str]) -> None:
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    ids = [post_scan(client, scanner, png_bytes(seed=i)).json()["id"] for i in range(5)]
    first = client.get("/v1/scans", params={"limit": 2}, headers=scanner).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    seen = [item["id"] for item in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = client.get("/v1/scans", params={"limit": 2, "cursor": cursor}, headers=scanner).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))
    created = [client.get(f"/v1/scans/{i}", headers=scanner).json()["created"] for i in seen]
    assert created == sorted(created, reverse=True)  # newest first
    verdicts = {client.get(f"/v1/scans/{i}", headers=scanner).json()["verdict"] for i in ids}
    for verdict in ("clear", "alarm"):
        items = client.get("/v1/scans", params={"verdict": verdict}, headers=scanner).json()["items"]
        assert all(item["verdict"] == verdict for item in items)
        assert bool(items) == (verdict in verdicts)
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    assert client.get("/v1/scans", params={"since": future}, headers=scanner).json()["items"] == []
    since = client.get("/v1/scans", params={"since": before.isoformat(), "limit": 50}, headers=scanner).json()
    assert len(since["items"]) == 5
    assert client.get("/v1/scans", params={"cursor": "garbage"}, headers=scanner).status_code == 422
    assert client.get("/v1/scans", params={"limit": 0}, headers=scanner).status_code == 422


def test_dual_energy_pair(client: TestClient, scanner: dict[str, str]) -> None:
    rng = np.random.default_rng(1)
    high = rng.integers(20000, 60000, (90, 120), dtype=np.uint16)
    low = (high * 0.8).astype(np.uint16)
    files = {
        "high": ("high.tiff", cv2.imencode(".tiff", high)[1].tobytes(), "image/tiff"),
        "low": ("low.tiff", cv2.imencode(".tiff", low)[1].tobytes(), "image/tiff"),
    }
    created = client.post("/v1/scans", files=files, headers=scanner)
    assert created.status_code == 201, created.text
    record = client.get(f"/v1/scans/{created.json()['id']}", headers=scanner).json()
    assert (record["format"], record["width"], record["height"]) == ("dual-energy", 120, 90)
    assert len(stored_files(client)) == 2
    assert client.get(f"/v1/scans/{record['id']}/overlay.png", headers=scanner).status_code == 200
    # Swapped channels: low-energy transmission above high-energy is not matter; refused, nothing stored.
    swapped = {"high": files["low"], "low": files["high"]}
    refused = client.post("/v1/scans", files=swapped, headers=scanner)
    assert refused.status_code == 422 and "look swapped" in refused.json()["detail"]
    assert scan_count(client) == 1


def test_each_error_code_and_nothing_half_written(client: TestClient, scanner: dict[str, str]) -> None:
    def expect(response, code: int) -> None:
        assert response.status_code == code, response.text
        assert isinstance(response.json()["detail"], str | list) and response.json()["detail"]

    expect(post_scan(client, scanner, b"definitely not an image" * 20), 400)
    expect(post_scan(client, scanner, b"GIF89a" + bytes(100)), 415)
    gif_declared = {"file": ("scan.png", png_bytes(), "text/plain")}
    expect(client.post("/v1/scans", files=gif_declared, headers=scanner), 415)
    expect(
        client.post("/v1/scans", content=png_bytes(), headers={**scanner, "Content-Type": "image/png"}), 415
    )
    bomb = png_bomb(2000, 2000)  # 4 MP announced in a tiny file: refused from the header
    assert len(bomb) < 20_000 and MAX_PIXELS < 2000 * 2000
    expect(post_scan(client, scanner, bomb), 413)
    expect(client.post("/v1/scans", data={"kind": "parcel"}, headers=scanner), 415)  # url-encoded form
    expect(client.post("/v1/scans", files={"kind": (None, "parcel")}, headers=scanner), 422)  # no image part
    expect(post_scan(client, scanner, kind="submarine"), 422)
    both = {"file": ("a.png", png_bytes(), "image/png"), "high": ("h.png", png_bytes(), "image/png")}
    expect(client.post("/v1/scans", files=both, headers=scanner), 422)
    unknown = {"file": ("a.png", png_bytes(), "image/png"), "extra": ("x.png", png_bytes(), "image/png")}
    expect(client.post("/v1/scans", files=unknown, headers=scanner), 422)
    expect(client.get("/v1/scans/00000000-0000-0000-0000-000000000000", headers=scanner), 404)
    expect(client.get("/v1/scans/not-a-uuid", headers=scanner), 422)
    expect(
        client.post(
            "/v1/scans/00000000-0000-0000-0000-000000000000/feedback",
            json={"outcome": "confirmed"},
            headers=scanner,
        ),
        404,
    )
    assert scan_count(client) == 0 and stored_files(client) == []

    scan_id = post_scan(client, scanner).json()["id"]
    expect(client.post(f"/v1/scans/{scan_id}/feedback", json={"outcome": "maybe"}, headers=scanner), 422)
    bad_box = {"outcome": "missed", "boxes": [{"label": "blade", "box": [50, 50, 10, 10]}]}
    expect(client.post(f"/v1/scans/{scan_id}/feedback", json=bad_box, headers=scanner), 422)
    expect(
        client.post(
            f"/v1/scans/{scan_id}/feedback",
            content=b"outcome=confirmed",
            headers={**scanner, "Content-Type": "application/x-www-form-urlencoded"},
        ),
        415,
    )
    assert client.get(f"/v1/scans/{scan_id}", headers=scanner).json()["feedback"] == []


def test_request_byte_limit_declared_and_streamed(client: TestClient, scanner: dict[str, str]) -> None:
    limit = client.app.state.triage.settings.max_request_bytes  # type: ignore[attr-defined]
    big = bytes(limit + 1)
    declared = client.post("/v1/scans", files={"file": ("a.png", big, "image/png")}, headers=scanner)
    assert declared.status_code == 413 and "limit" in declared.json()["detail"]

    def chunks():
        # No Content-Length: the body is counted as it streams.
        boundary = b"--b0undary"
        yield boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
        yield b"Content-Type: image/png\r\n\r\n"
        for _ in range(limit // 65536 + 2):
            yield bytes(65536)
        yield b"\r\n" + boundary + b"--\r\n"

    streamed = client.post(
        "/v1/scans",
        content=chunks(),
        headers={**scanner, "Content-Type": "multipart/form-data; boundary=b0undary"},
    )
    assert streamed.status_code == 413
    assert scan_count(client) == 0 and stored_files(client) == []


def test_full_queue_answers_503_with_retry_after(client: TestClient, scanner: dict[str, str]) -> None:
    state = client.app.state.triage  # type: ignore[attr-defined]
    predictor = state.models.current
    entered, release = threading.Event(), threading.Event()
    real_predict = predictor.predict

    def slow_predict(rgb: np.ndarray, kind: str | None = None, threshold: float | None = None) -> object:
        entered.set()
        release.wait(30)
        return real_predict(rgb, kind, threshold)

    predictor.predict = slow_predict  # every admitted scan now waits in inference until released
    limit = state.admission.limit
    answers: list[int] = []
    holders = [
        threading.Thread(target=lambda: answers.append(post_scan(client, scanner).status_code))
        for _ in range(limit)
    ]
    try:
        for holder in holders:
            holder.start()
        assert entered.wait(30)
        deadline = time.monotonic() + 30
        while state.admission.in_flight < limit and time.monotonic() < deadline:
            time.sleep(0.01)
        busy = post_scan(client, scanner)
    finally:
        release.set()
        for holder in holders:
            holder.join(60)
        del predictor.predict
    assert busy.status_code == 503 and busy.headers["Retry-After"] == "1"
    assert "busy" in busy.json()["detail"]
    assert answers == [201] * limit  # the admitted ones were not disturbed
    assert post_scan(client, scanner).status_code == 201
    metrics = client.get("/metrics").text
    assert "triage_scans_rejected_total 1.0" in metrics and "triage_scans_in_flight 0.0" in metrics


def test_disk_failure_gives_503_and_no_row(client: TestClient, scanner: dict[str, str], monkeypatch) -> None:
    images = client.app.state.triage.images  # type: ignore[attr-defined]

    def full_disk(*_args: object, **_kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(images, "put", full_disk)
    failed = post_scan(client, scanner)
    assert failed.status_code == 503 and "No space left" in failed.json()["detail"]
    assert scan_count(client) == 0


def test_metrics_count_verdicts_by_model_version(client: TestClient, scanner: dict[str, str]) -> None:
    verdict = post_scan(client, scanner).json()["verdict"]
    text = client.get("/metrics").text
    assert "# TYPE triage_scan_latency_seconds histogram" in text
    assert f'triage_verdicts_total{{model="tiny-threat",verdict="{verdict}",version="0.0.1"}} 1.0' in text
    assert "triage_scans_in_flight 0.0" in text
    assert 'triage_model_serving{model="tiny-threat",version="0.0.1"} 1.0' in text


def test_openapi_documents_the_contract(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    for path in (
        "/v1/scans",
        "/v1/scans/{scan_id}",
        "/v1/scans/{scan_id}/overlay.png",
        "/v1/scans/{scan_id}/feedback",
        "/v1/models",
        "/v1/models/{name}/{version}/promote",
        "/healthz",
        "/readyz",
        "/metrics",
    ):
        assert path in paths
    upload = paths["/v1/scans"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert {"file", "high", "low", "kind", "station"} <= set(upload["properties"])
    assert schema["components"]["schemas"]["ScanResult"]["examples"]
    assert "HTTPBearer" in schema["components"]["securitySchemes"]


def test_unexpected_error_is_a_500_naming_the_request(settings: Settings) -> None:
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        headers = new_key(client, "scan")

        def broken(*_args: object, **_kwargs: object) -> None:
            raise RuntimeError("a bug")

        app.state.triage.images.read = broken
        scan_id = post_scan(client, headers).json()["id"]
        failed = client.get(f"/v1/scans/{scan_id}/overlay.png", headers=headers)
    assert failed.status_code == 500
    request_id = failed.headers["X-Request-ID"]
    assert failed.json() == {"detail": f"internal error; see the server log for request {request_id}"}


def grey_png(seed: int = 0) -> bytes:
    """A single-energy scanner's export: a one-channel grey picture of a bag."""
    rng = np.random.default_rng(seed)
    ok, data = cv2.imencode(".png", rng.integers(0, 200, (120, 160), dtype=np.uint8))
    assert ok
    return data.tobytes()


def test_a_grey_scan_is_refused_by_a_false_colour_model_and_nothing_is_stored(
    client: TestClient, scanner: dict[str, str]
) -> None:
    refused = post_scan(client, scanner, grey_png())
    assert refused.status_code == 422 and "grey single-energy scan" in refused.json()["detail"]
    # The same grey picture saved as RGB is still grey: told by its pixels, not by its channel count.
    grey = cv2.imdecode(np.frombuffer(grey_png(), np.uint8), cv2.IMREAD_GRAYSCALE)
    as_rgb = cv2.imencode(".jpg", cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))[1].tobytes()
    assert post_scan(client, scanner, as_rgb).status_code == 422
    assert scan_count(client) == 0 and stored_files(client) == []
    assert post_scan(client, scanner).json()["modality"] == "false-colour"


def test_a_model_whose_card_serves_grey_scans_takes_them(settings: Settings, admin: dict[str, str]) -> None:
    assert settings.model_dir is not None
    card_path = settings.model_dir / "model.json"
    card = json.loads(card_path.read_text())
    card["modalities"] = ["false-colour", "grey", "dual-energy"]
    card_path.write_text(json.dumps(card))
    with TestClient(create_app(settings)) as client:
        created = post_scan(client, admin, grey_png())
        assert created.status_code == 201, created.text
        record = client.get(f"/v1/scans/{created.json()['id']}", headers=admin).json()
        assert created.json()["modality"] == record["modality"] == "grey"


def test_feedback_is_checked_against_its_scan(settings: Settings, admin: dict[str, str]) -> None:
    assert settings.model_dir is not None
    card_path = settings.model_dir / "model.json"
    card = json.loads(card_path.read_text())
    card["kind_thresholds"] = {"vehicle": 0.0, "luggage": 1.0}  # vehicle scans alarm, luggage scans clear
    card_path.write_text(json.dumps(card))
    with TestClient(create_app(settings)) as client:
        alarm = post_scan(client, admin, png_bytes(200, 150), kind="vehicle").json()
        clear = post_scan(client, admin, png_bytes(200, 150), kind="luggage").json()
        assert (alarm["verdict"], clear["verdict"]) == ("alarm", "clear")

        def give(scan: dict, body: dict):
            return client.post(f"/v1/scans/{scan['id']}/feedback", json=body, headers=admin)

        def refused(response, reason: str) -> None:
            assert response.status_code == 422 and reason in response.json()["detail"], response.text

        for outcome in ("confirmed", "false_alarm"):
            refused(give(clear, {"outcome": outcome}), "was clear")
        refused(give(alarm, {"outcome": "missed"}), "needs the box")
        for box in ([150, 100, 201, 120], [0, 0, 10, 151]):
            outside = {"outcome": "confirmed", "boxes": [{"label": "blade", "box": box}]}
            refused(give(alarm, outside), "outside the image (200x150")
        for scan in (alarm, clear):
            assert client.get(f"/v1/scans/{scan['id']}", headers=admin).json()["feedback"] == []
        edge = {"outcome": "confirmed", "boxes": [{"label": "blade", "box": [150, 100, 200, 150]}]}
        assert give(alarm, edge).status_code == 201
        assert give(alarm, {"outcome": "false_alarm"}).status_code == 201
        missed = {"outcome": "missed", "boxes": [{"label": "cash", "box": [0, 0, 9, 9]}]}
        assert give(clear, missed).status_code == 201
