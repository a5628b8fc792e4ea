"""Threat image projection (TIP): threats laid into real clean bags in transmission space.

An X-ray image records transmission, and objects in the beam compose by multiplication (Beer–Lambert:
``T = T_bag · T_object``). A false-colour export shows, per channel, a display value that falls with
attenuation; for a power-law display curve (``v = T**k``, which scanner exports approximate) multiplying
display values is exactly multiplying transmissions, and the colour ratios of the object (its material,
by effective Z) travel with it. So a threat is kept as its **transmission ratio**: the image inside its
region divided by what lay behind it (estimated by inpainting the region from its surroundings), a value
in ``(0, 1]`` per channel that is 1 where the object does not attenuate. Projecting it multiplies that
ratio into another bag, re-blurs the seam and adds the detector's noise where the object attenuates. The
bag is unchanged outside the object, and the mask is where the projected attenuation is.

Threats come from any dataset in the project's layout (``annotations.json`` + masks): real scans labelled
with boxes (``mask_source: "box"``: the whole box travels, clutter included, and the composite is labelled
as a box again) and simulated scans with exact masks (only the object's pixels travel). The simulated
objects keep the simulator's palette; laying them into real bags teaches real backgrounds around them.
"""

from __future__ import annotations

import json
import math
import os
import pathlib
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from tqdm import tqdm

from vision.classes import THREAT_CLASSES, category_id, coco_categories

# A pixel belongs to the projected object where it removes at least this share of the light.
MASK_ATTENUATION = 0.06
# In a box cutout, pixels that remove less light than this are taken as the bag's clothes and plastic
# around the threat, not the threat, and left behind (the threats with boxes here are metal: knives, guns).
BOX_CLUTTER_ATTENUATION = 0.2
# Ratios are floored here: a ratio of 0 would erase the bag behind it, which no real object does.
MIN_RATIO = 0.02
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


class TipError(ValueError):
    """Threat projection cannot run as asked (no backgrounds, no threats, bad count...)."""


@dataclass(frozen=True)
class ThreatCutout:
    """A threat as its transmission ratio to what lay behind it.

    Attributes:
        ratio: ``h x w x 3`` float32 in ``[MIN_RATIO, 1]``; 1 where nothing attenuates.
        label: its threat class.
        from_box: the region was a labelled box (clutter inside it travels too) rather than an exact mask.
        source: the file it was cut from.
        source_long_side: the long side of that file, so projection keeps the object's size relative to
            the bag when the bag's image is larger or smaller.
    """

    ratio: np.ndarray
    label: str
    from_box: bool
    source: str
    source_long_side: int


def background_behind(rgb: np.ndarray, region: np.ndarray) -> np.ndarray:
    """What lay behind ``region`` (boolean mask): the image inpainted there from its surroundings.

    Returns:
        ``H x W x 3`` float32, the image outside ``region`` and the inpainted estimate inside it.
    """
    dilated = cv2.dilate(region.astype(np.uint8), np.ones((3, 3), np.uint8))
    filled = cv2.inpaint(rgb, dilated, 5, cv2.INPAINT_TELEA)
    return filled.astype(np.float32)


def transmission_ratio(rgb: np.ndarray, behind: np.ndarray, region: np.ndarray) -> np.ndarray:
    """``rgb / behind`` inside ``region`` (clipped to ``[MIN_RATIO, 1]``), 1 outside it."""
    ratio = np.clip((rgb.astype(np.float32) + 1.0) / (behind + 1.0), MIN_RATIO, 1.0)
    ratio[~region] = 1.0
    return ratio


def cut_out(
    rgb: np.ndarray, region: np.ndarray, label: str, from_box: bool, source: str, pad: int = 4
) -> ThreatCutout:
    """The :class:`ThreatCutout` of ``region`` (boolean ``H x W``) in ``rgb``, cropped to its bounds.

    With ``from_box`` the pixels of the box that attenuate little (:data:`BOX_CLUTTER_ATTENUATION`) are
    dropped: what a box holds besides its metal threat is mostly the other bag's clothes.

    Raises:
        TipError: if the region is empty or the label is not a threat class.
    """
    if label not in THREAT_CLASSES:
        raise TipError(f"unknown threat class {label!r}")
    ys, xs = np.nonzero(region)
    if not len(ys):
        raise TipError(f"empty threat region in {source}")
    height, width = region.shape
    y0, y1 = max(0, ys.min() - pad), min(height, ys.max() + 1 + pad)
    x0, x1 = max(0, xs.min() - pad), min(width, xs.max() + 1 + pad)
    # Inpaint from a window around the region only: the rest of the scan does not matter and costs time.
    margin = max(8, (y1 - y0) // 2, (x1 - x0) // 2)
    wy0, wy1 = max(0, y0 - margin), min(height, y1 + margin)
    wx0, wx1 = max(0, x0 - margin), min(width, x1 + margin)
    window, window_region = rgb[wy0:wy1, wx0:wx1], region[wy0:wy1, wx0:wx1]
    ratio = transmission_ratio(window, background_behind(window, window_region), window_region)
    if from_box:
        ratio[1.0 - ratio.mean(axis=2) < BOX_CLUTTER_ATTENUATION] = 1.0
    crop = ratio[y0 - wy0 : y1 - wy0, x0 - wx0 : x1 - wx0]
    return ThreatCutout(np.ascontiguousarray(crop), label, from_box, source, max(height, width))


def cutouts_from_dataset(
    folder: str | pathlib.Path, limit: int | None = None, kinds: Collection[str] | None = None
) -> Iterator[ThreatCutout]:
    """Every labelled threat of a dataset folder (``annotations.json`` with masks) as a cutout.

    ``limit`` stops after that many; ``kinds`` keeps only images of those scene kinds (a threat cut
    from a car is not sized for a bag).

    Box-labelled images (``mask_source: "box"``) give their boxes; others give the mask pixels of each
    annotation's class inside its box.

    Raises:
        TipError: if the folder holds no readable annotations.
    """
    root = pathlib.Path(folder)
    try:
        coco = json.loads((root / "annotations.json").read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise TipError(f"{root} is not a dataset folder: {error}") from None
    names = {int(c["id"]): str(c["name"]) for c in coco.get("categories", [])}
    per_image: dict[int, list[dict]] = {}
    for ann in coco.get("annotations", []):
        per_image.setdefault(int(ann["image_id"]), []).append(ann)
    made = 0
    for image in coco.get("images", []):
        anns = per_image.get(int(image["id"]), [])
        if not anns or (kinds is not None and image.get("kind") not in kinds):
            continue
        rgb = _read_rgb(root / image["file_name"])
        mask = _read_mask(root / image["mask_file"]) if image.get("mask_file") else None
        from_box = image.get("mask_source") == "box" or mask is None
        for ann in anns:
            x, y, w, h = (float(v) for v in ann["bbox"])
            region = np.zeros(rgb.shape[:2], bool)
            x0, y0 = max(0, math.floor(x)), max(0, math.floor(y))
            x1, y1 = min(rgb.shape[1], math.ceil(x + w)), min(rgb.shape[0], math.ceil(y + h))
            if x1 - x0 < 2 or y1 - y0 < 2:
                continue
            region[y0:y1, x0:x1] = True
            if not from_box and mask is not None:
                region &= mask == int(ann["category_id"])
            if region.sum() < 4:
                continue
            yield cut_out(
                rgb, region, names[int(ann["category_id"])], from_box, str(root / image["file_name"])
            )
            made += 1
            if limit is not None and made >= limit:
                return


def place(
    cutout: ThreatCutout, background_long_side: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The cutout's ratio scaled to the background (with a random size jitter) and turned at random.

    Returns:
        The placed ratio (``h x w x 3``, 1 where nothing attenuates) and the region it came from
        (``h x w`` bool: where the cutout's pixels land, box or mask).
    """
    scale = background_long_side / cutout.source_long_side * float(np.exp(rng.uniform(-0.25, 0.25)))
    h, w = cutout.ratio.shape[:2]
    size = (max(2, round(w * scale)), max(2, round(h * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    ratio = cv2.resize(cutout.ratio, size, interpolation=interpolation)
    inside = cv2.resize(np.ones((h, w), np.uint8), size, interpolation=cv2.INTER_NEAREST)
    angle = float(rng.uniform(0, 360))
    centre = (size[0] / 2, size[1] / 2)
    turn = cv2.getRotationMatrix2D(centre, angle, 1.0)
    cos, sin = abs(turn[0, 0]), abs(turn[0, 1])
    out_w, out_h = int(size[1] * sin + size[0] * cos) + 1, int(size[1] * cos + size[0] * sin) + 1
    turn[0, 2] += out_w / 2 - centre[0]
    turn[1, 2] += out_h / 2 - centre[1]
    ratio = cv2.warpAffine(ratio, turn, (out_w, out_h), flags=cv2.INTER_LINEAR, borderValue=(1.0, 1.0, 1.0))
    inside = cv2.warpAffine(inside, turn, (out_w, out_h), flags=cv2.INTER_NEAREST, borderValue=0)
    if rng.random() < 0.5:
        ratio, inside = ratio[:, ::-1], inside[:, ::-1]
    return np.ascontiguousarray(np.clip(ratio, MIN_RATIO, 1.0)), np.ascontiguousarray(inside > 0)


def project(
    background: np.ndarray,
    ratio: np.ndarray,
    top_left: tuple[int, int],
    rng: np.random.Generator | None = None,
    noise_sigma: float = 0.0,
    blur_sigma: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Multiply ``ratio`` into ``background`` at ``top_left`` (x, y); the bag is unchanged elsewhere.

    Args:
        background: ``H x W x 3`` uint8 false-colour bag.
        ratio: ``h x w x 3`` transmission ratio (1: no attenuation); parts past the bag's edge are cut.
        top_left: where the ratio's corner lands, in background pixels.
        rng: source of the added detector noise (needed when ``noise_sigma`` > 0).
        noise_sigma: standard deviation of the noise added where the object attenuates, in display levels.
        blur_sigma: detector blur applied to the object's ratio before multiplying (the seam).

    Returns:
        The composite (uint8) and the object's mask (where the projected attenuation is at least
        :data:`MASK_ATTENUATION`), both of the background's size.
    """
    height, width = background.shape[:2]
    x, y = top_left
    h, w = ratio.shape[:2]
    bx0, by0, bx1, by1 = max(0, x), max(0, y), min(width, x + w), min(height, y + h)
    out = background.copy()
    mask = np.zeros((height, width), bool)
    if bx1 <= bx0 or by1 <= by0:
        return out, mask
    part: np.ndarray = ratio[by0 - y : by1 - y, bx0 - x : bx1 - x].astype(np.float32)
    if blur_sigma > 0:
        part = np.asarray(cv2.GaussianBlur(part, (0, 0), blur_sigma, borderType=cv2.BORDER_REPLICATE))
    attenuation = 1.0 - part.mean(axis=2)
    region = background[by0:by1, bx0:bx1].astype(np.float32) * part
    if noise_sigma > 0:
        if rng is None:
            raise ValueError("noise needs an rng")
        # Noise only where the object removes light, as much as it removes: the bag's own noise stays.
        weight = np.clip(attenuation / 0.5, 0.0, 1.0)[..., None]
        region = region + rng.normal(0.0, noise_sigma, region.shape).astype(np.float32) * weight
    out[by0:by1, bx0:bx1] = np.clip(np.rint(region), 0, 255).astype(np.uint8)
    mask[by0:by1, bx0:bx1] = attenuation >= MASK_ATTENUATION
    return out, mask


def corner_over_bag(
    background: np.ndarray, size: tuple[int, int], rng: np.random.Generator, step: int = 1
) -> tuple[int, int]:
    """Where a placed threat of ``size`` (h, w) goes: its top-left corner ``(x, y)``, centred on a random
    pixel of the bag (not the belt's white; threats are inside bags), at most a quarter of it past the
    image's edge. ``step`` > 1 draws the pixel on a coarse grid (cheaper on a large scan)."""
    h, w = size
    height, width = background.shape[:2]
    coarse = background[::step, ::step].min(axis=2) < 225
    bag = np.flatnonzero(coarse)
    if bag.size:
        cy, cx = (int(v) * step for v in np.unravel_index(bag[int(rng.integers(bag.size))], coarse.shape))
    else:
        cy, cx = int(rng.integers(height)), int(rng.integers(width))
    x = int(np.clip(cx - w // 2, -(w // 4), max(-(w // 4), width - w + w // 4)))
    y = int(np.clip(cy - h // 2, -(h // 4), max(-(h // 4), height - h + h // 4)))
    return x, y


def project_with_detector(
    background: np.ndarray, ratio: np.ndarray, top_left: tuple[int, int], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`project` with a random detector: noise of 1-4 display levels and a blur of 0.3-0.9 px."""
    noise, blur = float(rng.uniform(1.0, 4.0)), float(rng.uniform(0.3, 0.9))
    return project(background, ratio, top_left, rng, noise_sigma=noise, blur_sigma=blur)


def project_random(
    background: np.ndarray, cutout: ThreatCutout, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """Project ``cutout`` into ``background`` at a random place over the bag (non-white pixels).

    Returns:
        The composite, the object's mask, and the box ``x0, y0, x1, y1`` the cutout's region covers.
    """
    ratio, inside = place(cutout, max(background.shape[:2]), rng)
    h, w = ratio.shape[:2]
    height, width = background.shape[:2]
    x, y = corner_over_bag(background, (h, w), rng)
    composite, mask = project_with_detector(background, ratio, (x, y), rng)
    landed = np.zeros((height, width), bool)
    bx0, by0, bx1, by1 = max(0, x), max(0, y), min(width, x + w), min(height, y + h)
    if bx1 > bx0 and by1 > by0:
        landed[by0:by1, bx0:bx1] = inside[by0 - y : by1 - y, bx0 - x : bx1 - x]
    mask &= landed
    region = landed if cutout.from_box else mask
    ys, xs = np.nonzero(region)
    box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1) if len(ys) else (0, 0, 0, 0)
    return composite, (region if cutout.from_box else mask), box


def list_backgrounds(
    folders: Sequence[str | pathlib.Path], exclude: set[str] | None = None
) -> list[pathlib.Path]:
    """Image files of ``folders`` (an ``images/`` sub-folder where there is one), sorted, less ``exclude``
    (file names, e.g. a validation split's)."""
    found: list[pathlib.Path] = []
    for folder in folders:
        root = pathlib.Path(folder)
        root = root / "images" if (root / "images").is_dir() else root
        if not root.is_dir():
            raise TipError(f"background folder {folder} does not exist")
        found += sorted(p for p in root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    kept = [p for p in found if p.name not in (exclude or set())]
    if not kept:
        raise TipError("no background images found (PNG/JPEG/TIFF files in the folders given)")
    return kept


def write_tip_dataset(
    backgrounds: Sequence[pathlib.Path],
    cutouts: Sequence[ThreatCutout],
    out: pathlib.Path,
    count: int,
    seed: int,
    progress: bool = True,
    info: dict | None = None,
) -> pathlib.Path:
    """Write ``count`` composites (one threat each) in the layout of ``triage synth``.

    Scan ``i`` uses background ``i mod len(backgrounds)`` in a seeded shuffle and a seeded cutout, so
    the same inputs and seed give the same dataset. Composites from box cutouts are labelled
    ``mask_source: "box"`` (their mask is the box, where the object lies somewhere); others carry the
    projected object's exact mask.

    Raises:
        TipError: no backgrounds or threats, a non-positive count, or an existing dataset at ``out``.
    """
    if count < 1:
        raise TipError(f"--count must be at least 1, got {count}")
    if not backgrounds:
        raise TipError("no background images")
    if not cutouts:
        raise TipError("no threats to project (the threat datasets hold no labelled objects)")
    if (out / "annotations.json").exists():
        raise TipError(f"{out} already holds a dataset; choose a new folder")
    for sub in ("images", "masks"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    order = np.random.default_rng(seed).permutation(len(backgrounds))
    coco: dict = {
        "info": {"generator": "triage tip", "seed": seed, **(info or {})},
        "images": [],
        "annotations": [],
    }
    coco["categories"] = coco_categories()
    for index in tqdm(range(count), desc="tip", unit="scan", disable=not progress):
        rng = np.random.default_rng((seed, index))
        path = backgrounds[int(order[index % len(order)])]
        cutout = cutouts[int(rng.integers(len(cutouts)))]
        composite, region, box = project_random(_read_rgb(path), cutout, rng)
        name = f"{index:06d}_tip"
        mask = np.where(region, category_id(cutout.label), 0).astype(np.uint8)
        write_image(out / "images" / f"{name}.jpg", composite)
        write_image(out / "masks" / f"{name}.png", mask)
        image_id = index + 1
        coco["images"].append(
            {
                "id": image_id,
                "file_name": f"images/{name}.jpg",
                "width": composite.shape[1],
                "height": composite.shape[0],
                "kind": "luggage",
                "scanner": "tip",
                "seed": seed * 1_000_000 + index,
                "mask_file": f"masks/{name}.png",
                "mask_source": "box" if cutout.from_box else "segmentation",
                "background_file": str(path),
                "threat_file": cutout.source,
            }
        )
        if region.any():
            x0, y0, x1, y1 = box
            coco["annotations"].append(
                {
                    "id": len(coco["annotations"]) + 1,
                    "image_id": image_id,
                    "category_id": category_id(cutout.label),
                    "bbox": [x0, y0, x1 - x0, y1 - y0],
                    "area": int(region.sum()),
                    "iscrowd": 0,
                    "segmentation": [[x0, y0, x1, y0, x1, y1, x0, y1]],
                }
            )
    partial = out / "annotations.json.partial"
    partial.write_text(json.dumps(coco, separators=(",", ":")))
    os.replace(partial, out / "annotations.json")
    return out


LIBRARY_FILE = "library.json"


def save_library(
    cutouts: Sequence[ThreatCutout], out: pathlib.Path, info: dict | None = None
) -> pathlib.Path:
    """Write ``cutouts`` as a threat library: one 8-bit PNG of each ratio (255: no attenuation) and
    ``library.json`` naming label, origin and source size; the index is written last, atomically.

    Raises:
        TipError: no cutouts, or ``out`` already holds a library.
    """
    if not cutouts:
        raise TipError("no threats for the library (the threat datasets hold no labelled objects)")
    if (out / LIBRARY_FILE).exists():
        raise TipError(f"{out} already holds a threat library; choose a new folder")
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for index, cutout in enumerate(cutouts):
        name = f"{index:04d}_{cutout.label}.png"
        write_image(out / name, np.clip(np.rint(cutout.ratio * 255.0), 0, 255).astype(np.uint8))
        entries.append(
            {
                "file": name,
                "label": cutout.label,
                "from_box": cutout.from_box,
                "source": pathlib.Path(cutout.source).name,
                "source_long_side": cutout.source_long_side,
            }
        )
    partial = out / (LIBRARY_FILE + ".partial")
    partial.write_text(json.dumps({"version": 1, **(info or {}), "threats": entries}, indent=1))
    os.replace(partial, out / LIBRARY_FILE)
    return out


def load_library(folder: pathlib.Path) -> list[tuple[str, ThreatCutout]]:
    """The ``(file name, cutout)`` pairs of a library written by :func:`save_library`.

    Raises:
        TipError: the folder holds no readable library, or an entry is broken.
    """
    try:
        index = json.loads((folder / LIBRARY_FILE).read_text())
        cutouts = []
        for entry in index["threats"]:
            label = str(entry["label"])
            if label not in THREAT_CLASSES:
                raise TipError(f"{folder}: unknown threat class {label!r}")
            name = pathlib.Path(str(entry["file"])).name
            ratio = _read_rgb(folder / name).astype(np.float32) / 255.0
            cutouts.append(
                (
                    name,
                    ThreatCutout(
                        np.clip(ratio, MIN_RATIO, 1.0),
                        label,
                        bool(entry["from_box"]),
                        str(entry["source"]),
                        int(entry["source_long_side"]),
                    ),
                )
            )
    except TipError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise TipError(f"{folder} is not a threat library: {error}") from None
    if not cutouts:
        raise TipError(f"{folder}: the threat library is empty")
    return cutouts


def _read_rgb(path: pathlib.Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise TipError(f"cannot read image {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _read_mask(path: pathlib.Path) -> np.ndarray | None:
    mask = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if mask is None:
        return None
    return mask if mask.ndim == 2 else mask[:, :, 0]


def write_image(path: pathlib.Path, image: np.ndarray) -> None:
    """Write an RGB (or single-channel) uint8 image; JPEG at quality 95 where ``path`` ends in .jpg.

    Raises:
        OSError: if the file cannot be written.
    """
    data = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if path.suffix == ".jpg" else []
    if not cv2.imwrite(str(path), data, params):
        raise OSError(f"cannot write {path}")
