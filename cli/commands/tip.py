"""`triage tip`: threats projected into real clean bags (threat image projection), as a training dataset."""

from __future__ import annotations

import pathlib
from typing import Annotated

import typer

from cli.commands._errors import cli_errors, fail


def register(app: typer.Typer) -> None:
    """Add ``triage tip`` to ``app``."""
    app.command("tip")(tip)
    app.command("erase")(erase)
    app.command("drill-library")(drill_library)


def tip(
    backgrounds: Annotated[
        list[pathlib.Path],
        typer.Option(help="folder of real clean bags (or a dataset with images/); repeatable"),
    ],
    threats: Annotated[
        list[pathlib.Path],
        typer.Option(
            help="dataset folder whose labelled threats are cut out (imported real or synth); repeatable"
        ),
    ],
    count: Annotated[int, typer.Option(help="number of composites")] = 100,
    seed: Annotated[int, typer.Option(help="seed; same inputs and seed, same dataset")] = 0,
    out: Annotated[pathlib.Path | None, typer.Option(help="new dataset folder")] = None,
    exclude_list: Annotated[
        list[pathlib.Path] | None,
        typer.Option("--exclude-list", help="file of background names to leave out (a split's val.txt)"),
    ] = None,
    per_source: Annotated[
        int | None, typer.Option(help="at most this many threats cut from each --threats folder")
    ] = None,
    threat_kinds: Annotated[
        str | None, typer.Option(help="cut threats only from scans of these kinds, comma-separated")
    ] = None,
    preview: Annotated[
        pathlib.Path | None, typer.Option(help="also write a contact sheet PNG of the first composites here")
    ] = None,
    quiet: Annotated[bool, typer.Option(help="no progress bar")] = False,
) -> None:
    """Project real and simulated threats into real clean bags in transmission space (COCO layout)."""
    import cv2
    import numpy as np

    from vision.dataimport import read_file_list
    from vision.datasets import read_rgb
    from vision.sheet import contact_sheet
    from vision.tip import (
        cutouts_from_dataset,
        list_backgrounds,
        project_random,
        write_tip_dataset,
    )

    with cli_errors():
        if out is None:
            raise fail("--out DIR is required")
        excluded: set[str] = set()
        for path in exclude_list or ():
            excluded |= read_file_list(path)
        bags = list_backgrounds(backgrounds, excluded)
        kinds = [k.strip() for k in threat_kinds.split(",") if k.strip()] if threat_kinds else None
        cutouts = [cut for folder in threats for cut in cutouts_from_dataset(folder, per_source, kinds)]
        info = {
            "backgrounds": [str(p) for p in backgrounds],
            "threats": [str(p) for p in threats],
            "background_images": len(bags),
            "threat_cutouts": len(cutouts),
        }
        path = write_tip_dataset(bags, cutouts, out, count, seed, progress=not quiet, info=info)
        if preview is not None:
            if preview.suffix.lower() != ".png":
                raise fail(f"--preview must name a .png file, got {preview}")
            rng = np.random.default_rng(seed)
            tiles = []
            for index in range(min(12, count)):
                cutout = cutouts[int(rng.integers(len(cutouts)))]
                bag = read_rgb(bags[index % len(bags)])
                composite, _, box = project_random(bag, cutout, rng)
                boxes = [box] if box[2] > box[0] else []
                tiles.append((composite, boxes, f"{cutout.label} {'real' if cutout.from_box else 'sim'}"))
            cv2.imwrite(str(preview), cv2.cvtColor(contact_sheet(tiles), cv2.COLOR_RGB2BGR))
        print(path)


def erase(
    data: Annotated[
        list[pathlib.Path],
        typer.Option(
            help="dataset folder whose labelled threats are erased (imported real or synth); repeatable"
        ),
    ],
    out: Annotated[pathlib.Path, typer.Option(help="new dataset folder of the threat-free twins")],
    pad: Annotated[
        float, typer.Option(help="margin grown around each threat, as a share of the scan's long side")
    ] = 0.01,
    quiet: Annotated[bool, typer.Option(help="no progress bar")] = False,
) -> None:
    """Write every scan with a threat, its threats inpainted away, as a clean scan (COCO layout):
    negatives in the threat sets' own scanners, palettes and clutter."""
    from vision.erase import write_erased_dataset

    with cli_errors():
        print(write_erased_dataset(data, out, pad, progress=not quiet))


def drill_library(
    threats: Annotated[
        list[pathlib.Path],
        typer.Option(
            help="dataset folder whose labelled threats are cut out (synth or imported); repeatable"
        ),
    ],
    out: Annotated[pathlib.Path, typer.Option(help="new library folder")],
    per_class: Annotated[int, typer.Option(help="at most this many threats of each class")] = 12,
    threat_kinds: Annotated[
        str, typer.Option(help="cut threats only from scans of these kinds, comma-separated")
    ] = "luggage,parcel",
    min_pixels: Annotated[int, typer.Option(help="leave out threats smaller than this many pixels")] = 150,
) -> None:
    """Write the threat library of operator drills (the service's `TRIAGE_DRILL_LIBRARY`): each
    threat's transmission ratio cut from labelled scans, at most --per-class of each class."""
    from vision.tip import cutouts_from_dataset, save_library

    with cli_errors():
        if per_class < 1:
            raise fail(f"--per-class must be at least 1, got {per_class}")
        kinds = [k.strip() for k in threat_kinds.split(",") if k.strip()] or None
        kept: dict[str, int] = {}
        chosen = []
        for folder in threats:
            for cutout in cutouts_from_dataset(folder, kinds=kinds):
                attenuating = int((cutout.ratio.mean(axis=2) < 0.94).sum())
                if attenuating < min_pixels or kept.get(cutout.label, 0) >= per_class:
                    continue
                kept[cutout.label] = kept.get(cutout.label, 0) + 1
                chosen.append(cutout)
        info = {"threat_datasets": [str(p) for p in threats], "kinds": kinds, "per_class": per_class}
        print(save_library(chosen, out, info))
        print(", ".join(f"{label} {n}" for label, n in sorted(kept.items())))
