"""Training throughput: one optimiser step of the threat network in fp32 against bf16 mixed precision.

Run: ``python -m benchmarks.train_step [--batch-size 16] [--crop-size 256] [--rounds 4] [--threads 2]
[--widths 24,48,96,144]`` (needs the ``[train]`` extra). Steps go through
:func:`vision.train.train.train_one_epoch`, the code path ``triage train`` runs, on the same random batch;
fp32 and bf16 alternate round by round so that a shared, noisy machine slows both alike, and the ratio of
their medians is printed, and so is what ``--qat``'s rounding (:mod:`vision.train.qat`) adds to a bf16
step. With ``--widths`` other than the default, the default network's bf16 step joins the rounds: what a
wider network costs a step. The data loader's cost per batch (augmentation and loss targets on a simulated
scan) is printed beside them: when it exceeds a step, more ``--workers`` help more than precision does.
Last, the CPU time a validation scan costs every epoch besides the network, letterboxed each epoch against
prepared once: on a GPU, where a step takes milliseconds, that share decides an epoch.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def step_seconds(
    precision: str,
    batch: int,
    crop: int,
    steps: int,
    widths: tuple[int, int, int, int],
    seed: int = 0,
    rounded: bool = False,
) -> float:
    """Median seconds per optimiser step of a network of ``widths`` over ``steps`` steps (after one warm-up
    step); ``rounded``: with the INT8 rounding of ``--qat`` (:mod:`vision.train.qat`)."""
    import torch

    from vision.train import qat
    from vision.train.model import NUM_CHANNELS, ThreatNet, build_model
    from vision.train.train import for_precision, train_one_epoch

    torch.manual_seed(seed)
    model = for_precision(build_model(widths), precision)
    if rounded:
        qat.attach(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    images = torch.randn(batch, 3, crop, crop)
    cells = crop // ThreatNet.output_stride
    targets = torch.zeros(batch, NUM_CHANNELS, cells, cells)
    targets[:, 0] = 1.0
    targets[:, 0, : cells // 4, : cells // 4], targets[:, 4, : cells // 4, : cells // 4] = 0.0, 1.0
    one_batch = [(images, targets)]
    train_one_epoch(model, optimizer, scheduler, one_batch, 0, False, 1.0, None, precision)  # type: ignore[arg-type]
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        train_one_epoch(model, optimizer, scheduler, one_batch, 0, False, 1.0, None, precision)  # type: ignore[arg-type]
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cached_scans() -> list[tuple[np.ndarray, np.ndarray]]:
    """One simulated scan of each kind with its class map, as the training cache holds them: shrunk to its
    long side."""
    from vision.datasets import shrink
    from vision.synth.scene import generate
    from vision.train.train import TrainArgs

    scans = [generate(kind, seed) for seed, kind in enumerate(("luggage", "parcel", "vehicle"))]
    side = TrainArgs.cache_long_side
    return [(shrink(s.rgb, side), shrink(s.mask, side, nearest=True)) for s in scans]


def loader_seconds(
    batch: int, crop: int, cached: list[tuple[np.ndarray, np.ndarray]], repeats: int = 3
) -> float:
    """Seconds the training preset and loss targets take for one batch of crops (one process)."""
    from vision.preprocess import PreprocessSpec
    from vision.train.model import NUM_CHANNELS, ThreatNet
    from vision.train.presets import TrainPreset, soft_targets

    preset = TrainPreset(PreprocessSpec(), crop_size=crop, balance_classes=True)
    rng = np.random.default_rng(0)
    start, crops = time.perf_counter(), 0
    for _ in range(repeats):
        for rgb, mask in cached:
            _, crop_mask = preset(rgb, mask, rng)
            soft_targets(crop_mask, ThreatNet.output_stride, NUM_CHANNELS)
            crops += 1
    return (time.perf_counter() - start) / crops * batch


def validation_seconds(
    cached: list[tuple[np.ndarray, np.ndarray]], rounds: int = 4, repeats: int = 3
) -> tuple[float, float]:
    """CPU seconds a validation scan costs every epoch besides the network: letterboxed and its class cells
    found each epoch (as before) against prepared once (:func:`vision.train.train.prepare_validation`) and
    only normalised; medians of rounds that alternate the two."""
    from vision.preprocess import PreprocessSpec, letterbox, letterbox_mask, normalize
    from vision.train.model import ThreatNet
    from vision.train.train import class_peaks, peaks_over, prepare_validation

    spec = PreprocessSpec()
    prepared = prepare_validation(cached, spec)
    side_cells = spec.input_size // ThreatNet.output_stride
    cells = np.zeros((side_cells, side_cells), np.float32)
    each, once = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(repeats):
            for rgb, mask in cached:
                square, _ = letterbox(rgb, spec.input_size, spec.pad_value)
                normalize(square, spec)
                class_peaks(letterbox_mask(mask, spec.input_size), cells)
        each.append((time.perf_counter() - start) / (repeats * len(cached)))
        start = time.perf_counter()
        for _ in range(repeats):
            for scan in prepared:
                normalize(scan.square, spec)
                peaks_over(scan.class_cells, cells)
        once.append((time.perf_counter() - start) / (repeats * len(prepared)))
    return statistics.median(each), statistics.median(once)


def main() -> None:
    """Measure and print."""
    import torch

    from vision.train.model import DEFAULT_WIDTHS, parse_widths

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--crop-size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=4, help="alternations of fp32 and bf16")
    parser.add_argument("--steps", type=int, default=3, help="steps timed per round")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--widths", default=",".join(map(str, DEFAULT_WIDTHS)), help="channels, strides 2-16")
    args = parser.parse_args()
    try:
        widths = parse_widths(args.widths)
    except ValueError as error:
        parser.error(f"--widths {args.widths!r}: {error}")
    torch.set_num_threads(args.threads)
    print(f"batch {args.batch_size} x {args.crop_size}^2, {args.threads} threads, {args.rounds} rounds")
    print(f"widths {widths}")
    configs = {
        "fp32": ("fp32", widths, False),
        "bf16": ("bf16", widths, False),
        "qat": ("bf16", widths, True),
    }
    if widths != DEFAULT_WIDTHS:
        configs["default"] = ("bf16", DEFAULT_WIDTHS, False)
    runs: dict[str, list[float]] = {name: [] for name in configs}
    for _ in range(args.rounds):
        for name, (precision, net_widths, rounded) in configs.items():
            seconds = step_seconds(
                precision, args.batch_size, args.crop_size, args.steps, net_widths, rounded=rounded
            )
            runs[name].append(seconds)
    fp32, bf16 = (statistics.median(runs[p]) * 1000 for p in ("fp32", "bf16"))
    print(f"step fp32 (median of rounds)       : {fp32:7.1f} ms")
    print(f"step bf16 autocast, channels-last  : {bf16:7.1f} ms")
    print(f"ratio fp32 / bf16                  : {fp32 / bf16:7.2f}x")
    qat_ms = statistics.median(runs["qat"]) * 1000
    print(f"step bf16 with --qat's rounding    : {qat_ms:7.1f} ms")
    print(f"ratio --qat / bf16                 : {qat_ms / bf16:7.2f}x")
    if "default" in runs:
        default = statistics.median(runs["default"]) * 1000
        print(f"step bf16, default widths          : {default:7.1f} ms")
        print(f"ratio these widths / default (bf16): {bf16 / default:7.2f}x")
    cached = cached_scans()
    data = loader_seconds(args.batch_size, args.crop_size, cached) * 1000
    print(f"data loader per batch (1 process)  : {data:7.1f} ms")
    each, once = validation_seconds(cached)
    print(f"validation per scan, letterboxed each epoch: {each * 1000:6.2f} ms")
    print(f"validation per scan, prepared once          : {once * 1000:6.2f} ms")
    print(f"ratio                                       : {each / once:6.2f}x")


if __name__ == "__main__":
    main()
