"""Predictor latency on a 1024x768 scan, 2 threads, preprocessing and post-processing included.

Run: ``python -m benchmarks.predictor [--model DIR] [--baseline DIR] [--runs N] [--threads T]``. Prints
the p50/p90 of ``Predictor.predict`` (onnxruntime), of the same network in torch eager on the same input
(same numpy preprocessing, weights irrelevant to speed so the architecture in the card is rebuilt), and
their ratio, measured side by side in one run. Where the model has an INT8 version (``triage quantize``),
INT8 against FP32 too, and which of the two the card serves by default (the budget's figure); with
``--baseline``, the graph each model serves by default against the other's (e.g. a deeper candidate against
the served model).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from vision.infer import Predictor
from vision.registry import default_model_dir

WIDTH, HEIGHT = 1024, 768


def scan_1024x768(seed: int = 3) -> np.ndarray:
    """A simulated luggage scan resized to 1024x768 (random texture if the simulator is missing)."""
    try:
        from vision.synth.scene import generate

        rgb = generate("luggage", seed).rgb
    except ImportError:
        rgb = np.random.default_rng(seed).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    return cv2.resize(rgb, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)


def timings_ms(call: Callable[[], object], runs: int, warmup: int = 5) -> tuple[float, float]:
    """p50 and p90 in milliseconds of ``runs`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.9 * (len(samples) - 1))]


def torch_eager(predictor: Predictor, image: np.ndarray, threads: int) -> Callable[[], object]:
    """The card's architecture in torch eager, with the same numpy preprocessing, as a callable."""
    import torch

    from vision.preprocess import preprocess
    from vision.train.model import NO_BLOCKS, ThreatOutputs, build_model

    torch.set_num_threads(threads)
    architecture = predictor.card.architecture or {}
    blocks = tuple(architecture.get("blocks", NO_BLOCKS))
    mirrors = architecture.get("test_time_mirrors", "none")
    model = ThreatOutputs(build_model(tuple(architecture["widths"]), blocks), mirrors).eval()

    def call() -> object:
        with torch.inference_mode():
            array, _ = preprocess(image, predictor.spec)
            return model(torch.from_numpy(array[None]))

    return call


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=None, help="model folder (default: the bundled model)")
    parser.add_argument("--baseline", type=Path, default=None, help="another model folder to time alongside")
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    folder = args.model or default_model_dir()
    image = scan_1024x768()
    predictor = Predictor(folder, threads=args.threads, int8=False)
    served = "int8" if predictor.card.serves_int8 else "fp32"
    print(f"model {predictor.name}/{predictor.version}, input {predictor.input_size}, threads {args.threads}")
    print(f"scan {WIDTH}x{HEIGHT}, {args.runs} runs each, times in ms (p50 / p90)")
    ort_p50, ort_p90 = timings_ms(lambda: predictor.predict(image), args.runs)
    print(f"onnxruntime FP32 Predictor.predict (pre+post): {ort_p50:7.1f} / {ort_p90:7.1f}")
    eager_p50, eager_p90 = timings_ms(torch_eager(predictor, image, args.threads), args.runs)
    print(f"torch eager (same preprocessing)             : {eager_p50:7.1f} / {eager_p90:7.1f}")
    print(f"ratio torch eager / onnxruntime p50          : {eager_p50 / ort_p50:7.2f}x")
    served_p50 = ort_p50
    if predictor.card.int8 is not None:
        quantised = Predictor(folder, threads=args.threads, int8=True)
        int8_p50, int8_p90 = timings_ms(lambda: quantised.predict(image), args.runs)
        print(f"onnxruntime INT8 Predictor.predict           : {int8_p50:7.1f} / {int8_p90:7.1f}")
        print(f"ratio FP32 / INT8 p50                        : {ort_p50 / int8_p50:7.2f}x")
        served_p50 = int8_p50 if served == "int8" else ort_p50
    print(f"served by default: the {served.upper()} graph, p50 {served_p50:.1f} ms")
    if args.baseline is not None:
        baseline = Predictor(args.baseline, threads=args.threads)
        base_p50, base_p90 = timings_ms(lambda: baseline.predict(image), args.runs)
        name = f"{baseline.name}/{baseline.version} {baseline.precision.upper()}"
        print(f"onnxruntime baseline {name:<24}: {base_p50:7.1f} / {base_p90:7.1f}")
        print(f"ratio model / baseline p50 (served graphs)   : {served_p50 / base_p50:7.2f}x")


if __name__ == "__main__":
    main()
