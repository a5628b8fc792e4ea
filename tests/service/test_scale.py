"""The service on Ray Serve: model replicas with batching behind the same FastAPI app."""

from __future__ import annotations

import pathlib
import tempfile
import threading

import httpx
import numpy as np
import pytest

from service.scale import LOADED_MODELS, PredictorReplica, ScalingPlan, ScanAnswer, ScanRequest
from tests.helpers import free_port, serve_env, start_server, stop_server
from tests.service.conftest import ADMIN_KEY, bearer, png_bytes
from vision.errors import ModelLoadError
from vision.infer import Predictor


def replica(max_batch_size: int = 4) -> object:
    """The predictor deployment's class, built in this process (no Ray)."""
    return PredictorReplica.func_or_class(1, False, max_batch_size, 0.005)  # type: ignore[attr-defined]


def test_a_fixed_plan_names_its_replicas_and_an_autoscaling_one_its_bounds() -> None:
    fixed = ScalingPlan(replicas=2, max_batch_size=4).deployment_options()
    assert fixed["num_replicas"] == 2 and "autoscaling_config" not in fixed
    assert fixed["max_ongoing_requests"] == 8 and fixed["ray_actor_options"] == {"num_cpus": 1.0}
    scaling = ScalingPlan(replicas=None, min_replicas=1, max_replicas=3).deployment_options()
    assert "num_replicas" not in scaling
    assert scaling["autoscaling_config"] == {
        "min_replicas": 1,
        "max_replicas": 3,
        "target_ongoing_requests": 2.0,
    }


def test_a_batch_is_judged_per_model_folder_and_each_answer_names_its_model(
    models_root: pathlib.Path,
) -> None:
    old, new = models_root / "tiny-threat" / "0.0.1", models_root / "tiny-threat" / "0.0.2"
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (60 + 10 * i, 90, 3), dtype=np.uint8) for i in range(4)]
    requests = [
        ScanRequest(str(old), images[0], None, None),
        ScanRequest(str(new), images[1], "luggage", None),
        ScanRequest(str(old), images[2], None, 0.01),
        ScanRequest(str(models_root / "tiny-threat" / "bad"), images[3], None, None),
    ]
    answers = replica()._judge_batch(requests)  # type: ignore[attr-defined]
    assert [a.model_version for a in answers[:3]] == ["0.0.1", "0.0.2", "0.0.1"]  # type: ignore[union-attr]
    assert isinstance(answers[3], ModelLoadError)  # the broken folder fails its own scan only
    # The same verdicts as the predictor in this process, and the station's threshold judges its scan.
    local = Predictor(old, threads=1)
    for answer, request in zip(answers[:3], requests[:3], strict=True):
        assert isinstance(answer, ScanAnswer)
        expected = local.predict(request.rgb, request.kind, request.threshold)
        assert answer.prediction.score == pytest.approx(expected.score, abs=1e-5)
        assert answer.heatmap_png.startswith(b"\x89PNG")
    assert answers[2].prediction.threshold == 0.01  # type: ignore[union-attr]


def test_a_replica_keeps_the_last_models_it_used(models_root: pathlib.Path) -> None:
    model = replica()
    folders = [str(models_root / "tiny-threat" / v) for v in ("0.0.1", "0.0.2", "0.0.1")]
    loaded = [model._predictor(folder) for folder in folders]  # type: ignore[attr-defined]
    assert loaded[0] is loaded[2]  # the one before a swap is kept, not reloaded
    assert len(model._models) <= LOADED_MODELS  # type: ignore[attr-defined]


@pytest.mark.slow
def test_serve_on_ray_judges_on_replicas_and_follows_a_promotion(
    tmp_path: pathlib.Path, models_root: pathlib.Path
) -> None:
    """`triage serve --ray` with two replicas: scans from 4 clients, a promotion and a rollback."""
    env = serve_env(tmp_path / "data", models_root, ADMIN_KEY)
    # The Ray started here keeps its sockets and logs apart (a short path: Unix sockets allow 107 bytes).
    ray_dir = tempfile.TemporaryDirectory(prefix="triage-ray-", dir="/tmp")
    env["RAY_TMPDIR"] = ray_dir.name
    port = free_port()
    options = ["--ray", "--replicas", "2", "--max-batch-size", "2"]
    server = start_server(env, port, tmp_path / "serve.log", timeout_s=300, options=options)
    url = f"http://127.0.0.1:{port}"
    answers: list[tuple[int, str]] = []

    def post(worker: int, count: int) -> None:
        with httpx.Client(base_url=url, headers=bearer(ADMIN_KEY), timeout=120) as client:
            for i in range(count):
                image = png_bytes(160, 120, seed=worker * 1000 + i)
                response = client.post("/v1/scans", files={"file": ("s.png", image, "image/png")})
                answers.append((response.status_code, response.json().get("model", {}).get("version", "")))

    try:
        workers = [threading.Thread(target=post, args=(w, 3)) for w in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(180)
        assert answers == [(201, "0.0.1")] * 12
        with httpx.Client(base_url=url, headers=bearer(ADMIN_KEY), timeout=120) as admin:
            forced = {"force": True, "reason": "ray test"}
            assert admin.post("/v1/models/tiny-threat/0.0.2/promote", json=forced).status_code == 200
            post(9, 2)
            assert admin.post("/v1/models/rollback").status_code == 200
            post(10, 2)
            bad = admin.post("/v1/scans", files={"file": ("x.png", b"not an image", "image/png")})
            assert bad.status_code == 400 and bad.json()["detail"]
        assert answers[12:] == [(201, "0.0.2")] * 2 + [(201, "0.0.1")] * 2
    finally:
        stop_server(server)
        ray_dir.cleanup()
