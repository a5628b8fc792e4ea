"""`triage models list | promote NAME/VERSION | rollback`: the model registry from the command line.

These commands act on the registry folder (``PROMOTED`` and ``HISTORY.jsonl``) through
:class:`vision.registry.Registry`, as the service does, so the gate and the history are the same; a model
is recorded as promoted only once it loads. A running service reads
``PROMOTED`` when it starts; to swap a running service, use ``POST /v1/models/{name}/{version}/promote``
or ``POST /v1/models/rollback``.
"""

from __future__ import annotations

import getpass
import json
import pathlib
from typing import Annotated, Any

import typer

from cli.commands._errors import cli_errors, fail

models_app = typer.Typer(
    name="models",
    help="The model registry: list versions, promote one (gated), roll back.",
    no_args_is_help=True,
)

RootOption = Annotated[
    pathlib.Path | None,
    typer.Option(
        "--models-root",
        envvar="TRIAGE_MODELS_ROOT",
        help="registry folder (default: the repository's models/)",
    ),
]


def register(app: typer.Typer) -> None:
    """Add the ``triage models`` group to ``app``."""
    app.add_typer(models_app)


def _registry(models_root: pathlib.Path | None) -> Any:
    from vision.registry import REPO_MODELS_DIR, Registry

    root = models_root or REPO_MODELS_DIR
    if not root.is_dir():
        raise fail(f"no model registry at {root}")
    return Registry(root)


def _record(registry: Any, change: Any, reason: str | None) -> None:
    """Check that the model loads, then record ``change`` (``PROMOTED`` and the history)."""
    from vision.errors import ModelLoadError
    from vision.infer import Predictor
    from vision.registry import PromotionFailed

    name, _, version = change.model.partition("/")
    try:
        Predictor(registry.find(name, version), threads=1)
    except ModelLoadError as error:
        raise PromotionFailed(f"model {change.model} failed to load: {error}") from error
    registry.record(change, reason, _actor())


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in containers without a passwd entry
        return "cli"


@models_app.command("list")
def list_models(
    models_root: RootOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object a line")] = False,
) -> None:
    """Every model in the registry: the promoted one starred, its threshold and its gate verdict."""
    from vision.evaluation.gate import gate_summary

    registry = _registry(models_root)
    promoted = registry.promoted()
    entries = registry.entries()
    if not entries and not as_json:
        print(f"no models in {registry.root}")
    for entry in entries:
        ref = f"{entry.name}/{entry.version}"
        verdict, int8_verdict = gate_summary(entry.path), gate_summary(entry.path, int8=True)
        row = {
            "model": ref,
            "promoted": ref == promoted,
            "threshold": entry.card.get("threshold"),
            "gate": verdict,
            "gate_int8": int8_verdict,
        }
        if as_json:
            print(json.dumps(row))
            continue
        gate_text = _gate_text(verdict, "gate")
        if int8_verdict is not None:
            gate_text += "; " + _gate_text(int8_verdict, "INT8 gate")
        threshold = row["threshold"]
        shown = f"{threshold:.4f}" if isinstance(threshold, int | float) else "-"
        print(f"{'*' if row['promoted'] else ' '} {ref:<32} threshold {shown}  {gate_text}")


def _gate_text(verdict: dict[str, Any] | None, title: str) -> str:
    if verdict is None:
        return f"no {title}"
    outcome = "passed" if verdict["passed"] else "FAILED"
    return f"{title} {outcome} vs {verdict['baseline']} ({verdict['time']})"


@models_app.command("promote")
def promote(
    model: Annotated[str, typer.Argument(help="NAME/VERSION of a folder in the registry")],
    force: Annotated[bool, typer.Option(help="promote without a passed gate (needs --reason)")] = False,
    reason: Annotated[str | None, typer.Option(help="why a forced promotion is needed (recorded)")] = None,
    models_root: RootOption = None,
) -> None:
    """Promote NAME/VERSION: refused unless its gate.json (and gate_int8.json, for a model with an INT8
    graph) passed against the promoted model, or --force."""
    from vision.registry import ModelNotFound, PromotionFailed, PromotionRefused

    name, slash, version = model.partition("/")
    if not slash or not name or not version:
        raise fail(f"expected NAME/VERSION, got {model!r}")
    if force and not (reason and reason.strip()):
        raise fail("--force needs --reason TEXT (it is recorded in the history)")
    registry = _registry(models_root)
    with cli_errors():
        try:
            change = registry.plan_promotion(name, version, registry.promoted(), force, reason)
            _record(registry, change, reason)
        except (ModelNotFound, PromotionRefused, PromotionFailed) as error:
            raise fail(str(error)) from None
    print(f"promoted {change.model} (was {change.previous or 'nothing'})")


@models_app.command("rollback")
def rollback(models_root: RootOption = None) -> None:
    """Promote again the model that was promoted before the current one (from HISTORY.jsonl)."""
    from vision.registry import ModelNotFound, NothingToRollBack, PromotionFailed

    registry = _registry(models_root)
    with cli_errors():
        try:
            change = registry.plan_rollback(registry.promoted())
            _record(registry, change, None)
        except (ModelNotFound, NothingToRollBack, PromotionFailed) as error:
            raise fail(str(error)) from None
    print(f"rolled back to {change.model} (was {change.previous or 'nothing'})")
