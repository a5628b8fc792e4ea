"""Kill a real ``triage serve`` with SIGKILL during a stream of scans, restart it, and audit the store.

Whatever instant the kill lands on, afterwards: every scan the server acknowledged (201) is still there;
every row's image file exists and hashes to the recorded SHA-256; no temporary or unreferenced file is
left; and SQLite's integrity check passes.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import signal
import threading
import time

import httpx
import pytest
from sqlalchemy import select

from service.store.db import Store
from service.store.tables import Scan
from tests.helpers import free_port, start_server
from tests.service.conftest import ADMIN_KEY, bearer, png_bytes

CLIENTS = 4


@pytest.mark.slow
def test_sigkill_during_writes_leaves_a_consistent_store(
    tmp_path: pathlib.Path, models_root: pathlib.Path
) -> None:
    data_dir = tmp_path / "data"
    env = dict(
        os.environ,
        TRIAGE_DATA_DIR=str(data_dir),
        TRIAGE_MODEL_DIR=str(models_root / "tiny-threat" / "0.0.1"),
        TRIAGE_MODELS_ROOT=str(models_root),
        TRIAGE_ADMIN_KEY=ADMIN_KEY,
        TRIAGE_MAX_IN_FLIGHT="16",
    )
    port = free_port()
    log = tmp_path / "serve.log"
    server = start_server(env, port, log)
    acknowledged: list[str] = []
    stop = threading.Event()

    def post_scans(worker: int) -> None:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers=bearer(ADMIN_KEY), timeout=10
        ) as client:
            for i in range(10_000):
                if stop.is_set():
                    return
                image = png_bytes(480, 360, seed=worker * 100_000 + i)  # distinct images, ~0.5 MB each
                try:
                    response = client.post("/v1/scans", files={"file": ("s.png", image, "image/png")})
                except httpx.HTTPError:
                    return  # the server died under us
                if response.status_code == 201:
                    acknowledged.append(response.json()["id"])

    workers = [threading.Thread(target=post_scans, args=(w,)) for w in range(CLIENTS)]
    try:
        for worker in workers:
            worker.start()
        deadline = time.monotonic() + 60
        while len(acknowledged) < 12 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert acknowledged, f"no scan was acknowledged: {log.read_text()[-2000:]}"
        os.killpg(server.pid, signal.SIGKILL)  # mid-stream: some scans are being decoded, written, committed
        server.wait(10)
    finally:
        stop.set()
        for worker in workers:
            worker.join(30)
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)

    server = start_server(env, port, log)  # the restart tidies what the kill left
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers=bearer(ADMIN_KEY), timeout=10
        ) as client:
            for scan_id in acknowledged:
                assert client.get(f"/v1/scans/{scan_id}").status_code == 200, (
                    f"acknowledged scan {scan_id} lost"
                )
            # The restarted service accepts new scans.
            assert (
                client.post("/v1/scans", files={"file": ("s.png", png_bytes(), "image/png")}).status_code
                == 201
            )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(20)

    store = Store(f"sqlite:///{data_dir / 'triage.db'}")
    with store.sessions() as session:
        rows = list(session.execute(select(Scan.image_path, Scan.image_sha256)))
        assert session.connection().exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    store.close()
    assert len(rows) >= len(acknowledged) + 1
    images = data_dir / "images"
    for image_path, digest in rows:
        assert hashlib.sha256((images / image_path).read_bytes()).hexdigest() == digest
    on_disk = {p.relative_to(images).as_posix() for p in images.rglob("*") if p.is_file()}
    assert on_disk == {path for path, _ in rows}  # no temporaries, no half-written or unreferenced files
