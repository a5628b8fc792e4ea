"""`triage serve`: the HTTP service on the bundled model (placeholder until the service issue lands)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add ``serve`` to ``app``."""

    @app.command()
    def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
        """Start the triage HTTP service on the bundled model with an embedded SQLite store."""
        typer.echo("not yet: the HTTP service arrives with the service issue (#5).")
