"""The model being served and the registry of models it can be swapped for.

Requests take ``ModelManager.current`` once and keep that predictor for their whole life, so a swap never
changes the model under a running request. Promotion loads the new predictor first, records it in
``<models_root>/PROMOTED`` atomically, and only then swaps the reference; on any failure the old model
keeps serving.
"""

from __future__ import annotations

import json
import logging
import pathlib
import re
import threading
from dataclasses import dataclass
from typing import Any

from service.store.images import write_atomic
from vision.errors import ModelLoadError
from vision.infer import Predictor, default_model_dir

logger = logging.getLogger("triage.models")
PROMOTED_FILE = "PROMOTED"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$")


class ModelNotFound(LookupError):
    """No such ``name/version`` in the registry (HTTP 404)."""


class PromotionFailed(RuntimeError):
    """The model exists but could not be served; the old one keeps serving (HTTP 409)."""


@dataclass(frozen=True)
class ModelEntry:
    """One model folder of the registry."""

    name: str
    version: str
    path: pathlib.Path
    card: dict[str, Any]


class ModelManager:
    """Holds the served predictor and swaps it atomically.

    Args:
        models_root: the registry folder (``<name>/<version>/`` and ``PROMOTED``).
        threads: onnxruntime intra-op threads per predictor.
    """

    def __init__(self, models_root: pathlib.Path, threads: int = 2) -> None:
        self.models_root = models_root
        self.threads = threads
        self.current: Predictor | None = None
        self.load_error: str | None = "no model loaded yet"
        self._promote_lock = threading.Lock()

    def load(self, model_dir: pathlib.Path) -> Predictor:
        """A predictor for ``model_dir`` (not yet served).

        Raises:
            ModelLoadError: the folder is not a loadable model.
        """
        try:
            return Predictor(model_dir, threads=self.threads)
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
            logger.info("model loaded", extra={"model": self.current.name, "version": self.current.version})
        except Exception as error:  # whatever the cause, the service must start and report it
            self.current = None
            self.load_error = f"no model loaded: {error}"
            logger.error("model not loaded", extra={"reason": str(error)})

    def entries(self) -> list[ModelEntry]:
        """Every model folder in the registry (those with a ``model.json``), sorted by name and version."""
        found = []
        for card_path in sorted(self.models_root.glob("*/*/model.json")):
            folder = card_path.parent
            try:
                card = json.loads(card_path.read_text())
            except (OSError, ValueError):
                card = {"error": "model.json is not readable JSON"}
            found.append(
                ModelEntry(folder.parent.name, folder.name, folder, card if isinstance(card, dict) else {})
            )
        return found

    def promoted(self) -> str | None:
        """The ``name/version`` recorded in ``PROMOTED``, if any."""
        try:
            return (self.models_root / PROMOTED_FILE).read_text().strip() or None
        except OSError:
            return None

    def find(self, name: str, version: str) -> pathlib.Path:
        """The folder of ``name/version``.

        Raises:
            ModelNotFound: unsafe names, or no such model folder.
        """
        if not (_SAFE_NAME.match(name) and _SAFE_NAME.match(version)):
            raise ModelNotFound(f"no model {name}/{version}")
        folder = self.models_root / name / version
        if not (folder / "model.json").is_file():
            raise ModelNotFound(f"no model {name}/{version} in {self.models_root}")
        return folder

    def promote(self, name: str, version: str) -> tuple[Predictor, Predictor | None]:
        """Load ``name/version``, record it as promoted, and serve it.

        Returns:
            The new and the previous predictor (None if nothing was served).

        Raises:
            ModelNotFound: no such model.
            PromotionFailed: it did not load, or ``PROMOTED`` could not be written; the old model serves on.
        """
        folder = self.find(name, version)
        with self._promote_lock:
            try:
                candidate = self.load(folder)
            except ModelLoadError as error:
                raise PromotionFailed(f"model {name}/{version} failed to load: {error}") from error
            try:
                write_atomic(self.models_root / PROMOTED_FILE, f"{name}/{version}\n".encode())
            except OSError as error:
                raise PromotionFailed(f"could not record the promotion: {error}") from error
            previous, self.current = self.current, candidate
            self.load_error = None
        logger.info("model promoted", extra={"model": name, "version": version})
        return candidate, previous
