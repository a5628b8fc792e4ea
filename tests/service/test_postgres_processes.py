"""Two API processes writing to one PostgreSQL store keep every scan and feedback they acknowledged."""

from __future__ import annotations

import concurrent.futures
import pathlib

import httpx
import pytest

from tests.helpers import Postgres, free_port, serve_env, start_server, stop_server
from tests.service.conftest import ADMIN_KEY, png_bytes

SCANS_PER_CLIENT = 10
CLIENTS = 4


@pytest.mark.slow
def test_two_api_processes_on_one_postgres_keep_every_acknowledged_write(
    postgres: Postgres, models_root: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    url = postgres.new_database()
    # One store, one image folder (the local folder shared by both, as on one machine).
    env = serve_env(tmp_path / "data", models_root, ADMIN_KEY, DATABASE_URL=url)
    ports = [free_port(), free_port()]
    servers = [start_server(env, port, tmp_path / f"serve-{port}.log") for port in ports]
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    try:

        def client(index: int) -> list[tuple[str, str]]:
            acknowledged = []
            for n in range(SCANS_PER_CLIENT):
                base = f"http://127.0.0.1:{ports[(index + n) % 2]}"
                files = {"file": ("bag.png", png_bytes(seed=index * 100 + n), "image/png")}
                answer = httpx.post(f"{base}/v1/scans", files=files, headers=headers, timeout=60)
                if answer.status_code == 503:
                    continue  # refused under load, with Retry-After: not acknowledged
                assert answer.status_code == 201, answer.text
                scan = answer.json()
                outcome = "false_alarm" if scan["verdict"] == "alarm" else "cleared"
                other = f"http://127.0.0.1:{ports[(index + n + 1) % 2]}"  # feedback through the other one
                judged = httpx.post(
                    f"{other}/v1/scans/{scan['id']}/feedback", json={"outcome": outcome}, headers=headers
                )
                assert judged.status_code == 201, judged.text
                acknowledged.append((scan["id"], judged.json()["id"]))
            return acknowledged

        with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
            written = [pair for result in pool.map(client, range(CLIENTS)) for pair in result]
        assert len(written) >= CLIENTS * SCANS_PER_CLIENT // 2
        for port in ports:
            base = f"http://127.0.0.1:{port}"
            for scan_id, feedback_id in written:
                record = httpx.get(f"{base}/v1/scans/{scan_id}", headers=headers).json()
                assert [f["id"] for f in record["feedback"]] == [feedback_id]
                image = httpx.get(f"{base}/v1/scans/{scan_id}/image", headers=headers)
                assert image.status_code == 200
    finally:
        for server in servers:
            stop_server(server)
    # A restart sweeps the shared image folder: nothing acknowledged goes.
    server = start_server(env, ports[0], tmp_path / "restart.log")
    try:
        base = f"http://127.0.0.1:{ports[0]}"
        for scan_id, _ in written:
            assert httpx.get(f"{base}/v1/scans/{scan_id}/image", headers=headers).status_code == 200
    finally:
        stop_server(server)
