"""The one preprocessing of model inputs, shared by training, export checks and inference.

A scan of any size is letterboxed (aspect kept, centred, padded with the white of an empty belt) to a
square of ``input_size`` pixels, then scaled to float32 CHW with a fixed mean and standard deviation.
With ``content_fill`` the scan is first cut down around the bag (:func:`content_window`), so that an
empty belt around it does not shrink the bag in the model input. The :class:`Letterbox` remembers the
placement so that maps and boxes computed on the model input can be mapped back onto the scan. Only numpy
and OpenCV: the runtime needs no torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

# A white pad: an empty X-ray belt transmits fully, so a dark pad would look like dense material.
DEFAULT_PAD_VALUE = 255
# A pixel belongs to the bag where its darkest channel is at least this far below the belt's white, and a
# row or column holds bag where at least CONTENT_SHARE of its pixels do (JPEG ringing and a stray speck on
# the belt do not). The window is found on every n-th pixel of each n-th row, n such that the scan's
# longer side gives at most CONTENT_PROBE_SIDE of them (under a millisecond on a 1024 x 768 scan).
CONTENT_DARKER = 20
CONTENT_SHARE = 0.01
CONTENT_PROBE_SIDE = 256


@dataclass(frozen=True)
class PreprocessSpec:
    """How an RGB scan becomes a model input; stored in the model card and the ONNX metadata.

    Attributes:
        input_size: side of the square model input in pixels.
        pad_value: grey level of the letterbox padding (0–255).
        mean: per-channel mean subtracted after scaling to [0, 1].
        std: per-channel standard deviation divided after subtracting the mean.
        output_stride: how many input pixels one cell of the model's output maps covers.
        content_fill: 0 letterboxes the whole scan; a share in (0, 1] first cuts the scan down around the
            bag until the bag spans at least that share of the window's longer side
            (:func:`content_window`), so that the bag's pixels reach the network at the same scale however
            much empty belt a scanner frames it with.
    """

    input_size: int = 512
    pad_value: int = DEFAULT_PAD_VALUE
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.25, 0.25, 0.25)
    output_stride: int = 4
    content_fill: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description, including the fixed resize method."""
        out = asdict(self)
        out["mean"], out["std"] = list(self.mean), list(self.std)
        out["resize"] = "letterbox-centred"
        out["interpolation"] = "area when shrinking, linear when enlarging"
        out["layout"] = "NCHW float32 RGB"
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PreprocessSpec:
        """Read a spec written by :meth:`to_dict`.

        Raises:
            ValueError: if a field is missing or has the wrong shape.
        """
        try:
            mean = tuple(float(v) for v in data["mean"])
            std = tuple(float(v) for v in data["std"])
            spec = cls(
                input_size=int(data["input_size"]),
                pad_value=int(data["pad_value"]),
                mean=(mean[0], mean[1], mean[2]),
                std=(std[0], std[1], std[2]),
                output_stride=int(data.get("output_stride", 4)),
                # Cards written before content framing existed letterboxed the whole scan.
                content_fill=float(data.get("content_fill", 0.0)),
            )
        except (KeyError, TypeError, IndexError) as error:
            raise ValueError(f"bad preprocessing spec {dict(data)!r}: {error}") from None
        if len(mean) != 3 or len(std) != 3 or spec.input_size < 16 or min(std) <= 0:
            raise ValueError(f"bad preprocessing spec {dict(data)!r}")
        if not 0.0 <= spec.content_fill <= 1.0:
            raise ValueError(f"bad preprocessing spec {dict(data)!r}: content_fill is a share in [0, 1]")
        if spec.input_size % spec.output_stride:
            raise ValueError(f"input_size {spec.input_size} is not a multiple of {spec.output_stride}")
        return spec


@dataclass(frozen=True)
class Letterbox:
    """Where a scan of ``width`` x ``height`` sits inside the square model input.

    The input shows the window ``crop_x, crop_y, crop_width x crop_height`` of the scan (a crop width or
    height of 0: the whole scan), resized by ``scale`` and placed at ``pad_x, pad_y``.
    """

    scale: float
    pad_x: int
    pad_y: int
    width: int
    height: int
    input_size: int
    crop_x: int = 0
    crop_y: int = 0
    crop_width: int = 0
    crop_height: int = 0

    @property
    def window_width(self) -> int:
        """Width of the part of the scan the input shows."""
        return self.crop_width or self.width

    @property
    def window_height(self) -> int:
        """Height of the part of the scan the input shows."""
        return self.crop_height or self.height

    @property
    def inner_width(self) -> int:
        """Width of the resized window inside the input."""
        return max(1, round(self.window_width * self.scale))

    @property
    def inner_height(self) -> int:
        """Height of the resized window inside the input."""
        return max(1, round(self.window_height * self.scale))

    def box_to_image(self, box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        """Map an ``x0, y0, x1, y1`` box in input pixels onto the original scan, clipped to it."""
        x0, y0, x1, y1 = box
        fx = lambda v: float(min(max((v - self.pad_x) / self.scale + self.crop_x, 0.0), self.width))  # noqa: E731
        fy = lambda v: float(min(max((v - self.pad_y) / self.scale + self.crop_y, 0.0), self.height))  # noqa: E731
        return fx(x0), fy(y0), fx(x1), fy(y1)

    def map_to_image(self, values: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
        """Resample a square map covering the model input (any resolution) onto the original scan.

        Args:
            values: ``S x S`` float32 map aligned with the model input.
            size: ``(width, height)`` of the result; default the scan's own.

        Returns:
            ``height x width`` float32 map; 0 on the belt outside the window the input showed (nothing was
            seen there).
        """
        width, height = size if size is not None else (self.width, self.height)
        factor = values.shape[0] / self.input_size
        # Map cells per scan pixel, and the map position of the scan's corner (outside the map when the
        # input shows a window of the scan).
        kx = factor * self.inner_width / self.window_width
        ky = factor * self.inner_height / self.window_height
        x0, y0 = factor * self.pad_x - kx * self.crop_x, factor * self.pad_y - ky * self.crop_y
        # One affine warp crops the letterbox and resizes in a single pass (sub-pixel exact).
        sx, sy = kx * self.width / width, ky * self.height / height
        matrix = np.array([[sx, 0.0, x0 + 0.5 * sx - 0.5], [0.0, sy, y0 + 0.5 * sy - 0.5]], dtype=np.float64)
        out = cv2.warpAffine(
            values.astype(np.float32, copy=False),
            matrix,
            (width, height),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )
        if self.crop_width or self.crop_height:
            fx, fy = width / self.width, height / self.height
            x0, x1 = round(self.crop_x * fx), round((self.crop_x + self.window_width) * fx)
            y0, y1 = round(self.crop_y * fy), round((self.crop_y + self.window_height) * fy)
            framed = np.zeros_like(out)
            framed[y0:y1, x0:x1] = out[y0:y1, x0:x1]
            out = framed
        return out


def as_rgb(image: np.ndarray) -> np.ndarray:
    """Return an ``H x W x 3`` uint8 view of a grey, RGB or RGBA uint8 image.

    Raises:
        ValueError: for any other dtype or shape.
    """
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {image.dtype}")
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    if image.ndim == 3 and image.shape[2] == 4:
        return image[:, :, :3]
    raise ValueError(f"expected an H x W x 3 RGB image, got shape {image.shape}")


Window = tuple[int, int, int, int]


def content_window(image: np.ndarray, fill: float, pad_value: int = DEFAULT_PAD_VALUE) -> Window:
    """``x0, y0, x1, y1`` of the part of ``image`` the model sees: the bag, with as much belt around it as
    makes the bag span ``fill`` of the window's longer side (never more than the scan).

    The bag is every row and column with bag pixels (see :data:`CONTENT_DARKER`). The window is centred on
    the bag and moved, not shrunk, where it would leave the scan. A scan with no bag, ``fill`` 0, or a bag
    that already spans ``fill`` of the scan keeps the whole scan.

    Args:
        image: ``H x W x C`` or ``H x W`` uint8 scan.
        fill: the least share of the window's longer side the bag should span, in [0, 1].
        pad_value: the belt's white.
    """
    height, width = image.shape[:2]
    whole = (0, 0, width, height)
    if fill <= 0:
        return whole
    step = -(-max(height, width) // CONTENT_PROBE_SIDE)
    probe = image[::step, ::step]
    bag = (probe.min(axis=2) if probe.ndim == 3 else probe) < pad_value - CONTENT_DARKER
    rows = np.flatnonzero(bag.mean(axis=1) >= CONTENT_SHARE)
    cols = np.flatnonzero(bag.mean(axis=0) >= CONTENT_SHARE)
    if not len(rows) or not len(cols):
        return whole
    bx0, bx1 = int(cols[0]) * step, min(width, (int(cols[-1]) + 1) * step)
    by0, by1 = int(rows[0]) * step, min(height, (int(rows[-1]) + 1) * step)
    side = max(bx1 - bx0, by1 - by0) / fill
    win_w = min(width, max(bx1 - bx0, int(np.ceil(side))))
    win_h = min(height, max(by1 - by0, int(np.ceil(side))))
    x0 = min(max(round((bx0 + bx1 - win_w) / 2), 0), width - win_w)
    y0 = min(max(round((by0 + by1 - win_h) / 2), 0), height - win_h)
    return x0, y0, x0 + win_w, y0 + win_h


def _placement(height: int, width: int, input_size: int, window: Window | None) -> Letterbox:
    x0, y0, x1, y1 = window if window is not None else (0, 0, width, height)
    if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
        raise ValueError(f"window {window} is not inside a {width} x {height} image")
    cropped = (x0, y0, x1, y1) != (0, 0, width, height)
    crop = (x0, y0, x1 - x0, y1 - y0) if cropped else (0, 0, 0, 0)
    scale = input_size / max(x1 - x0, y1 - y0)
    placement = Letterbox(scale, 0, 0, width, height, input_size, *crop)
    pad_x, pad_y = (input_size - placement.inner_width) // 2, (input_size - placement.inner_height) // 2
    return Letterbox(scale, pad_x, pad_y, width, height, input_size, *crop)


def _fit(
    image: np.ndarray, placement: Letterbox, fill: int, dtype: np.dtype, interpolation: int
) -> np.ndarray:
    """The window ``placement`` shows of ``image``, resized into a square of ``fill`` (padding)."""
    x0, y0, width, height = (
        placement.crop_x,
        placement.crop_y,
        placement.window_width,
        placement.window_height,
    )
    new_w, new_h, pad_x, pad_y = (
        placement.inner_width,
        placement.inner_height,
        placement.pad_x,
        placement.pad_y,
    )
    canvas = np.full((placement.input_size, placement.input_size, *image.shape[2:]), fill, dtype=dtype)
    shown = image[y0 : y0 + height, x0 : x0 + width]
    canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = cv2.resize(
        shown, (new_w, new_h), interpolation=interpolation
    )
    return canvas


def letterbox(
    image: np.ndarray, input_size: int, pad_value: int = DEFAULT_PAD_VALUE, window: Window | None = None
) -> tuple[np.ndarray, Letterbox]:
    """Resize ``image`` (aspect kept), or its ``window``, into a centred square of ``input_size`` pixels.

    Args:
        image: ``H x W x C`` or ``H x W`` uint8 image.
        input_size: side of the output square.
        pad_value: grey level of the padding.
        window: ``x0, y0, x1, y1`` of the part to show (:func:`content_window`); default all of it.

    Returns:
        The square image and its :class:`Letterbox`.
    """
    height, width = image.shape[:2]
    if height < 1 or width < 1:
        raise ValueError(f"empty image of shape {image.shape}")
    placement = _placement(height, width, input_size, window)
    interpolation = cv2.INTER_AREA if placement.scale < 1 else cv2.INTER_LINEAR
    return _fit(image, placement, pad_value, image.dtype, interpolation), placement


def letterbox_mask(mask: np.ndarray, input_size: int, window: Window | None = None) -> np.ndarray:
    """Letterbox a class-map mask like :func:`letterbox` (nearest neighbour, background padding)."""
    placement = _placement(mask.shape[0], mask.shape[1], input_size, window)
    return _fit(mask, placement, 0, np.dtype(np.uint8), cv2.INTER_NEAREST)


def window_of(placement: Letterbox) -> Window:
    """The ``x0, y0, x1, y1`` window of the scan that ``placement`` shows (to frame its mask alike)."""
    x0, y0 = placement.crop_x, placement.crop_y
    return x0, y0, x0 + placement.window_width, y0 + placement.window_height


def letterbox_scan(image: np.ndarray, spec: PreprocessSpec) -> tuple[np.ndarray, Letterbox]:
    """:func:`letterbox` of an RGB scan as ``spec`` frames it (around the bag where ``content_fill``)."""
    window = content_window(image, spec.content_fill, spec.pad_value)  # the whole scan at fill 0
    return letterbox(image, spec.input_size, spec.pad_value, window)


def normalize(square: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """Scale ``H x W x 3`` uint8 pixels to ``3 x H x W`` float32, minus mean, over standard deviation."""
    # OpenCV's blob routine converts, subtracts and transposes in one pass: ~25x faster than numpy here.
    blob = cv2.dnn.blobFromImage(square, 1.0 / 255.0, mean=tuple(255.0 * m for m in spec.mean))[0]
    for channel, std in enumerate(spec.std):
        blob[channel] *= np.float32(1.0 / std)
    return blob


def preprocess(image: np.ndarray, spec: PreprocessSpec) -> tuple[np.ndarray, Letterbox]:
    """Turn one RGB scan into a ``3 x S x S`` float32 model input.

    Args:
        image: ``H x W x 3`` uint8 RGB (grey and RGBA are accepted and converted).
        spec: the model's preprocessing.

    Returns:
        The input array and where the scan sits inside it.
    """
    square, placement = letterbox_scan(as_rgb(image), spec)
    return normalize(square, spec), placement
