"""Operator overlay: the model's heat map blended over the scan, with labelled boxes, as PNG bytes."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

# Heat below this is not painted, so clear areas keep the scan's own colours.
HEAT_FLOOR = 0.15
_BOX_COLOUR_RGB = (255, 32, 32)
# Longest side of a stored heat map: the model's output is coarser than this on any scan it serves.
HEATMAP_MAX_SIDE = 256


def encode_heatmap(heatmap: np.ndarray, max_side: int = HEATMAP_MAX_SIDE) -> bytes:
    """A compact 8-bit PNG of a [0, 1] heat map, reduced so its longer side is at most ``max_side``.

    Args:
        heatmap: H×W float map in [0, 1].
        max_side: longest side of the stored map in pixels.

    Returns:
        PNG bytes.
    """
    height, width = heatmap.shape[:2]
    # Heat maps are upsampled from a coarse model output, so plain striding loses nothing and costs
    # nothing, unlike filtering the full-resolution float map (this runs on every scan).
    step = max(1, -(-max(height, width) // max_side))
    heat = np.clip(np.nan_to_num(heatmap[::step, ::step].astype(np.float32, copy=False)), 0.0, 1.0)
    ok, png = cv2.imencode(".png", np.round(heat * 255).astype(np.uint8), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise ValueError("could not encode the heat map")
    return png.tobytes()


def decode_heatmap(png: bytes) -> np.ndarray:
    """The [0, 1] float32 map stored by ``encode_heatmap``.

    Raises:
        ValueError: the bytes are not a grey PNG.
    """
    grey = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    if grey is None:
        raise ValueError("stored heat map is not a PNG")
    return grey.astype(np.float32) / 255.0


def render_overlay(
    rgb: np.ndarray,
    heatmap: np.ndarray,
    boxes: Sequence[tuple[str, float, Sequence[float]]],
    alpha: float = 0.5,
    max_side: int = 2048,
) -> bytes:
    """Blend a heat map over a scan and draw boxes with labels.

    Args:
        rgb: H×W×3 uint8 scan as the model saw it.
        heatmap: float map in [0, 1] of any size (resized to the scan).
        boxes: ``(label, score, (x0, y0, x1, y1))`` in scan pixels.
        alpha: heat-map opacity where the heat is 1.
        max_side: longest side of the returned picture (big scans are reduced for display).

    Returns:
        PNG bytes of the RGB overlay.
    """
    height, width = rgb.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    canvas = (
        rgb
        if scale == 1.0
        else cv2.resize(
            rgb, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA
        )
    )
    out_h, out_w = canvas.shape[:2]
    heat = cv2.resize(
        np.clip(heatmap.astype(np.float32), 0, 1), (out_w, out_h), interpolation=cv2.INTER_LINEAR
    )
    coloured = cv2.cvtColor(
        cv2.applyColorMap(np.round(heat * 255).astype(np.uint8), cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB
    )
    # Opacity grows with the heat, so faint responses stay faint and the scan stays readable.
    weight = (alpha * np.clip((heat - HEAT_FLOOR) / (1 - HEAT_FLOOR), 0, 1))[..., None]
    blended = canvas.astype(np.float32) * (1 - weight) + coloured.astype(np.float32) * weight
    picture = np.ascontiguousarray(np.round(blended).astype(np.uint8))
    thickness = max(1, round(max(out_h, out_w) / 400))
    font_scale = max(0.4, max(out_h, out_w) / 1600)
    for label, score, box in boxes:
        x0, y0, x1, y1 = (round(float(v) * scale) for v in box)
        cv2.rectangle(picture, (x0, y0), (x1, y1), _BOX_COLOUR_RGB, thickness)
        text = f"{label} {score:.2f}"
        (text_w, text_h), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)
        top = max(0, y0 - text_h - baseline - 2)
        cv2.rectangle(picture, (x0, top), (x0 + text_w + 4, top + text_h + baseline + 2), _BOX_COLOUR_RGB, -1)
        cv2.putText(
            picture,
            text,
            (x0 + 2, top + text_h + 1),
            cv2.FONT_HERSHEY_SIMPLEX,
            font_scale,
            (255, 255, 255),
            thickness,
            cv2.LINE_AA,
        )
    ok, png = cv2.imencode(".png", cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError("could not encode the overlay")
    return png.tobytes()


def heat_layer_png(heatmap: np.ndarray) -> bytes:
    """A [0, 1] heat map as an RGBA PNG: the jet colour map, opacity growing with the heat.

    Args:
        heatmap: H×W float map in [0, 1].

    Returns:
        PNG bytes (same size as the map; the browser scales it over the scan).
    """
    heat = np.clip(heatmap.astype(np.float32), 0.0, 1.0)
    bgr = cv2.applyColorMap(np.round(heat * 255).astype(np.uint8), cv2.COLORMAP_JET)
    # As render_overlay (opacity 0.5 at full heat): no paint below the floor, so clear areas keep the
    # scan's own colours.
    alpha = np.round(128 * np.clip((heat - HEAT_FLOOR) / (1 - HEAT_FLOOR), 0, 1)).astype(np.uint8)
    ok, png = cv2.imencode(".png", np.dstack([bgr, alpha]))
    if not ok:
        raise ValueError("could not encode the heat map")
    return png.tobytes()
