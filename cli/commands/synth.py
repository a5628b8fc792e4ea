"""`triage synth`: simulate dual-energy X-ray datasets, or a contact sheet to judge them by eye."""

from __future__ import annotations

import pathlib
from typing import Annotated

import typer

from cli.commands._errors import cli_errors, fail


def register(app: typer.Typer) -> None:
    """Add ``triage synth`` to ``app``."""
    app.command("synth")(synth)


def synth(
    kind: Annotated[str, typer.Option(help="parcel, luggage, vehicle or all")] = "all",
    count: Annotated[int, typer.Option(help="number of scans")] = 100,
    seed: Annotated[int, typer.Option(help="base seed; same seed, same bytes")] = 0,
    out: Annotated[pathlib.Path | None, typer.Option(help="output folder")] = None,
    profile: Annotated[str | None, typer.Option(help="scanner profile (default: training profiles)")] = None,
    workers: Annotated[int, typer.Option(help="worker processes")] = 2,
    threat_probability: Annotated[float, typer.Option(help="share of scans with a threat")] = 0.5,
    preview: Annotated[
        pathlib.Path | None, typer.Option(help="write a contact sheet PNG here instead")
    ] = None,
    quiet: Annotated[bool, typer.Option(help="no progress bar")] = False,
    raw: Annotated[bool, typer.Option("--raw/--no-raw", help="write raw 16-bit high/low TIFFs")] = True,
    spec: Annotated[
        list[pathlib.Path] | None,
        typer.Option(help="threat/concealment spec file (YAML or JSON) to render into the scans; repeatable"),
    ] = None,
) -> None:
    """Simulate scans: COCO annotations, false-colour PNGs, class masks and raw 16-bit high/low TIFFs."""
    from vision.synth.dataset import write_dataset, write_preview
    from vision.synth.spec import load_spec

    with cli_errors():
        specs = [load_spec(path) for path in spec or ()]
        if preview is not None:
            if preview.suffix.lower() != ".png":
                raise fail(f"--preview must name a .png file, got {preview}")
            path = write_preview(preview, kind, min(count, 24), seed, profile, specs)
            print(path)
            return
        if out is None:
            raise fail("--out DIR is required (or --preview FILE.png)")
        path = write_dataset(out, kind, count, seed, workers, profile, threat_probability, quiet, raw, specs)
        print(path)
