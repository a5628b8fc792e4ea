"""From a training checkpoint to a shipped model folder: export, parity check, calibrate, evaluate, card."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vision.datasets import dataset_spec, load_datasets, read_rgb
from vision.evaluation.evaluate import calibrate, report, score_samples, split_thresholds
from vision.evaluation.metrics import DEFAULT_FALSE_ALARM_RATE, DR_KEY
from vision.evaluation.real import (
    as_they_are,
    card_section,
    discover,
    kit_report,
    score_sets,
    with_real_thresholds,
)
from vision.infer import Predictor
from vision.physics.profiles import HELD_OUT_PROFILE
from vision.preprocess import PreprocessSpec, preprocess
from vision.registry import ModelCard
from vision.train.export import (
    PARITY_TOLERANCE,
    export_model,
    parity_max_abs_diff,
    set_threshold,
    update_card,
)
from vision.train.train import load_checkpoint

PARITY_IMAGES = 4


def export_calibrate_evaluate(
    checkpoint: str | Path,
    folder: str | Path,
    *,
    name: str,
    version: str,
    calibration: Sequence[str],
    tests: Sequence[str],
    false_alarm_rate: float = DEFAULT_FALSE_ALARM_RATE,
    recipe: str | None = None,
    progress: bool = True,
    real_kit: str | Path | None = None,
    real_views: int = 1,
    input_size: int | None = None,
    mirrors: str = "none",
    content_fill: float | None = None,
) -> ModelCard:
    """Export ``checkpoint`` to ``folder`` and complete its card.

    The thresholds are calibrated on the clean scans of ``calibration`` with the exported ONNX file (one
    shared, and one per scene kind with enough clean scans), then every test set is evaluated at them.
    The card records the training command, data and seeds, parity with torch, the calibration and all
    metrics; ``recipe`` (the shell commands that made the data, trained and exported) goes into the card
    and beside it as ``reproduce.sh``.

    With ``real_kit`` (a folder of real sets, :mod:`vision.evaluation.real`), the shared and the luggage
    thresholds are calibrated on the real clean bags of its validation split instead (the threshold that
    holds the rate on every clean set); kinds with no real data (parcel, vehicle) keep the simulated
    calibration. The card then gets a ``real`` section: the real figures at its threshold, and the sets'
    sources and terms. With ``real_views`` above 1, each clean bag counts in that many mirrored views in
    the calibration (:mod:`vision.evaluation.real` says why), and the section also holds the figures over
    those views (``views``) beside the files as they are.

    ``input_size`` exports the network at another letterbox side than it was trained at (it is fully
    convolutional); the card records both. Scale matters to what the network learned: 1.16.0, trained at
    512, localised OPIXray knives 0.625 over four views at 512, 0.599 at 480, 0.595 at 448, 0.564 at 384,
    0.535 at 576 and 0.393 at 640, each at its own threshold; larger inputs raise the real clean bags'
    scores (README, "Real scans in the loop").

    ``content_fill`` overrides how the checkpoint framed scans (:class:`PreprocessSpec`); the card records
    both. A network trained on whole scans takes a little framing without retraining (1.17.1 is 1.17.0's
    network at 0.5), not a lot: framing changes the scale the bag reaches the network at (README, "Real
    scans in the loop").

    ``mirrors`` puts test-time mirror views into the graph (:data:`vision.train.model.MIRRORS`): ``"h"``
    averages the scan and its left-right mirror (1.86x the Predictor's FP32 time). Measured on 1.17.0's
    network (four views of the real validation files, each at its own threshold): OPIXray knives localised
    0.643 -> 0.641, SIXray 0.807 -> 0.807; averaged over 2-10% real false alarms 0.649 -> 0.662 and
    0.799 -> 0.828; simulated gate-set AUROC 0.886 -> 0.891, ``firearm_part`` 0.746 -> 0.800.

    Returns:
        The final card.

    Raises:
        ValueError: if the ONNX file disagrees with torch beyond ``PARITY_TOLERANCE``.
    """
    net, state = load_checkpoint(checkpoint)
    spec = PreprocessSpec.from_dict(state["preprocessing"])
    trained_size, trained_fill = spec.input_size, spec.content_fill
    overrides = {"input_size": input_size, "content_fill": content_fill}
    spec = PreprocessSpec.from_dict(
        {**spec.to_dict(), **{k: v for k, v in overrides.items() if v is not None}}
    )
    calibration_samples = load_datasets(calibration)
    training = {
        "command": state["args"].get("command", ""),
        "epochs_trained": state["epoch"] + 1,
        # A soup led by a shipped model folder (WiSE-FT) carries only the architecture in its args.
        "seed": state["args"].get("seed"),
        "args": state["args"],
        "init": state.get("init"),
        "train_data": state["data"],
        "validation_data": state["validation"],
        "history": state["history"],
        "source_commit": state.get("source_commit"),
        "input_size": trained_size,
        "content_fill": trained_fill,
    }
    if state.get("soup"):
        # An average of checkpoints (`triage soup`): it trained no epoch itself; each ingredient's are here.
        training["soup"] = state["soup"]
        training["soup_validation"] = state.get("soup_validation")
    if recipe is not None:
        training["recipe"] = recipe.splitlines()
    export_model(
        net, folder, name=name, version=version, spec=spec, extra={"training": training}, mirrors=mirrors
    )
    if recipe is not None:
        (Path(folder) / "reproduce.sh").write_text(recipe)
    inputs = np.stack(
        [preprocess(read_rgb(s.image_path), spec)[0] for s in calibration_samples[:PARITY_IMAGES]]
    )
    difference = parity_max_abs_diff(net, folder, inputs, mirrors)
    if difference > PARITY_TOLERANCE:
        raise ValueError(f"ONNX differs from torch by {difference:.2e} > {PARITY_TOLERANCE:.0e}")
    scored = score_samples(Predictor(folder), calibration_samples, progress=progress)
    thresholds, record = split_thresholds(calibrate(scored, false_alarm_rate))
    record = {**record, "data": dataset_spec(calibration)}
    real_sets = discover(real_kit) if real_kit is not None else []
    if real_sets:
        assert real_kit is not None  # the real sets were found in it
        thresholds, record = with_real_thresholds(
            Predictor(folder), real_sets, thresholds, record, real_kit, false_alarm_rate, progress, real_views
        )
    set_threshold(folder, thresholds.shared, record, thresholds.by_kind)
    predictor = Predictor(folder)
    results = {
        Path(test).name: report(
            score_samples(predictor, load_datasets([test]), progress=progress), predictor.thresholds
        )
        for test in tests
    }
    real = {}
    if real_sets:
        assert real_kit is not None  # the real sets were found in it
        # Scored once in every view; the files as they are (the view the shared check sees) lead the card.
        real_rows = score_sets(predictor, real_sets, progress, views=real_views)
        threshold = predictor.threshold
        section = card_section(kit_report(real_kit, real_sets, as_they_are(real_rows), threshold), real_sets)
        if real_views > 1:
            mirrored = kit_report(real_kit, real_sets, real_rows, threshold)
            section["in_views"] = {k: mirrored[k] for k in ("views", "sets", "false_alarms_pooled")}
        real = {"real": section}
    return update_card(
        folder,
        export_check={"max_abs_diff": difference, "tolerance": PARITY_TOLERANCE, "images": len(inputs)},
        test_data=dataset_spec(tests),
        metrics={"summary": summarise(results), "test_sets": results},
        **real,
    )


def summarise(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Headline numbers per test set and kind, the weakest class, and the drop on the held-out scanner."""
    summary: dict[str, Any] = {}
    for name, result in results.items():
        groups = {"all": result["overall"], **result["kinds"]}
        classes = result["overall"]["classes"]
        weakest = min(classes.items(), key=lambda item: item[1]["recall"], default=None)
        summary[name] = {
            "scanners": result["scanners"],
            **{
                kind: {
                    k: m[k]
                    for k in (
                        "auroc",
                        "dr_at_far_0.01",
                        DR_KEY,
                        "false_alarm_rate",
                        "detection_rate",
                    )
                }
                for kind, m in groups.items()
            },
            "weakest_class": {"label": weakest[0], **weakest[1]} if weakest else None,
        }
    held_out = [n for n, r in results.items() if r["scanners"] == [HELD_OUT_PROFILE]]
    seen = [n for n, r in results.items() if HELD_OUT_PROFILE not in r["scanners"]]
    if held_out and seen:
        a, b = results[seen[0]]["overall"], results[held_out[0]]["overall"]
        summary["held_out_scanner_drop"] = {
            "scanner": HELD_OUT_PROFILE,
            "auroc": _difference(a["auroc"], b["auroc"]),
            DR_KEY: _difference(a[DR_KEY], b[DR_KEY]),
        }
    return summary


def _difference(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(a - b, 4)
