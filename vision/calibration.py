"""Site calibration: the alarm threshold that holds a false-alarm target on a station's own cleared scans.

A model's card threshold is calibrated on the clean scans it was exported with; a station's scanner,
palette and traffic differ, and so does the false-alarm rate its operators live with (1.11.0 promised 5%
and alarmed on 60-82% of real clean bags). Here the threshold comes from scans the station's operators
**cleared** (alarms judged false, and unflagged scans passed): the lowest threshold at which at most the
target share of them alarm, with an exact (Clopper-Pearson) interval on the false-alarm rate it gives.

The same arithmetic serves the service (proposals from the store), ``triage calibrate`` (a folder of clean
scans) and the drift check (a station's live alarm rate against its target). numpy only: the service
imports it.

Station files (``triage calibrate --out``, loaded by the service at start and on change) hold one entry
per station and scene kind::

    {"format": 1, "thresholds": [{"station": "lane-3", "kind": "luggage", "threshold": 0.81,
      "target_fa": 0.05, "false_alarm_rate": 0.047, "false_alarm_interval": [0.031, 0.068], "n": 640,
      "alarms": 30, "confidence": 0.95, "model": {"name": "xray-threat", "version": "1.12.0"},
      "created": "2026-12-02T08:00:00+00:00"}]}
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vision.classes import SCENE_KINDS
from vision.errors import VisionError
from vision.evaluation.metrics import DEFAULT_FALSE_ALARM_RATE

DEFAULT_TARGET_FA = DEFAULT_FALSE_ALARM_RATE
# Below this many cleared scans the interval is too wide to act on: at 300 scans and a 5% target the 95%
# interval is about 2.9-8.0%; at 100 it is 1.6-11%.
DEFAULT_MIN_SCANS = 300
MAX_TARGET_FA = 0.5
STATION_FILE_FORMAT = 1


class CalibrationError(VisionError, ValueError):
    """Too few scans, a target outside (0, 0.5], or a station file that cannot be read."""


def _log_factorials(n: int) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, n + 1, dtype=np.float64)))])


def _binomial_log_pmf(n: int, p: float, logf: np.ndarray) -> np.ndarray:
    k = np.arange(n + 1)
    if p <= 0.0:
        return np.where(k == 0, 0.0, -np.inf)
    if p >= 1.0:
        return np.where(k == n, 0.0, -np.inf)
    return logf[n] - logf[k] - logf[n - k] + k * math.log(p) + (n - k) * math.log1p(-p)


def _solve(increasing: Any, target: float) -> float:
    """The p in [0, 1] where the increasing function ``increasing(p)`` reaches ``target`` (bisection)."""
    low, high = 0.0, 1.0
    for _ in range(60):
        middle = (low + high) / 2
        if increasing(middle) < target:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def clopper_pearson(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """The exact (Clopper-Pearson) interval of a binomial rate: never narrower than it should be.

    Raises:
        ValueError: if the counts or the confidence are out of range.
    """
    if trials <= 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials and trials > 0, got {successes} of {trials}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    alpha = 1.0 - confidence
    logf = _log_factorials(trials)

    def cdf(k: int, p: float) -> float:
        return 0.0 if k < 0 else float(min(1.0, np.exp(_binomial_log_pmf(trials, p, logf)[: k + 1]).sum()))

    # Lower: P(X >= successes | p) = alpha/2, i.e. 1 - cdf(successes - 1, p), increasing in p.
    lower = 0.0 if successes == 0 else _solve(lambda p: 1.0 - cdf(successes - 1, p), alpha / 2)
    # Upper: P(X <= successes | p) = alpha/2; cdf decreases in p, so solve on its complement.
    upper = 1.0 if successes == trials else _solve(lambda p: 1.0 - cdf(successes, p), 1.0 - alpha / 2)
    return lower, upper


def check_target(target_fa: float) -> None:
    """Raises CalibrationError unless ``target_fa`` is in (0, 0.5]."""
    if not (math.isfinite(target_fa) and 0.0 < target_fa <= MAX_TARGET_FA):
        raise CalibrationError(f"the false-alarm target must be in (0, {MAX_TARGET_FA}], got {target_fa}")


def threshold_for_target(cleared_scores: Sequence[float] | np.ndarray, target_fa: float) -> float:
    """The lowest threshold at which at most ``target_fa`` of the cleared scans alarm (score >= it)."""
    scores = np.sort(np.asarray(cleared_scores, np.float64))[::-1]
    allowed = int(np.floor(target_fa * len(scores) + 1e-9))
    if allowed >= len(scores):
        return 0.0
    # Just above the highest score that must stay clear, in the float32 the model scores in.
    return float(np.nextafter(np.float32(scores[allowed]), np.float32(np.inf)))


@dataclass(frozen=True)
class Proposal:
    """A threshold proposed from ``n`` cleared scans and the false-alarm rate it gives on them.

    ``false_alarm_interval`` is the exact interval (at ``confidence``) on the rate the threshold will give
    on more traffic like the scans it was computed from.
    """

    threshold: float
    target_fa: float
    n: int
    alarms: int
    false_alarm_rate: float
    false_alarm_interval: tuple[float, float]
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, rates rounded to 4 places."""
        out = asdict(self)
        out["false_alarm_rate"] = round(self.false_alarm_rate, 4)
        out["false_alarm_interval"] = [round(v, 4) for v in self.false_alarm_interval]
        return out


def propose(
    cleared_scores: Sequence[float] | np.ndarray,
    target_fa: float = DEFAULT_TARGET_FA,
    min_scans: int = DEFAULT_MIN_SCANS,
    confidence: float = 0.95,
) -> Proposal:
    """The threshold holding ``target_fa`` on ``cleared_scores``, with its interval.

    Raises:
        CalibrationError: with fewer than ``min_scans`` scores, a non-finite score, or a target outside
            (0, 0.5].
    """
    check_target(target_fa)
    scores = np.asarray(cleared_scores, np.float64)
    if len(scores) < max(1, min_scans):
        raise CalibrationError(
            f"{len(scores)} cleared scans; a threshold needs at least {max(1, min_scans)} "
            "(operators' cleared alarms and passed scans of this station)"
        )
    if not np.isfinite(scores).all():
        raise CalibrationError("a cleared scan's score is not a finite number")
    threshold = threshold_for_target(scores, target_fa)
    alarms = int((scores >= threshold).sum())
    return Proposal(
        threshold=threshold,
        target_fa=target_fa,
        n=len(scores),
        alarms=alarms,
        false_alarm_rate=alarms / len(scores),
        false_alarm_interval=clopper_pearson(alarms, len(scores), confidence),
        confidence=confidence,
    )


@dataclass(frozen=True)
class Drift:
    """A station's live alarm rate over its last ``n`` scans against its target.

    ``expected`` is the range of alarm rates that ``n`` scans at the target rate give (at ``confidence``);
    ``drifting`` means the live rate lies outside it.
    """

    n: int
    alarms: int
    rate: float
    target_fa: float
    expected: tuple[float, float]
    drifting: bool


def drift(alarms: int, n: int, target_fa: float, confidence: float = 0.99) -> Drift:
    """Whether ``alarms`` of ``n`` recent scans is more (or fewer) than a target rate explains.

    Two-sided exact binomial test at ``1 - confidence``: a scanner re-palette that doubles the alarm rate
    shows within a few hundred scans, while the chance alone of a false drift on a station holding its
    target is ``1 - confidence`` per window.
    """
    if n <= 0:
        return Drift(0, 0, 0.0, target_fa, (0.0, 1.0), False)
    tail = (1.0 - confidence) / 2
    cdf = np.minimum(1.0, np.cumsum(np.exp(_binomial_log_pmf(n, target_fa, _log_factorials(n)))))
    survival = 1.0 - np.concatenate([[0.0], cdf[:-1]])  # P(X >= k)
    drifting = bool(survival[alarms] < tail or cdf[alarms] < tail)
    # The alarm counts a station holding its target shows in all but 1 - confidence of windows.
    low = int(np.argmax(cdf >= tail))
    high = int(np.nonzero(survival >= tail)[0][-1])
    return Drift(n, alarms, alarms / n, target_fa, (low / n, high / n), drifting)


def detection_at(real: Any, threshold: float) -> dict[str, float | None] | None:
    """Localised detection of a model's real validation threats at ``threshold``, per set, from its card.

    The card's ``real.localised_scores`` holds, per threat set, each image's localisation score (the lower
    of its score and its best detection on a true box); an image is localised at ``t`` when that score
    exceeds ``t``. Exact at or above ``localised_scores_exact_from`` (the level regions are traced at);
    below it the figure is a lower bound. ``None`` for a card without them (exported before site
    calibration).
    """
    if not isinstance(real, Mapping) or not isinstance(real.get("localised_scores"), Mapping):
        return None
    out: dict[str, float | None] = {}
    for name, values in real["localised_scores"].items():
        scores = np.asarray(values, np.float64)
        out[str(name)] = round(float((scores > threshold).mean()), 4) if len(scores) else None
    return out


# --- station files -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StationEntry:
    """One station's (and scene kind's) threshold for one model, as a station file keeps it."""

    station: str
    kind: str | None
    threshold: float
    target_fa: float
    false_alarm_rate: float
    false_alarm_interval: tuple[float, float]
    n: int
    alarms: int
    confidence: float
    model_name: str
    model_version: str
    created: str

    @classmethod
    def from_proposal(
        cls, proposal: Proposal, station: str, kind: str | None, model_name: str, model_version: str
    ) -> StationEntry:
        """The entry for ``proposal`` made now."""
        return cls(
            station=station,
            kind=kind,
            threshold=proposal.threshold,
            target_fa=proposal.target_fa,
            false_alarm_rate=proposal.false_alarm_rate,
            false_alarm_interval=proposal.false_alarm_interval,
            n=proposal.n,
            alarms=proposal.alarms,
            confidence=proposal.confidence,
            model_name=model_name,
            model_version=model_version,
            created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        )

    def to_proposal(self) -> Proposal:
        """The proposal this entry applies (what a station file imports)."""
        return Proposal(
            threshold=self.threshold,
            target_fa=self.target_fa,
            n=self.n,
            alarms=self.alarms,
            false_alarm_rate=self.false_alarm_rate,
            false_alarm_interval=self.false_alarm_interval,
            confidence=self.confidence,
        )

    def to_dict(self) -> dict[str, Any]:
        """The file's JSON form (the model as a nested object)."""
        out = asdict(self)
        out["model"] = {"name": out.pop("model_name"), "version": out.pop("model_version")}
        out["false_alarm_interval"] = [round(v, 4) for v in self.false_alarm_interval]
        out["false_alarm_rate"] = round(self.false_alarm_rate, 4)
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], where: str) -> StationEntry:
        """Parse and check one entry of a station file.

        Raises:
            CalibrationError: naming ``where`` and what is wrong.
        """
        try:
            station = raw["station"]
            kind = raw.get("kind")
            model = raw["model"]
            interval = tuple(float(v) for v in raw["false_alarm_interval"])
            entry = cls(
                station=str(station),
                kind=None if kind is None else str(kind),
                threshold=float(raw["threshold"]),
                target_fa=float(raw["target_fa"]),
                false_alarm_rate=float(raw["false_alarm_rate"]),
                false_alarm_interval=(interval[0], interval[1]),
                n=int(raw["n"]),
                alarms=int(raw["alarms"]),
                confidence=float(raw.get("confidence", 0.95)),
                model_name=str(model["name"]),
                model_version=str(model["version"]),
                created=str(raw.get("created", "")),
            )
        except (KeyError, TypeError, ValueError, IndexError) as error:
            raise CalibrationError(f"{where}: not a station threshold entry ({error!r})") from None
        if not isinstance(station, str) or not station.strip() or len(station) > 120:
            raise CalibrationError(f"{where}: station must be a name of 1-120 characters")
        if entry.kind is not None and entry.kind not in SCENE_KINDS:
            raise CalibrationError(f"{where}: kind must be one of {', '.join(SCENE_KINDS)} or null")
        if not 0.0 <= entry.threshold <= 1.0:
            raise CalibrationError(f"{where}: threshold {entry.threshold} is outside [0, 1]")
        try:
            check_target(entry.target_fa)
        except CalibrationError as error:
            raise CalibrationError(f"{where}: {error}") from None
        return entry

    @property
    def key(self) -> tuple[str, str | None, str, str]:
        """What an entry replaces in a file: the same station, kind and model."""
        return self.station, self.kind, self.model_name, self.model_version


def read_station_file(path: str | Path) -> list[StationEntry]:
    """The entries of a station file (an absent file holds none).

    Raises:
        CalibrationError: if the file is not a station file.
    """
    path = Path(path)
    if not path.exists():
        return []
    try:
        raw = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CalibrationError(f"{path}: not a readable station file ({error})") from None
    if not isinstance(raw, dict) or raw.get("format") != STATION_FILE_FORMAT:
        raise CalibrationError(f"{path}: not a station file of format {STATION_FILE_FORMAT}")
    entries = raw.get("thresholds")
    if not isinstance(entries, list):
        raise CalibrationError(f"{path}: `thresholds` must be a list")
    return [StationEntry.from_dict(e, f"{path} entry {i}") for i, e in enumerate(entries)]


def write_station_file(path: str | Path, entries: Iterable[StationEntry]) -> list[StationEntry]:
    """Merge ``entries`` into the station file at ``path`` (same station, kind and model replaced),
    atomically (a temporary file renamed over it); returns what the file now holds.

    Raises:
        CalibrationError: if the existing file is not a station file (it is left as it is).
    """
    path = Path(path)
    merged = {e.key: e for e in read_station_file(path)}
    for entry in entries:
        merged[entry.key] = entry
    held = sorted(merged.values(), key=lambda e: (e.station, e.kind or "", e.model_name, e.model_version))
    body = json.dumps({"format": STATION_FILE_FORMAT, "thresholds": [e.to_dict() for e in held]}, indent=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "w") as out:
            out.write(body + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return held
