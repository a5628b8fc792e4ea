"""`triage serve`: the HTTP service on the bundled model with an embedded SQLite store."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.commands._errors import cli_errors


def register(app: typer.Typer) -> None:
    """Add ``serve`` to ``app``."""

    @app.command()
    def serve(
        host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="TCP port", min=1, max=65535)] = 8000,
    ) -> None:
        """Start the triage HTTP service (settings from TRIAGE_* variables; one worker)."""
        import uvicorn

        from service.app import create_app
        from service.settings import load_settings

        with cli_errors():
            application = create_app(load_settings())
        # One worker: the model, the admission limit and the SQLite writer live in this one process.
        uvicorn.run(application, host=host, port=port, workers=1, log_config=None, access_log=False)
