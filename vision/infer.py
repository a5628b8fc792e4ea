"""CPU inference on an exported model folder with onnxruntime (no torch).

A model folder ``models/<name>/<version>/`` holds ``model.onnx`` and ``model.json`` (the card). The graph
takes ``N x 3 x S x S`` float32 (see :mod:`vision.preprocess`) and returns ``probs`` (``N x C x S/4 x S/4``,
background first), ``threat_map`` (``N x S/4 x S/4``, smoothed 1 − P(background)) and ``score`` (``N``,
the maximum of ``threat_map``). The verdict is ``alarm`` when ``score >= threshold``; detections are the
connected regions of the threat map whose peak reaches the threshold, so an alarm always comes with a box.

The card's ``threshold`` serves any scan; a card may also hold ``kind_thresholds``, calibrated apart per
scene kind (parcel, luggage, vehicle) to the same false-alarm rate, used when the caller says the kind.
One shared threshold lets the kind with the noisiest clean scans spend most of the false-alarm budget.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
import onnxruntime as ort

from vision.errors import ModelLoadError, UnsupportedModality
from vision.io import DUAL_ENERGY, FALSE_COLOUR, GREY
from vision.preprocess import Letterbox, PreprocessSpec, preprocess
from vision.registry import CARD_FILE, MODEL_FILE, Int8Entry, ModelCard

OUTPUT_NAMES = ("probs", "threat_map", "score")
# Regions are traced at this level (or at the threshold, if lower) so boxes cover the object, not only
# the cells above a high alarm threshold.
REGION_LEVEL = 0.5
# Mirror views of a scan, for evaluation (:meth:`Predictor.predict_batch`'s ``view``): the axes of the
# letterboxed input flipped before the network, and of its maps after. A flip keeps the belt and detector
# axes where they are, and bags lie either way round on the belt, so each view is as plausible a scan as
# the original; training draws them all. Order matters: the first N are "N views".
VIEWS: dict[str, tuple[int, ...]] = {
    "identity": (),
    "flip_both": (-2, -1),
    "flip_lr": (-1,),
    "flip_ud": (-2,),
}


@dataclass(frozen=True)
class Detection:
    """One flagged region: its most likely threat class, peak score and box in image pixels."""

    label: str
    score: float
    box: tuple[float, float, float, float]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, the one the CLI prints and the service stores and answers: score to 6 places,
        box to hundredths of a pixel."""
        return {
            "label": str(self.label),
            "score": round(float(self.score), 6),
            "box": [round(float(v), 2) for v in self.box],
        }


@dataclass(frozen=True)
class Prediction:
    """The model's answer for one scan.

    The heat map is kept at the model's resolution and resampled onto the scan only when asked for
    (:attr:`heatmap`, :meth:`heatmap_within`): a verdict, score and boxes need no full-size float map,
    and the service stores a small one.

    Attributes:
        verdict: ``alarm`` when ``score >= threshold``.
        score: image-level threat score in [0, 1].
        threshold: the alarm threshold the scan was judged by (its kind's, or the shared one).
        detections: flagged regions, highest score first.
        threat_map: probability of any threat per output cell, covering the model input (letterbox
            included), or already at the scan's size when ``placement`` is ``None``.
        placement: where the scan sits inside the model input.
    """

    verdict: Literal["clear", "alarm"]
    score: float
    threshold: float
    detections: tuple[Detection, ...]
    threat_map: np.ndarray = field(repr=False, compare=False)
    placement: Letterbox | None = field(default=None, repr=False, compare=False)

    @cached_property
    def heatmap(self) -> np.ndarray:
        """``H x W`` float32 in [0, 1] at the scan's size: probability of any threat per pixel."""
        return self._resampled(None)

    def heatmap_within(self, max_side: int) -> np.ndarray:
        """The heat map resampled so that its longer side is at most ``max_side`` (aspect kept)."""
        if self.placement is None or max(self.placement.width, self.placement.height) <= max_side:
            return self.heatmap
        width, height = self.placement.width, self.placement.height
        factor = max_side / max(width, height)
        return self._resampled((max(1, round(width * factor)), max(1, round(height * factor))))

    def _resampled(self, size: tuple[int, int] | None) -> np.ndarray:
        if self.placement is None:
            return np.clip(self.threat_map, 0.0, 1.0)
        return np.clip(self.placement.map_to_image(self.threat_map, size), 0.0, 1.0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form without the heat map."""
        return {
            "verdict": self.verdict,
            "score": round(self.score, 4),
            "threshold": round(self.threshold, 4),
            "detections": [d.to_dict() for d in self.detections],
        }


@dataclass(frozen=True)
class Thresholds:
    """A model's alarm thresholds: one shared, and optionally one per scene kind.

    Attributes:
        shared: for scans of unknown kind, or of a kind without its own.
        by_kind: scene kind → threshold calibrated on that kind's clean scans.
    """

    shared: float
    by_kind: Mapping[str, float] = field(default_factory=dict)

    def for_kind(self, kind: str | None) -> float:
        """The threshold a scan of ``kind`` (``None``: unknown) is judged by."""
        return self.by_kind.get(kind, self.shared) if kind is not None else self.shared

    @classmethod
    def from_card(cls, card: ModelCard | Int8Entry) -> Thresholds:
        """The thresholds of a checked card (or of its INT8 entry, which has its own)."""
        return cls(card.threshold, dict(card.kind_thresholds))


_MODALITY_NAMES = {
    FALSE_COLOUR: "a false-colour (dual-energy) scan",
    GREY: "a grey single-energy scan",
    DUAL_ENERGY: "a raw dual-energy high/low pair",
}


def _session(path: Path, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle worker threads sleep instead of spinning: in the service they would otherwise take the cores
    # that decode and store the next scan (measured: served/bare p50 ratio 1.10-1.29 vs 1.33-1.38).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own untyped errors for corrupt files
        raise ModelLoadError(f"{path} is not a loadable ONNX model: {str(error).splitlines()[0]}") from None


class Predictor:
    """Loads one model folder and scores RGB scans on the CPU.

    Args:
        model_dir: folder with ``model.onnx`` and ``model.json``.
        threads: onnxruntime intra-op threads.
        int8: run the folder's INT8 version (``triage quantize``; the card's ``int8`` entry names the
            file and its own calibrated thresholds) with True, the FP32 graph with False; with None (the
            default), the graph the card serves by default (INT8 where its ``int8`` entry says
            ``default``, FP32 otherwise). ``precision`` says which runs.

    Raises:
        ModelLoadError: if the folder, card or ONNX file is missing, invalid or inconsistent, or ``int8``
            is asked of a model without an INT8 version.
    """

    def __init__(self, model_dir: str | Path, threads: int = 2, int8: bool | None = None):
        self.model_dir = Path(model_dir)
        card = ModelCard.read(self.model_dir)
        onnx_file = self.model_dir / MODEL_FILE
        try:
            self.spec = PreprocessSpec.from_dict(card.preprocessing)
        except (ValueError, TypeError, KeyError) as error:
            raise ModelLoadError(f"model card {self.model_dir / CARD_FILE}: {error}") from None
        self.thresholds = Thresholds.from_card(card)
        self.classes: tuple[str, ...] = tuple(card.classes)
        if int8 is None:
            int8 = card.serves_int8
        if int8:
            if card.int8 is None:
                missing = f"model {self.model_dir} has no INT8 version (make one: triage quantize)"
                raise ModelLoadError(missing)
            onnx_file = self.model_dir / Path(card.int8.file).name
            self.thresholds = Thresholds.from_card(card.int8)
        self.card = card
        self.modalities = card.served_modalities
        self.name = card.name
        self.version = card.version
        self.precision = "int8" if int8 else "fp32"
        self.input_size = self.spec.input_size
        if not onnx_file.is_file():
            raise ModelLoadError(f"model folder {self.model_dir} lacks {onnx_file.name}")
        self._session = _session(onnx_file, threads)
        self._check_graph()

    def _check_graph(self) -> None:
        inputs = self._session.get_inputs()
        outputs = [o.name for o in self._session.get_outputs()]
        if len(inputs) != 1 or list(inputs[0].shape[1:]) != [3, self.input_size, self.input_size]:
            shape = [i.shape for i in inputs]
            raise ModelLoadError(f"ONNX input {shape} does not match the card's input size {self.input_size}")
        if outputs != list(OUTPUT_NAMES):
            raise ModelLoadError(f"ONNX outputs {outputs} are not {list(OUTPUT_NAMES)}")
        meta = self._session.get_modelmeta().custom_metadata_map
        if "classes" in meta and tuple(json.loads(meta["classes"])) != self.classes:
            raise ModelLoadError("the ONNX metadata classes differ from the model card's")
        self._input_name = inputs[0].name

    def check_modality(self, modality: str) -> None:
        """Refuse an image of a modality this model does not serve, rather than guess at it.

        Raises:
            UnsupportedModality: ``modality`` is not among the card's ``modalities``.
        """
        if modality not in self.modalities:
            served = " and ".join(_MODALITY_NAMES[m] for m in self.modalities)
            raise UnsupportedModality(
                f"this is {_MODALITY_NAMES.get(modality, modality)}; model {self.name} {self.version} serves "
                f"{served} only (its card's `modalities`), so it is refused rather than guessed at: send the "
                "scanner's false-colour image or its raw high/low pair"
            )

    @property
    def threshold(self) -> float:
        """The shared alarm threshold (scans of unknown kind)."""
        return self.thresholds.shared

    @property
    def real(self) -> dict[str, Any] | None:
        """The real validation figures of the graph this predictor runs: the card's ``real`` section for
        FP32, the INT8 judge's figures of the INT8 graph (``int8.real.int8``) for INT8; None where none
        were measured. :func:`vision.calibration.detection_at` reads them to price a station threshold."""
        if self.precision == "fp32":
            return self.card.real
        measured = self.card.int8.real if self.card.int8 is not None else None
        served = (measured or {}).get("int8")
        return served if isinstance(served, dict) else None

    def predict(self, rgb: np.ndarray, kind: str | None = None, threshold: float | None = None) -> Prediction:
        """Score one ``H x W x 3`` uint8 RGB scan, judged by ``threshold`` if given (a station's), else by
        the card's threshold of its scene ``kind`` if given, else the shared one."""
        return self.predict_batch([rgb], kinds=[kind], thresholds=[threshold])[0]

    def predict_batch(
        self,
        images: Sequence[np.ndarray],
        detection_threshold: float | None = None,
        kinds: Sequence[str | None] | None = None,
        thresholds: Sequence[float | None] | None = None,
        view: str = "identity",
    ) -> list[Prediction]:
        """Score several scans of any sizes in one onnxruntime call.

        Args:
            images: ``H x W x 3`` uint8 RGB scans.
            detection_threshold: report regions whose peak reaches this; default the alarm threshold
                (evaluation lowers it to rank regions for average precision). Regions are traced at
                the same level either way, so boxes do not change with it.
            kinds: each scan's scene kind (``None``: unknown), which picks its alarm threshold.
            thresholds: each scan's own alarm threshold (a station's), overriding its kind's; ``None``
                entries keep the card's.
            view: one of :data:`VIEWS`, for evaluation: the network sees the letterboxed scans mirrored,
                and its maps are mirrored back, so detections stay in each scan's own pixels (the centred
                letterbox may move by a pixel).

        Raises:
            ValueError: if an image is not a uint8 grey, RGB or RGBA array, ``kinds`` is not one per image,
                or ``view`` is not one of :data:`VIEWS`.
        """
        if view not in VIEWS:
            raise ValueError(f"view {view!r}: choose one of {', '.join(VIEWS)}")
        if not images:
            return []
        if kinds is not None and len(kinds) != len(images):
            raise ValueError(f"{len(kinds)} kinds for {len(images)} images")
        if thresholds is not None and len(thresholds) != len(images):
            raise ValueError(f"{len(thresholds)} thresholds for {len(images)} images")
        prepared = [preprocess(image, self.spec) for image in images]
        batch = np.stack([array for array, _ in prepared])
        axes = VIEWS[view]
        if axes:
            batch = np.ascontiguousarray(np.flip(batch, axes))
        probs, threat_map, score = self._session.run(list(OUTPUT_NAMES), {self._input_name: batch})
        if axes:
            # The maps' last two axes are the input's (at the output stride); the score is their maximum.
            probs, threat_map = np.flip(probs, axes), np.flip(threat_map, axes)
        judged_by = [
            self.thresholds.for_kind(kind) if own is None else float(own)
            for kind, own in zip(
                kinds or [None] * len(images), thresholds or [None] * len(images), strict=True
            )
        ]
        return [
            self._prediction(
                probs[i], threat_map[i], float(score[i]), placement, judged_by[i], detection_threshold
            )
            for i, (_, placement) in enumerate(prepared)
        ]

    def _prediction(
        self,
        probs: np.ndarray,
        threat_map: np.ndarray,
        score: float,
        placement: Letterbox,
        threshold: float,
        detection_threshold: float | None,
    ) -> Prediction:
        floor = threshold if detection_threshold is None else detection_threshold
        detections = self._detections(probs, threat_map, placement, threshold, floor)
        verdict: Literal["clear", "alarm"] = "alarm" if score >= threshold else "clear"
        return Prediction(verdict, score, threshold, detections, threat_map, placement)

    def _detections(
        self, probs: np.ndarray, threat_map: np.ndarray, placement: Letterbox, threshold: float, floor: float
    ) -> tuple[Detection, ...]:
        level = min(threshold, REGION_LEVEL)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(
            (threat_map >= level).astype(np.uint8), connectivity=8
        )
        stride = self.input_size / threat_map.shape[0]
        found = []
        for region in range(1, count):
            inside = labels == region
            peak = float(threat_map[inside].max())
            if peak < floor:
                continue
            # The region's class: the threat channel with the most probability mass inside it.
            class_index = int(np.argmax(probs[1:, inside].sum(axis=1)))
            x, y, w, h = (int(v) for v in stats[region, :4])
            box = placement.box_to_image((x * stride, y * stride, (x + w) * stride, (y + h) * stride))
            found.append(Detection(self.classes[class_index], peak, box))
        return tuple(sorted(found, key=lambda d: -d.score))
