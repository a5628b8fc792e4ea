"""`triage import` and `triage feedback export`: real labelled scans and operator feedback as datasets."""

from __future__ import annotations

import datetime as dt
import json
import pathlib
import sys
from typing import Annotated

import typer

from cli.commands._errors import fail
from vision.dataimport import (
    IMPORT_FORMATS,
    ImportFailed,
    import_dataset,
    load_class_map,
    parse_class_map,
    read_file_list,
)


def register(app: typer.Typer) -> None:
    """Add ``import`` and ``feedback export`` to ``app``."""
    register_feedback(app)

    @app.command("import")
    def import_(
        source: Annotated[pathlib.Path, typer.Argument(help="COCO JSON or folder, VOC folder, YOLO folder")],
        out: Annotated[pathlib.Path, typer.Option(help="new dataset folder")],
        format: Annotated[str, typer.Option("--format", help=f"one of {', '.join(IMPORT_FORMATS)}")],
        map_file: Annotated[
            pathlib.Path | None, typer.Option("--map-file", help="YAML/JSON of source class: our class")
        ] = None,
        map_: Annotated[
            list[str] | None, typer.Option("--map", help="SOURCE=OURS, repeatable; OURS may be 'ignore'")
        ] = None,
        kind: Annotated[str, typer.Option(help="scene kind of every image")] = "luggage",
        scanner: Annotated[str, typer.Option(help="scanner recorded on every image")] = "imported",
        drop_unknown: Annotated[
            bool, typer.Option("--drop-unknown", help="drop (and report) objects of unmapped classes")
        ] = False,
        exclude_list: Annotated[
            pathlib.Path | None,
            typer.Option("--exclude-list", help="file of image names to leave out (a split's val.txt)"),
        ] = None,
        only_list: Annotated[
            pathlib.Path | None,
            typer.Option("--only-list", help="file of image names to import alone (a split's val.txt)"),
        ] = None,
    ) -> None:
        """Import labelled scans; unmapped classes and broken files are reported, never skipped silently."""
        try:
            class_map = load_class_map(map_file) if map_file else {}
            pairs = [entry.split("=", 1) for entry in map_ or []]
            if any(len(pair) != 2 for pair in pairs):
                raise ImportFailed("--map takes SOURCE=OURS")
            class_map |= parse_class_map({source_name: target for source_name, target in pairs})
            exclude = read_file_list(exclude_list) if exclude_list else set()
            only = read_file_list(only_list) if only_list else None
            report = import_dataset(
                source, out, format, class_map, kind, scanner, drop_unknown, exclude=exclude, only=only
            )
        except (ImportFailed, OSError) as error:
            raise fail(str(error)) from None
        for broken in report.broken_files:
            print(f"broken: {broken}", file=sys.stderr)
        for name, count in sorted(report.unknown_classes.items()):
            print(f"dropped unmapped class {name!r}: {count} objects", file=sys.stderr)
        typer.echo(json.dumps(report.to_dict()))
        if report.broken_files:
            raise typer.Exit(1)


def register_feedback(app: typer.Typer) -> None:
    """Add the ``feedback`` group (``feedback export``) to ``app``."""
    feedback = typer.Typer(help="Operator feedback from the service's store.", no_args_is_help=True)
    app.add_typer(feedback, name="feedback")

    @feedback.command("export")
    def export(
        out: Annotated[pathlib.Path, typer.Option(help="new dataset folder")],
        since: Annotated[
            str | None, typer.Option(help="only feedback given at or after this ISO date/time (UTC default)")
        ] = None,
    ) -> None:
        """Turn confirmed alarms, false alarms and misses (with operator boxes) into a dataset."""
        from service.feedback_export import export_feedback
        from service.settings import load_settings
        from service.store.db import Store

        try:
            since_time = _parse_since(since)
            settings = load_settings()
            if not settings.data_dir.exists() and settings.database_url is None:
                raise ImportFailed(f"no store at {settings.data_dir} (set TRIAGE_DATA_DIR)")
            store = Store(settings.resolved_database_url, settings.sqlite_synchronous)
            store.create_tables()
            try:
                result = export_feedback(store, settings.open_images(), out, since_time)
            finally:
                store.close()
        except (ImportFailed, ValueError, OSError) as error:
            raise fail(str(error)) from None
        for line in result.report.broken_files:
            print(f"broken: {line}", file=sys.stderr)
        for scan_id in result.unlocated:
            print(f"missed without operator boxes, not exported: scan {scan_id}", file=sys.stderr)
        typer.echo(json.dumps(result.to_dict()))
        if result.report.broken_files:
            raise typer.Exit(1)


def _parse_since(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--since {text!r} is not an ISO date or date-time (e.g. 2026-11-01)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
