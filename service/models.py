"""The model being served and the registry of models it can be swapped for.

Requests take ``ModelManager.current`` once and keep that predictor for their whole life, so a swap never
changes the model under a running request. Promotion loads the new predictor first, records it in
``<models_root>/PROMOTED`` atomically, and only then swaps the reference; on any failure the old model
keeps serving.

Promotion is gated: once a model is served, a candidate needs a ``gate.json`` (``triage compare``) that
passed against the served model, unless the promotion is forced with a reason. Every promotion and
rollback is appended to ``<models_root>/HISTORY.jsonl`` (one JSON object a line, fsynced); rollback goes
back to the model served before the current one, as the history tells.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import pathlib
import re
import threading
from dataclasses import dataclass
from typing import Any

from service.store.images import write_atomic
from vision.errors import ModelLoadError
from vision.gate import gate_refusal
from vision.infer import CARD_FILE, PROMOTED_FILE, Predictor, default_model_dir

logger = logging.getLogger("triage.models")
HISTORY_FILE = "HISTORY.jsonl"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$")


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key of a version folder name: numbers by value ("1.9.0" before "1.10.0"), other parts as text."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"[.\-_]", version))


class ModelNotFound(LookupError):
    """No such ``name/version`` in the registry (HTTP 404)."""


class PromotionFailed(RuntimeError):
    """The model exists but could not be served; the old one keeps serving (HTTP 409)."""


class PromotionRefused(RuntimeError):
    """The candidate did not pass the gate against the served model, and the promotion was not forced."""


class NothingToRollBack(LookupError):
    """The history holds no earlier model to go back to."""


@dataclass(frozen=True)
class ModelEntry:
    """One model folder of the registry."""

    name: str
    version: str
    path: pathlib.Path
    card: dict[str, Any]


def _has_int8(model_dir: pathlib.Path) -> bool:
    """Whether a model folder's card names an INT8 version (an unreadable card is left to the loader)."""
    try:
        card = json.loads((model_dir / CARD_FILE).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(card, dict) and isinstance(card.get("int8"), dict)


class ModelManager:
    """Holds the served predictor and swaps it atomically.

    Args:
        models_root: the registry folder (``<name>/<version>/`` and ``PROMOTED``).
        threads: onnxruntime intra-op threads per predictor.
        int8: load a model's INT8 version where its card has one (FP32 otherwise, logged).
    """

    def __init__(self, models_root: pathlib.Path, threads: int = 2, int8: bool = False) -> None:
        self.models_root = models_root
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
            int8 = self.int8 and _has_int8(model_dir)
            if self.int8 and not int8:
                logger.warning("no INT8 version; serving FP32", extra={"model": str(model_dir)})
            return Predictor(model_dir, threads=self.threads, int8=int8)
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
        """Every model folder in the registry (with a ``model.json``), by name and version (1.9 < 1.10)."""
        found = []
        cards = self.models_root.glob("*/*/model.json")
        for card_path in sorted(cards, key=lambda p: (p.parent.parent.name, version_key(p.parent.name))):
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

    def served(self) -> str | None:
        """``name/version`` of the model served now, else the one recorded in ``PROMOTED`` (offline use)."""
        if self.current is not None:
            return f"{self.current.name}/{self.current.version}"
        return self.promoted()

    def history(self) -> list[dict[str, Any]]:
        """Every promotion and rollback recorded in ``HISTORY.jsonl``, oldest first (bad lines skipped)."""
        try:
            lines = (self.models_root / HISTORY_FILE).read_text().splitlines()
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
        if force and not (reason and reason.strip()):
            raise ValueError("a forced promotion needs a reason")
        folder = self.find(name, version)
        with self._promote_lock:
            served = self.served()
            target = f"{name}/{version}"
            if self._rollback_target(served) == target:
                # Promoting the model served just before the current one is a rollback: it served before.
                return self._swap(
                    folder, name, version, "rollback", served, False, reason, key_id, "rollback"
                )
            # The first model ever served, or the one already served, needs no gate.
            refusal = None if served in (None, target) else gate_refusal(folder, name, version, str(served))
            if refusal is not None and not force:
                raise PromotionRefused(f"{refusal} (force it with a reason to override)")
            gate = "not required" if served in (None, target) else refusal or "passed"
            return self._swap(
                folder, name, version, "promote", served, force and refusal is not None, reason, key_id, gate
            )

    def _rollback_target(self, served: str | None) -> str | None:
        """The model a rollback goes back to, from the history, or None."""
        stack = self.served_stack()
        if stack and served is not None and stack[-1] != served:
            return stack[-1]  # the current model was put in place outside the history
        return stack[-2] if len(stack) >= 2 else None

    def rollback(self, key_id: str | None = None) -> tuple[Predictor, Predictor | None]:
        """Serve again the model that was served before the current one (no gate: it served before).

        Raises:
            NothingToRollBack: the history holds no earlier model.
            ModelNotFound: that model's folder is gone.
            PromotionFailed: it no longer loads; the current model serves on.
        """
        with self._promote_lock:
            served = self.served()
            target = self._rollback_target(served)
            if target is None:
                history = " -> ".join(self.served_stack()) or "empty"
                raise NothingToRollBack(
                    f"no earlier model to roll back to (served: {served or 'none'}, history: {history})"
                )
            name, _, version = target.partition("/")
            folder = self.find(name, version)
            return self._swap(folder, name, version, "rollback", served, False, None, key_id, "rollback")

    def _swap(
        self,
        folder: pathlib.Path,
        name: str,
        version: str,
        action: str,
        served: str | None,
        forced: bool,
        reason: str | None,
        key_id: str | None,
        gate: str,
    ) -> tuple[Predictor, Predictor | None]:
        """Load, record in ``PROMOTED`` and ``HISTORY.jsonl``, then swap (the caller holds the lock)."""
        try:
            candidate = self.load(folder)
        except ModelLoadError as error:
            raise PromotionFailed(f"model {name}/{version} failed to load: {error}") from error
        promoted_file = self.models_root / PROMOTED_FILE
        before = promoted_file.read_bytes() if promoted_file.is_file() else None
        entry = {
            "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "action": action,
            "model": f"{name}/{version}",
            "previous": served,
            "forced": forced,
            "reason": reason,
            "key_id": key_id,
            "gate": gate,
        }
        try:
            write_atomic(promoted_file, f"{name}/{version}\n".encode())
            try:
                self._append_history(entry)
            except OSError:
                # Unrecorded promotions are not allowed: put PROMOTED back as it was.
                if before is None:
                    promoted_file.unlink(missing_ok=True)
                else:
                    write_atomic(promoted_file, before)
                raise
        except OSError as error:
            raise PromotionFailed(f"could not record the promotion: {error}") from error
        previous, self.current = self.current, candidate
        self.load_error = None
        if forced:
            logger.warning(
                "forced promotion",
                extra={"model": name, "version": version, "reason": reason, "key_id": key_id, "gate": gate},
            )
        logger.info(f"model {action}", extra={"model": name, "version": version, "key_id": key_id})
        return candidate, previous

    def _append_history(self, entry: dict[str, Any]) -> None:
        """Append a line to ``HISTORY.jsonl`` in one write, then fsync (whole lines survive a crash)."""
        line = (json.dumps(entry, separators=(",", ":")) + "\n").encode()
        fd = os.open(self.models_root / HISTORY_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
