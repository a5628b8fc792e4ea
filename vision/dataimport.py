"""Importing labelled real scans (COCO, Pascal VOC, YOLO) into the project's dataset layout.

The output is what ``triage synth`` writes and training reads: ``annotations.json`` (COCO with our
categories and ``kind``/``scanner``/``mask_file`` on each image), ``images/`` (the source files copied
byte for byte, so no re-compression), and ``masks/*.png`` (uint8 class map). Masks come from polygons or
RLE where the source has them, else from filled boxes (``mask_source: "box"`` on the image says so).

Nothing is skipped silently: labels whose class is not mapped, and files that cannot be read, are
collected in an :class:`ImportReport` that the CLI prints and writes beside the dataset.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pathlib
import shutil
import xml.etree.ElementTree as ElementTree
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import yaml
from PIL import Image

from vision.classes import THREAT_CLASSES, category_id, coco_categories

IMPORT_FORMATS = ("coco", "voc", "yolo")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


class ImportFailed(ValueError):
    """The source cannot be imported at all (missing files, unknown classes without a mapping...)."""


@dataclass(frozen=True)
class SourceObject:
    """One labelled object as read from the source: class name, box ``x0, y0, x1, y1``, optional polygons."""

    label: str
    box: tuple[float, float, float, float]
    polygons: tuple[tuple[float, ...], ...] = ()
    rle: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class SourceImage:
    """One source image with its objects.

    Attributes:
        path: the image file, copied byte for byte unless ``data`` is given.
        objects: its labelled objects.
        data: encoded bytes to write instead of copying ``path`` (e.g. a scan re-encoded as PNG).
        kind: scene kind of this image, or ``None`` for the dataset's default.
        extra: more fields for the image's COCO entry (e.g. where it came from).
    """

    path: pathlib.Path
    objects: tuple[SourceObject, ...]
    data: bytes | None = None
    kind: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class ImportReport:
    """What an import did: counts, and everything it could not take."""

    images: int = 0
    objects: int = 0
    per_class: Counter[str] = field(default_factory=Counter)
    unknown_classes: Counter[str] = field(default_factory=Counter)
    broken_files: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary."""
        return {
            "images": self.images,
            "objects": self.objects,
            "per_class": dict(sorted(self.per_class.items())),
            "unknown_classes": dict(sorted(self.unknown_classes.items())),
            "broken_files": self.broken_files,
        }


def parse_class_map(entries: Mapping[str, str | None]) -> dict[str, str | None]:
    """Check a source-name → our-class map; ``None`` (or "ignore") drops the source class on purpose.

    Raises:
        ImportFailed: a target is not one of ``THREAT_CLASSES``.
    """
    checked: dict[str, str | None] = {}
    for source, target in entries.items():
        if target is None or str(target).lower() in ("", "ignore", "none", "null"):
            checked[str(source)] = None
        elif target in THREAT_CLASSES:
            checked[str(source)] = str(target)
        else:
            ours = ", ".join(THREAT_CLASSES)
            raise ImportFailed(f"class map sends {source!r} to {target!r}; ours are {ours}")
    return checked


def load_class_map(path: pathlib.Path) -> dict[str, str | None]:
    """Read a class map from a YAML or JSON file of ``source: target`` pairs."""
    try:
        entries = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ImportFailed(f"cannot read class map {path}: {error}") from None
    if not isinstance(entries, dict):
        raise ImportFailed(f"class map {path} must be a mapping of source class to our class")
    return parse_class_map(entries)


def read_coco(source: pathlib.Path, report: ImportReport) -> Iterator[SourceImage]:
    """Images and objects of a COCO file (``source`` is the JSON, or a folder holding annotations.json)."""
    path = source / "annotations.json" if source.is_dir() else source
    try:
        coco = json.loads(path.read_text())
        names = {int(c["id"]): str(c["name"]) for c in coco["categories"]}
        images = coco["images"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ImportFailed(f"{path} is not a readable COCO file: {error}") from None
    per_image: dict[int, list[SourceObject]] = {}
    for ann in coco.get("annotations", []):
        try:
            x, y, w, h = (float(v) for v in ann["bbox"])
            segmentation = ann.get("segmentation")
            is_polygons = isinstance(segmentation, list)
            polygons = tuple(tuple(float(v) for v in p) for p in segmentation) if is_polygons else ()
            rle = segmentation if isinstance(segmentation, dict) else None
            obj = SourceObject(names[int(ann["category_id"])], (x, y, x + w, y + h), polygons, rle)
        except (KeyError, ValueError, TypeError) as error:
            report.broken_files.append(f"{path}: annotation {ann.get('id')}: {error}")
            continue
        per_image.setdefault(int(ann["image_id"]), []).append(obj)
    for image in images:
        yield SourceImage(path.parent / str(image["file_name"]), tuple(per_image.get(int(image["id"]), ())))


def read_voc(source: pathlib.Path, report: ImportReport) -> Iterator[SourceImage]:
    """Images and objects of a Pascal VOC folder (``Annotations/*.xml`` beside ``JPEGImages/``)."""
    annotations = sorted((source / "Annotations").glob("*.xml"))
    if not annotations:
        raise ImportFailed(f"{source} has no Annotations/*.xml (Pascal VOC layout)")
    for xml_path in annotations:
        try:
            root = ElementTree.parse(xml_path).getroot()
            filename = root.findtext("filename") or f"{xml_path.stem}.jpg"
            objects = []
            for obj in root.iter("object"):
                box = obj.find("bndbox")
                if box is None:
                    raise ValueError("object without bndbox")
                corners = tuple(float(box.findtext(k) or "nan") for k in ("xmin", "ymin", "xmax", "ymax"))
                if any(np.isnan(corners)):
                    raise ValueError("bndbox lacks a corner")
                objects.append(SourceObject(str(obj.findtext("name", "")).strip(), corners))  # type: ignore[arg-type]
        except (ElementTree.ParseError, ValueError, OSError) as error:
            report.broken_files.append(f"{xml_path}: {error}")
            continue
        yield SourceImage(source / "JPEGImages" / filename, tuple(objects))


def read_yolo(source: pathlib.Path, report: ImportReport) -> Iterator[SourceImage]:
    """Images and objects of a YOLO folder (``images/``, ``labels/*.txt``, names in data.yaml or classes.txt).

    Label lines are ``class cx cy w h`` (boxes) or ``class x1 y1 x2 y2 ...`` (polygons), normalised to 0–1.
    """
    names = _yolo_names(source)
    images = sorted(p for p in (source / "images").rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise ImportFailed(f"{source} has no images/ with PNG/JPEG/TIFF files (YOLO layout)")
    for image_path in images:
        label_path = source / "labels" / image_path.relative_to(source / "images").with_suffix(".txt")
        try:
            width, height = _image_size(image_path)
            lines = label_path.read_text().split("\n") if label_path.exists() else []
            objects = [_yolo_object(line, names, width, height) for line in lines if line.strip()]
        except (OSError, ValueError, IndexError) as error:
            report.broken_files.append(f"{label_path}: {error}")
            continue
        yield SourceImage(image_path, tuple(objects))


def _yolo_names(source: pathlib.Path) -> list[str]:
    for name in ("data.yaml", "dataset.yaml"):
        path = source / name
        if path.exists():
            names = (yaml.safe_load(path.read_text()) or {}).get("names")
            if isinstance(names, dict):
                return [str(names[k]) for k in sorted(names, key=int)]
            if isinstance(names, list):
                return [str(n) for n in names]
    classes = source / "classes.txt"
    if classes.exists():
        return [line.strip() for line in classes.read_text().splitlines() if line.strip()]
    raise ImportFailed(f"{source} names no classes (data.yaml with names:, or classes.txt)")


def _yolo_object(line: str, names: list[str], width: int, height: int) -> SourceObject:
    values = line.split()
    label = names[int(values[0])]
    numbers = [float(v) for v in values[1:]]
    if len(numbers) == 4:
        cx, cy, w, h = numbers
        box = ((cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height)
        return SourceObject(label, box)
    if len(numbers) >= 6 and len(numbers) % 2 == 0:
        xs, ys = np.array(numbers[0::2]) * width, np.array(numbers[1::2]) * height
        polygon = tuple(float(v) for xy in zip(xs, ys, strict=True) for v in xy)
        return SourceObject(label, (xs.min(), ys.min(), xs.max(), ys.max()), (polygon,))
    raise ValueError(f"label line has {len(numbers)} numbers: {line.strip()!r}")


READERS = {"coco": read_coco, "voc": read_voc, "yolo": read_yolo}


def import_dataset(
    source: pathlib.Path,
    out: pathlib.Path,
    import_format: str,
    class_map: Mapping[str, str | None] | None = None,
    kind: str = "luggage",
    scanner: str = "imported",
    drop_unknown: bool = False,
    exclude: Collection[str] = (),
    only: Collection[str] | None = None,
) -> ImportReport:
    """Convert a labelled dataset into the project's layout under ``out``.

    Args:
        source: the source file or folder.
        out: the new dataset folder (must not hold a dataset yet).
        import_format: "coco", "voc" or "yolo".
        class_map: source class name → our class (``None`` drops it); our own class names map to themselves.
        kind: scene kind recorded on every image.
        scanner: scanner name recorded on every image.
        drop_unknown: drop objects of unmapped classes (they are still reported) instead of failing.
        exclude: image file names (or paths relative to the source) to leave out, e.g. a fixed validation
            split's ``val.txt`` when importing the training part.
        only: if given, import just these file names (the validation part itself).

    Returns:
        The report; broken files are listed in it and left out of the dataset.

    Raises:
        ImportFailed: unknown format or layout, an existing dataset at ``out``, or unmapped classes
            without ``drop_unknown`` (nothing is written then).
    """
    if import_format not in READERS:
        raise ImportFailed(f"unknown format {import_format!r}; use one of {', '.join(IMPORT_FORMATS)}")
    if not source.exists():
        raise ImportFailed(f"{source} does not exist")
    if (out / "annotations.json").exists():
        raise ImportFailed(f"{out} already holds a dataset; choose a new folder")
    mapping = {name: name for name in THREAT_CLASSES} | dict(class_map or {})
    report = ImportReport()
    images = select_images(list(READERS[import_format](source, report)), source, exclude, only)
    if not images:
        raise ImportFailed(f"{source}: no images left to import after the file lists were applied")
    for image in images:
        report.unknown_classes.update(o.label for o in image.objects if o.label not in mapping)
    if report.unknown_classes and not drop_unknown:
        listing = ", ".join(f"{k} ({v})" for k, v in sorted(report.unknown_classes.items()))
        raise ImportFailed(f"classes with no mapping to ours: {listing}; map them or pass --drop-unknown")
    info = {"source": str(source), "format": import_format}
    write_dataset(images, out, mapping, report, kind, scanner, info)
    return report


def read_file_list(path: pathlib.Path) -> set[str]:
    """File names listed one a line (blank lines and ``#`` comments skipped), as a split's ``val.txt``.

    Raises:
        ImportFailed: the list cannot be read or names nothing.
    """
    try:
        lines = path.read_text().splitlines()
    except OSError as error:
        raise ImportFailed(f"cannot read file list {path}: {error}") from None
    names = {line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")}
    if not names:
        raise ImportFailed(f"file list {path} names no files")
    return names


def select_images(
    images: list[SourceImage], source: pathlib.Path, exclude: Collection[str], only: Collection[str] | None
) -> list[SourceImage]:
    """The images a split keeps: none named in ``exclude``, and only those in ``only`` when given.

    A name matches an image by its file name or by its path relative to ``source``'s folder.
    """
    root = source if source.is_dir() else source.parent

    def names(image: SourceImage) -> set[str]:
        found = {image.path.name}
        with contextlib.suppress(ValueError):
            found.add(image.path.relative_to(root).as_posix())
        return found

    excluded, wanted = set(exclude), None if only is None else set(only)
    return [
        image for image in images if not names(image) & excluded and (wanted is None or names(image) & wanted)
    ]


def write_dataset(
    images: Iterable[SourceImage],
    out: pathlib.Path,
    mapping: Mapping[str, str | None],
    report: ImportReport,
    kind: str,
    scanner: str,
    info: Mapping[str, Any],
) -> None:
    """Write images, class-map masks, ``annotations.json`` and ``import_report.json`` under ``out``.

    Objects whose label maps to nothing are left out; unreadable images are added to ``report``.
    """
    coco: dict[str, Any] = {"info": dict(info), "images": [], "annotations": []}
    coco["categories"] = coco_categories()
    for folder in ("images", "masks"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    for index, image in enumerate(images, start=1):
        _import_one(index, image, mapping, out, coco, report, kind, scanner)
    _write_json_atomic(out / "annotations.json", coco)
    _write_json_atomic(out / "import_report.json", report.to_dict())


def _import_one(
    index: int,
    image: SourceImage,
    mapping: Mapping[str, str | None],
    out: pathlib.Path,
    coco: dict[str, Any],
    report: ImportReport,
    kind: str,
    scanner: str,
) -> None:
    try:
        width, height = _image_size(io.BytesIO(image.data) if image.data is not None else image.path)
    except OSError as error:
        report.broken_files.append(f"{image.path}: {error}")
        return
    name = f"{index:06d}_{image.path.stem}"
    mask = np.zeros((height, width), np.uint8)
    from_boxes = False
    kept = [(mapping[o.label], o) for o in image.objects if mapping.get(o.label)]
    # Larger objects first, so a small threat drawn later stays visible where they overlap.
    kept.sort(key=lambda pair: -_box_area(pair[1].box))
    for label, obj in kept:
        assert label is not None
        object_mask = _object_mask(obj, width, height)
        if not obj.polygons and obj.rle is None:
            from_boxes = True
        mask[object_mask] = category_id(label)
        x0, y0, x1, y1 = _clip_box(obj.box, width, height)
        coco["annotations"].append(
            {
                "id": len(coco["annotations"]) + 1,
                "image_id": index,
                "category_id": category_id(label),
                "bbox": [x0, y0, x1 - x0, y1 - y0],
                "area": int(object_mask.sum()),
                "iscrowd": 0,
                "segmentation": [list(p) for p in obj.polygons] or [[x0, y0, x1, y0, x1, y1, x0, y1]],
            }
        )
        report.per_class[label] += 1
        report.objects += 1
    file_name = f"images/{name}{image.path.suffix.lower()}"
    if image.data is not None:
        (out / file_name).write_bytes(image.data)
    else:
        shutil.copyfile(image.path, out / file_name)
    if not cv2.imwrite(str(out / "masks" / f"{name}.png"), mask):
        raise OSError(f"cannot write mask for {image.path}")
    coco["images"].append(
        {
            "id": index,
            "file_name": file_name,
            "width": width,
            "height": height,
            "kind": image.kind or kind,
            "scanner": scanner,
            "mask_file": f"masks/{name}.png",
            "source_file": str(image.path),
            "mask_source": "box" if from_boxes else "segmentation",
            **image.extra,
        }
    )
    report.images += 1


def _image_size(source: pathlib.Path | io.BytesIO) -> tuple[int, int]:
    try:
        with Image.open(source) as image:
            image.verify()
            return int(image.size[0]), int(image.size[1])
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise OSError(f"unreadable image: {error}") from None


def _box_area(box: tuple[float, float, float, float]) -> float:
    return max(box[2] - box[0], 0.0) * max(box[3] - box[1], 0.0)


def _clip_box(box: tuple[float, float, float, float], width: int, height: int) -> tuple[float, ...]:
    x0, y0, x1, y1 = box
    return (
        min(max(x0, 0.0), width),
        min(max(y0, 0.0), height),
        min(max(x1, 0.0), width),
        min(max(y1, 0.0), height),
    )


def _object_mask(obj: SourceObject, width: int, height: int) -> np.ndarray:
    """Binary mask of one object: its RLE, its polygons, or else its filled box."""
    if obj.rle is not None:
        return decode_rle(obj.rle, width, height)
    mask = np.zeros((height, width), np.uint8)
    if obj.polygons:
        for polygon in obj.polygons:
            points = np.round(np.array(polygon, np.float64).reshape(-1, 2)).astype(np.int32)
            cv2.fillPoly(mask, [points], 1)
    else:
        x0, y0, x1, y1 = (round(v) for v in _clip_box(obj.box, width, height))
        mask[y0:y1, x0:x1] = 1
    return mask.astype(bool)


def decode_rle(rle: Mapping[str, Any], width: int, height: int) -> np.ndarray:
    """Decode COCO run-length encoding (uncompressed ``counts`` list or compressed string), column-major.

    Raises:
        ValueError: the size does not match the image or the counts do not fill it.
    """
    size = list(rle.get("size", [height, width]))
    if size != [height, width]:
        raise ValueError(f"RLE size {size} differs from the image {height}x{width}")
    counts = rle["counts"]
    runs = _decode_rle_string(counts) if isinstance(counts, str | bytes) else [int(c) for c in counts]
    if sum(runs) != width * height:
        raise ValueError(f"RLE runs cover {sum(runs)} pixels, not {width * height}")
    values = np.repeat(np.arange(len(runs)) % 2, runs).astype(bool)
    return values.reshape((width, height)).T


def _decode_rle_string(counts: str | bytes) -> list[int]:
    """The compressed counts string of pycocotools (6 bits a character, deltas after the second run)."""
    text = counts.encode() if isinstance(counts, str) else counts
    runs: list[int] = []
    position = 0
    while position < len(text):
        value, shift, more = 0, 0, True
        while more:
            char = text[position] - 48
            value |= (char & 0x1F) << (5 * shift)
            more = bool(char & 0x20)
            position += 1
            shift += 1
            if not more and char & 0x10:
                value |= -1 << (5 * shift)
        if len(runs) > 2:
            value += runs[-2]
        runs.append(value)
    return runs


def _write_json_atomic(path: pathlib.Path, payload: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w") as handle:
        json.dump(payload, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
