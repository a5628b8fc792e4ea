"""Scoring a model on real scanner images in their published layouts (the real kit, ``../shared/real/xray``).

The kit holds sets in three layouts: Pascal VOC (``Annotations/`` + ``JPEGImages/``), YOLO with boxes
(``labels/`` + ``images/``), and clean bags (YOLO with every label file empty). Each set may have a
``val.txt``, a fixed validation split; only those files are scored unless ``all_files`` is asked for.

The figures, per set (and per class for threat sets), with the definitions of
``../shared/checks/real_xray.py`` so the two agree on the same model:

- ``false_alarms``: share of clean bags whose image score is above the model's threshold;
- ``localised``: share of threat images above the threshold **and** with a detection above it whose box
  hits a true box (its centre inside the box, or IoU >= 0.1);
- ``flagged``: share of threat images above the threshold;
- ``pointing``: share of threat images whose top detection's centre lies inside a true box;
- ``localised_at_5pct_real_fa``: ``localised`` at the threshold that lets 5% of the real clean bags
  (all clean sets pooled) through, which separates ranking from calibration;
- ``localised_over_2_10pct_real_fa``: ``localised`` averaged over the thresholds that let 2%, 3%, ... 10%
  of the pooled real clean bags through (each image's traced regions, so a threshold below the card's
  counts what it would keep). It ranks as the 5% figure does, with less of the luck of where one
  threshold falls among a hundred clean bags: two INT8 graphs of one network, one with its last
  convolution left in float, localised OPIXray knives 0.603 and 0.576 at their own thresholds (four
  views) and 0.618 and 0.616 on this figure.

With ``views`` above 1, every file is also scored mirrored (:data:`vision.infer.VIEWS`) and each view
counts as a scan. The validation files have chosen many checkpoints and thresholds, and those choices fit
the files' noise as the network sees them: measured with 1.16.0, its clean validation bags alarmed at 4.8%
(SIXray) and 4.0% (other scanner) as they are and at 8-10% and 8-12% mirrored, while on its training bags
(never chosen on) the views agreed (6.0-7.6% and 17.6-18.4%). The mirrored views are scans no choice has
seen, so they measure, and calibrate, with less of that luck.

With ``belt`` above 1, every file is laid on empty belt (white, :data:`vision.preprocess.DEFAULT_PAD_VALUE`)
``belt`` times its width, centred, and its true boxes moved with it: the same bags as another scanner frames
them, with more belt around. The kit's scanners fill their images (SIXray) or two thirds of them (OPIXray,
the other scanner), and a model letterboxing whole scans shrinks a bag framed wider: measured with 1.17.0
as the files are and at ``belt`` 2, OPIXray knives localised 0.651 -> 0.199, SIXray 0.773 -> 0.420; 1.17.1,
the same network framing each scan around the bag (``content_fill`` 0.5), 0.657 -> 0.455 and 0.773 -> 0.412.

With ``long_side``, every file longer than that is first shrunk (area) to it, its true boxes with it: the same
bags as a scanner exporting fewer pixels shows them, enlarged back by the letterbox. The kit's threat sets
were exported small (OPIXray 416 px, SIXray threats a median 651) and its clean bags large (990 and 1250),
so a network can learn that an enlarged small export means a threat: measured with 1.17.1, the other
scanner's clean bags alarmed at 0.040 as they are, 0.080 at ``long_side`` 600 and 0.160 at 416.

With ``palette``, every set is first recoloured to it as one scanner (:func:`vision.palette.recolour`, every
file by the turn and gain that take the set's :func:`vision.palette.set_palette` to it): the same bags as a
scanner colouring materials differently shows them, each bag still as much paler or warmer than the others
as it was. Measured with 1.17.1, in the palette of SIXray's threat images (``Palette(52, 55)``) the clean bags
alarmed at 0.096 (SIXray) and 0.280 (the other scanner) against 0.036 and 0.040 as they are; in the other
scanner's (``Palette(27, 110)``; its validation bags' own median is about 27 degrees and 90) OPIXray knives
were localised 0.571 against 0.657 and the other scanner's own bags alarmed at 0.120. (Until 2026-12-07 each
file was recoloured from its own palette, which also evened out the bags' differences: 0.084 / 0.240 and
0.553 with the same model.)

A stress is priced twice. At the card's threshold, it shows the alarms a scanner like that raises before
anyone calibrates for it. A station then calibrates its own threshold on its clean bags (README, "Site
calibration"), which stops those alarms and costs threats: each stress report's
``threshold_at_5pct_real_fa`` is the threshold that lets 5% of the clean bags shown so through, and its
``localised_at_5pct_real_fa`` the threats shown so localised there (:func:`format_stresses`' last columns).

Image-level AUROC between sets is not reported: the sets come from different sources, and image size
alone would separate them.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from vision.dataimport import READERS, ImportFailed, ImportReport
from vision.erase import PAD_SHARE, erase_threats
from vision.evaluation.metrics import DEFAULT_FALSE_ALARM_RATE, wilson_interval
from vision.infer import REGION_LEVEL, VIEWS, Predictor, Thresholds
from vision.io import read_image
from vision.palette import Palette, bag_palette, recolour, set_palette
from vision.preprocess import DEFAULT_PAD_VALUE

Box = tuple[float, float, float, float]
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
# Source class names of the real kit and ours; a name mapped to None is not a threat (SIXray's wrench is a
# benign tool: a look-alike, scored as part of the bag).
REAL_CLASS_MAP: dict[str, str | None] = {
    "gun": "firearm",
    "knife": "blade",
    "scissors": "blade",
    "folding_knife": "blade",
    "straight_knife": "blade",
    "utility_knife": "blade",
    "multi_tool_knife": "blade",
    "wrench": None,
}
REAL_FALSE_ALARM_TARGET = DEFAULT_FALSE_ALARM_RATE
# The false-alarm rates ``localised_over_2_10pct_real_fa`` averages over (see the module docstring).
SWEEP_FIGURE = "localised_over_2_10pct_real_fa"
REAL_FALSE_ALARM_SWEEP = tuple(round(0.02 + 0.01 * step, 2) for step in range(9))
# Where the sets of the kit come from and on what terms (../shared/real/README.md), for model cards.
REAL_SOURCES: dict[str, dict[str, str]] = {
    "opixray-knives": {
        "dataset": "OPIXray (Wei et al., ACM MM 2020): one scanner, knives and scissors, resized to 416x416",
        "copy": "thurvans/aicamera @ 9a1aa239, data/processed/train (a seeded sample)",
        "terms": "published for research use",
    },
    "sixray-threats": {
        "dataset": "SIXray positives (Miao et al., CVPR 2019): guns, knives, wrenches, boxed",
        "copy": "st120721/Xray-object-detection @ 89b71245, dataset/train",
        "terms": "published for research use",
    },
    "sixray-clean": {
        "dataset": "SIXray negatives (Miao et al., CVPR 2019): passenger bags with no threat",
        "copy": "Target101/X-Ray-Detection-to-find-Contraband @ 6e9de9f7, 'Not Dangerous' (a seeded sample)",
        "terms": "published for research use",
    },
    "other-clean": {
        "dataset": "clean bags from another scanner (source undocumented upstream)",
        "copy": "Harjotsingh0311/xray-dangerous-object-detection @ f4703431, images/*/neg",
        "terms": "research use, as the kit's other sets; upstream names no licence",
    },
}


# Detections are reported down to this level in scoring, so a station threshold below the card's can be
# judged too; the figures themselves use only those at or above the threshold, as `triage scan` does.
TRACED_FLOOR = 0.0

# The smallest long side a file may be shrunk to (``long_side``): below it nothing is left to score.
MIN_LONG_SIDE = 16


@dataclass(frozen=True)
class Stress:
    """One way of showing the real files as another scanner would (see the module docstring)."""

    name: str
    palette: Palette | None = None
    long_side: int = 0
    erase: bool = False


# The kit's own shortcuts as stresses: the palette of SIXray's threat images, the other scanner's palette,
# and OPIXray's export size. A network that learnt "this set holds threats" from them alarms on clean bags
# shown so, or loses knives (measured with 1.17.1: the other scanner's clean bags 0.280, 0.120 and 0.160
# against 0.040 as they are). Last, the threat sets' own bags with their threats erased
# (:func:`vision.erase.erase_threats`): a network that alarms on them has learnt the set, not the threat
# (1.17.1: OPIXray 0.311, SIXray 0.479, against 0.036-0.040 on the clean sets). OPIXray's tight boxes take
# the whole knife; SIXray's do not always hold all of a gun, and its guns often lie in dense cases that stay,
# so some of SIXray's alarms there are on what is left of the threat. ``triage evaluate --real K
# --stresses`` scores them all.
KIT_SHORTCUTS: tuple[Stress, ...] = (
    Stress("palette 52,55 (SIXray threats')", palette=Palette(52.0, 55.0)),
    Stress("palette 27,110 (other scanner's)", palette=Palette(27.0, 110.0)),
    Stress("long side 416 (OPIXray's)", long_side=416),
    Stress("threats erased", erase=True),
)


class RealKitError(ValueError):
    """The folder holds no real sets in a known layout, or a set cannot be read."""


@dataclass(frozen=True)
class RealSet:
    """One set of the kit: its folder, image sub-folder, the files scored, and its threat boxes.

    ``boxes`` is ``None`` for a clean set; otherwise each image's threat boxes: our class name, the box
    and the source's own class name (OPIXray's five kinds of knife are all our ``blade``).
    """

    name: str
    folder: pathlib.Path
    images: str
    files: tuple[str, ...]
    boxes: Mapping[str, list[tuple[str, Box, str]]] | None

    @property
    def clean(self) -> bool:
        """Whether every image of the set is a bag with no threat."""
        return self.boxes is None


def our_class(name: str) -> str | None:
    """Our class for a source class name (``None``: not a threat); unknown names raise.

    Raises:
        RealKitError: for a name with no mapping.
    """
    key = name.strip().lower()
    if key not in REAL_CLASS_MAP:
        raise RealKitError(f"real class {name!r} has no mapping to ours ({', '.join(REAL_CLASS_MAP)})")
    return REAL_CLASS_MAP[key]


def discover(kit: str | pathlib.Path, all_files: bool = False) -> list[RealSet]:
    """The sets under ``kit`` (each sub-folder one set), their validation files unless ``all_files``.

    Labels are read by the importer's readers (:mod:`vision.dataimport`), so a set scores as it imports.

    Raises:
        RealKitError: if ``kit`` holds no set in a known layout, or a set's labels cannot be read.
    """
    root = pathlib.Path(kit)
    if not root.is_dir():
        raise RealKitError(f"{root} is not a folder of real sets")
    sets = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if (folder / "Annotations").is_dir():
            layout, sub = "voc", "JPEGImages"
        elif (folder / "labels").is_dir():
            layout, sub = "yolo", "images"
        else:
            continue
        # Clean bags: YOLO with every label file empty (no class names needed to read nothing).
        empty = layout == "yolo" and all(not p.read_text().strip() for p in (folder / "labels").glob("*.txt"))
        truth = {} if empty else _threat_boxes(folder, layout)
        listed = folder / "val.txt"
        if all_files or not listed.is_file():
            files = sorted(p.name for p in (folder / sub).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        else:
            files = [n for n in listed.read_text().split() if n]
        clean = not any(truth.values())
        sets.append(RealSet(folder.name, folder, sub, tuple(files), None if clean else truth))
    if not sets:
        raise RealKitError(f"no real sets (VOC or YOLO folders) under {root}")
    return sets


def _threat_boxes(folder: pathlib.Path, layout: str) -> dict[str, list[tuple[str, Box, str]]]:
    """Image file name to its threat boxes: our class name, box, source class name (benign ones dropped)."""
    report = ImportReport()
    try:
        images = list(READERS[layout](folder, report))
    except ImportFailed as error:
        raise RealKitError(str(error)) from None
    if report.broken_files:
        raise RealKitError(f"{folder}: unreadable labels ({report.broken_files[0]})")
    truth: dict[str, list[tuple[str, Box, str]]] = {}
    for image in images:
        boxes = [
            (label, obj.box, obj.label.lower())
            for obj in image.objects
            if (label := our_class(obj.label)) is not None
        ]
        truth[image.path.name] = boxes
    return truth


def hits(detection: Box, box: Box) -> bool:
    """A detection box hits a true box: its centre inside it, or IoU >= 0.1."""
    if centre_inside(detection, box):
        return True
    iw = max(0.0, min(detection[2], box[2]) - max(detection[0], box[0]))
    ih = max(0.0, min(detection[3], box[3]) - max(detection[1], box[1]))
    inter = iw * ih
    union = (detection[2] - detection[0]) * (detection[3] - detection[1]) + (box[2] - box[0]) * (
        box[3] - box[1]
    )
    union -= inter
    return union > 0 and inter / union >= 0.1


def centre_inside(detection: Box, box: Box) -> bool:
    """The centre of ``detection`` lies inside ``box``."""
    cx, cy = (detection[0] + detection[2]) / 2, (detection[1] + detection[3]) / 2
    return box[0] <= cx <= box[2] and box[1] <= cy <= box[3]


@dataclass(frozen=True)
class RealScore:
    """One scored real image: image score, the best score of a detection hitting a true box (-1: none),
    whether the top detection points into a true box, and the classes of its true boxes (ours, and the
    source's own in ``sources``).

    ``best_hit`` and ``points`` see the detections ``triage scan`` reports (at or above the threshold), so
    the figures agree with the shared check; ``best_hit_traced`` sees every region traced, down to
    :data:`vision.infer.REGION_LEVEL`, for the detection a lower (station) threshold would keep.
    """

    set_name: str
    score: float
    best_hit: float
    points: bool
    classes: tuple[str, ...]
    best_hit_traced: float = -1.0
    sources: tuple[str, ...] = ()
    view: str = "identity"


def view_names(views: int) -> list[str]:
    """The first ``views`` of :data:`vision.infer.VIEWS`.

    Raises:
        ValueError: unless ``views`` is between 1 and the number of views.
    """
    if not 1 <= views <= len(VIEWS):
        raise ValueError(f"views must be between 1 and {len(VIEWS)}, got {views}")
    return list(VIEWS)[:views]


def on_belt(rgb: np.ndarray, belt: float) -> tuple[np.ndarray, int]:
    """``rgb`` laid centred on empty belt ``belt`` (at least 1) times its width, and how far it moved right.

    Raises:
        ValueError: if ``belt`` is below 1.
    """
    if belt < 1:
        raise ValueError(f"belt must be at least 1 (times the scan's width), got {belt}")
    width = rgb.shape[1]
    extra = round(width * belt) - width
    if extra <= 0:
        return rgb, 0
    left = extra // 2
    pad = ((0, 0), (left, extra - left), (0, 0))
    return np.pad(rgb, pad, constant_values=DEFAULT_PAD_VALUE), left


def at_long_side(rgb: np.ndarray, long_side: int) -> tuple[np.ndarray, float]:
    """``rgb`` shrunk (area) so that its longer side is ``long_side`` pixels, and the factor its pixel
    coordinates were multiplied by; a scan no longer than that is returned as it is (factor 1).

    Raises:
        ValueError: if ``long_side`` is below 16.
    """
    if long_side < MIN_LONG_SIDE:
        raise ValueError(f"long side must be at least {MIN_LONG_SIDE} px, got {long_side}")
    height, width = rgb.shape[:2]
    if max(height, width) <= long_side:
        return rgb, 1.0
    factor = long_side / max(height, width)
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), factor


def score_sets(
    predictor: Predictor,
    sets: Sequence[RealSet],
    progress: bool = True,
    kind: str | None = None,
    views: int = 1,
    belt: float = 1.0,
    long_side: int = 0,
    palette: Palette | None = None,
    erase: bool = False,
) -> list[RealScore]:
    """Scan every file of ``sets`` as ``triage scan`` does (same decoding, same detections), in each of
    the first ``views`` views (:func:`view_names`); the rows of a file's views follow one another. With
    ``palette`` each set is first recoloured to it as a whole (every file by the turn and gain that take the
    set's :func:`vision.palette.set_palette` to it), with ``long_side`` shrunk to it (:func:`at_long_side`),
    and with ``belt`` above 1 laid on empty belt (:func:`on_belt`); the true boxes follow. With ``erase``
    only the threat sets are scanned, each image with its true boxes erased
    (:func:`vision.erase.erase_threats`, grown by :data:`vision.erase.PAD_SHARE` of the long side) and
    scored as a clean bag.

    Threat images without a threat box (SIXray images holding only a wrench) are left out of the threat
    figures, as in the check.
    """
    names = view_names(views)
    if belt < 1:
        raise ValueError(f"belt must be at least 1 (times the scan's width), got {belt}")
    if long_side and long_side < MIN_LONG_SIDE:
        raise ValueError(f"long side must be at least {MIN_LONG_SIDE} px, got {long_side}")
    scored = []
    total = sum(len(s.files) for s in sets)
    bar = tqdm(total=total, desc="real scans", unit="img", disable=not progress)
    for real in sets:
        if erase and real.clean:
            bar.update(len(real.files))
            continue
        own = None if palette is None else set_palette(bag_palette(rgb) for rgb in _scans(real))
        for name in real.files:
            bar.update()
            truth = None if real.boxes is None else real.boxes.get(name, [])
            if truth is not None and not truth:
                continue
            rgb, factor = read_image(real.folder / real.images / name).rgb, 1.0
            if erase and truth:
                rgb, truth = _erased(rgb, [box for _, box, _ in truth]), None
            if palette is not None and own is not None:
                rgb = recolour(rgb, own, palette)
            if long_side:
                rgb, factor = at_long_side(rgb, long_side)
            rgb, moved = on_belt(rgb, belt)
            if truth is not None and (moved or factor != 1.0):
                truth = [
                    (c, (b[0] * factor + moved, b[1] * factor, b[2] * factor + moved, b[3] * factor), k)
                    for c, b, k in truth
                ]
            for view in names:
                scored.append(_scored(predictor, real.name, rgb, truth, kind, view))
    bar.close()
    return scored


def _erased(rgb: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
    """``rgb`` with ``boxes`` inpainted away (grown by :data:`vision.erase.PAD_SHARE` of the long side)."""
    region = np.zeros(rgb.shape[:2], bool)
    for x0, y0, x1, y1 in boxes:
        region[max(0, int(y0)) : max(0, int(np.ceil(y1))), max(0, int(x0)) : max(0, int(np.ceil(x1)))] = True
    return erase_threats(rgb, region, round(PAD_SHARE * max(rgb.shape[:2])))


def _scans(real: RealSet) -> Iterator[np.ndarray]:
    """The RGB pixels of every file of ``real``, read one at a time."""
    for name in real.files:
        yield read_image(real.folder / real.images / name).rgb


def _scored(
    predictor: Predictor,
    set_name: str,
    rgb: np.ndarray,
    truth: list[tuple[str, Box, str]] | None,
    kind: str | None,
    view: str,
) -> RealScore:
    [prediction] = predictor.predict_batch([rgb], detection_threshold=TRACED_FLOOR, kinds=[kind], view=view)
    if truth is None:
        return RealScore(set_name, prediction.score, -1.0, False, (), view=view)
    boxes = [box for _, box, _ in truth]
    traced: list[tuple[float, Box]] = [
        (d.score, (float(d.box[0]), float(d.box[1]), float(d.box[2]), float(d.box[3])))
        for d in prediction.detections
    ]
    dets = [d for d in traced if d[0] >= prediction.threshold]
    best = max((s for s, b in dets if any(hits(b, t) for t in boxes)), default=-1.0)
    best_traced = max((s for s, b in traced if any(hits(b, t) for t in boxes)), default=-1.0)
    top = max(dets, key=lambda d: d[0]) if dets else None
    points = top is not None and any(centre_inside(top[1], t) for t in boxes)
    classes = tuple(sorted({c for c, _, _ in truth}))
    sources = tuple(sorted({source for _, _, source in truth}))
    return RealScore(set_name, prediction.score, best, points, classes, best_traced, sources, view)


def real_report(scored: Sequence[RealScore], threshold: float, clean_sets: Sequence[str]) -> dict[str, Any]:
    """The figures of the module docstring, per set and per class, from :func:`score_sets`' rows."""
    clean = set(clean_sets)
    views = max(1, len({r.view for r in scored}))
    pooled = np.asarray([r.score for r in scored if r.set_name in clean])
    at5 = float(np.quantile(pooled, 1 - REAL_FALSE_ALARM_TARGET)) if len(pooled) else float("nan")
    sweep = [float(np.quantile(pooled, 1 - rate)) for rate in REAL_FALSE_ALARM_SWEEP] if len(pooled) else []
    report: dict[str, Any] = {
        "threshold": threshold,
        "threshold_at_5pct_real_fa": at5,
        "views": views,
        "sets": {},
    }
    names = list(dict.fromkeys(r.set_name for r in scored))
    for name in names:
        rows = [r for r in scored if r.set_name == name]
        if name in clean:
            rate = sum(r.score > threshold for r in rows) / len(rows)
            bags = len(rows) // views
            report["sets"][name] = {
                "n": bags,
                "false_alarms": _round(rate),
                "false_alarms_ci95": _bag_interval(rate, bags),
            }
            continue
        report["sets"][name] = {"n": len(rows) // views, **_threat_figures(rows, threshold, at5, sweep)}
        classes = sorted({c for r in rows for c in r.classes})
        if len(classes) > 1:
            report["sets"][name]["classes"] = {
                c: {
                    "n": sum(c in r.classes for r in rows) // views,
                    **_threat_figures([r for r in rows if c in r.classes], threshold, at5, sweep),
                }
                for c in classes
            }
        # Where the source's own classes merge into fewer of ours, the figures per source class too: which
        # kind of knife is missed (OPIXray's straight and utility knives, thin blades) is hidden in "blade".
        sources = sorted({k for r in rows for k in r.sources})
        if len(sources) > max(1, len(classes)):
            report["sets"][name]["source_classes"] = {
                k: {
                    "n": sum(k in r.sources for r in rows) // views,
                    **_threat_figures([r for r in rows if k in r.sources], threshold, at5, sweep),
                }
                for k in sources
            }
    report["false_alarms_pooled"] = _round(float((pooled > threshold).mean())) if len(pooled) else None
    # Per threat image, the level up to which it is localised (its score and its best traced hit both
    # above): what site calibration reads to say the detection a station threshold costs
    # (vision.calibration.detection_at). Regions are traced down to REGION_LEVEL (or the threshold, if
    # lower), so below that these are lower bounds.
    report["localised_scores"] = {
        name: sorted(round(min(r.score, r.best_hit_traced), 4) for r in scored if r.set_name == name)
        for name in names
        if name not in clean
    }
    report["localised_scores_exact_from"] = min(threshold, REGION_LEVEL)
    return report


def _threat_figures(
    rows: Sequence[RealScore], threshold: float, at5: float, sweep: Sequence[float]
) -> dict[str, float | None]:
    figures = ("localised", "flagged", "pointing", "localised_at_5pct_real_fa", SWEEP_FIGURE)
    if not rows:
        return dict.fromkeys(figures)
    score = np.asarray([r.score for r in rows])
    best = np.asarray([r.best_hit for r in rows])
    level = np.minimum(score, [r.best_hit_traced for r in rows])
    over = float(np.mean([(level > t).mean() for t in sweep])) if sweep else None
    return {
        "localised": _round(float(((score > threshold) & (best > threshold)).mean())),
        "flagged": _round(float((score > threshold).mean())),
        "pointing": _round(float(np.mean([r.points for r in rows]))),
        "localised_at_5pct_real_fa": (
            _round(float(((score > at5) & (best > at5)).mean())) if np.isfinite(at5) else None
        ),
        SWEEP_FIGURE: _round(over),
    }


def evaluate_real(
    predictor: Predictor,
    kit: str | pathlib.Path,
    all_files: bool = False,
    progress: bool = True,
    views: int = 1,
    belt: float = 1.0,
    long_side: int = 0,
    palette: Palette | None = None,
    erase: bool = False,
) -> dict[str, Any]:
    """Score ``predictor`` on the real kit (its validation files unless ``all_files``, each in ``views``
    views, recoloured to ``palette``, shrunk to ``long_side`` px if given, laid on ``belt`` times its width of
    belt) at its shared threshold; the report names the kit, whether the split or every file was scored, and
    the stresses applied. With ``erase``, only the threat sets, their threats erased, as clean bags."""
    sets = discover(kit, all_files)
    if erase:
        sets = [s for s in sets if not s.clean]
        if not sets:
            raise RealKitError(f"no real threat sets under {kit} to erase threats from")
    scored = score_sets(
        predictor, sets, progress, views=views, belt=belt, long_side=long_side, palette=palette, erase=erase
    )
    clean = [s.name for s in sets] if erase else None
    report = kit_report(kit, sets, scored, predictor.threshold, all_files, clean)
    if erase:
        report["threats_erased"] = True
    if belt != 1:
        report["belt"] = belt
    if long_side:
        report["long_side"] = long_side
    if palette is not None:
        report["palette"] = {"warm_hue": palette.warm_hue, "saturation": palette.saturation}
    return report


def evaluate_stresses(
    predictor: Predictor,
    kit: str | pathlib.Path,
    stresses: Sequence[Stress] = KIT_SHORTCUTS,
    all_files: bool = False,
    progress: bool = True,
    views: int = 1,
) -> dict[str, dict[str, Any]]:
    """:func:`evaluate_real` of the kit under each of ``stresses``, by stress name, all at the model's
    own threshold (a stress moves the scans, not the threshold a station runs at). A kit of clean sets only
    has no threats to erase: the erasing stresses are left out for it."""
    if not any(not s.clean for s in discover(kit, all_files)):
        stresses = [stress for stress in stresses if not stress.erase]
    return {
        stress.name: evaluate_real(
            predictor,
            kit,
            all_files,
            progress=progress,
            views=views,
            long_side=stress.long_side,
            palette=stress.palette,
            erase=stress.erase,
        )
        for stress in stresses
    }


def format_stresses(plain: Mapping[str, Any], stressed: Mapping[str, Mapping[str, Any]]) -> str:
    """One row for the files as they are, then one a stress: false alarms per clean set and localised
    detection per threat set at the model's threshold; then, as a station would see it after calibrating
    its own threshold on its clean bags (README, "Site calibration"), the threshold that lets 5% of the
    clean bags shown so through and the threats shown so localised at it.

    A scanner whose palette or export size the network has tied to threats alarms on its clean bags at the
    card's threshold; calibrated on them, the station stops those alarms and pays in threats missed. The
    last columns are that price, which the false alarms at the card's threshold do not show (1.17.1 in the
    other scanner's palette: false alarms 0.120 / 0.072 and OPIXray knives 0.571 at 0.767; at the site's
    threshold, 0.815, knives 0.504)."""
    clean = [name for name, v in plain["sets"].items() if "false_alarms" in v]
    threats = [name for name, v in plain["sets"].items() if "false_alarms" not in v]
    head = " / ".join(clean)
    rows = [
        f"under the kit's shortcuts, threshold {plain['threshold']:.4f}: false alarms ({head}); "
        f"localised ({' / '.join(threats)}); then at the threshold letting 5% of these clean bags through "
        "(a site calibrated on them): that threshold, localised"
    ]
    for label, report in (("as the files are", plain), *stressed.items()):
        sets = report["sets"]
        if report.get("threats_erased"):
            alarms = " / ".join(_fmt(sets[name]["false_alarms"]) for name in threats if name in sets)
            rows.append(
                f"  {label:34s} false alarms ({' / '.join(n for n in threats if n in sets)}) {alarms}"
            )
            continue
        alarms = " / ".join(_fmt(sets[name]["false_alarms"]) for name in clean)
        found = " / ".join(_fmt(sets[name]["localised"]) for name in threats)
        site = " / ".join(_fmt(sets[name]["localised_at_5pct_real_fa"]) for name in threats)
        at = _fmt(report["threshold_at_5pct_real_fa"], 4)
        rows.append(f"  {label:34s} {alarms:>15s}   {found}   | {at}   {site}")
    return "\n".join(rows)


def kit_report(
    kit: str | pathlib.Path,
    sets: Sequence[RealSet],
    scored: Sequence[RealScore],
    threshold: float,
    all_files: bool = False,
    clean_sets: Sequence[str] | None = None,
) -> dict[str, Any]:
    """:func:`real_report` of rows already scored on ``sets`` of ``kit``, naming the kit and the files;
    ``clean_sets`` (default: the clean sets of ``sets``) are judged by their false alarms."""
    clean = [s.name for s in sets if s.clean] if clean_sets is None else list(clean_sets)
    report = real_report(scored, threshold, clean)
    return {"kit": str(kit), "files": "all" if all_files else "validation split (val.txt)", **report}


def as_they_are(scored: Sequence[RealScore]) -> list[RealScore]:
    """The rows of files as they are (the identity view), from rows scored in several views."""
    return [r for r in scored if r.view == "identity"]


def calibrate_on_clean_sets(
    predictor: Predictor,
    sets: Sequence[RealSet],
    false_alarm_rate: float,
    progress: bool = True,
    views: int = 1,
) -> tuple[float, dict[str, Any]]:
    """The threshold that holds ``false_alarm_rate`` on **every** real clean set, and its record.

    Each clean set (a scanner) gets the threshold at the rate on its own bags (each bag in ``views``
    views, each view a scan); the highest of them is taken, so no scanner of the kit alarms on more than
    the target, rather than the pooled bags (where the larger set would decide).

    Raises:
        RealKitError: if ``sets`` holds no clean set.
    """
    from vision.evaluation.metrics import threshold_at_far

    clean = [s for s in sets if s.clean]
    if not clean:
        raise RealKitError("no real clean sets to calibrate on")
    rows = score_sets(predictor, clean, progress, views=views)
    per_set: dict[str, Any] = {}
    for real in clean:
        scores = [r.score for r in rows if r.set_name == real.name]
        per_set[real.name] = {
            "clean_images": len(scores) // views,
            "threshold": threshold_at_far(scores, false_alarm_rate),
        }
    threshold = max(v["threshold"] for v in per_set.values())
    for real in clean:
        scores = [r.score for r in rows if r.set_name == real.name]
        rate = sum(score >= threshold for score in scores) / len(scores)
        per_set[real.name]["false_alarm_rate_at_threshold"] = _round(rate)
        per_set[real.name]["false_alarm_rate_ci95"] = _bag_interval(rate, per_set[real.name]["clean_images"])
    rule = "the highest of the thresholds that hold the rate on each real clean set's validation files"
    return threshold, {
        "false_alarm_rate": false_alarm_rate,
        "rule": rule if views == 1 else f"{rule}, each bag in {views} views ({', '.join(view_names(views))})",
        "views": views,
        "sets": per_set,
    }


def with_real_thresholds(
    predictor: Predictor,
    sets: Sequence[RealSet],
    simulated: Thresholds,
    record: Mapping[str, Any],
    kit: str | pathlib.Path,
    false_alarm_rate: float,
    progress: bool = True,
    views: int = 1,
) -> tuple[Thresholds, dict[str, Any]]:
    """``simulated`` thresholds with the shared and luggage ones calibrated on the real clean bags of
    ``sets`` instead (:func:`calibrate_on_clean_sets`); kinds with no real data (parcel, vehicle) keep
    their simulated calibration. The calibration ``record`` gets the real record under ``real``.

    Raises:
        RealKitError: if ``sets`` holds no clean set.
    """
    threshold, real_record = calibrate_on_clean_sets(predictor, sets, false_alarm_rate, progress, views=views)
    by_kind = {kind: t for kind, t in simulated.by_kind.items() if kind != "luggage"}
    record = {
        **dict(record),
        "real": {"kit": str(kit), **real_record},
        "shared_and_luggage_from": "real clean bags (record['real'])",
    }
    return Thresholds(threshold, {**by_kind, "luggage": threshold}), record


def card_section(report: Mapping[str, Any], sets: Sequence[RealSet]) -> dict[str, Any]:
    """The model card's ``real`` section: the figures of :func:`evaluate_real` and the sets' sources."""
    return {
        **dict(report),
        "definitions": {
            "false_alarms": "share of a clean set's bags scoring above the shared threshold",
            "localised": "share of threat images above the threshold with a detection above it whose box "
            "hits a true box (centre inside, or IoU >= 0.1)",
            "pointing": "share of threat images whose top detection's centre is inside a true box",
            "localised_at_5pct_real_fa": "localised, at the threshold letting 5% of the pooled real clean "
            "bags through",
            SWEEP_FIGURE: "localised, averaged over the thresholds letting 2%, 3%, ... 10% of the pooled "
            "real clean bags through",
        },
        "sources": {
            s.name: {
                **REAL_SOURCES.get(
                    s.name, {"dataset": "see the kit's README", "terms": "see the kit's README"}
                ),
                "files_scored": len(s.files),
            }
            for s in sets
        },
    }


def format_real(report: Mapping[str, Any]) -> str:
    """The report as the check prints it: one line a set, then the pooled false alarms."""
    views = report.get("views", 1)
    seen = f", each in {views} views (mirrored)" if views > 1 else ""
    if report.get("palette"):
        hue, saturation = report["palette"]["warm_hue"], report["palette"]["saturation"]
        seen += f", each recoloured to warm hue {hue:g} deg and saturation {saturation:g}"
    if report.get("long_side"):
        seen += f", each shrunk to a long side of {report['long_side']} px"
    if report.get("belt", 1) != 1:
        seen += f", each laid on belt {report['belt']:g} times its width"
    lines = [f"real scans ({report.get('files', '')}{seen}), model threshold {report['threshold']:.4f}"]
    for name, v in report["sets"].items():
        if "false_alarms" in v:
            interval = v.get("false_alarms_ci95")
            spread = f" (95% CI {interval[0]:.3f}-{interval[1]:.3f})" if interval else ""
            lines.append(f"  {name:15s} n {v['n']:4d}  false alarms {v['false_alarms']:.3f}{spread}")
            continue
        lines.append(_threat_line(name, v))
        for label, c in (v.get("classes") or {}).items():
            lines.append(_threat_line(f"  {label}", c))
        for label, c in (v.get("source_classes") or {}).items():
            lines.append(_threat_line(f"  ({label})", c))
    pooled = report.get("false_alarms_pooled")
    lines.append(
        f"  pooled false alarms on real clean bags {_fmt(pooled)}; "
        f"threshold for 5% of them {_fmt(report['threshold_at_5pct_real_fa'], 4)}"
    )
    return "\n".join(lines)


def _threat_line(name: str, v: Mapping[str, Any]) -> str:
    return (
        f"  {name:15s} n {v['n']:4d}  localised {_fmt(v['localised'])}  flagged {_fmt(v['flagged'])}  "
        f"pointing {_fmt(v['pointing'])}  localised at 5% real FA {_fmt(v['localised_at_5pct_real_fa'])}  "
        f"over 2-10% {_fmt(v.get(SWEEP_FIGURE))}"
    )


def _bag_interval(rate: float, bags: int) -> list[float | None] | None:
    """The 95% Wilson interval of a false-alarm ``rate`` measured on ``bags`` bags.

    Views of one bag are not independent scans, so the interval counts each bag once, whatever the rate
    was measured over. A few dozen bags say little about a rate of a few percent: 1 alarm in 25 is
    0.7-19.5%.
    """
    interval = wilson_interval(round(rate * bags), bags)
    return None if interval is None else [_round(v) for v in interval]


def _round(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else round(value, 4)


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"
