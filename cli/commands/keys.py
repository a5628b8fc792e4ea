"""`triage keys create|list|revoke`: API keys in the service's store (shown once, stored hashed)."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer
from sqlalchemy import select

from cli.commands._errors import cli_errors, fail
from service.settings import load_settings
from service.store.db import Store

keys_app = typer.Typer(help="Manage API keys (stored hashed; a new key is shown once).", no_args_is_help=True)


def _open_store() -> Store:
    """The store named by the settings, with its tables created."""

    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(settings.resolved_database_url, settings.sqlite_synchronous)
    store.create_tables()
    return store


@keys_app.command("create")
def create(
    scope: Annotated[list[str], typer.Option("--scope", help="scan, camera, feedback or admin; repeatable")],
    name: Annotated[str, typer.Option(help="who or what uses the key")] = "unnamed",
) -> None:
    """Create a key and print it once."""
    from service.auth import create_key

    with cli_errors():
        store = _open_store()
        with store.session() as session:
            row, key = create_key(session, scope, name)
            key_id, scopes = row.id, row.scopes
        store.close()
    typer.echo(key)
    typer.echo(f"id {key_id}, scopes {','.join(scopes)}: store the key now, it is not shown again", err=True)


@keys_app.command("list")
def list_keys() -> None:
    """List keys: id, name, scopes, created, revoked (never the secrets)."""
    from service.store.tables import ApiKey

    with cli_errors():
        store = _open_store()
        with store.sessions() as session:
            rows = list(session.scalars(select(ApiKey).order_by(ApiKey.created)))
        store.close()
    for row in rows:
        revoked = f"revoked {row.revoked:%Y-%m-%dT%H:%M:%SZ}" if row.revoked else "active"
        typer.echo(
            f"{row.id}\t{row.name}\t{','.join(row.scopes)}\t{row.created:%Y-%m-%dT%H:%M:%SZ}\t{revoked}"
        )


@keys_app.command("revoke")
def revoke(key_id: Annotated[str, typer.Argument(help="the key's id from `triage keys list`")]) -> None:
    """Revoke a key; it stops working at once."""
    from service.auth import revoke_key

    try:
        parsed = uuid.UUID(key_id)
    except ValueError:
        raise fail(f"{key_id!r} is not a key id (see `triage keys list`)") from None
    with cli_errors():
        store = _open_store()
        with store.session() as session:
            row = revoke_key(session, parsed)
        store.close()
    if row is None:
        raise fail(f"no key {key_id}")
    typer.echo(f"revoked {key_id}")


def register(app: typer.Typer) -> None:
    """Add the ``keys`` group to ``app``."""
    app.add_typer(keys_app, name="keys")
