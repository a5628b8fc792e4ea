"""Training on a CUDA GPU (the same step as on the CPU); loading and validation prepared for its speed."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest
import torch

from tests.model.test_precision import a_knife_batch
from vision.datasets import cache_samples, load_dataset
from vision.train.model import build_model
from vision.train.train import train_one_epoch, training_device


def test_the_cpu_is_always_a_training_device_and_other_names_are_refused() -> None:
    assert training_device("cpu") == torch.device("cpu")
    for name in ("tpu", "cuda:x", ""):
        with pytest.raises(ValueError, match="choose cpu or cuda"):
            training_device(name)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_cuda_without_a_gpu_is_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="torch sees no CUDA GPU here"):
        training_device("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_step_on_the_gpu_matches_the_same_step_on_the_cpu() -> None:
    losses, weights = [], []
    for name in ("cpu", "cuda"):
        torch.manual_seed(0)
        device = training_device(name)
        model = build_model((4, 8, 8, 8)).to(device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
        batch = [a_knife_batch()]
        step = [model, optimizer, scheduler, batch, 0, False, 1.0, None, "fp32", device]
        losses.append([train_one_epoch(*step)["loss"] for _ in range(3)])  # type: ignore[arg-type]
        weights.append(torch.cat([p.detach().cpu().flatten() for p in model.parameters()]))
    # TF32 convolutions on the GPU round differently; three steps stay within a few parts in a thousand.
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-2)
    assert torch.allclose(weights[1], weights[0], atol=1e-2)


def test_loading_in_threads_gives_the_serial_result_in_order(
    shapes_datasets: dict[str, pathlib.Path],
) -> None:
    samples = load_dataset(shapes_datasets["train"])
    serial = cache_samples(samples, 64, progress=False)
    threaded = cache_samples(samples, 64, progress=False, threads=4)
    assert len(threaded) == len(serial) == len(samples)
    for (rgb, mask), (rgb4, mask4) in zip(serial, threaded, strict=True):
        assert np.array_equal(rgb, rgb4) and np.array_equal(mask, mask4)


def test_validation_prepared_once_scores_as_letterboxing_every_epoch(
    shapes_datasets: dict[str, pathlib.Path],
) -> None:
    from vision.evaluation.metrics import auroc, detection_rate_at_far, threshold_at_far
    from vision.preprocess import PreprocessSpec, letterbox, letterbox_mask, normalize
    from vision.train.model import threat_outputs
    from vision.train.train import class_peaks, evaluate, prepare_validation

    torch.manual_seed(3)
    model = build_model((4, 8, 8, 8)).eval()
    spec = PreprocessSpec(input_size=64)
    scans = cache_samples(load_dataset(shapes_datasets["test"]), 96, progress=False)
    got = evaluate(model, prepare_validation(scans, spec), spec, batch_size=5)
    scores, labels, peaks = [], [], {}
    with torch.no_grad():
        for rgb, mask in scans:
            square, _ = letterbox(rgb, spec.input_size, spec.pad_value)
            boxed = letterbox_mask(mask, spec.input_size)
            _, threat_map, score = threat_outputs(model(torch.from_numpy(normalize(square, spec))[None]))
            scores.append(float(score[0]))
            labels.append(bool(boxed.any()))
            for label, peak in class_peaks(boxed, threat_map[0].numpy()).items():
                peaks.setdefault(label, []).append(peak)
    threshold = threshold_at_far([s for s, holds in zip(scores, labels, strict=True) if not holds], 0.05)
    assert got["val_auroc"] == pytest.approx(auroc(scores, labels))
    assert got["val_dr_at_far_0.05"] == pytest.approx(detection_rate_at_far(scores, labels, 0.05))
    hits = {label: float(np.mean(np.asarray(v) >= threshold)) for label, v in peaks.items()}
    assert got["val_class_hits"] == {label: pytest.approx(hit, abs=1e-4) for label, hit in hits.items()}
    assert got["val_class_hits"] and 0 < sum(labels) < len(labels)
