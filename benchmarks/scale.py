"""Scans per second of the service on Ray Serve against the single-process service, side by side in one run.

On this machine, with ``--clients`` concurrent clients posting a 1024×768 JPEG scan for ``--seconds`` each:

- the single-process service (``triage serve``: uvicorn, the model in the API process, 2 threads);
- the same app on Ray Serve (``service.scale``) with 1 predictor replica of 2 threads, 2 replicas of 1
  thread, and 2 replicas with dynamic batching (up to 4 scans a call, 5 ms wait); one local Ray, each
  plan deployed in turn with a fresh data folder.

Prints scans per second, p50 and p99 latency, and each one's ratio to the single process. Then a capacity
note: from the best measured rate here, and the camera screener's measured cost per frame on one core
(``benchmarks.motion``), how many nodes like this one a site of N lanes and M cameras needs.

Run: ``python -m benchmarks.scale [--clients 4] [--seconds 20] [--lanes 8 --cameras 24 ...]`` (needs the
``[scale]`` extra).
"""

from __future__ import annotations

import argparse
import math
import os
import pathlib
import secrets
import signal
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import httpx
import numpy as np
from pydantic import SecretStr

from benchmarks.service import benchmark_model, ready, scan_png, start_server
from service.settings import Settings

PLANS = {
    "ray, 1 replica x 2 threads": {"replicas": 1, "threads": 2, "max_batch_size": 1, "cpus_per_replica": 2.0},
    "ray, 2 replicas x 1 thread": {"replicas": 2, "threads": 1, "max_batch_size": 1},
    "ray, 2 replicas x 1 thread, batches of 4": {"replicas": 2, "threads": 1, "max_batch_size": 4},
}
# A scanner lane's peak rate (scans a second): a parcel line belts about one item a second; a passenger
# lane a bag every few seconds. Cameras are screened at this many frames a second.
PARCEL_LANE_SCANS_S = 1.0
CAMERA_FPS = 5.0
# Run nodes at most this busy at the peak, so a burst queues briefly instead of being refused.
PEAK_UTILISATION = 0.7


@dataclass(frozen=True)
class Rate:
    """What the clients saw."""

    scans_s: float
    p50_ms: float
    p99_ms: float
    failed: int


def hammer(base: str, key: str, upload: tuple[str, bytes, str], clients: int, seconds: float) -> Rate:
    """``clients`` threads posting ``upload`` back to back for ``seconds``; 201s per second and latencies."""
    latencies: list[float] = []
    failed = 0
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def client() -> None:
        nonlocal failed
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=120) as http:
            while time.perf_counter() < stop_at:
                start = time.perf_counter()
                status = http.post("/v1/scans", files={"file": upload}).status_code
                with lock:
                    if status == 201:
                        latencies.append(time.perf_counter() - start)
                    else:
                        failed += 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies) or [float("nan")]
    return Rate(
        len(latencies) / elapsed,
        1000 * statistics.median(ordered),
        1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
        failed,
    )


def measure_single(model: pathlib.Path, scratch: pathlib.Path, key: str, run: Callable[[str], Rate]) -> Rate:
    """The single-process service."""
    (scratch / "single").mkdir()
    server, base = start_server(model, scratch / "single", key)
    try:
        return run(base)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)


def measure_ray(
    model: pathlib.Path, scratch: pathlib.Path, key: str, run: Callable[[str], Rate]
) -> dict[str, Rate]:
    """Each plan deployed in turn on one local Ray."""
    import ray
    from ray import serve

    from service.scale import PROXY_READY_TIMEOUT_S, ScalingPlan, application

    os.environ.setdefault("RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S", str(PROXY_READY_TIMEOUT_S))
    ray.init(include_dashboard=False, log_to_driver=False)
    port = 8000 + secrets.randbelow(1000)
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    rates = {}
    try:
        for label, options in PLANS.items():
            settings = Settings(
                data_dir=scratch / label.replace(" ", "_").replace(",", ""),
                model_dir=model,
                admin_key=SecretStr(key),
                log_level="WARNING",
            )
            serve.run(application(settings, ScalingPlan(**options)), name="triage", route_prefix="/")
            base = f"http://127.0.0.1:{port}"
            if not ready(base, timeout_s=300):
                raise SystemExit(f"{label}: {base} did not become ready in 300 s")
            rates[label] = run(base)
            serve.delete("triage")
    finally:
        serve.shutdown()
        ray.shutdown()
    return rates


def nodes_needed(lanes: int, cameras: int, scans_s_node: float, frame_core_s: float, cores: int) -> int:
    """Nodes like this one for ``lanes`` parcel lanes at their peak and ``cameras`` cameras at 5 fps."""
    scan_load = lanes * PARCEL_LANE_SCANS_S / (scans_s_node * PEAK_UTILISATION)
    camera_load = cameras * CAMERA_FPS * frame_core_s / (cores * PEAK_UTILISATION)
    return max(1, math.ceil(scan_load + camera_load))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model folder (default: the bundled model)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds of posting per configuration")
    parser.add_argument(
        "--warmup", type=float, default=5.0, help="seconds of posting before each measurement"
    )
    parser.add_argument(
        "--site", action="append", default=None, metavar="LANES,CAMERAS", help="a site for the capacity note"
    )
    args = parser.parse_args()
    key = secrets.token_urlsafe(32)
    from benchmarks.motion import speed

    # The camera cost first, while nothing else of this run is on the CPU.
    cv2.setNumThreads(1)
    frame_core_s = speed(frames=40, rounds=3, warmup_frames=100)["full"]
    cv2.setNumThreads(0)

    with tempfile.TemporaryDirectory() as tmp:
        scratch = pathlib.Path(tmp)
        model, origin = benchmark_model(scratch, args.model)
        rgb = cv2.imdecode(np.frombuffer(scan_png(), np.uint8), cv2.IMREAD_COLOR)
        jpeg = cv2.imencode(".jpg", rgb, [cv2.IMWRITE_JPEG_QUALITY, 92])[1].tobytes()
        upload = ("scan.jpg", jpeg, "image/jpeg")

        def run(base: str) -> Rate:
            hammer(base, key, upload, args.clients, args.warmup)
            return hammer(base, key, upload, args.clients, args.seconds)

        rates = {"single process (uvicorn, 2 threads)": measure_single(model, scratch, key, run)}
        rates.update(measure_ray(model, scratch, key, run))

    cores = os.cpu_count() or 1
    single = rates["single process (uvicorn, 2 threads)"].scans_s
    print(
        f"model {model.parent.name}/{model.name} ({origin}); 1024x768 JPEG; {args.clients} clients, "
        f"{args.seconds:g} s each; {cores} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    print("| configuration | scans/s | p50 ms | p99 ms | failed | vs single process |")
    print("|---|---|---|---|---|---|")
    for label, rate in rates.items():
        print(
            f"| {label} | {rate.scans_s:.2f} | {rate.p50_ms:.0f} | {rate.p99_ms:.0f} | {rate.failed} | "
            f"{rate.scans_s / single:.2f}x |"
        )
    best = max(rate.scans_s for rate in rates.values())
    print(
        f"\nCapacity note: a node like this one ({cores} cores) judges {best:.1f} scans/s at best here; "
        f"screening costs {1000 * frame_core_s:.1f} ms of one core a frame (720p JPEG, decode included), "
        f"so {1 / (frame_core_s * CAMERA_FPS):.0f} cameras per core at {CAMERA_FPS:g} fps. Nodes at "
        f"{PEAK_UTILISATION:.0%} load, parcel lanes at {PARCEL_LANE_SCANS_S:g} scan/s each at their peak:"
    )
    sites = [tuple(int(v) for v in site.split(",")) for site in (args.site or ["4,12", "40,400", "400,4000"])]
    for lanes, cameras in sites:
        nodes = nodes_needed(lanes, cameras, best, frame_core_s, cores)
        print(f"- {lanes} lanes and {cameras} cameras: {nodes} node(s) of {cores} cores")


if __name__ == "__main__":
    main()
