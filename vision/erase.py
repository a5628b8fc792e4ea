"""Threat-free twins of threat scans: each labelled threat inpainted away, as clean negatives.

The real threat sets come from scanners and bag-packing campaigns of their own: every OPIXray scan holds a
knife and is drawn in OPIXray's palette, SIXray's threat scans are full of staged tools. Their clean bags
(where any exist) come from other campaigns. So a network can learn that a set's look alone means a threat.
Measured on xray-threat 1.17.1 (``triage evaluate --real K --stresses``: the kit's validation files with
their boxes erased by :func:`erase_threats`, at the card's threshold 0.767): OPIXray bags still alarm in
0.311 of scans, SIXray threat bags in 0.479, most alarms pointing away from where the threat was, while
erasing a threat-sized patch in SIXray's clean bags leaves their false alarms at 0.036. The twins written
here are the same bags with nothing to find: negatives in the threat scanners' own palettes and clutter.

A threat is erased as :mod:`vision.tip` estimates what lay behind it: its region (the box, or the exact
mask, grown by a margin so the object's edge and blur go too) inpainted from its surroundings. Outside
the region the scan is unchanged.
"""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Sequence

import cv2
import numpy as np
from tqdm import tqdm

from vision.classes import coco_categories
from vision.datasets import load_dataset, read_mask, read_rgb
from vision.tip import background_behind, write_image

# The margin grown around each threat's region before it is inpainted, as a share of the scan's long
# side (4 px on OPIXray's 416 px scans, 9 px on a 900 px SIXray scan): boxes are drawn tight, and the
# object's blurred edge reaches past them.
PAD_SHARE = 0.01


class EraseError(ValueError):
    """Erasing cannot run as asked (no threat scans, an existing output, a bad margin...)."""


def erase_threats(rgb: np.ndarray, region: np.ndarray, pad: int) -> np.ndarray:
    """``rgb`` with ``region`` (boolean ``H x W``, grown by ``pad`` pixels) inpainted from its
    surroundings; every pixel farther than ``pad`` from ``region`` is returned unchanged.

    Each connected part is inpainted in a window around it only (the rest of the scan does not matter
    and costs time), from what lies around it there with every threat masked, so a threat beside it does
    not bleed into its fill.
    """
    if pad < 0:
        raise EraseError(f"the margin must be 0 or more pixels, got {pad}")
    grown = region.astype(np.uint8)
    if pad:
        grown = np.asarray(cv2.dilate(grown, np.ones((2 * pad + 1, 2 * pad + 1), np.uint8)), np.uint8)
    out = rgb.copy()
    count, labels, stats, _ = cv2.connectedComponentsWithStats(grown, connectivity=8)
    height, width = grown.shape
    for part in range(1, count):
        x, y, w, h = (int(v) for v in stats[part, :4])
        margin = max(8, w // 2, h // 2)
        y0, y1 = max(0, y - margin), min(height, y + h + margin)
        x0, x1 = max(0, x - margin), min(width, x + w + margin)
        part_pixels = labels[y0:y1, x0:x1] == part
        filled = background_behind(out[y0:y1, x0:x1], grown[y0:y1, x0:x1] > 0)
        out[y0:y1, x0:x1][part_pixels] = np.clip(np.rint(filled[part_pixels]), 0, 255).astype(np.uint8)
    return out


def write_erased_dataset(
    folders: Sequence[str | pathlib.Path],
    out: pathlib.Path,
    pad_share: float = PAD_SHARE,
    progress: bool = True,
) -> pathlib.Path:
    """Write the threat-free twin of every scan with a threat in ``folders`` (datasets in the project's
    layout) as a dataset of clean scans in the layout of ``triage synth``: same kind and scanner, empty
    masks, no annotations, ``erased_from`` naming the source file.

    Raises:
        EraseError: a negative margin, no scans with threats, a scan without its mask, or an existing
            dataset at ``out``.
    """
    if not 0 <= pad_share <= 0.1:
        raise EraseError(f"--pad must be a share of the long side between 0 and 0.1, got {pad_share}")
    if (out / "annotations.json").exists():
        raise EraseError(f"{out} already holds a dataset; choose a new folder")
    try:
        samples = [s for folder in folders for s in load_dataset(folder) if s.has_threat]
    except ValueError as error:
        raise EraseError(str(error)) from None
    if not samples:
        raise EraseError("no scan with a labelled threat in the datasets given: nothing to erase")
    missing = [s for s in samples if s.mask_path is None]
    if missing:
        raise EraseError(f"{missing[0].image_path} has no mask to find its threats by")
    for sub in ("images", "masks"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    coco: dict = {
        "info": {
            "generator": "triage erase",
            "sources": [str(f) for f in folders],
            "pad_share": pad_share,
        },
        "images": [],
        "annotations": [],
        "categories": coco_categories(),
    }
    for index, sample in enumerate(tqdm(samples, desc="erase", unit="scan", disable=not progress)):
        rgb = read_rgb(sample.image_path)
        assert sample.mask_path is not None
        region = read_mask(sample.mask_path) > 0
        pad = round(pad_share * max(rgb.shape[:2]))
        erased = erase_threats(rgb, region, pad)
        name = f"{index:06d}_{sample.image_path.stem}"[:120]
        write_image(out / "images" / f"{name}.jpg", erased)
        write_image(out / "masks" / f"{name}.png", np.zeros(rgb.shape[:2], np.uint8))
        coco["images"].append(
            {
                "id": index + 1,
                "file_name": f"images/{name}.jpg",
                "width": rgb.shape[1],
                "height": rgb.shape[0],
                "kind": sample.kind,
                "scanner": sample.scanner,
                "mask_file": f"masks/{name}.png",
                "erased_from": str(sample.image_path),
            }
        )
    partial = out / "annotations.json.partial"
    partial.write_text(json.dumps(coco, separators=(",", ":")))
    os.replace(partial, out / "annotations.json")
    return out
