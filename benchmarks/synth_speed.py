"""Simulator speed: scans per second per core at 768×576, per scene kind, with a stage breakdown.

Run: ``python -m benchmarks.synth_speed [--scans N]``. Everything runs in this one process with OpenCV
limited to one thread, and time is process CPU time, so the figure is per core whatever else the machine
is doing. The stage shares are measured side by side in the same run.
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np

from vision.physics.colour import false_colour
from vision.physics.profiles import TRAIN_PROFILES, get_profile
from vision.synth import scene
from vision.synth.dataset import reuse_freed_memory
from vision.synth.objects import Ctx
from vision.synth.projector import Canvas, detect

WIDTH, HEIGHT = 768, 576
GOAL = 10.0


def stages(kind: str, seed: int, profile_name: str) -> dict[str, float]:
    """CPU seconds of each stage of one scan (same work as ``scene.generate``)."""
    profile = get_profile(profile_name)
    rng = np.random.default_rng(seed)
    spectrum = profile.vehicle_spectrum if kind == "vehicle" else profile.spectrum
    fov = {"parcel": 800.0, "luggage": 1000.0, "vehicle": 5800.0}[kind]
    out: dict[str, float] = {}
    t = time.process_time()
    canvas = Canvas(HEIGHT, WIDTH, fov / WIDTH, spectrum)
    scene.BUILDERS[kind](Ctx(canvas, rng), True)
    out["objects"] = time.process_time() - t
    t = time.process_time()
    att_low, att_high = canvas.attenuation()
    out["spectral lookup"] = time.process_time() - t
    t = time.process_time()
    high, low = detect(att_low, att_high, profile, rng)
    out["detector"] = time.process_time() - t
    t = time.process_time()
    false_colour(high, low, profile)
    out["false colour"] = time.process_time() - t
    t = time.process_time()
    scene._labels(canvas, high, profile)
    out["labels"] = time.process_time() - t
    return out


def main() -> None:
    """Print scans/second/core per kind and the share of each stage."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scans", type=int, default=30, help="scans per kind")
    parser.add_argument("--no-reuse", action="store_true", help="leave glibc's allocator at its defaults")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    # The dataset writer's setting (see reuse_freed_memory); --no-reuse measures without it.
    if not args.no_reuse:
        reuse_freed_memory()
    for kind in ("parcel", "luggage", "vehicle"):
        scene.generate(kind, 0, TRAIN_PROFILES[0], size=(WIDTH, HEIGHT))  # warm caches
    print(f"scans per second per core at {WIDTH}x{HEIGHT} (goal {GOAL:g}), {args.scans} scans per kind")
    rates = []
    for kind in ("parcel", "luggage", "vehicle"):
        t = time.process_time()
        for k in range(args.scans):
            profile = TRAIN_PROFILES[k % len(TRAIN_PROFILES)]
            scene.generate(kind, k, profile, threat_probability=0.5, size=(WIDTH, HEIGHT))
        rate = args.scans / (time.process_time() - t)
        rates.append(rate)
        totals: dict[str, float] = {}
        for k in range(max(args.scans // 3, 3)):
            for name, seconds in stages(kind, k, TRAIN_PROFILES[k % len(TRAIN_PROFILES)]).items():
                totals[name] = totals.get(name, 0.0) + seconds
        whole = sum(totals.values())
        shares = ", ".join(f"{name} {seconds / whole:.0%}" for name, seconds in totals.items())
        print(f"{kind:8s} {rate:6.1f} scans/s/core  ({rate / GOAL:.2f}x goal)  stages: {shares}")
    mix = len(rates) / sum(1 / r for r in rates)
    print(f"{'all':8s} {mix:6.1f} scans/s/core  ({mix / GOAL:.2f}x goal)  equal mix of kinds")


if __name__ == "__main__":
    main()
