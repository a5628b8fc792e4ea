"""`triage compare`: the promotion gate, a candidate model against the baseline on the same data."""

from __future__ import annotations

import json
import pathlib
from typing import Annotated

import typer

from cli.commands._errors import cli_errors, fail


def register(app: typer.Typer) -> None:
    """Add ``triage compare`` to ``app``."""
    app.command("compare")(compare)


def compare(
    candidate: Annotated[pathlib.Path, typer.Option(help="model folder to be promoted")],
    baseline: Annotated[pathlib.Path, typer.Option(help="model folder it must not be worse than")],
    data: Annotated[pathlib.Path, typer.Option(help="dataset folder (annotations.json, images/)")],
    margin: Annotated[
        float, typer.Option(help="largest fall allowed in any class's recall and in AUROC")
    ] = 0.02,
    alpha: Annotated[
        float | None,
        typer.Option(
            help="judge a class's fall past the margin by the sign test: it fails only when p < ALPHA "
            "(e.g. 0.05); unset, the margin alone judges"
        ),
    ] = None,
    real: Annotated[
        pathlib.Path | None,
        typer.Option(
            help="folder of real sets (e.g. ../shared/real/xray): their validation files are judged first"
        ),
    ] = None,
    real_views: Annotated[
        int,
        typer.Option(
            min=1,
            max=4,
            help="with --real: judge each file also mirrored (views count in the rates; the sign test "
            "pairs files)",
        ),
    ] = 1,
    int8: Annotated[
        bool,
        typer.Option(
            help="judge the graphs a TRIAGE_INT8 service serves: the candidate's INT8 graph (triage "
            "quantize) against the baseline's INT8 graph where it has one, else its FP32 graph; the verdict "
            "goes to CANDIDATE/gate_int8.json, which promotion needs of a model with an INT8 graph",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the verdict as one JSON object")] = False,
    quiet: Annotated[bool, typer.Option(help="no progress bars")] = False,
) -> None:
    """Evaluate both models on DATA, print per-class recall, AUROC and detection rate side by side.

    Writes the verdict to CANDIDATE/gate.json (gate_int8.json with --int8; promotion needs both of a
    model with an INT8 graph) and exits 1 when the candidate fails.
    """
    from vision.evaluation.gate import compare_models, format_verdict, write_gate

    with cli_errors():
        if candidate.resolve() == baseline.resolve():
            raise fail("--candidate and --baseline are the same folder")
        verdict = compare_models(
            candidate,
            baseline,
            data,
            margin,
            progress=not quiet,
            alpha=alpha,
            real_dir=real,
            real_views=real_views,
            int8=int8,
        )
        path = write_gate(candidate, verdict)
    print(json.dumps(verdict) if as_json else f"{format_verdict(verdict)}\nverdict written to {path}")
    if not verdict["passed"]:
        raise typer.Exit(1)
