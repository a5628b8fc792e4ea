"""Scoring motion screening on a sequence in the CDnet 2014 layout, with CDnet's rules.

Rules (as in the CDnet 2014 evaluation code): only frames inside the temporal region of interest
(``temporalROI.txt``, 1-based and inclusive) are scored, though every frame is screened so the background
is learnt; pixels outside ``ROI.bmp``, marked 85 (outside ROI) or 170 (unknown) are ignored; 255 is
moving; 0 (static) and 50 (shadow) are both negatives, so a shadow marked as moving is a false positive.
"""

from __future__ import annotations

import pathlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from tqdm import tqdm

from vision.errors import VisionError
from vision.motion.config import CameraConfig
from vision.motion.screener import FrameResult, Screener

_INPUT_NAME = re.compile(r"^in(\d+)\.(jpe?g|png|bmp)$", re.IGNORECASE)
_GT_NAME = re.compile(r"^gt(\d+)\.(png|bmp)$", re.IGNORECASE)


class SequenceError(VisionError):
    """A CDnet sequence folder is missing, ambiguous or inconsistent."""


@dataclass(frozen=True)
class Sequence:
    """The files of one CDnet sequence.

    Attributes:
        inputs: frame number (1-based) to input image path, in order.
        groundtruth: frame number to ground-truth image path.
        roi: path of ``ROI.bmp``, or None (every pixel is in the region of interest).
        temporal_roi: first and last scored frame numbers, inclusive.
    """

    inputs: dict[int, pathlib.Path]
    groundtruth: dict[int, pathlib.Path]
    roi: pathlib.Path | None
    temporal_roi: tuple[int, int]


@dataclass
class Confusion:
    """Pixel counts over the scored frames."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def precision(self) -> float:
        """TP / (TP + FP); 0 when nothing was marked moving."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        """TP / (TP + FN); 0 when nothing moved."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f_measure(self) -> float:
        """Harmonic mean of precision and recall (0 when both are 0)."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def false_positive_rate(self) -> float:
        """FP / (FP + TN)."""
        return self.fp / (self.fp + self.tn) if self.fp + self.tn else 0.0

    def add(self, predicted: np.ndarray, groundtruth: np.ndarray, roi: np.ndarray | None) -> None:
        """Count one frame: ``predicted`` is True where marked moving; ``roi`` True where scored."""
        scored = (groundtruth != 85) & (groundtruth != 170)
        if roi is not None:
            scored &= roi
        moving = groundtruth == 255
        positive = predicted & scored
        self.tp += int(np.count_nonzero(positive & moving))
        self.fp += int(np.count_nonzero(positive & ~moving))
        self.fn += int(np.count_nonzero(~predicted & scored & moving))
        self.tn += int(np.count_nonzero(~predicted & scored & ~moving))


@dataclass(frozen=True)
class Evaluation:
    """Result of ``evaluate``.

    Attributes:
        confusion: pixel counts.
        frames: frames scored (inside the temporal ROI).
        frames_screened: every frame fed to the screener.
        fps: frames screened per second (decode and screening, not ground-truth reading).
        events: events the screener produced over the whole sequence.
    """

    confusion: Confusion
    frames: int
    frames_screened: int
    fps: float
    events: int

    def to_dict(self) -> dict[str, float | int]:
        """The ``--json`` object of ``triage motion-eval``."""
        return {
            "precision": round(self.confusion.precision, 4),
            "recall": round(self.confusion.recall, 4),
            "f_measure": round(self.confusion.f_measure, 4),
            "fps": round(self.fps, 1),
            "frames": self.frames,
        }


def _numbered(folder: pathlib.Path, pattern: re.Pattern[str]) -> dict[int, pathlib.Path]:
    found: dict[int, pathlib.Path] = {}
    for path in folder.iterdir():
        match = pattern.match(path.name)
        if match and path.is_file():
            number = int(match.group(1))
            if number in found:
                raise SequenceError(
                    f"{folder} holds two files for frame {number}: {found[number].name}, {path.name}"
                )
            found[number] = path
    return dict(sorted(found.items()))


def _frames_folder(folder: pathlib.Path, child: str, pattern: re.Pattern[str], what: str) -> pathlib.Path:
    """``folder`` itself when it holds the frames, or its ``child`` (the CDnet sequence folder given)."""
    if not folder.is_dir():
        raise SequenceError(f"{what} folder {folder} does not exist")
    here = bool(_numbered(folder, pattern))
    below = (folder / child).is_dir() and bool(_numbered(folder / child, pattern))
    if here and below:
        raise SequenceError(f"{folder} is ambiguous: it holds {what} frames and a {child}/ folder with more")
    if here:
        return folder
    if below:
        return folder / child
    # A category folder (``baseline/``) holding sequence folders: fine when it holds exactly one.
    nested = sorted(
        sub for sub in folder.iterdir() if (sub / child).is_dir() and _numbered(sub / child, pattern)
    )
    if len(nested) == 1:
        return nested[0] / child
    if nested:
        names = ", ".join(sub.name for sub in nested)
        raise SequenceError(f"{folder} is ambiguous: it holds several sequences ({names}); name one")
    raise SequenceError(f"no {what} frames ({pattern.pattern}) in {folder} or {folder / child}")


def find_sequence(
    input_dir: str | pathlib.Path,
    groundtruth_dir: str | pathlib.Path,
    roi: str | pathlib.Path | None = None,
    temporal_roi: str | pathlib.Path | None = None,
) -> Sequence:
    """Locate a CDnet sequence's files.

    Each folder may be the frames folder itself (``.../input``, ``.../groundtruth``) or the sequence folder
    above it. ``ROI.bmp`` and ``temporalROI.txt`` default to the sequence folder's, and to "everything"
    when it has none.

    Raises:
        SequenceError: missing or ambiguous folders, unreadable temporal ROI, or a scored frame without
        its input or ground truth.
    """
    inputs_folder = _frames_folder(pathlib.Path(input_dir), "input", _INPUT_NAME, "input")
    gt_folder = _frames_folder(pathlib.Path(groundtruth_dir), "groundtruth", _GT_NAME, "ground-truth")
    inputs = _numbered(inputs_folder, _INPUT_NAME)
    groundtruth = _numbered(gt_folder, _GT_NAME)
    sequence_folder = inputs_folder.parent
    roi_path = pathlib.Path(roi) if roi is not None else sequence_folder / "ROI.bmp"
    if roi is not None and not roi_path.is_file():
        raise SequenceError(f"ROI file {roi_path} does not exist")
    temporal_path = (
        pathlib.Path(temporal_roi) if temporal_roi is not None else sequence_folder / "temporalROI.txt"
    )
    if temporal_path.is_file():
        try:
            first, last = (int(v) for v in temporal_path.read_text().split()[:2])
        except ValueError:
            raise SequenceError(f"{temporal_path} must hold two frame numbers, 'first last'") from None
    elif temporal_roi is not None:
        raise SequenceError(f"temporal ROI file {temporal_path} does not exist")
    else:
        first, last = min(groundtruth), max(groundtruth)
    if first > last:
        raise SequenceError(f"temporal ROI {first}..{last} is empty")
    scored = [n for n in inputs if first <= n <= last]
    if not scored:
        raise SequenceError(f"no input frame lies in the temporal ROI {first}..{last}")
    missing = [n for n in scored if n not in groundtruth]
    if missing:
        raise SequenceError(
            f"{len(missing)} scored frames have no ground truth, the first is frame {missing[0]}"
        )
    return Sequence(
        inputs=inputs,
        groundtruth=groundtruth,
        roi=roi_path if roi_path.is_file() else None,
        temporal_roi=(first, last),
    )


def find_sequences(root: str | pathlib.Path) -> dict[str, Sequence]:
    """Every CDnet-layout sequence (a folder with ``input/`` and ``groundtruth/``) under ``root``.

    Sequences are named by their path below ``root`` (``baseline/pedestrians``), sorted; ``root`` may be a
    sequence itself.

    Raises:
        SequenceError: ``root`` is not a folder, holds no sequence, or one of them is inconsistent.
    """
    base = pathlib.Path(root)
    if not base.is_dir():
        raise SequenceError(f"{base} is not a folder")
    folders = sorted(
        {
            path.parent
            for path in base.rglob("input")
            if path.is_dir() and (path.parent / "groundtruth").is_dir()
        }
    )
    if not folders:
        raise SequenceError(f"no CDnet sequence (a folder with input/ and groundtruth/) under {base}")
    return {
        (folder.relative_to(base).as_posix() if folder != base else folder.name): find_sequence(
            folder, folder
        )
        for folder in folders
    }


def _read_grey(path: pathlib.Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise SequenceError(f"cannot read {path}")
    return image


def evaluate(
    sequence: Sequence,
    config: CameraConfig | None = None,
    fps_assumed: float = 25.0,
    progress: bool = False,
    on_frame: Callable[[int, FrameResult], None] | None = None,
) -> Evaluation:
    """Screen every frame of ``sequence`` and score the cleaned foreground masks against the ground truth.

    Args:
        sequence: from ``find_sequence``.
        config: screening settings (defaults when None).
        fps_assumed: frame rate used to time-stamp frames (cool-down is in seconds; CDnet is mostly 25-30).
        progress: show a progress bar.
        on_frame: called with each frame number and its result (for extra statistics).

    Returns:
        Pixel counts, frame counts and the screening rate.
    """
    screener = Screener("cdnet", config)
    first, last = sequence.temporal_roi
    roi: np.ndarray | None = None
    if sequence.roi is not None:
        roi = _read_grey(sequence.roi) > 0
    confusion = Confusion()
    scored = events = 0
    busy_s = 0.0
    numbers = [n for n in sequence.inputs if n <= last]
    for number in tqdm(numbers, desc="motion-eval", unit="frame", disable=not progress):
        data = sequence.inputs[number].read_bytes()
        began = time.perf_counter()
        result = screener.process_encoded(data, timestamp=number / fps_assumed)
        busy_s += time.perf_counter() - began
        events += len(result.ended)
        if on_frame is not None:
            on_frame(number, result)
        if number < first:
            continue
        groundtruth = _read_grey(sequence.groundtruth[number])
        mask = result.foreground
        if mask.shape != groundtruth.shape:
            mask = cv2.resize(
                mask, (groundtruth.shape[1], groundtruth.shape[0]), interpolation=cv2.INTER_NEAREST
            )
        if roi is not None and roi.shape != groundtruth.shape:
            raise SequenceError(f"ROI is {roi.shape[::-1]} pixels, ground truth {groundtruth.shape[::-1]}")
        confusion.add(mask > 0, groundtruth, roi)
        scored += 1
    if screener.flush() is not None:
        events += 1
    return Evaluation(
        confusion=confusion,
        frames=scored,
        frames_screened=len(numbers),
        fps=len(numbers) / busy_s if busy_s > 0 else 0.0,
        events=events,
    )
