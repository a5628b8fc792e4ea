"""Model listing, promotion (hot swap) and a service started without a model."""

from __future__ import annotations

import pathlib
import threading
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from tests.helpers import free_port, serve_env, start_server, stop_server
from tests.service.conftest import ADMIN_KEY, bearer, png_bytes
from tests.service.gating import gate, gate_data

__all__ = ["gate_data"]  # a fixture, imported for pytest


def served_version(client: TestClient, headers: dict[str, str]) -> str:
    files = {"file": ("scan.png", png_bytes(), "image/png")}
    response = client.post("/v1/scans", files=files, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["model"]["version"])


def test_list_marks_serving_and_promoted(client: TestClient, admin: dict[str, str]) -> None:
    models = client.get("/v1/models", headers=admin).json()
    assert [(m["name"], m["version"]) for m in models] == [
        ("tiny-threat", "0.0.1"),
        ("tiny-threat", "0.0.2"),
        ("tiny-threat", "bad"),
    ]
    assert [m["serving"] for m in models] == [True, False, False]
    assert all(m["threshold"] == 0.5 and not m["promoted"] for m in models)
    assert client.get("/v1/models").status_code == 401


def test_promote_swaps_and_records(
    client: TestClient, admin: dict[str, str], models_root: pathlib.Path, gate_data: pathlib.Path
) -> None:
    assert served_version(client, admin) == "0.0.1"
    # Promotion is gated once a model serves: 0.0.2 (the same network) passes against 0.0.1.
    assert gate(models_root / "tiny-threat" / "0.0.2", models_root / "tiny-threat" / "0.0.1", gate_data)[
        "passed"
    ]
    promoted = client.post("/v1/models/tiny-threat/0.0.2/promote", headers=admin)
    assert promoted.status_code == 200, promoted.text
    assert promoted.json() == {
        "serving": {"name": "tiny-threat", "version": "0.0.2"},
        "previous": {"name": "tiny-threat", "version": "0.0.1"},
    }
    assert (models_root / "PROMOTED").read_text().strip() == "tiny-threat/0.0.2"
    assert served_version(client, admin) == "0.0.2"
    listing = {m["version"]: m for m in client.get("/v1/models", headers=admin).json()}
    assert listing["0.0.2"]["serving"] and listing["0.0.2"]["promoted"] and not listing["0.0.1"]["serving"]
    assert 'triage_model_serving{model="tiny-threat",version="0.0.2"} 1.0' in client.get("/metrics").text
    assert client.get("/readyz").json()["model"]["version"] == "0.0.2"


def test_failed_promotion_keeps_old_model(
    client: TestClient, admin: dict[str, str], models_root: pathlib.Path
) -> None:
    ungated = client.post("/v1/models/tiny-threat/bad/promote", headers=admin)
    assert ungated.status_code == 409 and "gate.json" in ungated.json()["detail"]
    forced = {"force": True, "reason": "test a broken model"}
    failed = client.post("/v1/models/tiny-threat/bad/promote", headers=admin, json=forced)
    assert failed.status_code == 409
    detail = failed.json()["detail"]
    assert "failed to load" in detail and "still serving tiny-threat/0.0.1" in detail
    assert not (models_root / "PROMOTED").exists()
    assert served_version(client, admin) == "0.0.1"
    assert client.post("/v1/models/tiny-threat/9.9.9/promote", headers=admin).status_code == 404
    assert client.post("/v1/models/../0.0.1/promote", headers=admin).status_code == 404
    assert client.post("/v1/models/tiny-threat/..%2F..%2Fetc/promote", headers=admin).status_code == 404
    assert client.get("/readyz").status_code == 200


def test_starts_without_a_model_and_says_why(
    tmp_path: pathlib.Path, settings: Settings, models_root: pathlib.Path, admin: dict[str, str]
) -> None:
    empty = Settings(
        **{**settings.model_dump(), "model_dir": tmp_path / "nowhere", "models_root": models_root}
    )
    with TestClient(create_app(empty)) as client:
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503 and "nowhere" in ready.json()["detail"]
        files = {"file": ("scan.png", png_bytes(), "image/png")}
        refused = client.post("/v1/scans", files=files, headers=admin)
        assert refused.status_code == 503 and "no model loaded" in refused.json()["detail"]
        # Promotion gives the running service its model.
        assert client.post("/v1/models/tiny-threat/0.0.1/promote", headers=admin).status_code == 200
        assert client.get("/readyz").status_code == 200
        assert served_version(client, admin) == "0.0.1"


def test_default_model_is_the_promoted_one(
    settings: Settings, models_root: pathlib.Path, admin: dict[str, str]
) -> None:
    (models_root / "PROMOTED").write_text("tiny-threat/0.0.2\n")
    default = Settings(**{**settings.model_dump(), "model_dir": None})
    with TestClient(create_app(default)) as client:
        assert served_version(client, admin) == "0.0.2"


def test_hot_swap_drops_no_request(client: TestClient, admin: dict[str, str]) -> None:
    results: list[tuple[int, str]] = []

    def post_many() -> None:
        for seed in range(6):
            files = {"file": ("scan.png", png_bytes(seed=seed), "image/png")}
            response = client.post("/v1/scans", files=files, headers=admin)
            results.append((response.status_code, response.json().get("model", {}).get("version", "")))

    workers = [threading.Thread(target=post_many) for _ in range(3)]
    for worker in workers:
        worker.start()
    for version in ("0.0.2", "0.0.1", "0.0.2"):
        body = {"force": True, "reason": "hot-swap test"}
        promoted = client.post(f"/v1/models/tiny-threat/{version}/promote", headers=admin, json=body)
        assert promoted.status_code == 200, promoted.text
    for worker in workers:
        worker.join()
    assert len(results) == 18
    assert all(code == 201 for code, _ in results), results
    assert {version for _, version in results} <= {"0.0.1", "0.0.2"}
    assert served_version(client, admin) == "0.0.2"


@pytest.mark.slow
def test_promotions_and_rollbacks_under_load_fail_no_request(
    tmp_path: pathlib.Path, models_root: pathlib.Path
) -> None:
    """8 clients post scans to a real server while the model is promoted and rolled back ten times."""
    env = serve_env(tmp_path / "data", models_root, ADMIN_KEY)
    port = free_port()
    server = start_server(env, port, tmp_path / "serve.log")
    url = f"http://127.0.0.1:{port}"
    answers: list[tuple[int, str, str]] = []  # status, scan id, version named
    stop = threading.Event()

    def post_scans(worker: int) -> None:
        with httpx.Client(base_url=url, headers=bearer(ADMIN_KEY), timeout=30) as client:
            for i in range(100_000):
                if stop.is_set():
                    return
                image = png_bytes(320, 240, seed=worker * 100_000 + i)
                response = client.post("/v1/scans", files={"file": ("s.png", image, "image/png")})
                body = response.json()
                answers.append(
                    (response.status_code, body.get("id", ""), body.get("model", {}).get("version", ""))
                )

    workers = [threading.Thread(target=post_scans, args=(w,)) for w in range(8)]
    try:
        for worker in workers:
            worker.start()
        with httpx.Client(base_url=url, headers=bearer(ADMIN_KEY), timeout=60) as admin:
            forced = {"force": True, "reason": "swap under load test"}
            for _ in range(5):
                time.sleep(0.3)
                assert admin.post("/v1/models/tiny-threat/0.0.2/promote", json=forced).status_code == 200
                time.sleep(0.3)
                back = admin.post("/v1/models/rollback")
                assert back.status_code == 200 and back.json()["serving"]["version"] == "0.0.1"
            time.sleep(0.3)
        stop.set()
        for worker in workers:
            worker.join(60)
        assert len(answers) >= 40
        failed = [a for a in answers if a[0] != 201]
        assert not failed, failed[:5]
        assert {version for _, _, version in answers} == {"0.0.1", "0.0.2"}
        # Each answer names the model that judged it, as the store recorded it.
        with httpx.Client(base_url=url, headers=bearer(ADMIN_KEY), timeout=30) as client:
            for _, scan_id, version in answers[:: max(1, len(answers) // 60)]:
                assert client.get(f"/v1/scans/{scan_id}").json()["model"]["version"] == version
    finally:
        stop.set()
        stop_server(server)
