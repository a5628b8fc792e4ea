"""Writing simulated scans to disk as a COCO dataset with class maps and raw 16-bit channels.

Layout of ``out_dir``::

    annotations.json          COCO: categories, images (kind, scanner, seed, mask and raw files), annotations
    images/NAME.png           false colour (RGB)
    masks/NAME.png            uint8 class map: 0 background, else vision.classes.category_id(name)
    raw/NAME_high.tiff        16-bit greyscale transmission * 65535 (high energy)
    raw/NAME_low.tiff         the same for the low energy

Scan ``i`` of a dataset with base seed ``S`` uses its own seed derived from (S, i), so the output is the same
bytes whatever the number of worker processes.
"""

from __future__ import annotations

import ctypes
import io
import json
import math
import multiprocessing
import pathlib
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from PIL import Image
from tqdm import tqdm

from vision import sheet
from vision.classes import SCENE_KINDS, coco_categories
from vision.physics.profiles import get_profile
from vision.synth.scene import Scan, generate

if TYPE_CHECKING:
    from vision.synth.spec import ThreatSpec

KINDS_ALL = "all"


@dataclass(frozen=True)
class Job:
    """One scan to simulate and write."""

    index: int
    kind: str
    seed: int
    profile: str | None
    threat_probability: float
    out_dir: str
    raw: bool = True
    specs: tuple[ThreatSpec, ...] = ()


def scan_seed(base_seed: int, index: int) -> int:
    """The per-scan seed of scan ``index`` in a dataset with ``base_seed`` (independent of workers)."""
    return int(np.random.SeedSequence([base_seed, index]).generate_state(1, np.uint64)[0] >> np.uint64(1))


def plan(
    kind: str, count: int, seed: int, profile: str | None, threat_probability: float, out_dir: str
) -> list[Job]:
    """The jobs of a dataset; ``kind="all"`` cycles parcel, luggage, vehicle.

    Raises:
        ValueError: bad kind, count, seed, profile or probability.
    """
    if kind != KINDS_ALL and kind not in SCENE_KINDS:
        raise ValueError(f"unknown kind {kind!r}; use one of {', '.join((*SCENE_KINDS, KINDS_ALL))}")
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    if not 0.0 <= threat_probability <= 1.0:
        raise ValueError(f"threat probability must be in [0, 1], got {threat_probability}")
    if profile is not None:
        get_profile(profile)
    kinds = SCENE_KINDS if kind == KINDS_ALL else (kind,)
    return [
        Job(i, kinds[i % len(kinds)], scan_seed(seed, i), profile, threat_probability, out_dir)
        for i in range(count)
    ]


def polygons(mask: np.ndarray) -> list[list[float]]:
    """COCO polygons (outer contours, at least 3 points) of a binary mask."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    out = []
    for c in contours:
        if len(c) >= 3:
            out.append([float(v) for v in c.reshape(-1)])
        elif len(c) > 0:
            # Tiny pieces: a box around them keeps the annotation decodable.
            x, y, w, h = cv2.boundingRect(c)
            out.append(
                [
                    float(x),
                    float(y),
                    float(x + w),
                    float(y),
                    float(x + w),
                    float(y + h),
                    float(x),
                    float(y + h),
                ]
            )
    return out


def _png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    # Level 3: nearly the size of level 6 on noisy scans at less than half the encoding time.
    Image.fromarray(array).save(buf, format="PNG", compress_level=3)
    return buf.getvalue()


def _tiff_bytes(transmission: np.ndarray) -> bytes:
    buf = io.BytesIO()
    raw = np.round(transmission * 65535.0).astype(np.uint16)
    # LZW: lossless, read by every TIFF reader, 15 % smaller at little cost (deflate: 30 %, 5x slower).
    Image.fromarray(raw).save(buf, format="TIFF", compression="tiff_lzw")
    return buf.getvalue()


def reuse_freed_memory() -> None:
    """Ask glibc to keep freed image buffers for reuse instead of unmapping them.

    A scan allocates dozens of full-frame float arrays; by default each one above 128 KiB is a fresh
    mmap whose first touch page-faults every 4 KiB, which measured about a third of the simulator's time.
    Does nothing where glibc's ``mallopt`` is not available.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    libc.mallopt(m_mmap_threshold, 256 * 1024 * 1024)
    libc.mallopt(m_trim_threshold, 512 * 1024 * 1024)


def _scan(job: Job) -> Scan:
    insert = None
    if job.specs:
        from vision.synth.spec import inserter

        insert = inserter(job.specs, job.kind)
    return generate(job.kind, job.seed, job.profile, job.threat_probability, insert=insert)


def _run(job: Job) -> dict[str, Any]:
    scan = _scan(job)
    name = f"{job.index:06d}_{job.kind}"
    out = pathlib.Path(job.out_dir)
    (out / "images" / f"{name}.png").write_bytes(_png_bytes(scan.rgb))
    (out / "masks" / f"{name}.png").write_bytes(_png_bytes(scan.mask))
    if job.raw:
        (out / "raw" / f"{name}_high.tiff").write_bytes(_tiff_bytes(scan.high))
        (out / "raw" / f"{name}_low.tiff").write_bytes(_tiff_bytes(scan.low))
    image = {
        "id": job.index + 1,
        "file_name": f"images/{name}.png",
        "width": int(scan.rgb.shape[1]),
        "height": int(scan.rgb.shape[0]),
        "kind": scan.kind,
        "scanner": scan.profile,
        "seed": scan.seed,
        "mask_file": f"masks/{name}.png",
    }
    if job.raw:
        image["raw_high_file"] = f"raw/{name}_high.tiff"
        image["raw_low_file"] = f"raw/{name}_low.tiff"
    anns = [
        {
            "category_id": inst.category_id,
            "bbox": inst.bbox,
            "area": int(inst.mask.sum()),
            "iscrowd": 0,
            "segmentation": polygons(inst.mask),
            "visibility": round(inst.visibility, 4),
        }
        for inst in scan.instances
    ]
    return {"image": image, "annotations": anns}


def write_dataset(
    out_dir: str | pathlib.Path,
    kind: str,
    count: int,
    seed: int,
    workers: int = 2,
    profile: str | None = None,
    threat_probability: float = 0.5,
    quiet: bool = False,
    raw: bool = True,
    specs: Sequence[ThreatSpec] = (),
) -> pathlib.Path:
    """Simulate ``count`` scans and write them with ``annotations.json`` under ``out_dir``.

    Args:
        out_dir: output folder (created).
        kind: "parcel", "luggage", "vehicle" or "all".
        count: number of scans.
        seed: base seed; the same seed gives the same bytes for any ``workers``.
        workers: processes to use (1 = in this process).
        profile: scanner profile for every scan; None draws training profiles per scan.
        threat_probability: chance that a scan holds a threat.
        quiet: no progress bar (it is also off when stderr is not a terminal).
        raw: also write the raw 16-bit high/low TIFFs (about 3 MB a scan at 1000 px; the default).
        specs: threat/concealment specs (``vision.synth.spec``) rendered into every scan of their kinds.

    Returns:
        The path of ``annotations.json``.

    Raises:
        ValueError: bad arguments.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    out = pathlib.Path(out_dir)
    jobs = [
        replace(job, raw=raw, specs=tuple(specs))
        for job in plan(kind, count, seed, profile, threat_probability, str(out))
    ]
    for sub in ("images", "masks", "raw"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    disable = quiet or not sys.stderr.isatty()
    reuse_freed_memory()
    results: list[dict[str, Any]]
    if workers == 1 or count == 1:
        results = list(tqdm(map(_run, jobs), total=count, disable=disable, desc="synth", unit="scan"))
    else:
        chunk = max(1, min(8, math.ceil(count / (workers * 4))))
        ctx = multiprocessing.get_context("spawn" if sys.platform == "darwin" else "fork")
        with ctx.Pool(min(workers, count), initializer=reuse_freed_memory) as pool:
            results = list(
                tqdm(
                    pool.imap(_run, jobs, chunksize=chunk),
                    total=count,
                    disable=disable,
                    desc="synth",
                    unit="scan",
                )
            )
    return _write_coco(out, results, [spec.name for spec in specs])


def _write_coco(
    out: pathlib.Path, results: Iterable[dict[str, Any]], spec_names: Sequence[str] = ()
) -> pathlib.Path:
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for result in results:
        images.append(result["image"])
        for ann in result["annotations"]:
            annotations.append({"id": len(annotations) + 1, "image_id": result["image"]["id"], **ann})
    coco = {
        "info": {
            "description": "triage dual-energy X-ray simulator",
            "version": "1",
            **({"specs": list(spec_names)} if spec_names else {}),
        },
        "categories": coco_categories(),
        "images": images,
        "annotations": annotations,
    }
    path = out / "annotations.json"
    path.write_text(json.dumps(coco, separators=(",", ":")))
    return path


def contact_sheet(
    scans: list[Scan], columns: int = 4, tile_px: int = 360, outline: bool = True
) -> np.ndarray:
    """An RGB contact sheet of ``scans`` with threat boxes drawn in red and a caption per tile."""
    tiles = []
    for scan in scans:
        boxes = [(x, y, x + w, y + h) for x, y, w, h in (i.bbox for i in scan.instances)] if outline else []
        labels = ",".join(sorted({i.label for i in scan.instances})) or "clean"
        tiles.append((scan.rgb, boxes, f"{scan.kind} {scan.profile} {labels}"))
    return sheet.contact_sheet(tiles, columns, tile_px)


def write_preview(
    path: str | pathlib.Path,
    kind: str = KINDS_ALL,
    count: int = 12,
    seed: int = 0,
    profile: str | None = None,
    specs: Sequence[ThreatSpec] = (),
) -> pathlib.Path:
    """Write a contact sheet PNG of ``count`` fresh scans (threats boxed, ``specs`` rendered) to ``path``."""
    jobs = [replace(job, specs=tuple(specs)) for job in plan(kind, count, seed, profile, 0.5, "")]
    scans = [_scan(job) for job in jobs]
    out = pathlib.Path(path)
    if out.parent != pathlib.Path(""):
        out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(contact_sheet(scans)).save(out)
    return out
