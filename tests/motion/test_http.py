"""Camera screening over HTTP and WebSocket: cameras, frames, events, snapshots, webhook, errors."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import pathlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import ClassVar

import cv2
import httpx
import numpy as np
import pytest
import uvicorn
from fastapi.testclient import TestClient
from pydantic import SecretStr
from starlette.websockets import WebSocketDisconnect
from typer.testing import CliRunner

from cli.main import app as cli
from service.app import create_app
from service.settings import Settings
from service.store.camera import MotionEventRow
from tests.helpers import free_port
from tests.service.conftest import ADMIN_KEY, bearer, new_key
from vision.motion.trail import TrailFrame

Sequence = Callable[..., list[TrailFrame]]
ADMIN = bearer(ADMIN_KEY)
CLIP = pathlib.Path(__file__).resolve().parents[2] / "sample_images" / "camera" / "trail_walker.avi"


@pytest.fixture
def settings(tmp_path: pathlib.Path) -> Settings:
    """A throw-away store; no model (camera screening needs none), a known admin key."""
    return Settings(
        data_dir=tmp_path / "data",
        model_dir=tmp_path / "no-model",
        models_root=tmp_path / "models",
        admin_key=SecretStr(ADMIN_KEY),
        max_request_bytes=4 * 1024 * 1024,
        max_image_bytes=2 * 1024 * 1024,
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """A running app with no camera config file and no webhook."""
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def camera_key(client: TestClient) -> dict[str, str]:
    """A key with the camera scope only."""
    return new_key(client, "camera")


@pytest.fixture
def walker_jpegs(tiny_sequence: Sequence) -> list[bytes]:
    """A walker crossing a 160×120 trail, then fifteen empty frames so that the event's cool-down ends it."""
    frames = tiny_sequence("walkers", frames=90, walkers=1, trees=1, walker_speed=1.5)
    pictures = [f.image for f in frames] + [frames[5].image] * 15
    return [cv2.imencode(".jpg", p, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes() for p in pictures]


def post_frames(client: TestClient, camera: str, key: dict[str, str], frames: list[bytes]) -> list[dict]:
    answers = []
    for index, data in enumerate(frames):
        response = client.post(
            f"/v1/cameras/{camera}/frames",
            content=data,
            params={"timestamp": 1_700_000_000 + index / 5},
            headers={**key, "Content-Type": "image/jpeg"},
        )
        assert response.status_code == 200, response.text
        answers.append(response.json())
    return answers


def test_cameras_are_configured_by_admin_only_and_strictly(
    client: TestClient, camera_key: dict[str, str]
) -> None:
    body = {"subtractor": {"kind": "knn"}, "zones": {"trail": [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]}}
    assert client.put("/v1/cameras/trail-1", json=body).status_code == 401
    assert client.put("/v1/cameras/trail-1", json=body, headers=camera_key).status_code == 403
    created = client.put("/v1/cameras/trail-1", json=body, headers=ADMIN)
    assert created.status_code == 201 and created.json()["config"]["subtractor"]["kind"] == "knn"
    # What GET returns, PUT takes back unchanged (the console edits masks and zones this way).
    (listed,) = client.get("/v1/cameras", headers=ADMIN).json()
    again = client.put("/v1/cameras/trail-1", json=listed["config"], headers=ADMIN)
    assert again.status_code == 200 and again.json()["config"] == listed["config"]
    assert client.put("/v1/cameras/trail-1", json={}, headers=ADMIN).status_code == 200
    typo = client.put("/v1/cameras/trail-2", json={"min_aera": 0.1}, headers=ADMIN)
    assert typo.status_code == 422 and "min_aera" in json.dumps(typo.json()["detail"])
    assert client.put("/v1/cameras/bad id", json={}, headers=ADMIN).status_code == 422
    listed = client.get("/v1/cameras", headers=ADMIN).json()
    assert [(c["id"], c["source"]) for c in listed] == [("trail-1", "api")]
    assert client.get("/v1/cameras/nope", headers=ADMIN).status_code == 404
    assert client.delete("/v1/cameras/trail-1", headers=ADMIN).status_code == 204
    assert client.get("/v1/cameras", headers=ADMIN).json() == []


def test_walker_frames_give_one_event_with_a_snapshot(
    client: TestClient, camera_key: dict[str, str], walker_jpegs: list[bytes]
) -> None:
    client.put("/v1/cameras/trail-1", json={}, headers=ADMIN)
    answers = post_frames(client, "trail-1", camera_key, walker_jpegs)
    moving = [a for a in answers if a["motion"]]
    assert moving and all(a["regions"] and a["event_id"] for a in moving)
    assert len({a["event_id"] for a in moving}) == 1
    events = client.get("/v1/events", headers=camera_key).json()
    assert len(events) == 1
    event = events[0]
    assert event["id"] == moving[0]["event_id"] and event["camera"] == "trail-1" and not event["open"]
    assert event["end"] > event["start"] and event["peak_score"] > 0 and len(event["boxes"]) == 1
    snapshot = client.get(event["snapshot_url"], headers=camera_key)
    assert snapshot.status_code == 200 and snapshot.headers["content-type"] == "image/jpeg"
    picture = cv2.imdecode(np.frombuffer(snapshot.content, np.uint8), cv2.IMREAD_COLOR)
    assert picture is not None and picture.shape == (120, 160, 3)
    # Filters: another camera has none; a start time after the event's excludes it.
    assert client.get("/v1/events", params={"camera": "other"}, headers=camera_key).json() == []
    later = client.get("/v1/events", params={"since": "2030-01-01T00:00:00Z"}, headers=camera_key).json()
    assert later == []
    assert client.get("/v1/events", params={"limit": 0}, headers=camera_key).status_code == 422
    metrics = client.get("/metrics").text
    assert 'triage_camera_events_total{camera="trail-1"} 1.0' in metrics
    assert 'triage_camera_frames_total{camera="trail-1",outcome="motion"}' in metrics


def test_open_event_is_listed_and_its_snapshot_not_yet_there(
    client: TestClient, camera_key: dict[str, str], walker_jpegs: list[bytes]
) -> None:
    client.put("/v1/cameras/trail-1", json={}, headers=ADMIN)
    answers = post_frames(client, "trail-1", camera_key, walker_jpegs[:60])
    event_id = next(a["event_id"] for a in answers if a["event_id"])
    (event,) = client.get("/v1/events", headers=camera_key).json()
    assert event["id"] == event_id and event["open"] and event["snapshot_url"] is None
    missing = client.get(f"/v1/events/{event_id}/snapshot.jpg", headers=camera_key)
    assert missing.status_code == 404 and "open" in missing.json()["detail"]
    unknown = client.get("/v1/events/00000000-0000-0000-0000-000000000000/snapshot.jpg", headers=camera_key)
    assert unknown.status_code == 404


def test_corrupt_frames_are_400_and_do_not_disturb_the_camera(
    client: TestClient, camera_key: dict[str, str], walker_jpegs: list[bytes]
) -> None:
    for camera in ("clean", "disturbed"):
        client.put(f"/v1/cameras/{camera}", json={}, headers=ADMIN)
    clean = post_frames(client, "clean", camera_key, walker_jpegs[:70])
    disturbed = []
    for index, data in enumerate(walker_jpegs[:70]):
        params = {"timestamp": 1_700_000_000 + index / 5}
        if index % 10 == 5:
            for bad in (data[: len(data) // 2], b"\xff\xd8\xff broken", b"not an image"):
                response = client.post(
                    "/v1/cameras/disturbed/frames", content=bad, params=params, headers=camera_key
                )
                assert response.status_code == 400 and response.json()["detail"]
        (answer,) = post_frames_at(client, "disturbed", camera_key, data, params)
        disturbed.append(answer)
    strip = [{k: v for k, v in a.items() if k != "event_id"} for a in clean]
    assert strip == [{k: v for k, v in a.items() if k != "event_id"} for a in disturbed]


def post_frames_at(
    client: TestClient, camera: str, key: dict[str, str], data: bytes, params: dict[str, float]
) -> list[dict]:
    response = client.post(f"/v1/cameras/{camera}/frames", content=data, params=params, headers=key)
    assert response.status_code == 200, response.text
    return [response.json()]


def test_frame_errors(client: TestClient, camera_key: dict[str, str], walker_jpegs: list[bytes]) -> None:
    frame = walker_jpegs[0]
    assert client.post("/v1/cameras/nope/frames", content=frame, headers=camera_key).status_code == 404
    client.put("/v1/cameras/trail-1", json={}, headers=ADMIN)
    assert client.post("/v1/cameras/trail-1/frames", content=frame).status_code == 401
    scan_only = new_key(client, "scan")
    assert client.post("/v1/cameras/trail-1/frames", content=frame, headers=scan_only).status_code == 403
    gif = client.post("/v1/cameras/trail-1/frames", content=b"GIF89a" + bytes(20), headers=camera_key)
    assert gif.status_code == 415
    text = client.post(
        "/v1/cameras/trail-1/frames", content=frame, headers={**camera_key, "Content-Type": "text/plain"}
    )
    assert text.status_code == 415
    big = np.zeros((1100, 1000, 3), np.uint8)  # 1.1 MP is fine; the byte limit is 2 MB
    assert (
        client.post(
            "/v1/cameras/trail-1/frames", content=cv2.imencode(".png", big)[1].tobytes(), headers=camera_key
        ).status_code
        == 200
    )


def test_cameras_from_the_config_file(settings: Settings, tmp_path: pathlib.Path) -> None:
    config = tmp_path / "cameras.yaml"
    config.write_text("cameras:\n  gate:\n    min_area: 0.01\n")
    settings = settings.model_copy(update={"cameras_file": config})
    with TestClient(create_app(settings)) as client:
        listed = client.get("/v1/cameras", headers=ADMIN).json()
        assert [(c["id"], c["source"], c["config"]["min_area"]) for c in listed] == [("gate", "file", 0.01)]
        assert client.delete("/v1/cameras/gate", headers=ADMIN).status_code == 409
        # A PUT overrides the file and is stored, so it survives a restart.
        client.put("/v1/cameras/gate", json={"min_area": 0.02}, headers=ADMIN)
    with TestClient(create_app(settings)) as client:
        (gate,) = client.get("/v1/cameras", headers=ADMIN).json()
        assert (gate["source"], gate["config"]["min_area"]) == ("api", 0.02)
    config.write_text("cameras:\n  gate:\n    min_aera: 0.01\n")
    with pytest.raises(Exception, match="min_aera"), TestClient(create_app(settings)):
        pass


def test_websocket_stream(client: TestClient, camera_key: dict[str, str], walker_jpegs: list[bytes]) -> None:
    client.put("/v1/cameras/trail-1", json={}, headers=ADMIN)
    with client.websocket_connect("/v1/cameras/trail-1/stream", headers=camera_key) as ws:
        results = []
        for data in walker_jpegs[:50]:
            ws.send_bytes(data)
            results.append(ws.receive_json())
        ws.send_bytes(b"\xff\xd8\xff broken")
        assert ws.receive_json()["status"] == 400
        ws.send_text("hello")
        assert ws.receive_json()["status"] == 400
        ws.send_bytes(walker_jpegs[50])
        assert "motion" in ws.receive_json()
    assert any(r["motion"] for r in results) and set(results[0]) >= {"motion", "score", "regions", "event_id"}
    # Key as the first message, for clients that cannot set headers.
    key = camera_key["Authorization"].split()[1]
    with client.websocket_connect("/v1/cameras/trail-1/stream") as ws:
        ws.send_text(json.dumps({"key": key}))
        ws.send_bytes(walker_jpegs[0])
        assert ws.receive_json()["motion"] is False


@pytest.mark.parametrize(
    ("path", "first", "code"),
    [
        ("/v1/cameras/trail-1/stream", "Bearer tri_unknown", 4401),
        ("/v1/cameras/trail-1/stream", "scan-key", 4403),
        ("/v1/cameras/nope/stream", "camera-key", 4404),
    ],
)
def test_websocket_refusals(
    client: TestClient, camera_key: dict[str, str], path: str, first: str, code: int
) -> None:
    client.put("/v1/cameras/trail-1", json={}, headers=ADMIN)
    keys = {"scan-key": new_key(client, "scan"), "camera-key": camera_key}
    message = keys[first]["Authorization"] if first in keys else first
    with client.websocket_connect(path) as ws:
        ws.send_text(message)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == code


class _Hook(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        _Hook.received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_webhook_gets_finished_events_and_failures_are_not_fatal(
    settings: Settings, walker_jpegs: list[bytes]
) -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Hook.received.clear()
    try:
        hooked = settings.model_copy(
            update={"event_webhook_url": f"http://127.0.0.1:{server.server_port}/hook"}
        )
        with TestClient(create_app(hooked)) as client:
            client.put("/v1/cameras/trail-1", json={}, headers=ADMIN)
            post_frames(client, "trail-1", ADMIN, walker_jpegs)
        # Leaving the client shuts the app down, which waits for the webhook workers.
        assert len(_Hook.received) == 1
        assert _Hook.received[0]["camera"] == "trail-1" and _Hook.received[0]["snapshot_url"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    # Nobody listens now: the event is still stored and the frames still answered.
    with TestClient(create_app(settings)) as client:
        client.put("/v1/cameras/trail-2", json={}, headers=ADMIN)
        post_frames(client, "trail-2", ADMIN, walker_jpegs)
        events = client.get("/v1/events", params={"camera": "trail-2"}, headers=ADMIN).json()
        assert len(events) == 1 and not events[0]["open"]


@pytest.mark.slow
def test_watch_posts_frames_to_a_running_service(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_config=None)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}"
        assert httpx.put(f"{url}/v1/cameras/trail-1", json={}, headers=ADMIN).status_code == 201
        monkeypatch.setenv("TRIAGE_API_KEY", ADMIN_KEY)
        clip = CLIP
        result = CliRunner().invoke(cli, ["watch", str(clip), "--camera", "trail-1", "--server", url])
        assert result.exit_code == 0, result.output
        answers = [json.loads(line) for line in result.stdout.splitlines()]
        assert answers and all(a["event_id"] and a["motion"] for a in answers)
        assert len({a["event_id"] for a in answers}) == 1
        # Posted with capture times, the event lasts as long as the walk; closed when the file ended.
        (event,) = httpx.get(f"{url}/v1/events", headers=ADMIN).json()
        lasted = dt.datetime.fromisoformat(event["end"]) - dt.datetime.fromisoformat(event["start"])
        assert not event["open"] and lasted.total_seconds() >= (len(answers) - 1) / 5 * 0.99
        unknown = CliRunner().invoke(cli, ["watch", str(clip), "--camera", "nope", "--server", url])
        assert unknown.exit_code == 2 and "404" in unknown.stderr
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_events_left_open_by_a_crash_are_closed_at_start(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        store = client.app.state.triage.store  # type: ignore[attr-defined]
        now = dt.datetime.now(dt.UTC)
        with store.session() as session:
            session.add(MotionEventRow(id=uuid.uuid4(), camera="c", start=now, end=now, open=True))
        assert client.get("/v1/events", headers=ADMIN).json()[0]["open"] is True
    with TestClient(create_app(settings)) as client:
        assert client.get("/v1/events", headers=ADMIN).json()[0]["open"] is False


@pytest.fixture
def webhook() -> Iterator[str]:
    """A local webhook receiver (payloads in ``_Hook.received``); yields its URL."""
    server = http.server.HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Hook.received.clear()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def wait_for(check: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def test_a_camera_gone_silent_has_its_event_closed_and_posted(
    settings: Settings, webhook: str, walker_jpegs: list[bytes]
) -> None:
    hooked = settings.model_copy(update={"event_webhook_url": webhook})
    with TestClient(create_app(hooked)) as client:
        client.put("/v1/cameras/trail-1", json={"cooldown_s": 1.0}, headers=ADMIN)
        # The walker is still crossing when the frames stop: no frame will ever show the quiet.
        answers = post_frames(client, "trail-1", ADMIN, walker_jpegs[:60])
        event_id = next(a["event_id"] for a in answers if a["event_id"])

        def closed() -> bool:
            (event,) = client.get("/v1/events", headers=ADMIN).json()
            return not event["open"]

        assert wait_for(closed), "the event stayed open after the camera went silent"
        (event,) = client.get("/v1/events", headers=ADMIN).json()
        assert event["id"] == event_id and event["snapshot_url"]
        assert event["frames"] == sum(a["motion"] for a in answers)
        # The webhook fired on the close, not at shutdown.
        assert wait_for(lambda: len(_Hook.received) == 1) and _Hook.received[0]["id"] == event_id


def test_an_open_event_record_grows_with_its_frames(
    client: TestClient, camera_key: dict[str, str], walker_jpegs: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("service.cameras.OPEN_EVENT_WRITE_S", 0.0)  # write on every frame, for the test
    client.put("/v1/cameras/trail-1", json={}, headers=ADMIN)
    answers = post_frames(client, "trail-1", camera_key, walker_jpegs[:60])
    moving = [i for i, a in enumerate(answers) if a["motion"]]
    (event,) = client.get("/v1/events", headers=camera_key).json()
    assert event["open"] and event["frames"] == len(moving) > 1
    last = dt.datetime.fromtimestamp(1_700_000_000 + moving[-1] / 5, tz=dt.UTC)
    assert abs(dt.datetime.fromisoformat(event["end"]) - last) < dt.timedelta(milliseconds=1)


def test_ending_a_source_closes_its_event_at_once(
    client: TestClient, camera_key: dict[str, str], walker_jpegs: list[bytes]
) -> None:
    client.put("/v1/cameras/trail-1", json={}, headers=ADMIN)
    answers = post_frames(client, "trail-1", camera_key, walker_jpegs[:60])
    event_id = next(a["event_id"] for a in answers if a["event_id"])
    ended = client.post("/v1/cameras/trail-1/end", headers=camera_key)
    assert ended.status_code == 200 and ended.json() == {"event_id": event_id}
    (event,) = client.get("/v1/events", headers=camera_key).json()
    assert not event["open"] and event["snapshot_url"]
    assert client.post("/v1/cameras/trail-1/end", headers=camera_key).json() == {"event_id": None}
    unknown = client.post("/v1/cameras/nope/end", headers=camera_key)
    assert unknown.status_code == 404 and "PUT /v1/cameras/nope" in unknown.json()["detail"]
    assert client.post("/v1/cameras/trail-1/end").status_code == 401
