"""A real ``triage serve`` on loopback, driven by the workstation's one-liner ``triage scan --server``."""

from __future__ import annotations

import json
import os
import pathlib
import signal

import httpx
import pytest
from typer.testing import CliRunner

from cli.main import app as cli
from tests.helpers import free_port, start_server
from tests.service.conftest import ADMIN_KEY, bearer, png_bytes


@pytest.mark.slow
def test_triage_scan_posts_to_a_running_service(tmp_path: pathlib.Path, models_root: pathlib.Path) -> None:
    env = dict(
        os.environ,
        TRIAGE_DATA_DIR=str(tmp_path / "data"),
        TRIAGE_MODEL_DIR=str(models_root / "tiny-threat" / "0.0.1"),
        TRIAGE_ADMIN_KEY=ADMIN_KEY,
    )
    port = free_port()
    server = start_server(env, port, tmp_path / "serve.log")
    image = tmp_path / "bag.png"
    image.write_bytes(png_bytes(320, 240, seed=5))
    try:
        command = ["scan", str(image), "--server", f"http://127.0.0.1:{port}"]
        result = CliRunner().invoke(cli, command, env={"TRIAGE_API_KEY": ADMIN_KEY})
        assert result.exit_code == 0, result.output
        line = json.loads(result.stdout.strip().splitlines()[0])
        assert line["path"] == str(image) and line["verdict"] in ("clear", "alarm")
        stored = httpx.get(f"http://127.0.0.1:{port}/v1/scans/{line['id']}", headers=bearer(ADMIN_KEY)).json()
        assert (stored["verdict"], stored["score"], stored["width"]) == (line["verdict"], line["score"], 320)
        denied = CliRunner().invoke(cli, command, env={"TRIAGE_API_KEY": "tri_wrong"})
        assert denied.exit_code != 0 and "401" in denied.output
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(20)
