"""A real ``triage serve`` on a small file system: when the disk fills, scans are refused with 503 and a
clear reason, nothing already stored is lost and ``/readyz`` says the disk is full; when the store turns
read-only, ``/readyz`` fails and scans are refused.

Needs a tmpfs mount (root, and a kernel that lets the container mount); skipped where that is refused.
"""

from __future__ import annotations

import os
import pathlib
import subprocess

import httpx
import pytest
from sqlalchemy import select

from service.store.db import Store
from service.store.tables import Scan
from tests.helpers import free_port, serve_env, start_server, stop_server
from tests.service.conftest import ADMIN_KEY, bearer, png_bytes

SIZE = "6m"  # room for the empty store and a few ~0.5 MB scans


def _mount(point: pathlib.Path, *options: str) -> bool:
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", ",".join(["size=" + SIZE, *options]), "tmpfs", str(point)],
        capture_output=True,
    )
    return result.returncode == 0


@pytest.fixture
def small_disk(tmp_path: pathlib.Path):
    point = tmp_path / "small"
    point.mkdir()
    if os.geteuid() != 0 or not _mount(point):
        pytest.skip("cannot mount a tmpfs here (needs root in a container that allows mounts)")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False)


@pytest.mark.slow
def test_a_full_disk_refuses_scans_clearly_and_keeps_what_was_stored(
    small_disk: pathlib.Path, tmp_path: pathlib.Path, models_root: pathlib.Path
) -> None:
    data_dir = small_disk / "data"
    # Ready while one more upload fits: the largest upload is 1 MiB here.
    env = serve_env(
        data_dir, models_root, ADMIN_KEY, MAX_REQUEST_BYTES=str(1024 * 1024), MAX_IMAGE_BYTES=str(1024 * 1024)
    )
    port = free_port()
    server = start_server(env, port, tmp_path / "serve.log")
    acknowledged: list[str] = []
    refusals: list[tuple[int, str]] = []
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers=bearer(ADMIN_KEY), timeout=30
        ) as client:
            for i in range(60):  # 60 x 0.5 MB is far more than the disk holds
                image = png_bytes(480, 360, seed=i)
                response = client.post("/v1/scans", files={"file": ("s.png", image, "image/png")})
                if response.status_code == 201:
                    acknowledged.append(response.json()["id"])
                else:
                    refusals.append((response.status_code, response.json()["detail"]))
            assert acknowledged and refusals
            assert {code for code, _ in refusals} <= {503, 507}, refusals
            assert all(
                "space" in detail or "full" in detail or "could not store" in detail for _, detail in refusals
            ), refusals
            for scan_id in acknowledged:
                assert client.get(f"/v1/scans/{scan_id}").status_code == 200
            assert client.get("/healthz").status_code == 200
            assert client.get("/readyz").status_code == 503  # it cannot take writes: not ready
            # Read-only (the image folder bound read-only over itself: a file system with open writers
            # cannot be remounted): the store cannot take writes, and readiness says so.
            images = str(data_dir / "images")
            subprocess.run(["mount", "--bind", images, images], check=True)
            try:
                subprocess.run(["mount", "-o", "remount,bind,ro", images], check=True)
                not_ready = client.get("/readyz")
                assert not_ready.status_code == 503 and "Read-only" in not_ready.json()["detail"], (
                    not_ready.text
                )
                refused = client.post("/v1/scans", files={"file": ("s.png", png_bytes(), "image/png")})
                assert refused.status_code == 503 and refused.json()["detail"]
            finally:
                subprocess.run(["umount", images], check=False)
    finally:
        stop_server(server)
    store = Store(f"sqlite:///{data_dir / 'triage.db'}")
    with store.sessions() as session:
        ids = {str(row) for row in session.scalars(select(Scan.id))}
        assert session.connection().exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    store.close()
    assert set(acknowledged) <= ids
