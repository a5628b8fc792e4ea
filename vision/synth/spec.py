"""Threat and concealment spec files: new contraband and hiding places for the simulator, without code.

A spec (YAML or JSON) says what the object is (class), what it is made of (material from the simulator's
table), its shape (primitives with offsets, or a grey-level mask image), its size, how many per scan,
where it hides (host regions the scene builders offer) and in which scene kinds. Unknown keys, unknown
classes, materials, hosts and kinds are errors (``SpecError``, one line naming the file and the field).

Example (``vision/synth/specs/spare_tyre_drugs.yaml``)::

    name: spare_tyre_drugs
    class: narcotics
    material: [cocaine, heroin]
    kinds: [vehicle]
    hides_in: [spare_tyre]
    count: [1, 3]
    size: {unit: mm, width: [150, 240], height: [70, 110], depth_mm: [30, 60]}
    shape: {parts: [{primitive: box, corner_mm: 8}]}

Geometry: an object has a width (along its host's long axis), a height and a depth along the beam. Parts
are placed in the object's frame: ``offset`` and ``size`` are fractions of the object's width and height
(``offset`` [0, 0] is the centre), ``depth`` a fraction of its depth. A mask image is stretched over the
object's width and height; its grey level (0-255) is the share of the depth at that pixel.

Each object is its own labelled instance; its mask follows the simulator's rule (where the object alone
removes at least 3 % of the high-energy beam). With ``compartment`` the host also gets added walls, and
walls plus load form one ``concealment`` instance, as in the simulator's own vehicle concealments.
"""

from __future__ import annotations

import json
import math
import pathlib
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

import cv2
import numpy as np
import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from vision.classes import SCENE_KINDS, THREAT_CLASSES
from vision.physics.materials import MATERIALS
from vision.synth import objects as ob
from vision.synth import shapes
from vision.synth.objects import Ctx
from vision.synth.projector import Instance
from vision.synth.scene import HostRegion, Inserter
from vision.synth.shapes import Patch

# Host regions the scene builders record (scene.py), and the scene kinds that have them.
HOSTS: dict[str, tuple[str, ...]] = {
    "spare_tyre": ("vehicle",),
    "false_floor": ("vehicle",),
    "door_panel": ("vehicle",),
    "fuel_tank": ("vehicle",),
    "bumper": ("vehicle",),
    "roof_lining": ("vehicle",),
    "seat": ("vehicle",),
    "parcel_padding": ("parcel",),
    "bag_lining": ("luggage",),
    "anywhere": SCENE_KINDS,
}
ANYWHERE = "anywhere"


class SpecError(ValueError):
    """A spec file that cannot be read or is not valid (the message is one line)."""


def _pair(value: Any) -> Any:
    """A single number means the range [x, x]."""
    return [value, value] if isinstance(value, int | float) and not isinstance(value, bool) else value


def _ordered(low: float, high: float, what: str) -> None:
    if low > high:
        raise ValueError(f"{what} range [{low}, {high}] runs backwards")


Range = Annotated[tuple[float, float], BeforeValidator(_pair)]
CountRange = Annotated[tuple[int, int], BeforeValidator(_pair)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_material(name: str) -> str:
    if name not in MATERIALS:
        raise ValueError(f"unknown material {name!r}; known: {', '.join(sorted(MATERIALS))}")
    return name


Material = Annotated[str, BeforeValidator(lambda v: _check_material(v) if isinstance(v, str) else v)]


class Part(_Strict):
    """One primitive of an object, in the object's frame (fractions of its width, height and depth)."""

    primitive: Literal["box", "ellipsoid", "cylinder", "polygon"]
    offset: tuple[float, float] = (0.0, 0.0)
    size: tuple[float, float] = (1.0, 1.0)
    depth: float = Field(1.0, gt=0, le=1.0)
    points: list[tuple[float, float]] | None = None
    corner_mm: float = Field(5.0, ge=0)
    material: Material | None = None

    @model_validator(mode="after")
    def _points_for_polygons(self) -> Part:
        if self.primitive == "polygon" and (self.points is None or len(self.points) < 3):
            raise ValueError("a polygon part needs at least 3 points")
        if self.primitive != "polygon" and self.points is not None:
            raise ValueError(f"points are for polygon parts, not {self.primitive}")
        if min(self.size) <= 0:
            raise ValueError("part size must be positive")
        return self


class Shape(_Strict):
    """Primitives (``parts``) or a grey-level PNG (``mask``, a path relative to the spec file)."""

    parts: list[Part] | None = None
    mask: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> Shape:
        if (self.parts is None) == (self.mask is None):
            raise ValueError("give exactly one of parts or mask")
        if self.parts is not None and not self.parts:
            raise ValueError("parts is empty")
        return self


class Size(_Strict):
    """Object size: width and height in mm, or as fractions of the host's; depth along the beam in mm."""

    unit: Literal["mm", "fraction"] = "mm"
    width: Range
    height: Range
    depth_mm: Range

    @model_validator(mode="after")
    def _positive(self) -> Size:
        for what in ("width", "height", "depth_mm"):
            low, high = getattr(self, what)
            _ordered(low, high, what)
            if low <= 0:
                raise ValueError(f"{what} must be positive")
        if self.unit == "fraction" and max(self.width[1], self.height[1]) > 1.0:
            raise ValueError("fractions of the host must be at most 1")
        return self


class Compartment(_Strict):
    """Walls added around the load in its host (a welded box, a double floor)."""

    material: Material = "steel"
    wall_mm: Range = (1.0, 2.5)


class ThreatSpec(_Strict):
    """A threat or concealment the simulator can render (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(min_length=1, max_length=80)
    label: str = Field(alias="class")
    description: str = ""
    material: Material | list[Material]
    shape: Shape
    size: Size
    count: CountRange = (1, 1)
    hides_in: list[str] = Field(min_length=1)
    kinds: list[str] = Field(default_factory=lambda: list(SCENE_KINDS), min_length=1)
    rotation_deg: Range = (0.0, 0.0)
    texture: float = Field(0.0, ge=0.0, le=0.5)
    compartment: Compartment | None = None
    _mask: np.ndarray | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _consistent(self) -> ThreatSpec:
        if self.label not in THREAT_CLASSES:
            raise ValueError(f"unknown class {self.label!r}; known: {', '.join(THREAT_CLASSES)}")
        if isinstance(self.material, list) and not self.material:
            raise ValueError("material list is empty")
        _ordered(*self.count, "count")
        if self.count[0] < 0:
            raise ValueError("count must not be negative")
        _ordered(*self.rotation_deg, "rotation_deg")
        for kind in self.kinds:
            if kind not in SCENE_KINDS:
                raise ValueError(f"unknown scene kind {kind!r}; known: {', '.join(SCENE_KINDS)}")
        for host in self.hides_in:
            if host not in HOSTS:
                raise ValueError(f"unknown host {host!r}; known: {', '.join(HOSTS)}")
            if not set(HOSTS[host]) & set(self.kinds):
                raise ValueError(f"host {host!r} exists only in {'/'.join(HOSTS[host])} scans, not in kinds")
        return self

    @property
    def materials(self) -> list[str]:
        """The materials one object is drawn from."""
        return list(self.material) if isinstance(self.material, list) else [self.material]

    @property
    def mask_image(self) -> np.ndarray | None:
        """The shape's mask as float32 depth shares in [0, 1] (loaded with the spec), or None."""
        return self._mask


def _one_line(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "spec"
    message = str(first["msg"]).removeprefix("Value error, ")
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{where}: {message}{more}"


def parse_spec(data: Any, base_dir: pathlib.Path | None = None, source: str = "spec") -> ThreatSpec:
    """A validated spec from parsed YAML/JSON; a mask image path is resolved against ``base_dir``.

    Raises:
        SpecError: invalid content, or a mask image that cannot be read.
    """
    if not isinstance(data, Mapping):
        raise SpecError(f"{source}: a spec is a mapping of keys, got {type(data).__name__}")
    try:
        spec = ThreatSpec.model_validate(data)
    except ValidationError as error:
        raise SpecError(f"{source}: {_one_line(error)}") from None
    if spec.shape.mask is not None:
        path = (base_dir or pathlib.Path.cwd()) / spec.shape.mask
        grey = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if grey is None:
            raise SpecError(f"{source}: shape.mask: cannot read image {path}")
        spec._mask = grey.astype(np.float32) / np.float32(255.0)
    return spec


def load_spec(path: str | pathlib.Path) -> ThreatSpec:
    """Read and validate one spec file (``.yaml``, ``.yml`` or ``.json``).

    Raises:
        SpecError: unreadable file, bad syntax or invalid content (one line naming the file).
    """
    path = pathlib.Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError(f"{path}: cannot read: {error}") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as error:
        raise SpecError(
            f"{path}: not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'}: "
            f"{' '.join(str(error).split())}"
        ) from None
    return parse_spec(data, path.parent, str(path))


def shipped_specs() -> list[pathlib.Path]:
    """The example specs shipped in ``vision/synth/specs/``."""
    return sorted(pathlib.Path(__file__).with_name("specs").glob("*.yaml"))


# ---------------------------------------------------------------- rendering


def _hosts_for(spec: ThreatSpec, hosts: Mapping[str, Sequence[HostRegion]]) -> list[HostRegion]:
    if ANYWHERE in spec.hides_in:
        return [region for regions in hosts.values() for region in regions]
    return [region for name in spec.hides_in for region in hosts.get(name, ())]


def _mask_patch(
    image: np.ndarray, cx: float, cy: float, half_w: float, half_h: float, depth_mm: float, angle: float
) -> Patch:
    """The mask image stretched over a rotated rectangle, grey level times ``depth_mm`` as thickness."""
    y0, x0, u, v = shapes.local_frame(cx, cy, half_w, half_h, angle)
    h, w = image.shape
    # Local (u, v) in [-half, half] to source pixel coordinates of the image.
    map_x = (u / np.float32(2 * max(half_w, 0.5)) + np.float32(0.5)) * np.float32(w) - np.float32(0.5)
    map_y = (v / np.float32(2 * max(half_h, 0.5)) + np.float32(0.5)) * np.float32(h) - np.float32(0.5)
    # Shrinking a large mask: blur it first so thin strokes keep their share of material.
    scale = min(2 * half_w / w, 2 * half_h / h)
    src = cv2.GaussianBlur(image, (0, 0), 0.5 / scale) if scale < 0.5 else image
    mm = cv2.remap(src, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
    return Patch(y0, x0, (mm * np.float32(depth_mm)).astype(np.float32))


def _part_patch(
    ctx: Ctx, part: Part, cx: float, cy: float, w_mm: float, h_mm: float, depth_mm: float, angle: float
) -> Patch:
    x, y = ob.at(ctx, cx, cy, angle, part.offset[0] * w_mm, part.offset[1] * h_mm)
    pw, ph = part.size[0] * w_mm, part.size[1] * h_mm
    depth = depth_mm * part.depth
    if part.primitive == "box":
        return shapes.rounded_box(x, y, ctx.px(pw) / 2, ctx.px(ph) / 2, depth, angle, ctx.px(part.corner_mm))
    if part.primitive == "ellipsoid":
        return shapes.ellipsoid(x, y, ctx.px(pw) / 2, ctx.px(ph) / 2, depth, angle)
    if part.primitive == "cylinder":
        # Lying across the beam along the part's width: its chord (thickness) follows from its diameter.
        radius = ctx.px(ph) / 2
        return shapes.cylinder(x, y, max(ctx.px(pw) / 2 - radius, 0.0), radius, ctx.pixel_mm, angle)
    assert part.points is not None
    points = np.array([(p[0] * pw, p[1] * ph) for p in part.points], np.float64)
    return shapes.polygon(ob.place(ctx, x, y, angle, points), depth, edge_px=max(ctx.px(2.0), 0.7))


def _draw(ctx: Ctx, lo_hi: tuple[float, float]) -> float:
    return ctx.u(*lo_hi)


def render_spec(ctx: Ctx, spec: ThreatSpec, kind: str, hosts: Mapping[str, Sequence[HostRegion]]) -> int:
    """Add ``spec``'s objects to a scene of ``kind`` whose builder offered ``hosts``.

    Returns:
        The number of objects added (0 where the kind or no host fits).
    """
    if kind not in spec.kinds:
        return 0
    regions = _hosts_for(spec, hosts)
    count = int(ctx.rng.integers(spec.count[0], spec.count[1] + 1))
    if not regions or count == 0:
        return 0
    canvas = ctx.canvas
    compartments: dict[int, Instance] = {}
    for _ in range(count):
        index = int(ctx.rng.integers(len(regions)))
        host = regions[index]
        host_w_mm, host_h_mm = 2 * host.half_w * ctx.pixel_mm, 2 * host.half_h * ctx.pixel_mm
        w_mm, h_mm = _draw(ctx, spec.size.width), _draw(ctx, spec.size.height)
        if spec.size.unit == "fraction":
            w_mm, h_mm = w_mm * host_w_mm, h_mm * host_h_mm
        depth_mm = _draw(ctx, spec.size.depth_mm)
        angle = host.angle + math.radians(_draw(ctx, spec.rotation_deg))
        # Anywhere in the host that keeps the object inside it (centred when it is larger).
        x_mm = ctx.u(-1, 1) * max(host_w_mm - w_mm, 0.0) / 2
        y_mm = ctx.u(-1, 1) * max(host_h_mm - h_mm, 0.0) / 2
        cx, cy = ob.at(ctx, host.cx, host.cy, host.angle, x_mm, y_mm)
        material = spec.materials[int(ctx.rng.integers(len(spec.materials)))]
        labels: list[Instance] = [canvas.new_instance(spec.label)]
        if spec.compartment is not None:
            if index not in compartments:
                compartments[index] = _compartment(ctx, spec.compartment, host, depth_mm)
            labels.append(compartments[index])
        if spec.shape.mask is not None and spec.mask_image is not None:
            half_w, half_h = ctx.px(w_mm) / 2, ctx.px(h_mm) / 2
            patches = [(_mask_patch(spec.mask_image, cx, cy, half_w, half_h, depth_mm, angle), material)]
        else:
            assert spec.shape.parts is not None
            patches = [
                (_part_patch(ctx, part, cx, cy, w_mm, h_mm, depth_mm, angle), part.material or material)
                for part in spec.shape.parts
            ]
        for patch, part_material in patches:
            if spec.texture > 0:
                patch = shapes.textured(patch, ctx.rng, ctx.px(30), spec.texture)
            ctx.add(patch, part_material, labels)
    return count


def _compartment(ctx: Ctx, spec: Compartment, host: HostRegion, depth_mm: float) -> Instance:
    """A welded-in box around the host's void: walls plus load are one ``concealment`` instance."""
    conceal = ctx.canvas.new_instance("concealment")
    wall_mm = _draw(ctx, spec.wall_mm)
    shell = shapes.box_shell(
        host.cx,
        host.cy,
        host.half_w * 1.05,
        host.half_h * 1.05,
        depth_mm + 2 * wall_mm,
        wall_mm,
        ctx.pixel_mm,
        host.angle,
    )
    ctx.add(shell, spec.material, conceal)
    return conceal


def inserter(specs: Sequence[ThreatSpec], kind: str) -> Inserter:
    """The ``insert`` hook of ``scene.generate`` that renders ``specs`` into a scene of ``kind``."""

    def insert(ctx: Ctx, hosts: Mapping[str, Sequence[HostRegion]]) -> None:
        for spec in specs:
            render_spec(ctx, spec, kind, hosts)

    return insert
