"""Load, overload and memory of the HTTP service, measured in one run on loopback.

Starts ``triage serve`` (one worker, the bundled model, a throw-away store) and posts real-sized scans
(1024×768 JPEG) from concurrent clients:

1. **peak**: 4 clients for ``--peak-seconds``: the service's accepted scans per second when not overloaded;
2. **load**: ``--clients`` (16) clients for ``--seconds`` (60) that honour ``Retry-After``: every answer
   must be 201 or 503 with ``Retry-After``; p50/p99 latency of accepted scans, scans per second, and the
   server's resident memory at the end against its memory after the first ``--warmup`` seconds (no
   growth: the end within 1.25× of after warm-up, or 64 MiB above it, whichever is larger);
3. **overload**: 16 clients for ``--overload-seconds`` (20) that ignore ``Retry-After`` and post again at
   once: accepted scans per second against the peak (goal ≥ 0.8×: a refusal is decided before the body is
   read, so refused work costs almost nothing and admitted work does not starve behind it).

The server runs with the default admission (``TRIAGE_MAX_IN_FLIGHT`` 8), so 16 clients overload it.

Run: ``python -m benchmarks.load [--model DIR] [--seconds 60]``. Nothing is timed in the tests.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import secrets
import signal
import statistics
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import cv2
import httpx
import numpy as np

from benchmarks.service import benchmark_model, start_server


def scan_jpeg(width: int = 1024, height: int = 768) -> bytes:
    """A simulated luggage scan of ``width``×``height`` as JPEG (quality 90), as a workstation exports."""
    from vision.synth.scene import generate

    rgb = generate("luggage", seed=7, size=(width, height)).rgb
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return data.tobytes()


def rss_mib(pid: int) -> float:
    """Resident memory of a process, MiB (Linux /proc)."""
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


@dataclass
class Phase:
    """What the clients of one phase saw."""

    seconds: float
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)  # seconds, accepted scans only
    missing_retry_after: int = 0
    errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def accepted_per_s(self) -> float:
        return self.statuses[201] / self.seconds

    def percentile_ms(self, q: float) -> float:
        return float(np.percentile(self.latencies, q)) * 1000 if self.latencies else float("nan")


def run_phase(base: str, key: str, body: bytes, clients: int, seconds: float, honour_retry: bool) -> Phase:
    phase = Phase(seconds)
    stop_at = time.monotonic() + seconds

    def client() -> None:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
            while time.monotonic() < stop_at:
                began = time.perf_counter()
                try:
                    response = http.post("/v1/scans", files={"file": ("scan.jpg", body, "image/jpeg")})
                except httpx.HTTPError:
                    with phase.lock:
                        phase.errors += 1
                    continue
                took = time.perf_counter() - began
                with phase.lock:
                    phase.statuses[response.status_code] += 1
                    if response.status_code == 201:
                        phase.latencies.append(took)
                    elif response.status_code == 503 and "retry-after" not in response.headers:
                        phase.missing_retry_after += 1
                if response.status_code == 503 and honour_retry:
                    time.sleep(min(float(response.headers.get("retry-after", "1")), 2.0))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return phase


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model folder (default: the bundled model)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--peak-seconds", type=float, default=20.0)
    parser.add_argument("--overload-seconds", type=float, default=20.0)
    parser.add_argument(
        "--pin",
        action="store_true",
        help="server on the first core, clients on the others: on a small machine the clients' own work "
        "(building and sending 16 uploads at once) otherwise takes the server's CPU in the overload phase",
    )
    args = parser.parse_args()
    server_cpus: set[int] | None = None
    if args.pin:
        cores = sorted(os.sched_getaffinity(0))
        if len(cores) < 2:
            raise SystemExit("--pin needs at least two cores")
        server_cpus = {cores[0]}
        os.sched_setaffinity(0, set(cores[1:]))
    body = scan_jpeg()
    key = secrets.token_urlsafe(32)
    with tempfile.TemporaryDirectory() as tmp:
        scratch = pathlib.Path(tmp)
        model, origin = benchmark_model(scratch, args.model)
        server, base = start_server(model, scratch, key, max_in_flight=None, cpus=server_cpus)
        try:
            pinned = f"; server on core {sorted(server_cpus)}, clients on the rest" if server_cpus else ""
            print(f"model: {model} ({origin}); scan: 1024x768 JPEG, {len(body) // 1024} KiB{pinned}")
            run_phase(base, key, body, 2, 3.0, honour_retry=True)  # first requests load lazily
            peak = run_phase(base, key, body, 4, args.peak_seconds, honour_retry=True)
            warm = run_phase(base, key, body, args.clients, args.warmup, honour_retry=True)
            memory_warm = rss_mib(server.pid)
            load = run_phase(base, key, body, args.clients, args.seconds, honour_retry=True)
            memory_end = rss_mib(server.pid)
            overload = run_phase(base, key, body, 16, args.overload_seconds, honour_retry=False)
            memory_after = rss_mib(server.pid)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(30)
    print(f"{'phase':<38} {'201/s':>7} {'201':>6} {'503':>7} {'other':>6} {'p50 ms':>8} {'p99 ms':>8}")
    for name, phase in (
        ("peak (4 clients)", peak),
        (f"warm-up ({args.clients} clients, Retry-After)", warm),
        (f"load ({args.clients} clients, Retry-After)", load),
        ("overload (16 clients, no Retry-After)", overload),
    ):
        other = sum(n for code, n in phase.statuses.items() if code not in (201, 503)) + phase.errors
        print(
            f"{name:<38} {phase.accepted_per_s:7.1f} {phase.statuses[201]:6d} {phase.statuses[503]:7d} "
            f"{other:6d} {phase.percentile_ms(50):8.0f} {phase.percentile_ms(99):8.0f}"
        )
    bound = max(memory_warm * 1.25, memory_warm + 64)
    bad = sum(n for code, n in load.statuses.items() if code not in (201, 503)) + load.errors
    goodput = overload.accepted_per_s / peak.accepted_per_s if peak.accepted_per_s else float("nan")
    print(f"memory: {memory_warm:.0f} MiB after warm-up, {memory_end:.0f} MiB after load "
          f"(bound {bound:.0f}), {memory_after:.0f} MiB after overload")  # fmt: skip
    print(f"load: answers other than 201/503 {bad}; 503 without Retry-After {load.missing_retry_after}")
    print(f"goodput under overload: {goodput:.2f}x the peak (goal >= 0.8)")
    verdicts = {
        "only 201 and 503 with Retry-After": bad == 0 and load.missing_retry_after == 0,
        "memory within bound": memory_end <= bound,
        "goodput >= 0.8x peak": goodput >= 0.8,
    }
    print("; ".join(f"{name}: {'yes' if ok else 'NO'}" for name, ok in verdicts.items()))
    if statistics.fmean(load.latencies or [0.0]) == 0.0:
        raise SystemExit("no scan was accepted under load")


if __name__ == "__main__":
    main()
