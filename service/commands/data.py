"""`triage import`: labelled real scans (COCO, VOC, YOLO) into the project's dataset layout."""

from __future__ import annotations

import json
import pathlib
import sys
from typing import Annotated

import typer

from service.commands._errors import fail
from vision.dataimport import IMPORT_FORMATS, ImportFailed, import_dataset, load_class_map, parse_class_map


def register(app: typer.Typer) -> None:
    """Add ``import`` to ``app``."""

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
    ) -> None:
        """Import labelled scans; unmapped classes and broken files are reported, never skipped silently."""
        try:
            class_map = load_class_map(map_file) if map_file else {}
            pairs = [entry.split("=", 1) for entry in map_ or []]
            if any(len(pair) != 2 for pair in pairs):
                raise ImportFailed("--map takes SOURCE=OURS")
            class_map |= parse_class_map({source_name: target for source_name, target in pairs})
            report = import_dataset(source, out, format, class_map, kind, scanner, drop_unknown)
        except (ImportFailed, OSError) as error:
            raise fail(str(error)) from None
        for broken in report.broken_files:
            print(f"broken: {broken}", file=sys.stderr)
        for name, count in sorted(report.unknown_classes.items()):
            print(f"dropped unmapped class {name!r}: {count} objects", file=sys.stderr)
        typer.echo(json.dumps(report.to_dict()))
        if report.broken_files:
            raise typer.Exit(1)
