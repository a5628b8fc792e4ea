"""The ``triage`` command: one typer app that mounts each command group.

Each module in ``cli.commands`` owns its commands and exposes ``register(app)``. Modules that need
torch import it inside the command function, so ``triage serve`` and ``triage scan`` start without the
training extra.
"""

from __future__ import annotations

import typer

from cli.commands import calibrate, camera, compare, data, keys, model, registry, scan, serve, synth, tip

app = typer.Typer(
    name="triage",
    help="X-ray and camera image triage for customs: simulate, train, scan, serve, watch.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """X-ray and camera image triage for customs: simulate, train, scan, serve, watch."""


for module in (serve, keys, scan, calibrate, synth, tip, model, camera, data, compare, registry):
    module.register(app)


def main() -> None:
    """Entry point of the ``triage`` console script."""
    app()


if __name__ == "__main__":
    main()
