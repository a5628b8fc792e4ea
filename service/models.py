"""The model being served, and its atomic swap.

Requests take ``ModelManager.current`` once and keep that predictor for their whole life, so a swap never
changes the model under a running request. Promotion loads the new predictor first, has the registry
(:class:`vision.registry.Registry`: the gate check, ``PROMOTED`` and ``HISTORY.jsonl``) record it, and only
then swaps the reference; on any failure the old model keeps serving.
"""

from __future__ import annotations

import logging
import pathlib
import threading
from typing import Any

from vision.errors import ModelLoadError
from vision.infer import Predictor
from vision.registry import (
    Change,
    ModelEntry,
    ModelNotFound,
    NothingToRollBack,
    PromotionFailed,
    PromotionRefused,
    Registry,
    default_model_dir,
    int8_entry,
)

__all__ = [
    "ModelEntry",
    "ModelManager",
    "ModelNotFound",
    "NothingToRollBack",
    "PromotionFailed",
    "PromotionRefused",
]

logger = logging.getLogger("triage.models")


class ModelManager:
    """Holds the served predictor and swaps it atomically.

    Args:
        models_root: the registry folder (``<name>/<version>/`` and ``PROMOTED``).
        threads: onnxruntime intra-op threads per predictor.
        int8: True loads a model's INT8 version where its card has one (FP32 otherwise, logged), False
            its FP32 graph; None (the default) the graph its card serves by default.
    """

    def __init__(self, models_root: pathlib.Path, threads: int = 2, int8: bool | None = None) -> None:
        self.models_root = models_root
        self.registry = Registry(models_root)
        self.threads = threads
        self.int8 = int8
        self.current: Predictor | None = None
        self.load_error: str | None = "no model loaded yet"
        self._promote_lock = threading.Lock()

    def load(self, model_dir: pathlib.Path) -> Predictor:
        """A predictor for ``model_dir`` (not yet served).

        Raises:
            ModelLoadError: the folder is not a loadable model.
        """
        try:
            entry = int8_entry(model_dir)
            wanted = (entry is not None and entry.default) if self.int8 is None else self.int8
            if wanted and entry is None:
                logger.warning("no INT8 version; serving FP32", extra={"model": str(model_dir)})
            elif wanted and entry is not None and not entry.real:
                # Quantised without --real: judged on simulated scans only, its thresholds calibrated there.
                logger.warning(
                    "serving an INT8 version never judged on real scans (triage quantize --real): its false "
                    "alarms and detection on real bags are unknown",
                    extra={"model": str(model_dir)},
                )
            return Predictor(model_dir, threads=self.threads, int8=wanted and entry is not None)
        except ModelLoadError:
            raise
        except Exception as error:  # onnxruntime and json raise many types; all mean "cannot serve this"
            raise ModelLoadError(f"{model_dir}: {type(error).__name__}: {error}") from error

    def start(self, model_dir: pathlib.Path | None) -> None:
        """Load the initial model; on failure keep serving nothing and remember why (readiness says it)."""
        try:
            if model_dir is None:
                model_dir = default_model_dir(self.models_root)
            self.current = self.load(model_dir)
            self.load_error = None
            logger.info(
                "model loaded",
                extra={
                    "model": self.current.name,
                    "version": self.current.version,
                    "precision": self.current.precision,
                },
            )
        except Exception as error:  # whatever the cause, the service must start and report it
            self.current = None
            self.load_error = f"no model loaded: {error}"
            logger.error("model not loaded", extra={"reason": str(error)})

    def entries(self) -> list[ModelEntry]:
        """Every model folder in the registry (see :meth:`Registry.entries`)."""
        return self.registry.entries()

    def promoted(self) -> str | None:
        """The ``name/version`` recorded in ``PROMOTED``, if any."""
        return self.registry.promoted()

    def find(self, name: str, version: str) -> pathlib.Path:
        """The folder of ``name/version`` (raises :class:`ModelNotFound`)."""
        return self.registry.find(name, version)

    def served(self) -> str | None:
        """``name/version`` of the model served now, else the one recorded in ``PROMOTED`` (offline use)."""
        if self.current is not None:
            return f"{self.current.name}/{self.current.version}"
        return self.promoted()

    def history(self) -> list[dict[str, Any]]:
        """Every promotion and rollback recorded in ``HISTORY.jsonl``, oldest first."""
        return self.registry.history()

    def promote(
        self,
        name: str,
        version: str,
        force: bool = False,
        reason: str | None = None,
        key_id: str | None = None,
    ) -> tuple[Predictor, Predictor | None]:
        """Load ``name/version``, check its gate, record it as promoted, and serve it.

        Args:
            name: model name.
            version: model version.
            force: promote even without a passed gate against the served model (needs ``reason``).
            reason: why a forced promotion is needed; logged and recorded in the history.
            key_id: who asked (the API key's id), for the log and the history.

        Returns:
            The new and the previous predictor (None if nothing was served).

        Raises:
            ModelNotFound: no such model.
            ValueError: ``force`` without a reason.
            PromotionRefused: it did not pass the gate against the served model, and was not forced.
            PromotionFailed: it did not load, or ``PROMOTED`` could not be written; the old model serves on.
        """
        with self._promote_lock:
            change = self.registry.plan_promotion(name, version, self.served(), force, reason)
            return self._swap(change, reason, key_id)

    def rollback(self, key_id: str | None = None) -> tuple[Predictor, Predictor | None]:
        """Serve again the model that was served before the current one (no gate: it served before).

        Raises:
            NothingToRollBack: the history holds no earlier model.
            ModelNotFound: that model's folder is gone.
            PromotionFailed: it no longer loads; the current model serves on.
        """
        with self._promote_lock:
            return self._swap(self.registry.plan_rollback(self.served()), None, key_id)

    def _swap(
        self, change: Change, reason: str | None, key_id: str | None
    ) -> tuple[Predictor, Predictor | None]:
        """Load, record the change in the registry, then swap (the caller holds the lock)."""
        name, _, version = change.model.partition("/")
        try:
            candidate = self.load(self.registry.find(name, version))
        except ModelLoadError as error:
            raise PromotionFailed(f"model {change.model} failed to load: {error}") from error
        self.registry.record(change, reason, key_id)
        previous, self.current = self.current, candidate
        self.load_error = None
        if change.forced:
            logger.warning(
                "forced promotion",
                extra={"model": change.model, "reason": reason, "key_id": key_id, "gate": change.gate},
            )
        logger.info(f"model {change.action}", extra={"model": name, "version": version, "key_id": key_id})
        return candidate, previous
