"""`triage models list | promote NAME/VERSION | rollback`: the model registry from the command line.

These commands act on the registry folder (``PROMOTED`` and ``HISTORY.jsonl``) through the same
``ModelManager`` the service uses, so the gate and the history are the same. A running service reads
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


def _manager(models_root: pathlib.Path | None) -> Any:
    from service.models import ModelManager
    from vision.infer import REPO_MODELS_DIR

    root = models_root or REPO_MODELS_DIR
    if not root.is_dir():
        raise fail(f"no model registry at {root}")
    return ModelManager(root, threads=1)


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
    from vision.gate import gate_summary

    manager = _manager(models_root)
    promoted = manager.promoted()
    entries = manager.entries()
    if not entries and not as_json:
        print(f"no models in {manager.models_root}")
    for entry in entries:
        ref = f"{entry.name}/{entry.version}"
        verdict = gate_summary(entry.path)
        row = {
            "model": ref,
            "promoted": ref == promoted,
            "threshold": entry.card.get("threshold"),
            "gate": verdict,
        }
        if as_json:
            print(json.dumps(row))
            continue
        if verdict is None:
            gate_text = "no gate"
        else:
            outcome = "passed" if verdict["passed"] else "FAILED"
            gate_text = f"gate {outcome} vs {verdict['baseline']} ({verdict['time']})"
        threshold = row["threshold"]
        shown = f"{threshold:.4f}" if isinstance(threshold, int | float) else "-"
        print(f"{'*' if row['promoted'] else ' '} {ref:<32} threshold {shown}  {gate_text}")


@models_app.command("promote")
def promote(
    model: Annotated[str, typer.Argument(help="NAME/VERSION of a folder in the registry")],
    force: Annotated[bool, typer.Option(help="promote without a passed gate (needs --reason)")] = False,
    reason: Annotated[str | None, typer.Option(help="why a forced promotion is needed (recorded)")] = None,
    models_root: RootOption = None,
) -> None:
    """Promote NAME/VERSION: refused unless its gate.json passed against the promoted model, or --force."""
    from service.models import ModelNotFound, PromotionFailed, PromotionRefused

    name, slash, version = model.partition("/")
    if not slash or not name or not version:
        raise fail(f"expected NAME/VERSION, got {model!r}")
    if force and not (reason and reason.strip()):
        raise fail("--force needs --reason TEXT (it is recorded in the history)")
    manager = _manager(models_root)
    with cli_errors():
        try:
            new, _ = manager.promote(name, version, force, reason, _actor())
        except (ModelNotFound, PromotionRefused, PromotionFailed) as error:
            raise fail(str(error)) from None
    print(f"promoted {new.name}/{new.version} (was {_previous(manager)})")


@models_app.command("rollback")
def rollback(models_root: RootOption = None) -> None:
    """Promote again the model that was promoted before the current one (from HISTORY.jsonl)."""
    from service.models import ModelNotFound, NothingToRollBack, PromotionFailed

    manager = _manager(models_root)
    with cli_errors():
        try:
            new, _ = manager.rollback(_actor())
        except (ModelNotFound, NothingToRollBack, PromotionFailed) as error:
            raise fail(str(error)) from None
    print(f"rolled back to {new.name}/{new.version} (was {_previous(manager)})")


def _previous(manager: Any) -> str:
    history = manager.history()
    return str(history[-1].get("previous") or "nothing") if history else "nothing"
