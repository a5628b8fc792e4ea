"""Kill a real ``triage serve`` with SIGKILL twenty times, at random instants during scan, feedback and
camera-event writes, restart it each time, and audit the store.

Whatever instant a kill lands on, afterwards: every scan the server acknowledged (201) is there with its
image; every acknowledged feedback is there; every event a frame's answer named is there; every row's image
file exists and hashes to the recorded SHA-256; no temporary or unreferenced file is left after the
start-up sweep; and SQLite's integrity check passes.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import random
import signal
import threading
import time

import cv2
import httpx
import pytest
from sqlalchemy import select

from service.store.db import Store
from service.store.tables import Scan
from tests.helpers import free_port, serve_env, start_server
from tests.service.backends import database  # noqa: F401  (SQLite and PostgreSQL)
from tests.service.conftest import ADMIN_KEY, bearer, png_bytes

KILLS = 20
SCAN_CLIENTS = 3
CLIP = pathlib.Path(__file__).resolve().parents[2] / "sample_images" / "camera" / "trail_walker.avi"


def _clip_jpegs() -> list[bytes]:
    capture = cv2.VideoCapture(str(CLIP))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.imencode(".jpg", frame)[1].tobytes())
    capture.release()
    assert frames
    return frames


class Traffic:
    """Clients that post scans, feedback on them, and camera frames until told to stop; what the server
    acknowledged is recorded."""

    def __init__(self, url: str, round_index: int, frames: list[bytes]) -> None:
        self.url = url
        self.round = round_index
        self.frames = frames
        self.stop = threading.Event()
        self.scans: list[str] = []
        self.feedback: list[tuple[str, str]] = []  # (scan id, feedback id)
        self.events: set[str] = set()
        self.threads = [threading.Thread(target=self._scans, args=(w,)) for w in range(SCAN_CLIENTS)]
        self.threads.append(threading.Thread(target=self._camera))

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def join(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(30)

    def _client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=bearer(ADMIN_KEY), timeout=10)

    def _scans(self, worker: int) -> None:
        with self._client() as client:
            for i in range(10_000):
                if self.stop.is_set():
                    return
                image = png_bytes(
                    480, 360, seed=(self.round * 10 + worker) * 100_000 + i
                )  # distinct, ~0.5 MB
                try:
                    response = client.post("/v1/scans", files={"file": ("s.png", image, "image/png")})
                    if response.status_code != 201:
                        continue
                    scan = response.json()
                    self.scans.append(scan["id"])
                    outcome = "confirmed" if scan["verdict"] == "alarm" else "missed"
                    body = {"outcome": outcome, "boxes": [{"label": "blade", "box": [10, 10, 60, 40]}]}
                    answer = client.post(f"/v1/scans/{scan['id']}/feedback", json=body)
                    if answer.status_code == 201:
                        self.feedback.append((scan["id"], answer.json()["id"]))
                except httpx.HTTPError:
                    return  # the server died under us

    def _camera(self) -> None:
        with self._client() as client:
            try:
                client.put("/v1/cameras/trail-1", json={"cooldown_s": 0.5})
                for index in range(10_000):
                    if self.stop.is_set():
                        return
                    frame = self.frames[index % len(self.frames)]
                    stamp = 1_700_000_000 + self.round * 10_000 + index / 5
                    response = client.post(
                        "/v1/cameras/trail-1/frames",
                        content=frame,
                        params={"timestamp": stamp},
                        headers={"Content-Type": "image/jpeg"},
                    )
                    if response.status_code == 200 and response.json()["event_id"]:
                        self.events.add(response.json()["event_id"])
            except httpx.HTTPError:
                return


@pytest.mark.slow
def test_twenty_sigkills_during_writes_lose_nothing_acknowledged(
    tmp_path: pathlib.Path,
    models_root: pathlib.Path,
    database: str | None,  # noqa: F811  (the fixture imported above)
) -> None:
    data_dir = tmp_path / "data"
    shared = {"DATABASE_URL": database} if database else {}
    env = serve_env(data_dir, models_root, ADMIN_KEY, MAX_IN_FLIGHT="16", **shared)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    frames = _clip_jpegs()
    rng = random.Random(26)
    rounds: list[Traffic] = []
    for round_index in range(KILLS):
        server = start_server(env, port, log)  # each start sweeps what the last kill left
        traffic = Traffic(url, round_index, frames)
        rounds.append(traffic)
        try:
            traffic.start()
            deadline = time.monotonic() + 60
            while not traffic.scans and time.monotonic() < deadline:
                time.sleep(0.01)
            assert traffic.scans, f"round {round_index}: no scan acknowledged: {log.read_text()[-2000:]}"
            time.sleep(rng.uniform(0.05, 1.5))  # a random instant in the middle of the writes
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(10)
        finally:
            traffic.join()
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGKILL)

    scans = [s for t in rounds for s in t.scans]
    feedback = [f for t in rounds for f in t.feedback]
    events = {e for t in rounds for e in t.events}
    assert len(scans) >= KILLS and feedback and events
    server = start_server(env, port, log)
    try:
        with httpx.Client(base_url=url, headers=bearer(ADMIN_KEY), timeout=10) as client:
            judged: dict[str, set[str]] = {}
            for scan_id, feedback_id in feedback:
                judged.setdefault(scan_id, set()).add(feedback_id)
            for scan_id in scans:
                record = client.get(f"/v1/scans/{scan_id}")
                assert record.status_code == 200, f"acknowledged scan {scan_id} lost"
                assert client.get(f"/v1/scans/{scan_id}/overlay.png").status_code == 200
                stored = {f["id"] for f in record.json()["feedback"]}
                assert judged.get(scan_id, set()) <= stored, f"acknowledged feedback on {scan_id} lost"
            listed = client.get("/v1/events", params={"limit": 500}).json()
            assert events <= {e["id"] for e in listed}, "an event a frame's answer named was lost"
            assert not any(e["open"] for e in listed)  # events a kill left open were closed at start
            assert (
                client.post("/v1/scans", files={"file": ("s.png", png_bytes(), "image/png")}).status_code
                == 201
            )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(20)

    store = Store(database or f"sqlite:///{data_dir / 'triage.db'}")
    with store.sessions() as session:
        rows = list(session.execute(select(Scan.image_path, Scan.image_sha256)))
        if store.is_sqlite:
            assert session.connection().exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    store.close()
    assert len(rows) >= len(scans) + 1
    images = data_dir / "images"
    for image_path, digest in rows:
        assert hashlib.sha256((images / image_path).read_bytes()).hexdigest() == digest
    on_disk = {p.relative_to(images).as_posix() for p in images.rglob("*") if p.is_file()}
    referenced = {path for path, _ in rows}
    if store.is_sqlite:
        assert on_disk == referenced  # no temporaries, no half-written or unreferenced files
    else:
        # A shared store's start-up leaves young leftovers (another process may be writing them, and
        # a later start removes them): temporaries, never read, and whole images named by their hash.
        assert referenced <= on_disk
        for extra in on_disk - referenced:
            if extra.startswith("tmp/"):
                continue
            digest = pathlib.Path(extra).stem
            assert hashlib.sha256((images / extra).read_bytes()).hexdigest() == digest
