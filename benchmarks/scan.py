"""`triage scan`'s cost per scan against the bare onnxruntime ``session.run``, side by side in one run.

Writes a folder of 1024×768 simulated luggage scans as JPEG, then in alternating rounds times, per scan:

- ``session.run`` alone on each scan's model input (prepared once, outside the clock): the floor;
- the CLI's scoring loop (:func:`cli.commands.scan.score_all` with the local scorer, each result
  formatted as the JSON line it prints), which reads, decodes, checks the modality, letterboxes,
  normalises, runs the model and traces boxes, the next file loaded while the current one is judged;
- the same steps one after the other (no overlap), to show what the overlap buys.

Prints each one's median per-scan time over the rounds and the ratios (goal: the CLI ≤ 1.5× the bare run).

Run: ``python -m benchmarks.scan [--model DIR] [--scans N] [--rounds R] [--threads T]``.
"""

from __future__ import annotations

import argparse
import io
import os
import pathlib
import statistics
import tempfile
import time
from collections.abc import Callable

import cv2

from cli.commands.scan import ScanFile, Scorer, _line, local_scorer, score_all
from vision.infer import OUTPUT_NAMES, Predictor
from vision.io import read_image
from vision.preprocess import preprocess
from vision.registry import default_model_dir


def write_scans(folder: pathlib.Path, count: int) -> list[pathlib.Path]:
    """``count`` simulated 1024×768 luggage scans as JPEG (quality 90) in ``folder``."""
    from vision.synth.scene import generate

    paths = []
    for seed in range(count):
        rgb = generate("luggage", seed=seed, size=(1024, 768)).rgb
        path = folder / f"scan_{seed:03d}.jpg"
        cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
        paths.append(path)
    return paths


def sequential(scans: list[ScanFile], scorer: Scorer) -> None:
    """Load and judge each scan in turn, in one thread (the loop before the overlap)."""
    for scan_file in scans:
        _line(scan_file, scorer.judge(scorer.load(scan_file)), jsonl=True)


def overlapped(scans: list[ScanFile], scorer: Scorer) -> None:
    """The CLI's own loop: the next scan loads while the current one is judged."""
    sink = io.StringIO()
    for scan_file, outcome in score_all(scans, scorer):
        if isinstance(outcome, Exception):
            raise outcome
        sink.write(_line(scan_file, outcome, jsonl=True) + "\n")


def per_scan_seconds(run: Callable[[], None], count: int) -> float:
    """Wall seconds per scan of one pass over ``count`` scans."""
    start = time.perf_counter()
    run()
    return (time.perf_counter() - start) / count


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", type=pathlib.Path, default=None, help="model folder (default: the bundled model)"
    )
    parser.add_argument("--scans", type=int, default=24, help="scans per pass")
    parser.add_argument("--rounds", type=int, default=7, help="passes of each path, alternated")
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime threads")
    args = parser.parse_args()
    model = args.model or default_model_dir()

    with tempfile.TemporaryDirectory() as scratch:
        paths = write_scans(pathlib.Path(scratch), args.scans)
        scans = [ScanFile(path) for path in paths]
        scorer = local_scorer(model, args.threads, None, False)
        predictor = Predictor(model, threads=args.threads)
        inputs = [preprocess(read_image(path).rgb, predictor.spec)[0][None] for path in paths]
        session, name = predictor._session, predictor._session.get_inputs()[0].name

        def bare() -> None:
            for array in inputs:
                session.run(list(OUTPUT_NAMES), {name: array})

        paths_timed: dict[str, Callable[[], None]] = {
            "bare session.run": bare,
            "triage scan loop": lambda: overlapped(scans, scorer),
            "same, no overlap": lambda: sequential(scans, scorer),
        }
        for run in paths_timed.values():  # warm-up: first runs allocate and fill caches
            run()
        samples: dict[str, list[float]] = {label: [] for label in paths_timed}
        for _ in range(args.rounds):
            for label, run in paths_timed.items():
                samples[label].append(per_scan_seconds(run, len(scans)))

    median = {label: statistics.median(values) * 1000 for label, values in samples.items()}
    floor = median["bare session.run"]
    print(f"model {model} ({predictor.name} {predictor.version}), {args.threads} onnxruntime threads")
    print(
        f"{args.scans} JPEG scans 1024x768 a pass, {args.rounds} passes each, alternated; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    for label, value in median.items():
        print(f"{label:<18} {value:7.1f} ms a scan   {value / floor:5.2f}x the bare run")
    print(f"ratio triage scan / bare session.run: {median['triage scan loop'] / floor:.2f}x (goal <= 1.5)")


if __name__ == "__main__":
    main()
