"""`triage calibrate`: a station's threshold from a folder of its clean scans, offline.

The same proposal the service makes from cleared scans (:mod:`vision.calibration`), from scans a station
exported: the threshold that holds the false-alarm target on them, its exact interval, and the detection
the model's real validation threats keep at it. With ``--station`` it is written into the station file
the service imports at start and whenever the file changes.
"""

from __future__ import annotations

import json
import pathlib
import sys
from typing import Annotated, Any

import typer

from cli.commands._errors import cli_errors, fail
from cli.commands.scan import Precision, image_files
from vision.calibration import DEFAULT_MIN_SCANS, DEFAULT_TARGET_FA, check_target
from vision.classes import SCENE_KINDS

DEFAULT_STATION_FILE = pathlib.Path("data/station_thresholds.json")


def register(app: typer.Typer) -> None:
    """Add ``triage calibrate`` to ``app``."""
    app.command("calibrate")(calibrate)


def clean_files(folder: pathlib.Path) -> list[pathlib.Path]:
    """The clean scans of ``folder``: a dataset folder's images without annotations (``annotations.json``,
    as ``triage synth`` and ``triage import`` write), else every image file under it."""
    annotations = folder / "annotations.json"
    if not annotations.is_file():
        return list(image_files([folder]))
    coco = json.loads(annotations.read_text())
    holding = {a["image_id"] for a in coco.get("annotations", [])}
    return [folder / i["file_name"] for i in coco.get("images", []) if i["id"] not in holding]


def calibrate(
    clean: Annotated[
        pathlib.Path,
        typer.Option(
            help="folder of the station's clean scans: images, or a dataset folder (its clean scans)"
        ),
    ],
    model: Annotated[
        pathlib.Path | None, typer.Option(help="model folder (default: the bundled model)")
    ] = None,
    station: Annotated[
        str | None, typer.Option(help="station the threshold is for; given, it is written to --out")
    ] = None,
    kind: Annotated[
        str | None, typer.Option(help=f"scene kind ({', '.join(SCENE_KINDS)}); default all of its scans")
    ] = None,
    target_fa: Annotated[
        float, typer.Option(help="false-alarm rate to hold, in (0, 0.5]")
    ] = DEFAULT_TARGET_FA,
    min_scans: Annotated[int, typer.Option(min=1, help="clean scans needed")] = DEFAULT_MIN_SCANS,
    only_list: Annotated[
        pathlib.Path | None, typer.Option(help="use only the files named in this list (e.g. a split)")
    ] = None,
    exclude_list: Annotated[
        pathlib.Path | None, typer.Option(help="leave out the files named in this list")
    ] = None,
    out: Annotated[
        pathlib.Path, typer.Option(help="station file to write (with --station); the service's default")
    ] = DEFAULT_STATION_FILE,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    threads: Annotated[int, typer.Option(min=1, help="onnxruntime threads")] = 2,
    int8: Precision = None,
    quiet: Annotated[bool, typer.Option(help="no progress bar")] = False,
) -> None:
    """Print the threshold that holds --target-fa on a station's clean scans and its interval (for the
    graph the station serves: the card's default unless --int8 / --fp32 says otherwise).

    Nothing is written on any error (too few scans, no images, a target outside (0, 0.5]).
    """
    from tqdm import tqdm

    from vision.calibration import StationEntry, detection_at, propose, write_station_file
    from vision.dataimport import read_file_list
    from vision.infer import Predictor
    from vision.io import read_image
    from vision.registry import default_model_dir

    if kind is not None and kind not in SCENE_KINDS:
        raise fail(f"--kind must be one of {', '.join(SCENE_KINDS)}, got {kind!r}")
    if station is not None and (not station.strip() or len(station) > 120 or not station.isprintable()):
        raise fail("--station must be printable text of 1-120 characters")
    with cli_errors():
        check_target(target_fa)
        if not clean.is_dir():
            raise fail(f"--clean {clean}: no such folder")
        files = clean_files(clean)
        if only_list is not None:
            keep = read_file_list(only_list)
            files = [f for f in files if f.name in keep]
        if exclude_list is not None:
            drop = read_file_list(exclude_list)
            files = [f for f in files if f.name not in drop]
        if not files:
            raise fail(f"--clean {clean}: no image files to calibrate on")
        if len(files) < min_scans:
            raise fail(
                f"{len(files)} clean scans in {clean}; a threshold needs at least {min_scans} (--min-scans)"
            )
        predictor = Predictor(model if model is not None else default_model_dir(), threads=threads, int8=int8)
        scores, unreadable = [], 0
        for path in tqdm(files, desc="clean scans", unit="img", disable=quiet, file=sys.stderr):
            try:
                scores.append(predictor.predict(read_image(path).rgb, kind).score)
            except Exception as error:  # one bad file must not stop the others; report it on one line
                unreadable += 1
                print(
                    f"warning: {path}: skipped ({str(error).splitlines()[0] if str(error) else error!r})",
                    file=sys.stderr,
                )
        if len(scores) < min_scans:
            raise fail(f"{len(scores)} of {len(files)} clean scans were readable; {min_scans} are needed")
        proposal = propose(scores, target_fa, min_scans)
        card_threshold = predictor.thresholds.for_kind(kind)
        report: dict[str, Any] = {
            **proposal.to_dict(),
            "station": station,
            "kind": kind,
            "model": {"name": predictor.name, "version": predictor.version, "precision": predictor.precision},
            "card_threshold": card_threshold,
            "false_alarm_rate_at_card_threshold": round(
                sum(s >= card_threshold for s in scores) / len(scores), 4
            ),
            "unreadable": unreadable,
            "real_detection": detection_at(predictor.real, proposal.threshold),
            "real_detection_at_card_threshold": detection_at(predictor.real, card_threshold),
            "station_file": None,
        }
        if station is not None:
            entry = StationEntry.from_proposal(proposal, station, kind, predictor.name, predictor.version)
            write_station_file(out, [entry])
            report["station_file"] = str(out)
    if as_json:
        print(json.dumps(report))
        return
    low, high = report["false_alarm_interval"]
    print(
        f"threshold {proposal.threshold:.4f} for {target_fa:.1%} false alarms on {proposal.n} clean scans "
        f"({proposal.alarms} alarm at it: {proposal.false_alarm_rate:.1%}, 95% interval "
        f"{low:.1%}-{high:.1%}); "
        f"the card's {card_threshold:.4f} alarms on {report['false_alarm_rate_at_card_threshold']:.1%}"
    )
    if report["real_detection"] is not None:
        pairs = ", ".join(
            f"{name} {report['real_detection_at_card_threshold'][name]} -> {value}"
            for name, value in report["real_detection"].items()
        )
        print(f"real validation threats localised, card threshold -> this one: {pairs}")
    if report["station_file"]:
        print(
            f"written to {out} (station {station}, {kind or 'all kinds'}); the service imports it on change"
        )
    else:
        print("not written (give --station to write it to the station file)")
