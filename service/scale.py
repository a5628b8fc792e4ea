"""The service on Ray Serve: the same FastAPI app as the ingress, the model as its own deployment.

Install with the ``[scale]`` extra. ``triage serve --ray`` starts it on one machine (a local Ray); with
``RAY_ADDRESS`` set (or ``--ray-address``) it joins a running cluster, whose head and workers were started
with ``ray start`` (README: "Model replicas on Ray Serve").

- **Ingress** (``api``): :func:`service.app.create_app` unchanged, built inside the replica, so admission
  (the 503 with ``Retry-After``), auth, decoding, storage, the registry and the hot swap keep their meaning.
  Only the model run leaves the process: :class:`ReplicaInference` sends it to the predictor deployment.
- **Predictor** (``predictor``): replicas of :class:`~vision.infer.Predictor` with dynamic batching
  (``@serve.batch``: up to ``max_batch_size`` scans, waiting at most ``batch_wait_s`` for a batch to
  fill), a fixed number of replicas or autoscaling on ongoing requests per replica.
- **Hot swap**: every request names the model folder the ingress serves; a replica loads a folder it
  has not seen on first use (and keeps the last two, so answers in flight during a swap finish on the
  model they asked for). All replicas follow a promotion or rollback from their next scan on, and each
  answer carries the name and version of the model that judged it, checked against the ingress's.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
from fastapi import FastAPI
from ray import serve
from ray.serve.handle import DeploymentHandle

from service.app import create_app
from service.inference import stored_heatmap
from service.settings import Settings
from vision.errors import ModelLoadError
from vision.infer import Prediction, Predictor

# Seconds Serve's HTTP proxy may take to start (Serve's default, 5, is too short on a busy small machine).
PROXY_READY_TIMEOUT_S = 60.0
# Model folders a predictor replica keeps loaded: the served one and the one before a swap.
LOADED_MODELS = 2


@dataclass(frozen=True)
class ScanRequest:
    """One scan for a predictor replica: the model folder to judge it with, its pixels, and how to judge."""

    model_dir: str
    rgb: np.ndarray
    kind: str | None
    threshold: float | None


@dataclass(frozen=True)
class ScanAnswer:
    """A replica's verdict, the heat map as stored, and the model that judged it."""

    prediction: Prediction
    heatmap_png: bytes
    model_name: str
    model_version: str


@dataclass(frozen=True)
class ScalingPlan:
    """How the predictor deployment runs.

    Attributes:
        replicas: a fixed number of predictor replicas; ``None`` autoscales between ``min_replicas``
            and ``max_replicas`` on ongoing requests per replica (``target_ongoing``).
        max_batch_size: scans judged in one onnxruntime call (1 turns batching off).
        batch_wait_s: longest wait for a batch to fill.
        threads: onnxruntime threads per replica.
        cpus_per_replica: CPUs Ray reserves for each replica (the scheduler places replicas by it).
    """

    replicas: int | None = 1
    min_replicas: int = 1
    max_replicas: int = 4
    target_ongoing: float = 2.0
    max_batch_size: int = 4
    batch_wait_s: float = 0.005
    threads: int = 1
    cpus_per_replica: float = 1.0

    def deployment_options(self) -> dict[str, Any]:
        """``Deployment.options`` for the predictor."""
        options: dict[str, Any] = {
            "ray_actor_options": {"num_cpus": self.cpus_per_replica},
            # A replica queues at most a few batches; beyond that the router waits for a free replica.
            "max_ongoing_requests": max(2, 2 * self.max_batch_size),
        }
        if self.replicas is None:
            options["autoscaling_config"] = {
                "min_replicas": self.min_replicas,
                "max_replicas": self.max_replicas,
                "target_ongoing_requests": self.target_ongoing,
            }
        else:
            options["num_replicas"] = self.replicas
        return options


@serve.deployment(name="predictor")
class PredictorReplica:
    """One model replica: judges batches of scans with the model folder each request names."""

    def __init__(self, threads: int, int8: bool | None, max_batch_size: int, batch_wait_s: float) -> None:
        self._threads, self._int8 = threads, int8
        self._models: OrderedDict[str, Predictor] = OrderedDict()
        # The decorator's values are defaults; the plan's are set per replica.
        self.judge.set_max_batch_size(max_batch_size)  # type: ignore[attr-defined]
        self.judge.set_batch_wait_timeout_s(batch_wait_s)  # type: ignore[attr-defined]

    def _predictor(self, model_dir: str) -> Predictor:
        predictor = self._models.pop(model_dir, None)
        if predictor is None:
            predictor = Predictor(model_dir, threads=self._threads, int8=self._int8)
        self._models[model_dir] = predictor
        while len(self._models) > LOADED_MODELS:
            self._models.popitem(last=False)
        return predictor

    def _judge_batch(self, requests: list[ScanRequest]) -> list[ScanAnswer | Exception]:
        """Each request's answer (or its error), one onnxruntime call per model folder in the batch."""
        answers: dict[int, ScanAnswer | Exception] = {}
        for model_dir in dict.fromkeys(r.model_dir for r in requests):
            indices = [i for i, r in enumerate(requests) if r.model_dir == model_dir]
            try:
                predictor = self._predictor(model_dir)
                predictions = predictor.predict_batch(
                    [requests[i].rgb for i in indices],
                    kinds=[requests[i].kind for i in indices],
                    thresholds=[requests[i].threshold for i in indices],
                )
            except (ModelLoadError, ValueError) as error:
                answers.update((i, error) for i in indices)
                continue
            for i, prediction in zip(indices, predictions, strict=True):
                answers[i] = ScanAnswer(
                    prediction, stored_heatmap(prediction), predictor.name, predictor.version
                )
        return [answers[i] for i in range(len(requests))]

    @serve.batch(max_batch_size=4, batch_wait_timeout_s=0.005)
    async def judge(self, requests: list[ScanRequest]) -> list[ScanAnswer | Exception]:
        """Judge a batch in a worker thread, so the replica keeps taking requests for the next batch."""
        return await asyncio.to_thread(self._judge_batch, requests)

    async def __call__(self, request: ScanRequest) -> ScanAnswer:
        answer = await self.judge(request)
        if isinstance(answer, Exception):
            raise answer
        return answer


@dataclass(frozen=True)
class ReplicaInference:
    """Scans judged by the predictor deployment (``service.inference.Inference``)."""

    handle: DeploymentHandle

    async def predict(
        self, predictor: Predictor, rgb: np.ndarray, kind: str | None, threshold: float | None
    ) -> tuple[Prediction, bytes]:
        request = ScanRequest(str(predictor.model_dir), rgb, kind, threshold)
        answer: ScanAnswer = await self.handle.remote(request)
        if (answer.model_name, answer.model_version) != (predictor.name, predictor.version):
            raise RuntimeError(
                f"a replica judged with {answer.model_name} {answer.model_version}, "
                f"not the served {predictor.name} {predictor.version}"
            )
        return answer.prediction, answer.heatmap_png


@serve.deployment(name="api", ray_actor_options={"num_cpus": 0})
@serve.ingress()
class Api:
    """The HTTP service, built in the replica around the predictor deployment's handle."""

    def __init__(self, settings: Settings, predictor: DeploymentHandle) -> None:
        self._settings, self._predictor = settings, predictor

    def __serve_build_asgi_app__(self) -> FastAPI:
        return create_app(self._settings, inference=ReplicaInference(self._predictor))


def application(settings: Settings, plan: ScalingPlan) -> serve.Application:
    """The ingress bound to the predictor deployment, ready for ``serve.run``."""
    # The decorators make Deployment objects, which mypy sees as the classes they wrap.
    deployment: Any = PredictorReplica
    predictor = deployment.options(**plan.deployment_options()).bind(
        plan.threads, settings.int8, plan.max_batch_size, plan.batch_wait_s
    )
    ingress: Any = Api
    return ingress.bind(settings, predictor)


def run(settings: Settings, plan: ScalingPlan, host: str, port: int, address: str | None = None) -> None:
    """Start (or join, with ``address`` or ``RAY_ADDRESS``) a Ray cluster and serve until interrupted.

    SIGTERM and Ctrl-C shut the application down; a Ray this call started stops with it.
    """
    import ray

    # Serve gives its HTTP proxy 5 s to report ready, three times; a busy 2-core station takes longer to
    # import it, and Serve then kills and restarts it for ever. Read by the controller, which a local
    # Ray starts with this environment.
    os.environ.setdefault("RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S", str(PROXY_READY_TIMEOUT_S))
    address = address or os.environ.get("RAY_ADDRESS")
    ray.init(address=address, include_dashboard=False, ignore_reinit_error=True)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        serve.start(http_options={"host": host, "port": port})
        serve.run(application(settings, plan), name="triage", route_prefix="/", blocking=False)
        stop.wait()
    finally:
        serve.shutdown()
        ray.shutdown()
