"""Static INT8 quantisation of an exported model, kept only where it pays.

onnxruntime's static QDQ quantisation (uint8 activations, per-channel int8 weights) of the convolutions,
calibrated on simulator scans; the soft-max, pooling and max that make the score stay in float. The INT8
graph is kept (``model_int8.onnx`` beside ``model.onnx``, with an ``int8`` entry in the card) only when,
measured side by side in this run, it is faster than FP32 on a 1024×768 scan and its image AUROC on the
test data is at most ``MAX_AUROC_DROP`` below FP32's. Its scores differ slightly from FP32's, so it gets
its own thresholds, calibrated on the same clean scans to the same false-alarm rate.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vision.datasets import Sample, dataset_spec, load_datasets, read_rgb
from vision.evaluation.evaluate import calibrate, score_samples, split_thresholds
from vision.evaluation.metrics import auroc
from vision.infer import Predictor
from vision.preprocess import preprocess
from vision.registry import CARD_FILE, INT8_FILE, MODEL_FILE
from vision.train.export import update_card

MAX_AUROC_DROP = 0.005
MIN_SPEEDUP = 1.1
CALIBRATION_IMAGES = 64
SPEED_SIZE = (1024, 768)
SPEED_RUNS = 30


class QuantisationRefused(ValueError):
    """The INT8 graph was measured and does not pay: slower, or too much AUROC lost."""


def quantize_model(
    folder: str | Path,
    calibration: Sequence[str],
    tests: Sequence[str],
    *,
    images: int = CALIBRATION_IMAGES,
    max_auroc_drop: float = MAX_AUROC_DROP,
    min_speedup: float = MIN_SPEEDUP,
    threads: int = 2,
    progress: bool = True,
) -> dict[str, Any]:
    """Quantise ``folder``'s model, measure it against FP32 and keep it if it pays.

    Args:
        folder: an exported, calibrated model folder.
        calibration: dataset folders: the first ``images`` scans calibrate the activation ranges, the
            clean scans of all of them the INT8 thresholds (at the card's false-alarm rate).
        tests: dataset folders the AUROC of both graphs is measured on.
        images: scans used for the activation ranges.
        max_auroc_drop: largest AUROC loss accepted.
        min_speedup: smallest FP32/INT8 p50 ratio accepted.
        threads: onnxruntime threads for the speed measurement.
        progress: show progress bars.

    Returns:
        The card's new ``int8`` entry.

    Raises:
        QuantisationRefused: the INT8 graph is not fast or accurate enough (nothing is written).
        ValueError: the folder's card is not calibrated.
    """
    folder = Path(folder)
    fp32 = Predictor(folder, threads=threads)
    false_alarm_rate = fp32.card.false_alarm_rate
    if false_alarm_rate is None:
        raise ValueError(f"{folder} is not calibrated yet (run triage export first)")
    calibration_samples = load_datasets(calibration)
    test_samples = load_datasets(tests)
    with tempfile.TemporaryDirectory() as tmp:
        # The INT8 graph in a folder of its own, so it can be scored like any model before it is kept.
        trial = Path(tmp) / "int8"
        trial.mkdir()
        shutil.copy(folder / CARD_FILE, trial / CARD_FILE)
        _quantise(folder / MODEL_FILE, trial / MODEL_FILE, fp32, calibration_samples[:images], Path(tmp))
        int8 = Predictor(trial, threads=threads)
        fp32_p50, int8_p50 = _side_by_side_p50(fp32, int8, calibration_samples[0])
        speedup = fp32_p50 / int8_p50
        fp32_auroc = _auroc(fp32, test_samples, progress)
        int8_auroc = _auroc(int8, test_samples, progress)
        measured = {
            "fp32_p50_ms": round(fp32_p50, 2),
            "int8_p50_ms": round(int8_p50, 2),
            "speedup": round(speedup, 3),
            "fp32_auroc": fp32_auroc,
            "int8_auroc": int8_auroc,
            "test_data": dataset_spec(tests),
        }
        if speedup < min_speedup:
            raise QuantisationRefused(f"INT8 is not fast enough: {speedup:.2f}x (needs {min_speedup:.2f}x)")
        if fp32_auroc - int8_auroc > max_auroc_drop:
            raise QuantisationRefused(
                f"INT8 loses {fp32_auroc - int8_auroc:.4f} AUROC ({fp32_auroc:.4f} -> {int8_auroc:.4f}; "
                f"at most {max_auroc_drop} allowed)"
            )
        thresholds, record = split_thresholds(
            calibrate(score_samples(int8, calibration_samples, progress=progress), false_alarm_rate)
        )
        shutil.copy(trial / MODEL_FILE, folder / INT8_FILE)
    entry = {
        "file": INT8_FILE,
        "threshold": thresholds.shared,
        "kind_thresholds": dict(thresholds.by_kind),
        "calibration": {**record, "data": dataset_spec(calibration)},
        "quantisation": {
            "method": "onnxruntime static QDQ of the Conv nodes, uint8 activations (MinMax), int8 weights",
            "per_channel": True,
            "calibration_images": min(images, len(calibration_samples)),
        },
        **measured,
    }
    update_card(folder, int8=entry)
    return entry


def _quantise(
    source: Path, target: Path, predictor: Predictor, samples: Sequence[Sample], scratch: Path
) -> None:
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.inputs = iter(samples)

        def get_next(self) -> dict[str, np.ndarray] | None:
            sample = next(self.inputs, None)
            if sample is None:
                return None
            return {"image": preprocess(read_rgb(sample.image_path), predictor.spec)[0][None]}

    prepared = scratch / "prepared.onnx"
    quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
    quantize_static(
        str(prepared),
        str(target),
        Reader(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        op_types_to_quantize=["Conv"],
        calibrate_method=CalibrationMethod.MinMax,
    )


def _side_by_side_p50(fp32: Predictor, int8: Predictor, sample: Sample) -> tuple[float, float]:
    """p50 milliseconds of both on the same 1024×768 scan, in alternating blocks (drift hits both)."""
    image = cv2.resize(read_rgb(sample.image_path), SPEED_SIZE, interpolation=cv2.INTER_AREA)
    times: dict[str, list[float]] = {"fp32": [], "int8": []}
    calls: dict[str, Callable[[], object]] = {
        "fp32": lambda: fp32.predict(image),
        "int8": lambda: int8.predict(image),
    }
    for call in calls.values():
        call()
    for _ in range(3):
        for name, call in calls.items():
            for _ in range(SPEED_RUNS // 3):
                start = time.perf_counter()
                call()
                times[name].append((time.perf_counter() - start) * 1000)
    return statistics.median(times["fp32"]), statistics.median(times["int8"])


def _auroc(predictor: Predictor, samples: Sequence[Sample], progress: bool) -> float:
    scored = score_samples(predictor, samples, progress=progress)
    value = auroc([s.prediction.score for s in scored], [s.sample.has_threat for s in scored])
    if value is None:
        raise ValueError("the test data needs both clean scans and scans with threats")
    return round(value, 4)
