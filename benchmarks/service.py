"""End-to-end cost of the HTTP service against the bare predictor, measured side by side in one run.

Starts ``triage serve`` (uvicorn, one worker) on loopback with a throw-away store, then on the same
1024×768 scan measures: the bare ``Predictor.predict`` p50 (in this process, on decoded pixels), the bare
decode + predict p50 (what a workstation running the model itself on the same file would pay), the p50
of ``POST /v1/scans`` as a client sees it (upload, decode, inference, atomic image write, commit, answer),
the ratios of the two (goal ≤ 1.25) and the service's overhead in milliseconds, and scans per second with
4 concurrent clients against the bare decode + predict's sequential rate (goal ≥ 0.8).

Run: ``python -m benchmarks.service [--model DIR] [--requests N]``. Without a model in ``models/`` it exports
an untrained model of the default architecture and input size (same compute as a trained one) and says so.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable

import cv2
import httpx

from vision.errors import ModelLoadError
from vision.infer import Predictor
from vision.io import decode_image
from vision.registry import default_model_dir

CLIENTS = 4
ROUNDS = 3


def benchmark_model(scratch: pathlib.Path, given: str | None) -> tuple[pathlib.Path, str]:
    """The model to measure and a note on where it came from."""
    if given:
        return pathlib.Path(given), "given"
    try:
        return default_model_dir(), "bundled"
    except ModelLoadError:
        from vision.preprocess import PreprocessSpec
        from vision.train.export import export_model
        from vision.train.model import build_model

        folder = export_model(
            build_model(),
            scratch / "models" / "untrained" / "0",
            name="untrained",
            version="0",
            spec=PreprocessSpec(),
        )
        return folder, "untrained stand-in (default architecture and input size; no model in models/)"


def scan_png(width: int = 1024, height: int = 768) -> bytes:
    """A simulated luggage scan of ``width``×``height`` as PNG."""
    from vision.synth.scene import generate

    rgb = generate("luggage", seed=7, size=(width, height)).rgb
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    return data.tobytes()


def start_server(
    model: pathlib.Path,
    scratch: pathlib.Path,
    key: str,
    max_in_flight: int | None = 16,
    cpus: set[int] | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    """``triage serve`` on a free loopback port; returns the process and its base URL once ready.

    ``max_in_flight`` sets ``TRIAGE_MAX_IN_FLIGHT`` (None: the service's default); ``cpus`` pins the
    server to those cores (so clients on the others do not take its CPU time).
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = dict(
        os.environ,
        TRIAGE_DATA_DIR=str(scratch / "data"),
        TRIAGE_MODEL_DIR=str(model),
        TRIAGE_ADMIN_KEY=key,
        TRIAGE_LOG_LEVEL="WARNING",
    )
    if max_in_flight is not None:
        env["TRIAGE_MAX_IN_FLIGHT"] = str(max_in_flight)
    log = open(scratch / "serve.log", "wb")  # noqa: SIM115 - lives as long as the server
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
    )
    base = f"http://127.0.0.1:{port}"
    if ready(base, timeout_s=60):
        return process, base
    os.killpg(process.pid, signal.SIGKILL)
    raise SystemExit("server did not become ready: " + (scratch / "serve.log").read_text()[-1000:])


def ready(base: str, timeout_s: float) -> bool:
    """Whether ``/readyz`` at ``base`` answers 200 within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


def timed(action: Callable[[], object], repeat: int) -> list[float]:
    """Seconds taken by each of ``repeat`` calls of ``action``."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return samples


def post_ok(client: httpx.Client, upload: tuple[str, bytes, str]) -> None:
    """Post one scan and insist on 201."""
    response = client.post("/v1/scans", files={"file": upload})
    assert response.status_code == 201, response.text


def local_scan(predictor: Predictor, upload: tuple[str, bytes, str]) -> None:
    """What a workstation running the model itself would do with the file: decode it and predict."""
    predictor.predict(decode_image(upload[1], declared_type=upload[2]).rgb)


def server_stages(metrics: str) -> dict[str, float]:
    """Mean milliseconds per scan stage from the server's Prometheus histograms."""
    means = {}
    for stage in ("decode", "predict", "store", "total"):
        total = re.search(rf'triage_scan_latency_seconds_sum{{stage="{stage}"}} (\S+)', metrics)
        count = re.search(rf'triage_scan_latency_seconds_count{{stage="{stage}"}} (\S+)', metrics)
        if total and count and float(count.group(1)):
            means[stage] = 1000 * float(total.group(1)) / float(count.group(1))
    return means


def p50_ms(samples: list[float]) -> float:
    """Median in milliseconds."""
    return statistics.median(samples) * 1000


def main() -> None:
    """Run the benchmark and print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model folder (default: the bundled model)")
    parser.add_argument("--requests", type=int, default=40, help="sequential requests per measurement")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = pathlib.Path(tmp)
        model, origin = benchmark_model(scratch, args.model)
        png = scan_png()
        rgb = decode_image(png).rgb
        predictor = Predictor(model, threads=2)
        key = secrets.token_urlsafe(32)
        server, base = start_server(model, scratch, key)
        try:
            headers = {"Authorization": f"Bearer {key}"}
            jpeg = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])[
                1
            ]
            uploads = {
                "png": ("scan.png", png, "image/png"),
                "jpeg": ("scan.jpg", jpeg.tobytes(), "image/jpeg"),
            }
            bare: list[float] = []
            decoded_bare: dict[str, list[float]] = {"png": [], "jpeg": []}
            served: dict[str, list[float]] = {"png": [], "jpeg": []}
            with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
                for _ in range(3):  # warm both paths
                    predictor.predict(rgb)
                    assert client.post("/v1/scans", files={"file": uploads["png"]}).status_code == 201
                # Blocks, alternated over rounds: drift of the machine hits both sides alike, and neither
                # side's idle worker threads run in the other's measurement.
                block = max(args.requests // ROUNDS, 3)
                for _ in range(ROUNDS):
                    bare += timed(lambda: predictor.predict(rgb), block)
                    for name, upload in uploads.items():
                        decoded_bare[name] += timed(lambda u=upload: local_scan(predictor, u), block)  # type: ignore[misc]
                        served[name] += timed(lambda u=upload: post_ok(client, u), block)  # type: ignore[misc]
                stages = server_stages(client.get("/metrics").text)
            files = {"file": uploads["png"]}
            done = 0
            lock = threading.Lock()
            per_client = max(args.requests // 2, 5)

            def worker() -> None:
                nonlocal done
                with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
                    for _ in range(per_client):
                        assert client.post("/v1/scans", files=files).status_code == 201
                        with lock:
                            done += 1

            threads = [threading.Thread(target=worker) for _ in range(CLIENTS)]
            start = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            concurrent_rate = done / (time.perf_counter() - start)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(30)
    bare_p50 = p50_ms(bare)
    print(
        f"model: {model.parent.name}/{model.name} ({origin}); image 1024x768 (PNG {len(png) / 1e6:.2f} MB); "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; {len(bare)} samples per p50"
    )
    print(f"bare Predictor.predict p50          {bare_p50:8.1f} ms")
    for name, samples in served.items():
        local, remote = p50_ms(decoded_bare[name]), p50_ms(samples)
        print(f"bare decode ({name:4}) + predict p50   {local:8.1f} ms")
        print(
            f"POST /v1/scans ({name:4}) p50         {remote:8.1f} ms   ratio to bare predict "
            f"{remote / bare_p50:5.2f}, to bare decode + predict {remote / local:5.2f} (goal <= 1.25); "
            f"overhead {remote - local:5.1f} ms"
        )
    print("server-side means per stage: " + ", ".join(f"{k} {v:.1f} ms" for k, v in stages.items()))
    sequential_rate = 1000 / p50_ms(decoded_bare["png"])
    print(
        f"scans/s, {CLIENTS} concurrent clients (png)  {concurrent_rate:8.2f}      "
        f"bare sequential decode + predict {sequential_rate:.2f}/s, ratio "
        f"{concurrent_rate / sequential_rate:.2f} (goal >= 0.8); bare predict alone {1000 / bare_p50:.2f}/s"
    )


if __name__ == "__main__":
    main()
