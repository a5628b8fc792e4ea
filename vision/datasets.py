"""Datasets written by ``triage synth`` (COCO + class-map masks), read for training and evaluation.

Layout of a dataset folder: ``annotations.json`` (COCO with ``kind``, ``scanner``, ``seed`` and
``mask_file`` on each image), ``images/*.png`` (false colour) and ``masks/*.png`` (uint8 class map,
0 = background, class ``i`` of ``THREAT_CLASSES`` = ``i + 1``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from vision.classes import THREAT_CLASSES
from vision.files import file_sha256

# A mask value of BOX_LABEL_OFFSET + c marks a pixel inside a box labelled class c whose own extent is not
# known (real scans labelled with boxes): the object is somewhere in the box, the rest of the box is bag.
BOX_LABEL_OFFSET = 100


@dataclass(frozen=True)
class Instance:
    """One annotated threat: its class name and box ``x0, y0, x1, y1`` in image pixels."""

    label: str
    box: tuple[float, float, float, float]


@dataclass(frozen=True)
class Sample:
    """One annotated scan on disk."""

    image_path: Path
    mask_path: Path | None
    kind: str
    scanner: str
    instances: tuple[Instance, ...] = field(default=())
    # "box" where the mask is filled boxes (real scans labelled with boxes): the object's own pixels are
    # unknown, and training treats each box as a bag (BOX_LABEL_OFFSET).
    mask_source: str = "segmentation"

    @property
    def has_threat(self) -> bool:
        """Whether the scan holds at least one threat."""
        return bool(self.instances)


def read_rgb(path: Path) -> np.ndarray:
    """Read an 8-bit image file as ``H x W x 3`` RGB uint8."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise OSError(f"cannot read image {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def read_mask(path: Path) -> np.ndarray:
    """Read a class-map mask as ``H x W`` uint8."""
    mask = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if mask is None:
        raise OSError(f"cannot read mask {path}")
    return mask if mask.ndim == 2 else mask[:, :, 0]


def load_dataset(folder: str | Path) -> list[Sample]:
    """Read ``annotations.json`` of one dataset folder.

    Raises:
        ValueError: if the folder holds no readable COCO annotations.
    """
    root = Path(folder)
    path = root / "annotations.json"
    try:
        coco: dict[str, Any] = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"{root} is not a dataset folder ({path}: {error})") from None
    names = {int(c["id"]): str(c["name"]) for c in coco.get("categories", [])}
    unknown = set(names.values()) - set(THREAT_CLASSES)
    if unknown:
        raise ValueError(f"{path}: unknown categories {sorted(unknown)}")
    per_image: dict[int, list[Instance]] = {}
    for ann in coco.get("annotations", []):
        x, y, w, h = (float(v) for v in ann["bbox"])
        per_image.setdefault(int(ann["image_id"]), []).append(
            Instance(names[int(ann["category_id"])], (x, y, x + w, y + h))
        )
    samples = []
    for image in coco.get("images", []):
        mask_file = image.get("mask_file")
        samples.append(
            Sample(
                image_path=root / image["file_name"],
                mask_path=root / mask_file if mask_file else None,
                kind=str(image.get("kind", "unknown")),
                scanner=str(image.get("scanner", "unknown")),
                instances=tuple(per_image.get(int(image["id"]), ())),
                mask_source=str(image.get("mask_source", "segmentation")),
            )
        )
    if not samples:
        raise ValueError(f"{path} lists no images")
    return samples


def load_datasets(folders: Sequence[str | Path]) -> list[Sample]:
    """Concatenate several dataset folders."""
    return [sample for folder in folders for sample in load_dataset(folder)]


def dataset_sha256(folder: str | Path) -> str:
    """One SHA-256 over a dataset's annotations and every image and mask they name (in a fixed order).

    Two folders hash alike exactly when a training run would read the same bytes from them.
    """
    root = Path(folder)
    digest = hashlib.sha256()
    annotations = root / "annotations.json"
    digest.update(file_sha256(annotations).encode())
    coco = json.loads(annotations.read_text())
    for image in sorted(coco.get("images", []), key=lambda i: str(i["file_name"])):
        for name in (image["file_name"], image.get("mask_file")):
            if name and (root / name).is_file():
                digest.update(f"{name}\0{file_sha256(root / name)}\n".encode())
    return digest.hexdigest()


def dataset_spec(folders: Sequence[str | Path], with_hash: bool = False) -> list[dict[str, Any]]:
    """What a model card records about its data: folder, simulator info, counts per kind and scanner.

    With ``with_hash`` each entry also carries :func:`dataset_sha256`, so a run records exactly what it
    read (a training run does; evaluation reports skip the cost).
    """
    out = []
    for folder in folders:
        coco = json.loads((Path(folder) / "annotations.json").read_text())
        images = coco.get("images", [])
        seeds = [int(i["seed"]) for i in images if "seed" in i]
        out.append(
            {
                "folder": str(folder),
                "info": coco.get("info", {}),
                "images": len(images),
                "annotations": len(coco.get("annotations", [])),
                "kinds": _counts(images, "kind"),
                "scanners": _counts(images, "scanner"),
                "seed_range": [min(seeds), max(seeds)] if seeds else None,
            }
        )
        if with_hash:
            out[-1]["sha256"] = dataset_sha256(folder)
    return out


def _counts(images: list[dict[str, Any]], key: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for image in images:
        counts[str(image.get(key))] = counts.get(str(image.get(key)), 0) + 1
    return dict(sorted(counts.items()))


def shrink(image: np.ndarray, long_side: int, nearest: bool = False) -> np.ndarray:
    """Downscale so the longer side is at most ``long_side`` (never enlarges)."""
    height, width = image.shape[:2]
    scale = long_side / max(height, width)
    if scale >= 1:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_NEAREST if nearest else cv2.INTER_AREA)


def cache_samples(
    samples: Sequence[Sample], long_side: int, progress: bool = True, threads: int = 1
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Load images and masks into memory, shrunk to ``long_side`` so a few thousand fit in RAM.

    Masks missing on disk become all background (clean scans may ship without one). Masks of box-labelled
    scans (``mask_source: "box"``) come back with their box pixels marked as such
    (:data:`BOX_LABEL_OFFSET` + class). ``threads`` files are
    read at once (OpenCV decodes outside the GIL); the result is in the order of ``samples`` either way.
    """

    def load(sample: Sample) -> tuple[np.ndarray, np.ndarray]:
        rgb = shrink(read_rgb(sample.image_path), long_side)
        if sample.mask_path is not None and sample.mask_path.exists():
            mask = shrink(read_mask(sample.mask_path), long_side, nearest=True)
        else:
            mask = np.zeros(rgb.shape[:2], np.uint8)
        if mask.shape != rgb.shape[:2]:
            mask = cv2.resize(mask, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_NEAREST)
        if sample.mask_source == "box":
            mask = np.where(mask > 0, mask + BOX_LABEL_OFFSET, 0).astype(np.uint8)
        return rgb, mask

    with ThreadPoolExecutor(max(1, threads)) as pool:
        loaded = pool.map(load, samples)
        return list(tqdm(loaded, total=len(samples), desc="loading", unit="img", disable=not progress))
