"""The model registry: a folder of self-describing models, which one is promoted, and how it got there.

``<root>/<name>/<version>/`` holds ``model.onnx``, ``model.json`` (the card, :class:`ModelCard`), and
optionally ``weights.npz`` (to fine-tune), ``model_int8.onnx``, ``gate.json`` (``triage compare``) and
``reproduce.sh``. ``<root>/PROMOTED`` names the served model (``name/version``); ``<root>/HISTORY.jsonl``
records every promotion and rollback, one JSON object a line. This module owns all of it: the typed card,
its atomic write, the folder lookups, the history, the rollback target and the gate check on promotion.
What it does not own is a running model: the service swaps its predictor (``service.models``), the CLI
promotes offline, and both record the change here with :meth:`Registry.record`.

Nothing here imports torch or onnxruntime.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pathlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from vision.classes import SCENE_KINDS
from vision.errors import ModelLoadError
from vision.files import write_atomic
from vision.io import DUAL_ENERGY, FALSE_COLOUR

MODEL_FILE = "model.onnx"
INT8_FILE = "model_int8.onnx"
CARD_FILE = "model.json"
PROMOTED_FILE = "PROMOTED"
HISTORY_FILE = "HISTORY.jsonl"
REPO_MODELS_DIR = pathlib.Path(__file__).resolve().parents[1] / "models"
# What a model trained on false-colour renderings serves (a raw dual-energy pair is rendered to false
# colour before the model sees it); also what cards from before the card named its modalities mean.
COLOUR_MODALITIES = (FALSE_COLOUR, DUAL_ENERGY)
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$")

# The values of vision.io.MODALITIES (a test keeps the two equal).
Modality = Literal["false-colour", "grey", "dual-energy"]


def _unit(value: float, name: str) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return value


def _kind_thresholds(value: dict[str, float]) -> dict[str, float]:
    unknown = sorted(set(value) - set(SCENE_KINDS))
    if unknown:
        raise ValueError(f"kind_thresholds names unknown scene kind(s) {', '.join(unknown)}")
    return {kind: _unit(threshold, f"kind_thresholds.{kind}") for kind, threshold in value.items()}


class Int8Entry(BaseModel):
    """The card's ``int8`` entry: the quantised graph and its own calibrated thresholds."""

    model_config = ConfigDict(extra="allow")

    file: str
    threshold: float
    kind_thresholds: dict[str, float] = Field(default_factory=dict)
    # Both graphs' figures on the real validation files (`triage quantize --real`); absent when INT8 was
    # judged on simulated scans only.
    real: dict[str, Any] | None = None
    # The graph the model is served in unless FP32 is asked for (`triage quantize --default`): the service
    # (TRIAGE_INT8 unset), `triage scan`, `triage evaluate` and the Predictor all run it. A model whose
    # FP32 graph is over the speed budget (test-time mirrors) is served in INT8 so.
    default: bool = False

    @field_validator("threshold")
    @classmethod
    def _threshold_in_range(cls, value: float) -> float:
        return _unit(value, "int8.threshold")

    @field_validator("kind_thresholds")
    @classmethod
    def _kinds_known(cls, value: dict[str, float]) -> dict[str, float]:
        return _kind_thresholds(value)


class ModelCard(BaseModel):
    """``model.json``: everything a predictor, the gate and a reader need to know about one model.

    Unknown keys are refused (a typo'd ``treshold`` must not fall back silently to a default), as
    ``service.settings.Settings`` refuses unknown settings. The nested records (preprocessing, calibration,
    metrics, the real-scan section, training) are written by the export and read by people and reports, so
    they stay plain mappings; what the runtime reads is typed and checked here.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    classes: list[str] = Field(min_length=1)
    preprocessing: dict[str, Any]
    threshold: float
    kind_thresholds: dict[str, float] = Field(default_factory=dict)
    modalities: list[Modality] | None = Field(default=None, min_length=1)
    created: str | None = None
    file: str = MODEL_FILE
    weights: str | None = None
    channels: list[str] | None = None
    input_size: int | None = None
    outputs: dict[str, str] | None = None
    architecture: dict[str, Any] | None = None
    calibration: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, Any] | None = None
    real: dict[str, Any] | None = None
    test_data: Any = None
    training: dict[str, Any] | None = None
    export_check: dict[str, Any] | None = None
    source_commit: str | None = None
    int8: Int8Entry | None = None

    @field_validator("threshold")
    @classmethod
    def _threshold_in_range(cls, value: float) -> float:
        return _unit(value, "threshold")

    @field_validator("kind_thresholds", mode="before")
    @classmethod
    def _null_is_none(cls, value: Any) -> Any:
        return {} if value is None else value  # cards written before per-kind thresholds say null

    @field_validator("kind_thresholds")
    @classmethod
    def _kinds_known(cls, value: dict[str, float]) -> dict[str, float]:
        return _kind_thresholds(value)

    @property
    def served_modalities(self) -> tuple[str, ...]:
        """The input modalities the model serves (``vision.io.MODALITIES``); false colour for old cards."""
        return tuple(self.modalities) if self.modalities is not None else COLOUR_MODALITIES

    @property
    def serves_int8(self) -> bool:
        """Whether the model is served in its INT8 graph unless FP32 is asked for (``int8.default``)."""
        return self.int8 is not None and self.int8.default

    @property
    def false_alarm_rate(self) -> float | None:
        """The false-alarm rate the threshold was calibrated for, if it was calibrated."""
        rate = self.calibration.get("false_alarm_rate")
        return float(rate) if isinstance(rate, int | float) and not isinstance(rate, bool) else None

    def to_json(self) -> dict[str, Any]:
        """The card as written to ``model.json`` (fields never set are left out)."""
        return self.model_dump(mode="json", exclude_unset=True)

    @classmethod
    def parse(cls, data: Any, where: str = CARD_FILE) -> ModelCard:
        """Check ``data`` (a card read from JSON).

        Raises:
            ModelLoadError: the card is not an object, lacks a required field, holds an unknown one, or a
                value is out of range; the message names each problem.
        """
        if not isinstance(data, Mapping):
            raise ModelLoadError(f"model card {where} is not a JSON object")
        try:
            return cls.model_validate(dict(data))
        except ValidationError as error:
            problems = "; ".join(_problem(e) for e in error.errors())
            raise ModelLoadError(f"model card {where}: {problems}") from None

    @classmethod
    def read(cls, folder: str | pathlib.Path) -> ModelCard:
        """The card of a model folder, checked (see :meth:`parse`).

        Raises:
            ModelLoadError: no such folder or card, not JSON, or not a valid card.
        """
        path = pathlib.Path(folder) / CARD_FILE
        if not path.parent.is_dir():
            raise ModelLoadError(f"model folder {path.parent} does not exist")
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise ModelLoadError(f"model folder {path.parent} lacks {CARD_FILE}") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ModelLoadError(f"model card {path} is not valid JSON: {error}") from None
        return cls.parse(data, str(path))

    def write(self, folder: str | pathlib.Path) -> pathlib.Path:
        """Write ``model.json`` atomically (a reader never sees half a card); returns its path."""
        path = pathlib.Path(folder) / CARD_FILE
        write_atomic(path, (json.dumps(self.to_json(), indent=2) + "\n").encode())
        return path

    def updated(self, **fields: Any) -> ModelCard:
        """A copy with ``fields`` replaced, checked as a whole card."""
        return ModelCard.parse({**self.to_json(), **fields})


def int8_entry(model_dir: str | pathlib.Path) -> Int8Entry | None:
    """A model folder's INT8 entry, if its card names one (an invalid card is left to the loader: None)."""
    try:
        return ModelCard.read(model_dir).int8
    except ModelLoadError:
        return None


def _problem(error: Mapping[str, Any]) -> str:
    where = ".".join(str(part) for part in error.get("loc", ())) or "card"
    if error.get("type") == "extra_forbidden":
        return f"unknown field {where!r}"
    if error.get("type") == "missing":
        return f"lacks {where}"
    kind = str(error.get("type", ""))
    if kind.startswith(("float_", "int_")):
        return f"{where} must be a number, got {error.get('input')!r}"
    if kind == "dict_type":
        return f"{where} must be a JSON object (names to values), got {error.get('input')!r}"
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{where}: {message}"


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key of a version folder name: numbers by value ("1.9.0" before "1.10.0"), other parts as text."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"[.\-_]", version))


class ModelNotFound(LookupError):
    """No such ``name/version`` in the registry (HTTP 404)."""


class PromotionFailed(RuntimeError):
    """The model exists but could not be served or recorded; the old one keeps serving (HTTP 409)."""


class PromotionRefused(RuntimeError):
    """The candidate did not pass the gate against the served model, and the promotion was not forced."""


class NothingToRollBack(LookupError):
    """The history holds no earlier model to go back to."""


@dataclass(frozen=True)
class ModelEntry:
    """One model folder of the registry, as listed.

    Attributes:
        card: the card as stored (a hand-edited card must not break a listing), ``{"error": ...}`` if it is
            not readable JSON.
    """

    name: str
    version: str
    path: pathlib.Path
    card: dict[str, Any]


@dataclass(frozen=True)
class Change:
    """A promotion or rollback that :meth:`Registry.plan` decided and :meth:`Registry.record` writes."""

    action: Literal["promote", "rollback"]
    model: str
    previous: str | None
    forced: bool
    gate: str


def default_model_dir(models_dir: str | pathlib.Path | None = None) -> pathlib.Path:
    """The model to serve: ``PROMOTED`` (``name/version``) if present, else the newest folder.

    Args:
        models_dir: the registry; default the repository's ``models/``.

    Raises:
        ModelLoadError: if no model folder exists, or ``PROMOTED`` names one without a card.
    """
    root = pathlib.Path(models_dir) if models_dir is not None else REPO_MODELS_DIR
    promoted = root / PROMOTED_FILE
    if promoted.is_file():
        folder = root / promoted.read_text().strip()
        if not (folder / CARD_FILE).is_file():
            raise ModelLoadError(f"{promoted} names {folder}, which holds no {CARD_FILE}")
        return folder
    candidates = [card.parent for card in root.glob(f"*/*/{CARD_FILE}")]
    if not candidates:
        raise ModelLoadError(f"no model found under {root} (expected {root}/<name>/<version>/{CARD_FILE})")
    return max(candidates, key=lambda folder: (folder.stat().st_mtime, str(folder)))


class Registry:
    """The models under ``root``, ``PROMOTED`` and ``HISTORY.jsonl``.

    Promotion is gated: once a model is served, a candidate needs a ``gate.json`` that passed against the
    served model, unless the promotion is forced with a reason. Rollback goes back to the model served
    before the current one, as the history tells.
    """

    def __init__(self, root: pathlib.Path) -> None:
        self.root = root

    def entries(self) -> list[ModelEntry]:
        """Every model folder with a ``model.json``, by name and version (1.9 before 1.10)."""
        found = []
        cards = self.root.glob(f"*/*/{CARD_FILE}")
        for card_path in sorted(cards, key=lambda p: (p.parent.parent.name, version_key(p.parent.name))):
            folder = card_path.parent
            try:
                raw = json.loads(card_path.read_text())
            except (OSError, ValueError):
                raw = {"error": "model.json is not readable JSON"}
            found.append(
                ModelEntry(folder.parent.name, folder.name, folder, raw if isinstance(raw, dict) else {})
            )
        return found

    def find(self, name: str, version: str) -> pathlib.Path:
        """The folder of ``name/version``.

        Raises:
            ModelNotFound: unsafe names, or no such model folder.
        """
        if not (_SAFE_NAME.match(name) and _SAFE_NAME.match(version)):
            raise ModelNotFound(f"no model {name}/{version}")
        folder = self.root / name / version
        if not (folder / CARD_FILE).is_file():
            raise ModelNotFound(f"no model {name}/{version} in {self.root}")
        return folder

    def promoted(self) -> str | None:
        """The ``name/version`` recorded in ``PROMOTED``, if any."""
        try:
            return (self.root / PROMOTED_FILE).read_text().strip() or None
        except OSError:
            return None

    def history(self) -> list[dict[str, Any]]:
        """Every promotion and rollback recorded, oldest first (unreadable lines skipped)."""
        try:
            lines = (self.root / HISTORY_FILE).read_text().splitlines()
        except OSError:
            return []
        entries = []
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and isinstance(entry.get("model"), str):
                entries.append(entry)
        return entries

    def served_stack(self) -> list[str]:
        """The models served one after the other, as promotions push and rollbacks pop them."""
        stack: list[str] = []
        for entry in self.history():
            model, previous = entry["model"], entry.get("previous")
            if entry.get("action") == "rollback" and len(stack) >= 2 and stack[-2] == model:
                stack.pop()
                continue
            if entry.get("action") == "rollback" and stack and stack[-1] == model:
                continue  # it replaced a model promoted outside the history
            if isinstance(previous, str) and (not stack or stack[-1] != previous):
                stack.append(previous)
            if not stack or stack[-1] != model:
                stack.append(model)
        return stack

    def rollback_target(self, served: str | None) -> str | None:
        """The model a rollback from ``served`` goes back to, from the history, or None."""
        stack = self.served_stack()
        if stack and served is not None and stack[-1] != served:
            return stack[-1]  # the current model was put in place outside the history
        return stack[-2] if len(stack) >= 2 else None

    def plan_promotion(
        self, name: str, version: str, served: str | None, force: bool = False, reason: str | None = None
    ) -> Change:
        """Decide whether ``name/version`` may replace ``served``, and how the change is recorded.

        Promoting the model served just before ``served`` is a rollback (it served before; no gate). The
        first model ever served, or the one already served, needs no gate.

        Raises:
            ValueError: ``force`` without a reason.
            ModelNotFound: no such model.
            PromotionRefused: it did not pass the gate against ``served``, and was not forced.
        """
        from vision.evaluation.gate import gate_refusal

        if force and not (reason and reason.strip()):
            raise ValueError("a forced promotion needs a reason")
        folder = self.find(name, version)
        target = f"{name}/{version}"
        if self.rollback_target(served) == target:
            return Change("rollback", target, served, False, "rollback")
        refusal = None if served in (None, target) else gate_refusal(folder, name, version, str(served))
        if refusal is not None and not force:
            raise PromotionRefused(f"{refusal} (force it with a reason to override)")
        gate = "not required" if served in (None, target) else refusal or "passed"
        return Change("promote", target, served, force and refusal is not None, gate)

    def plan_rollback(self, served: str | None) -> Change:
        """The change that serves again the model served before ``served``.

        Raises:
            NothingToRollBack: the history holds no earlier model.
            ModelNotFound: that model's folder is gone.
        """
        target = self.rollback_target(served)
        if target is None:
            history = " -> ".join(self.served_stack()) or "empty"
            raise NothingToRollBack(
                f"no earlier model to roll back to (served: {served or 'none'}, history: {history})"
            )
        name, _, version = target.partition("/")
        self.find(name, version)
        return Change("rollback", target, served, False, "rollback")

    def record(self, change: Change, reason: str | None = None, key_id: str | None = None) -> None:
        """Write ``PROMOTED`` atomically, then append the history line; if the history cannot be written,
        ``PROMOTED`` is put back as it was (no unrecorded promotion).

        Raises:
            PromotionFailed: either file could not be written; the registry is as it was.
        """
        promoted_file = self.root / PROMOTED_FILE
        before = promoted_file.read_bytes() if promoted_file.is_file() else None
        entry = {
            "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "action": change.action,
            "model": change.model,
            "previous": change.previous,
            "forced": change.forced,
            "reason": reason,
            "key_id": key_id,
            "gate": change.gate,
        }
        try:
            write_atomic(promoted_file, f"{change.model}\n".encode())
            try:
                self._append_history(entry)
            except OSError:
                if before is None:
                    promoted_file.unlink(missing_ok=True)
                else:
                    write_atomic(promoted_file, before)
                raise
        except OSError as error:
            raise PromotionFailed(f"could not record the promotion: {error}") from error

    def _append_history(self, entry: dict[str, Any]) -> None:
        """Append a line to ``HISTORY.jsonl`` in one write, then fsync (whole lines survive a crash)."""
        line = (json.dumps(entry, separators=(",", ":")) + "\n").encode()
        fd = os.open(self.root / HISTORY_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
