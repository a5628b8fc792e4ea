"""ONNX export of a trained network into a self-describing model folder, and the parity check.

The folder ``<root>/<name>/<version>/`` gets ``model.onnx`` (opset 17, dynamic batch, ``metadata_props``
with classes, input size, preprocessing and threshold), ``model.json`` (the model card) and ``weights.npz``
(the network state, for ``triage train --init``). The threshold is set after export, by calibrating the
exported file itself (:func:`set_threshold`), so the number in the card is the one measured on the artefact
that ships.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch

from vision.classes import BACKGROUND, THREAT_CLASSES
from vision.infer import OUTPUT_NAMES
from vision.preprocess import PreprocessSpec
from vision.registry import COLOUR_MODALITIES, MODEL_FILE, ModelCard
from vision.train.model import MIRRORS, WEIGHTS_FILE, ThreatNet, ThreatOutputs, save_weights

OPSET = 17
# Stated tolerance of ONNX-vs-torch parity on probabilities (float32, different kernels and fusion).
PARITY_TOLERANCE = 1e-4


def source_commit(repo: Path | None = None) -> str:
    """``git rev-parse HEAD`` of the source tree, with ``-dirty`` when tracked files changed."""
    cwd = repo or Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "vision", "service"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def export_onnx(net: ThreatNet, path: Path, spec: PreprocessSpec, mirrors: str = "none") -> None:
    """Write ``net`` with its output head as ONNX (opset 17, dynamic batch, fixed square input).

    ``mirrors`` (a key of :data:`vision.train.model.MIRRORS`) puts test-time mirror views in the graph.
    """
    wrapper = ThreatOutputs(net, mirrors).eval()
    example = torch.zeros(1, 3, spec.input_size, spec.input_size)
    dynamic = {name: {0: "batch"} for name in ("image", *OUTPUT_NAMES)}
    with warnings.catch_warnings():
        # The TorchScript-based exporter warns that it is legacy; it needs no onnxscript and is exact here.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapper,
            (example,),
            str(path),
            dynamo=False,
            opset_version=OPSET,
            input_names=["image"],
            output_names=list(OUTPUT_NAMES),
            dynamic_axes=dynamic,
        )


def _metadata(card: ModelCard) -> dict[str, str]:
    return {
        "name": card.name,
        "version": card.version,
        "classes": json.dumps(card.classes),
        "input_size": str(card.input_size),
        "preprocessing": json.dumps(card.preprocessing),
        "threshold": repr(card.threshold),
        "kind_thresholds": json.dumps(card.kind_thresholds),
        "false_alarm_rate": repr(card.false_alarm_rate),
    }


def _write_metadata(onnx_path: Path, card: ModelCard) -> None:
    model = onnx.load(str(onnx_path))
    del model.metadata_props[:]
    for key, value in _metadata(card).items():
        model.metadata_props.add(key=key, value=value)
    model.producer_name = "xray-triage"
    onnx.checker.check_model(model)
    onnx.save(model, str(onnx_path))


def write_card(folder: Path, card: ModelCard | Mapping[str, Any]) -> ModelCard:
    """Check and write ``model.json`` (atomically), mirror its key facts into the ONNX metadata; returns
    the card.

    Raises:
        vision.errors.ModelLoadError: ``card`` is not a valid :class:`~vision.registry.ModelCard`.
    """
    checked = card if isinstance(card, ModelCard) else ModelCard.parse(card)
    checked.write(folder)
    _write_metadata(folder / MODEL_FILE, checked)
    return checked


def export_model(
    net: ThreatNet,
    folder: str | Path,
    *,
    name: str,
    version: str,
    spec: PreprocessSpec,
    threshold: float = 0.5,
    extra: Mapping[str, Any] | None = None,
    mirrors: str = "none",
) -> Path:
    """Export ``net`` into ``folder`` as ``model.onnx`` + ``model.json``.

    Args:
        net: the trained network (switched to eval mode here).
        folder: the model folder, created if missing.
        name: model name.
        version: model version.
        spec: preprocessing the network was trained with.
        threshold: initial alarm threshold (calibrate afterwards with :func:`set_threshold`).
        extra: more card fields (training command, data spec, metrics).
        mirrors: test-time mirror views averaged in the graph (:data:`vision.train.model.MIRRORS`).

    Returns:
        The model folder.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    net = net.eval()
    export_onnx(net, out / MODEL_FILE, spec, mirrors)
    views = len(MIRRORS[mirrors])
    averaged = f", averaged over {views} mirror views of the scan" if views > 1 else ""
    save_weights(net, out / WEIGHTS_FILE)
    card: dict[str, Any] = {
        "name": name,
        "version": version,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "file": MODEL_FILE,
        "weights": WEIGHTS_FILE,
        "classes": list(THREAT_CLASSES),
        "channels": [BACKGROUND, *THREAT_CLASSES],
        "input_size": spec.input_size,
        # Trained on false-colour renderings (raw pairs are rendered so before the model sees them);
        # grey single-energy scans are refused by the service, never guessed at.
        "modalities": list(COLOUR_MODALITIES),
        "preprocessing": spec.to_dict(),
        "outputs": {
            "probs": f"N x C x S/4 x S/4 softmax over channels (background first){averaged}",
            "threat_map": "N x S/4 x S/4, 3x3-smoothed 1 - P(background)",
            "score": "N, max of threat_map; alarm when score >= threshold",
        },
        "architecture": {
            "type": "ThreatNet",
            "widths": list(net.widths),
            "blocks": list(net.blocks),
            "opset": OPSET,
            "parameters": int(sum(p.numel() for p in net.parameters())),
            "test_time_mirrors": mirrors,
        },
        "threshold": float(threshold),
        "calibration": {"false_alarm_rate": None, "calibrated": False},
        "source_commit": source_commit(),
        **(dict(extra) if extra else {}),
    }
    write_card(out, card)
    return out


def set_threshold(
    folder: str | Path,
    threshold: float,
    calibration: Mapping[str, Any],
    kind_thresholds: Mapping[str, float] | None = None,
) -> ModelCard:
    """Record calibrated thresholds (shared, and per scene kind where given) in the card and the ONNX
    metadata; returns the new card."""
    path = Path(folder)
    card = ModelCard.read(path).updated(
        threshold=float(threshold),
        kind_thresholds={kind: float(value) for kind, value in (kind_thresholds or {}).items()},
        calibration={**dict(calibration), "calibrated": True},
    )
    return write_card(path, card)


def update_card(folder: str | Path, **fields: Any) -> ModelCard:
    """Add or replace top-level card fields (e.g. ``metrics``), checked as a whole card; returns it."""
    path = Path(folder)
    return write_card(path, ModelCard.read(path).updated(**fields))


def parity_max_abs_diff(
    net: ThreatNet, folder: str | Path, inputs: np.ndarray, mirrors: str = "none"
) -> float:
    """Largest absolute difference of all outputs between torch eager and the exported ONNX file.

    Args:
        net: the network that was exported.
        folder: the model folder.
        inputs: ``N x 3 x S x S`` float32 preprocessed inputs.
        mirrors: the test-time mirror views it was exported with.
    """
    import onnxruntime as ort

    session = ort.InferenceSession(str(Path(folder) / MODEL_FILE), providers=["CPUExecutionProvider"])
    onnx_out = session.run(list(OUTPUT_NAMES), {"image": inputs.astype(np.float32)})
    with torch.no_grad():
        torch_out = ThreatOutputs(net.eval(), mirrors)(torch.from_numpy(inputs.astype(np.float32)))
    return max(float(np.abs(o - t.numpy()).max()) for o, t in zip(onnx_out, torch_out, strict=True))
