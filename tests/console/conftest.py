"""Fixtures for the console tests: a real ``triage serve`` on loopback and Debian's Chromium via Playwright.

Chromium is the system's (``/usr/bin/chromium``, installed by the README's test command); Playwright's own
browser downloads are never used. Without it the browser tests fail with a clear message: a console that was
never looked at is not tested.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import cv2
import httpx
import numpy as np
import pytest

from tests.helpers import copy_model, free_port, serve_env, start_server, stop_server

CHROMIUM = pathlib.Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ADMIN_KEY = "Vt7pQ2mX9cR4wL8zK1nB6hY3sD5fJ0aG"
VIEWPORT = {"width": 1366, "height": 768}
# Screenshots are kept in the test's tmp folder and, for a person to look at, copied here.
SHOTS_COPY = pathlib.Path("/tmp/console-shots")


@dataclass
class Server:
    """A running service: its URL, data folder and admin key."""

    url: str
    data_dir: pathlib.Path
    models_root: pathlib.Path
    admin_key: str

    def api(self, method: str, path: str, key: str | None = None, **kwargs: Any) -> httpx.Response:
        """One request to the service with ``key`` (default the admin key)."""
        headers = {"Authorization": f"Bearer {key or self.admin_key}", **kwargs.pop("headers", {})}
        return httpx.request(method, self.url + path, headers=headers, timeout=30, **kwargs)

    def new_key(self, *scopes: str) -> str:
        """A fresh key with ``scopes``, made with the CLI against the same store."""
        env = dict(os.environ, TRIAGE_DATA_DIR=str(self.data_dir))
        command = [sys.executable, "-m", "cli", "keys", "create", "--name", "console-test"]
        for scope in scopes:
            command += ["--scope", scope]
        out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
        return next(word for word in out.split() if word.startswith("tri_"))

    def revoke(self, key: str) -> None:
        """Revoke ``key`` with the CLI."""
        key_id = self.api("GET", "/v1/me", key).json()["key_id"]
        env = dict(os.environ, TRIAGE_DATA_DIR=str(self.data_dir))
        command = [sys.executable, "-m", "cli", "keys", "revoke", key_id]
        subprocess.run(command, env=env, capture_output=True, text=True, check=True)


def _registry(root: pathlib.Path, tiny_model_dir: pathlib.Path) -> pathlib.Path:
    """Two versions of the tiny model, each with a (made-up, test-only) metrics summary on its card.

    The untrained tiny model's scores mean nothing, so version 0.0.1 has a threshold of 0 (an alarm with
    boxes on any scan) and 0.0.2 a threshold of 1 (clear on any scan): the tests look at the console
    drawing verdicts and boxes, not at a good model.
    """
    summary = {
        "test": {"all": {"auroc": 0.91, "dr_at_far_0.01": 0.62, "false_alarm_rate": 0.05}},
    }
    copy_model(tiny_model_dir, root / "tiny-threat" / "0.0.1", version="0.0.1", threshold=0.0,
                metrics={"summary": summary})  # fmt: skip
    better = {"test": {"all": {"auroc": 0.95, "dr_at_far_0.01": 0.71, "false_alarm_rate": 0.04}}}
    copy_model(tiny_model_dir, root / "tiny-threat" / "0.0.2", version="0.0.2", threshold=1.0,
                kind_thresholds={"luggage": 1.0}, metrics={"summary": better})  # fmt: skip
    # Promotion is gated (vision/evaluation/gate.py): a test-only verdict lets the console promote
    # 0.0.2 over 0.0.1.
    from vision.evaluation.gate import model_hashes, write_gate

    newer = root / "tiny-threat" / "0.0.2"
    candidate = {"name": "tiny-threat", "version": "0.0.2", "sha256": model_hashes(newer)}
    baseline = {"name": "tiny-threat", "version": "0.0.1"}
    write_gate(newer, {"candidate": candidate, "baseline": baseline, "passed": True, "failures": []})
    return root


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: pathlib.Path) -> Iterator[Server]:
    """``triage serve`` on a free loopback port with a throw-away data folder and the tiny models."""
    base = tmp_path_factory.mktemp("console-server")
    models_root = _registry(base / "models", tiny_model_dir)
    data_dir = base / "data"
    port = free_port()
    # site calibration's smallest setting, so a test station gets a proposal from a few scans
    env = serve_env(data_dir, models_root, ADMIN_KEY, STATION_MIN_SCANS="20")
    log = base / "serve.log"
    process = start_server(env, port, log)
    try:
        yield Server(f"http://127.0.0.1:{port}", data_dir, models_root, ADMIN_KEY)
    finally:
        stop_server(process)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium driven by Playwright (fails, never skips, when Chromium is missing)."""
    if not CHROMIUM.is_file():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: the console tests drive the system browser. "
            "Install it with `apt-get install -y chromium` (the README's test command does this).",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser tab at 1366×768 (own storage), whose console errors fail the test."""
    context = browser.new_context(viewport=VIEWPORT, locale="en-GB", timezone_id="Asia/Ho_Chi_Minh")
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.set_default_timeout(15_000)
    try:
        yield tab
    finally:
        context.close()
    assert not errors, f"JavaScript errors in the console page: {errors}"


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """Where the screenshots of this module go (the pytest tmp folder)."""
    return tmp_path_factory.mktemp("console-shots")


def screenshot(page: Any, folder: pathlib.Path, name: str) -> pathlib.Path:
    """Save a screenshot of ``page`` as ``name.png`` in ``folder`` and a copy in ``/tmp/console-shots``."""
    path = folder / f"{name}.png"
    page.screenshot(path=str(path))
    try:
        SHOTS_COPY.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, SHOTS_COPY / path.name)
    except OSError:
        pass  # the copy is a convenience; the artefact is in the tmp folder
    return path


def sample_scan_png(seed: int = 3) -> bytes:
    """A simulated luggage scan with a threat (false colour PNG), made by the simulator."""
    from vision.synth.scene import generate

    scan = generate("luggage", seed, threat_probability=1.0, size=(480, 360))
    ok, data = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(scan.rgb), cv2.COLOR_RGB2BGR))
    assert ok
    return data.tobytes()


def sign_in(page: Any, server: Server, key: str | None = None) -> None:
    """Open the console and sign in with ``key`` (default the admin key)."""
    page.goto(server.url + "/")
    page.fill("#signin-key", key or server.admin_key)
    page.click("#signin-submit")
    page.wait_for_selector("#app:not([hidden])")
