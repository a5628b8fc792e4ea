"""The promotion gate: a candidate model against the baseline on the same data, and the verdict on disk.

``compare_models`` scores both model folders with the ONNX ``Predictor`` (no torch) through the
evaluation code in ``vision.evaluation.evaluate``, and compares, class by class, the recall
at each model's own threshold, plus image AUROC and the detection rate at 5 % false alarms. A candidate
fails when any class's recall, or the AUROC, falls by more than ``margin`` (classes absent from the data
are not judged). The detection rate at 5 % false alarms is shown, not judged.

Each class row also counts the instances the candidate lost (the baseline found them, it does not) and
gained, and the one-sided sign-test p-value of that split: the chance that two equally good models differ
by as many losses. On a few dozen instances one lost knife moves recall by more than the margin, so the p
tells a real fall from a coin flip. With ``alpha`` set, a class's fall past the margin fails only when it
is also significant (p < alpha); by default (``alpha`` None) the margin alone judges, as before. The
recall of all instances pooled is judged the same way, so small falls in many classes still add up.

Recall at each model's own thresholds mixes two things: how well it finds threats, and how many false
alarms its thresholds allow. The verdict also shows (not judges) both models' recall at thresholds that
raise the baseline's number of clean alarms per scene kind on this data, which compares like with like.

**Real scans first.** With a folder of real sets (``real_dir``, e.g. ``../shared/real/xray``), both models
are also scored on its validation files (:mod:`vision.evaluation.real`), and those rows are judged before the
simulator's: a candidate whose false alarms on any real clean set rise, or whose localised detection on
any real threat set (or class in it) falls, by more than the margin fails whatever the simulated data
says (with ``alpha``, only when the sign test over the paired images finds the change significant).
Classes the real sets hold are then judged on the real rows alone; the simulated rows of those classes
are shown, and the simulated data judges the classes no real data covers, and the AUROC.

The verdict is written as ``gate.json`` into the candidate folder, with the baseline it was measured
against, the data (folder and SHA-256 of its ``annotations.json``) and hashes of the candidate's own
``model.onnx`` and ``model.json``, so ``gate_refusal`` can tell a verdict that no longer applies: another
model is now served, or the candidate's files changed after the gate.

**The INT8 graph is gated too.** A service with ``TRIAGE_INT8=true`` serves each model's INT8 graph where
its card has one (``triage quantize``), and its FP32 graph otherwise; one with ``TRIAGE_INT8`` unset serves
the INT8 graph of a model whose card makes it the default (``triage quantize --default``). ``int8=True``
judges the two models as a ``TRIAGE_INT8=true`` service serves them, and the verdict goes to
``gate_int8.json`` (with the INT8 file's hash). A candidate that carries an INT8 graph is promoted only when
both verdicts passed: the registry is shared by the stations that serve FP32 and those that serve INT8, so
neither graph may reach them ungated.
"""

from __future__ import annotations

import datetime as dt
import json
import pathlib
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from vision.classes import THREAT_CLASSES
from vision.evaluation.metrics import DEFAULT_FALSE_ALARM_RATE, DR_KEY, sign_test
from vision.files import file_sha256, write_atomic
from vision.registry import int8_entry

if TYPE_CHECKING:
    from vision.evaluation.evaluate import Scored
    from vision.evaluation.real import RealScore
    from vision.infer import Predictor, Thresholds

GATE_FILE = "gate.json"
GATE_INT8_FILE = "gate_int8.json"
DEFAULT_MARGIN = 0.02
FAR_SHOWN = DEFAULT_FALSE_ALARM_RATE
_DR_KEY = DR_KEY


def gate_file(int8: bool = False) -> str:
    """The verdict's file name in a model folder: of the FP32 graph, or of the INT8 graph."""
    return GATE_INT8_FILE if int8 else GATE_FILE


def int8_file(model_dir: pathlib.Path) -> str | None:
    """The file name of a model folder's INT8 graph, as its card names it (None: it has none)."""
    entry = int8_entry(model_dir)
    return pathlib.Path(entry.file).name if entry is not None and entry.file else None


def model_hashes(model_dir: pathlib.Path, int8: bool = False) -> dict[str, str]:
    """SHA-256 of the graph a verdict was measured on (``model.onnx``, or with ``int8`` the INT8 file its
    card names) and of ``model.json``."""
    graph = int8_file(model_dir) if int8 else None
    return {name: file_sha256(model_dir / name) for name in (graph or "model.onnx", "model.json")}


def _delta(candidate: float | None, baseline: float | None) -> float | None:
    return None if candidate is None or baseline is None else round(candidate - baseline, 4)


def _row(baseline: float | None, candidate: float | None, margin: float | None) -> dict[str, Any]:
    delta = _delta(candidate, baseline)
    row: dict[str, Any] = {"baseline": baseline, "candidate": candidate, "delta": delta}
    if margin is not None:
        # Not measurable on this data (no instance, or one class of images only): not judged.
        row["passed"] = delta is None or delta >= -margin - 1e-9
    return row


def judge(
    baseline: dict[str, Any],
    candidate: dict[str, Any],
    margin: float,
    paired: Mapping[str, tuple[Sequence[bool], Sequence[bool]]] | None = None,
    alpha: float | None = None,
    judged_on_real: Collection[str] = (),
) -> dict[str, Any]:
    """Side-by-side metrics of two ``evaluate.report`` results and whether the candidate passes.

    Args:
        baseline: ``report(...)`` of the baseline model.
        candidate: ``report(...)`` of the candidate on the same samples.
        margin: the largest fall allowed in any class's recall and in AUROC.
        paired: per class, the baseline's and the candidate's ``instance_hits`` on the same samples;
            classes in it get ``lost``, ``gained`` and the sign test's ``p``.
        alpha: when set, a class falling past the margin fails only if its ``p`` is under ``alpha``.
        judged_on_real: classes judged by real scans instead (their rows here are shown, not judged, and
            left out of the pooled recall).

    Returns:
        ``{"auroc", "dr_at_far_0.05", "classes": {label: row}, "failures": [...], "passed"}``; a row is
        ``{"baseline", "candidate", "delta", "passed"}`` (``instances``, and with ``paired`` ``lost``,
        ``gained``, ``p`` too for classes; ``within_chance`` when ``alpha`` let a fall past the margin pass).
        With ``paired``, ``recall`` is the same row over all instances pooled, judged like a class.
    """
    base, cand = baseline["overall"], candidate["overall"]
    metrics: dict[str, Any] = {
        "auroc": _row(base["auroc"], cand["auroc"], margin),
        _DR_KEY: _row(base[_DR_KEY], cand[_DR_KEY], None),
        "classes": {},
    }
    failures = []
    if not metrics["auroc"]["passed"]:
        failures.append(f"AUROC {base['auroc']:.3f} -> {cand['auroc']:.3f}")
    for label, base_class in base["classes"].items():
        if paired is not None and label in paired:
            # the same recall as the reports', from the hits, and the sign test beside it
            row = _paired_row(*paired[label], margin, alpha)
        else:
            cand_recall = cand["classes"].get(label, {}).get("recall")
            row = {"instances": base_class["instances"], **_row(base_class["recall"], cand_recall, margin)}
        if label in judged_on_real:
            row = {key: value for key, value in row.items() if key not in ("passed", "within_chance")}
            row["judged_on"] = "real"
        metrics["classes"][label] = row
        if not row.get("passed", True):
            failures.append(_failure(f"{label} recall", row))
    simulated_only = {k: v for k, v in (paired or {}).items() if k not in judged_on_real}
    if simulated_only:
        # All instances pooled: falls too small to tell class by class can add up to a real one.
        pooled = _paired_row(*_pooled(simulated_only), margin, alpha)
        metrics["recall"] = pooled
        if not pooled["passed"]:
            failures.append(_failure("recall of all instances", pooled))
    return {**metrics, "failures": failures, "passed": not failures}


def judge_real(
    baseline: Sequence[RealScore],
    candidate: Sequence[RealScore],
    thresholds: tuple[float, float],
    clean_sets: Collection[str],
    margin: float,
    alpha: float | None = None,
) -> dict[str, Any]:
    """Real rows: false alarms per clean set and localised detection per threat set and class.

    Args:
        baseline: :func:`vision.evaluation.real.score_sets` rows of the baseline.
        candidate: the candidate's rows on the same files, in the same order.
        thresholds: the baseline's and the candidate's shared thresholds (each judged by its own).
        clean_sets: names of the sets of clean bags.
        margin: the largest rise in false alarms and fall in localised detection allowed.
        alpha: as in :func:`judge`, over the paired images.

    Rows scored in several views (``score_sets(..., views=N)``, a file's views one after another) count as
    scans in the rates; the sign test pairs files, not views (a file is lost when the candidate gets fewer
    of its views right), since the views of one bag are not independent.

    Returns:
        ``{"sets": {name: row}, "classes": {name/label: row}, "failures": [...]}``; a row as
        :func:`_paired_row`'s with ``metric`` ``"false_alarms"`` or ``"localised"`` (a false-alarm row
        shows rates of alarms; it is judged on the clear bags, paired).
    """
    if [(r.set_name, r.view) for r in baseline] != [(r.set_name, r.view) for r in candidate]:
        raise ValueError("the real rows of the two models are not the same images")
    base_threshold, cand_threshold = thresholds
    views = max(1, len({r.view for r in baseline}))

    def ok(row: RealScore, threshold: float) -> bool:
        if row.set_name in clean_sets:
            return not row.score > threshold
        return row.score > threshold and row.best_hit > threshold

    sets: dict[str, Any] = {}
    classes: dict[str, Any] = {}
    failures: list[str] = []
    names = list(dict.fromkeys(r.set_name for r in baseline))
    for name in names:
        index = [i for i, r in enumerate(baseline) if r.set_name == name]
        groups = {name: index}
        if name not in clean_sets:
            labels = sorted({c for i in index for c in baseline[i].classes})
            if len(labels) > 1:
                groups |= {f"{name}/{c}": [i for i in index if c in baseline[i].classes] for c in labels}
        for title, members in groups.items():
            row = _paired_row(
                [ok(baseline[i], base_threshold) for i in members],
                [ok(candidate[i], cand_threshold) for i in members],
                margin,
                alpha,
                views,
            )
            row = _as_false_alarms(row) if name in clean_sets else {"metric": "localised", **row}
            (sets if title == name else classes)[title] = row
            if not row["passed"]:
                failures.append(_failure(f"real {title} {row['metric'].replace('_', ' ')}", row))
    return {"sets": sets, "classes": classes, "failures": failures}


def _as_false_alarms(row: dict[str, Any]) -> dict[str, Any]:
    """A paired row of clear bags shown as false alarms (1 - clear rate); lost and gained count clear bags."""
    flipped = dict(row, metric="false_alarms")
    for key in ("baseline", "candidate"):
        flipped[key] = None if row[key] is None else round(1 - row[key], 4)
    flipped["delta"] = None if row["delta"] is None else round(-row["delta"], 4)
    return flipped


def at_baseline_false_alarms(
    baseline: Sequence[Scored], candidate: Sequence[Scored], baseline_thresholds: Thresholds
) -> dict[str, Any] | None:
    """Both models' recall at thresholds raising the baseline's number of clean alarms per scene kind.

    Judged at its own thresholds, a model may give up recall for fewer false alarms or the other way
    round; at equal false alarms their recall compares like with like. Shown, not judged: the served
    thresholds are what operators get.

    Args:
        baseline: the baseline's ``score_samples``.
        candidate: the candidate's, on the same samples.
        baseline_thresholds: the thresholds whose clean alarms both models are held to.

    Returns:
        ``{"clean_alarms": {kind: {"alarms", "clean"}}, "recall": pooled row, "classes": {label: row}}``,
        rows as :func:`judge`'s less ``passed``; None when the samples hold no clean scan.
    """
    from vision.evaluation.evaluate import clean_alarms, instance_hits, thresholds_for_alarms

    alarms = clean_alarms(baseline, baseline_thresholds)
    if not alarms:
        return None
    base_hits = instance_hits(baseline, thresholds_for_alarms(baseline, alarms))
    cand_hits = instance_hits(candidate, thresholds_for_alarms(candidate, alarms))
    paired = {label: (base_hits[label], cand_hits[label]) for label in THREAT_CLASSES if label in base_hits}
    return {
        "clean_alarms": {kind: {"alarms": count, "clean": clean} for kind, (count, clean) in alarms.items()},
        "recall": _paired_row(*_pooled(paired), None, None),
        "classes": {label: _paired_row(*hits, None, None) for label, hits in paired.items()},
    }


def _failure(title: str, row: dict[str, Any]) -> str:
    odds = f" ({row['lost']} lost, {row['gained']} gained, p {row['p']:.3f})" if "p" in row else ""
    return f"{title} {row['baseline']:.3f} -> {row['candidate']:.3f}{odds}"


def _pooled(
    paired: Mapping[str, tuple[Sequence[bool], Sequence[bool]]],
) -> tuple[list[bool], list[bool]]:
    """The baseline's and the candidate's hits of all classes, one after another."""
    return (
        [hit for base_hits, _ in paired.values() for hit in base_hits],
        [hit for _, cand_hits in paired.values() for hit in cand_hits],
    )


def _paired_row(
    baseline_hits: Sequence[bool],
    candidate_hits: Sequence[bool],
    margin: float | None,
    alpha: float | None,
    views: int = 1,
) -> dict[str, Any]:
    """A row of recall over paired instances, with the sign test beside the margin's verdict.

    With ``margin`` None the row is shown, not judged. With ``alpha`` set, a fall past the margin that
    the sign test puts down to chance passes (``within_chance``). With ``views`` above 1 each run of that
    many hits is one instance seen in several views: the rates count every view, the pairing instances.
    """
    row = {
        "instances": len(baseline_hits) // views,
        **_row(_recall(baseline_hits), _recall(candidate_hits), margin),
        **_paired(_per_instance(baseline_hits, views), _per_instance(candidate_hits, views)),
    }
    if alpha is not None and not row["passed"] and row["p"] >= alpha:
        row["passed"] = row["within_chance"] = True
    return row


def _per_instance(hits: Sequence[bool], views: int) -> list[int]:
    """How many of each instance's ``views`` consecutive hits are hits."""
    if len(hits) % views:
        raise ValueError(f"{len(hits)} hits are not whole runs of {views} views")
    return [sum(hits[start : start + views]) for start in range(0, len(hits), views)]


def _recall(hits: Sequence[bool]) -> float | None:
    return round(sum(hits) / len(hits), 4) if hits else None


def _paired(baseline_hits: Sequence[int], candidate_hits: Sequence[int]) -> dict[str, Any]:
    """Instances the candidate lost and gained against the baseline, and the sign test's p of that split.

    Each entry counts the views of one instance hit (0 or 1 with one view): an instance is lost when the
    candidate hits it fewer times.
    """
    if len(baseline_hits) != len(candidate_hits):
        raise ValueError(f"{len(baseline_hits)} baseline hits against {len(candidate_hits)} of the candidate")
    lost = sum(int(b > c) for b, c in zip(baseline_hits, candidate_hits, strict=True))
    gained = sum(int(c > b) for b, c in zip(baseline_hits, candidate_hits, strict=True))
    return {"lost": lost, "gained": gained, "p": round(sign_test(lost, gained), 4)}


def check_alpha(alpha: float | None) -> None:
    """Refuse a sign-test level outside (0, 1): at 0 every fall would pass as chance."""
    if alpha is not None and not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")


def compare_models(
    candidate_dir: str | pathlib.Path,
    baseline_dir: str | pathlib.Path,
    data_dir: str | pathlib.Path,
    margin: float = DEFAULT_MARGIN,
    progress: bool = True,
    threads: int = 2,
    alpha: float | None = None,
    real_dir: str | pathlib.Path | None = None,
    real_views: int = 1,
    int8: bool = False,
) -> dict[str, Any]:
    """Evaluate both models on the same dataset (and real sets) and judge the candidate, real rows first.

    Args:
        candidate_dir: the model folder to be promoted.
        baseline_dir: the model folder it must not be worse than (usually the served one).
        data_dir: a dataset in the simulator's layout (``annotations.json``, ``images/``).
        margin: the largest fall allowed in any class's recall and in AUROC (0 to 1).
        progress: show progress bars.
        threads: onnxruntime threads per model.
        alpha: when set, a class's fall past the margin fails only when the sign test finds it
            significant (p < alpha, 0 to 1); None judges by the margin alone.
        real_dir: a folder of real sets (:func:`vision.evaluation.real.discover`), scored on their
            validation files and judged first (see the module docstring).
        real_views: score each real file in this many views (:func:`vision.evaluation.real.view_names`):
            the as-is view is the one every earlier choice was made on, the mirrored ones are not.
        int8: judge the graphs a ``TRIAGE_INT8`` service serves: the candidate's INT8 graph, against the
            baseline's INT8 graph where it has one (its FP32 graph otherwise), each at its own thresholds.

    Returns:
        The verdict, as written to ``gate.json`` (``gate_int8.json`` with ``int8``).

    Raises:
        ValueError: a bad margin or alpha, a dataset without annotations, or ``int8`` with a candidate
            that has no INT8 graph.
        ModelLoadError: either folder is not a loadable model.
    """
    # Imported here: evaluation reads datasets (OpenCV, tqdm); the service only needs the verdict check.
    from vision.datasets import load_dataset
    from vision.evaluation.evaluate import instance_hits, report, score_samples
    from vision.infer import Predictor

    if not 0.0 <= margin < 1.0:
        raise ValueError(f"margin must be in [0, 1), got {margin}")
    check_alpha(alpha)
    candidate_path, baseline_path = pathlib.Path(candidate_dir), pathlib.Path(baseline_dir)
    data_path = pathlib.Path(data_dir)
    annotations = data_path / "annotations.json"
    if not annotations.is_file():
        raise ValueError(f"{data_path} holds no annotations.json")
    samples = load_dataset(data_path)
    if not samples:
        raise ValueError(f"{data_path} holds no images")
    if int8 and int8_file(candidate_path) is None:
        raise ValueError(f"{candidate_path} has no INT8 graph to judge (make one: triage quantize)")
    baseline = Predictor(baseline_path, threads=threads, int8=int8 and int8_file(baseline_path) is not None)
    candidate = Predictor(candidate_path, threads=threads, int8=int8)
    baseline_scored = score_samples(baseline, samples, progress=progress)
    candidate_scored = score_samples(candidate, samples, progress=progress)
    baseline_report = report(baseline_scored, baseline.thresholds)
    candidate_report = report(candidate_scored, candidate.thresholds)
    baseline_hits = instance_hits(baseline_scored, baseline.thresholds)
    candidate_hits = instance_hits(candidate_scored, candidate.thresholds)
    paired = {label: (hits, candidate_hits[label]) for label, hits in baseline_hits.items()}
    real: dict[str, Any] | None = None
    if real_dir is not None:
        real = judge_real_kit(
            baseline, candidate, pathlib.Path(real_dir), margin, alpha, progress, real_views
        )
    verdict = judge(
        baseline_report,
        candidate_report,
        margin,
        paired,
        alpha,
        judged_on_real=real["classes_held"] if real else (),
    )
    if real is not None:
        verdict["failures"] = real["failures"] + verdict["failures"]
        verdict["passed"] = not verdict["failures"]
    matched = at_baseline_false_alarms(baseline_scored, candidate_scored, baseline.thresholds)
    overall = baseline_report["overall"]
    return {
        "candidate": {
            "name": candidate.name,
            "version": candidate.version,
            "threshold": candidate.threshold,
            "kind_thresholds": dict(candidate.thresholds.by_kind),
            "precision": candidate.precision,
            "sha256": model_hashes(candidate_path, int8),
        },
        "baseline": {
            "name": baseline.name,
            "version": baseline.version,
            "threshold": baseline.threshold,
            "kind_thresholds": dict(baseline.thresholds.by_kind),
            "precision": baseline.precision,
            "path": str(baseline_path.resolve()),
        },
        "data": {
            "path": str(data_path.resolve()),
            "annotations_sha256": file_sha256(annotations),
            "images": overall["images"],
            "threat_images": overall["threat_images"],
        },
        "margin": margin,
        "alpha": alpha,
        "judged": (
            "real scans first (false alarms per clean set, localised detection per threat set and class); "
            "then "
            if real is not None
            else ""
        )
        + "per-class recall at each model's own thresholds, and image AUROC"
        + (
            "" if alpha is None else f"; a class's fall fails only when significant (sign test p < {alpha:g})"
        ),
        **verdict,
        **({"real": real} if real is not None else {}),
        **({"at_baseline_false_alarms": matched} if matched else {}),
        "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def judge_real_kit(
    baseline: Predictor,
    candidate: Predictor,
    real_dir: pathlib.Path,
    margin: float,
    alpha: float | None,
    progress: bool,
    views: int = 1,
) -> dict[str, Any]:
    """Score both models on the real sets' validation files (in ``views`` views) and :func:`judge_real`
    them: the gate's real rows, and ``triage quantize``'s INT8 graph against its FP32 graph."""
    from vision.evaluation.real import discover, real_report, score_sets

    sets = discover(real_dir)
    clean = [s.name for s in sets if s.clean]
    base_rows = score_sets(baseline, sets, progress, views=views)
    cand_rows = score_sets(candidate, sets, progress, views=views)
    judged = judge_real(base_rows, cand_rows, (baseline.threshold, candidate.threshold), clean, margin, alpha)
    return {
        "path": str(real_dir.resolve()),
        "files": "validation split (val.txt)",
        "views": views,
        **judged,
        "classes_held": sorted({c for r in base_rows for c in r.classes}),
        "baseline_report": real_report(base_rows, baseline.threshold, clean),
        "candidate_report": real_report(cand_rows, candidate.threshold, clean),
    }


def write_gate(model_dir: str | pathlib.Path, verdict: dict[str, Any]) -> pathlib.Path:
    """Write ``verdict`` as ``gate.json`` in ``model_dir`` atomically (a temp file renamed over it);
    ``gate_int8.json`` when it judged the candidate's INT8 graph.

    The file gets the permissions of any file made there (the umask's), like the card beside it: a
    ``mkstemp`` file would stay owner-only, and a service running as another user could not read it.
    """
    judged = verdict.get("candidate", {})
    target = pathlib.Path(model_dir) / gate_file(
        isinstance(judged, dict) and judged.get("precision") == "int8"
    )
    write_atomic(target, (json.dumps(verdict, indent=2) + "\n").encode())
    return target


def read_gate(model_dir: str | pathlib.Path, int8: bool = False) -> dict[str, Any] | None:
    """The ``gate.json`` (``gate_int8.json``) of a model folder, or None when it is missing or not a JSON
    object."""
    try:
        verdict = json.loads((pathlib.Path(model_dir) / gate_file(int8)).read_text())
    except (OSError, ValueError):
        return None
    return verdict if isinstance(verdict, dict) else None


def gate_summary(model_dir: str | pathlib.Path, int8: bool = False) -> dict[str, Any] | None:
    """The gate verdict of a model folder in short: ``{passed, baseline ("name/version"), time}``, or
    None when it has no readable ``gate.json`` (``gate_int8.json``)."""
    verdict = read_gate(model_dir, int8)
    if verdict is None:
        return None
    base = verdict.get("baseline", {})
    return {
        "passed": bool(verdict.get("passed")),
        "baseline": f"{base.get('name')}/{base.get('version')}" if isinstance(base, dict) else None,
        "time": verdict.get("time"),
    }


def gate_refusal(model_dir: str | pathlib.Path, name: str, version: str, served: str) -> str | None:
    """Why ``name/version`` may not replace the served model ``served`` ("name/version"), or None if it may.

    It may when its ``gate.json`` says it passed against ``served`` and its files are those the gate
    measured; and, where its card names an INT8 graph, its ``gate_int8.json`` says the same of that graph.
    """
    folder = pathlib.Path(model_dir)
    graphs = (False, True) if int8_file(folder) is not None else (False,)
    for int8 in graphs:
        refusal = _graph_refusal(folder, name, version, served, int8)
        if refusal is not None:
            return refusal
    return None


def _graph_refusal(folder: pathlib.Path, name: str, version: str, served: str, int8: bool) -> str | None:
    """:func:`gate_refusal` for one graph's verdict."""
    file, graph = gate_file(int8), "INT8 graph of " if int8 else ""
    compare = "triage compare --int8" if int8 else "triage compare"
    verdict = read_gate(folder, int8)
    if verdict is None:
        return f"{graph}{name}/{version} has no readable {file}; run {compare} against {served} first"
    baseline = verdict.get("baseline", {})
    against = f"{baseline.get('name')}/{baseline.get('version')}" if isinstance(baseline, dict) else "?"
    if against != served:
        return f"{graph}{name}/{version} was gated against {against}, but {served} is served; compare again"
    candidate = verdict.get("candidate", {})
    if not isinstance(candidate, dict) or (candidate.get("name"), candidate.get("version")) != (
        name,
        version,
    ):
        return f"{file} of {name}/{version} is the verdict on another model"
    try:
        if candidate.get("sha256") != model_hashes(folder, int8):
            return f"{graph}{name}/{version} changed after its gate; compare again"
    except OSError as error:
        return f"cannot hash {graph}{name}/{version}: {error}"
    if verdict.get("passed") is not True:
        failures = verdict.get("failures") or ["passed is not true"]
        return f"{graph}{name}/{version} failed its gate against {served}: {'; '.join(map(str, failures))}"
    return None


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.3f}"


def _graph(model: Mapping[str, Any]) -> str:
    """ " INT8" for a model judged by its INT8 graph (verdicts before INT8 was gated name no precision)."""
    return " INT8" if model.get("precision") == "int8" else ""


def format_verdict(verdict: dict[str, Any]) -> str:
    """The verdict as a side-by-side table for the terminal."""
    base, cand, data = verdict["baseline"], verdict["candidate"], verdict["data"]
    lines = [
        f"candidate {cand['name']}/{cand['version']}{_graph(cand)} (threshold {cand['threshold']:.4f}) vs "
        f"baseline {base['name']}/{base['version']}{_graph(base)} (threshold {base['threshold']:.4f})",
        f"data {data['path']}: {data['images']} images, {data['threat_images']} with threats; "
        f"margin {verdict['margin']:g}"
        + (
            ""
            if verdict.get("alpha") is None
            else f", falls judged by the sign test at p < {verdict['alpha']:g}"
        ),
        f"{'metric':<30}{'baseline':>9}{'candidate':>10}{'delta':>8}{'lost':>6}{'gained':>7}{'p':>7}"
        "  verdict",
    ]

    def line(title: str, row: dict[str, Any]) -> str:
        judged = "shown" if "passed" not in row else ("ok" if row["passed"] else "FAIL")
        if row.get("judged_on") == "real":
            judged = "shown (judged on real)"
        if row.get("within_chance"):
            judged = "ok (chance)"
        paired = (
            f"{row['lost']:>6}{row['gained']:>7}{row['p']:>7.3f}" if "p" in row else f"{'':>6}{'':>7}{'':>7}"
        )
        return (
            f"{title:<30}{_cell(row['baseline']):>9}{_cell(row['candidate']):>10}{_signed(row['delta']):>8}"
            f"{paired}  {judged}"
        )

    real = verdict.get("real")
    if real:
        views = real.get("views", 1)
        seen = f", each in {views} views" if views > 1 else ""
        lines.append(f"real scans ({real['path']}, {real['files']}{seen}), judged first:")
        for title, row in {**real["sets"], **real["classes"]}.items():
            lines.append(line(f"{title} {row['metric'].replace('_', ' ')} (n={row['instances']})", row))
        lines.append("simulated data:")
    lines.append(line("image AUROC", verdict["auroc"]))
    lines.append(line(f"detection @ {FAR_SHOWN:.0%} false alarms", verdict[_DR_KEY]))
    if "recall" in verdict:
        lines.append(line(f"recall, all (n={verdict['recall']['instances']})", verdict["recall"]))
    for label, row in verdict["classes"].items():
        lines.append(line(f"recall {label} (n={row['instances']})", row))
    matched = verdict.get("at_baseline_false_alarms")
    if matched:
        alarms = ", ".join(
            f"{kind} {count['alarms']}/{count['clean']}" for kind, count in matched["clean_alarms"].items()
        )
        lines.append(f"both at the baseline's clean alarms per kind ({alarms}):")
        lines.append(line("recall, all", matched["recall"]))
        for label, row in matched["classes"].items():
            lines.append(line(f"recall {label}", row))
    lines.append("PASSED" if verdict["passed"] else "FAILED: " + "; ".join(verdict["failures"]))
    return "\n".join(lines)
