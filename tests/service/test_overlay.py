"""The operator overlay: heat map storage round trip, blending and boxes."""

from __future__ import annotations

import cv2
import numpy as np

from vision.overlay import decode_heatmap, encode_heatmap, render_overlay


def decode_rgb(png: bytes) -> np.ndarray:
    picture = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert picture is not None
    return cv2.cvtColor(picture, cv2.COLOR_BGR2RGB)


def test_heatmap_round_trip_is_reduced_and_close() -> None:
    heat = np.zeros((768, 1024), np.float32)
    heat[200:400, 300:600] = 0.8
    stored = decode_heatmap(encode_heatmap(heat, max_side=256))
    assert max(stored.shape) <= 256
    assert stored.shape[1] / stored.shape[0] == 1024 / 768
    restored = cv2.resize(stored, (1024, 768), interpolation=cv2.INTER_NEAREST)
    assert abs(float(restored[300, 450]) - 0.8) < 0.01 and float(restored[50, 50]) == 0.0


def test_overlay_paints_heat_only_where_hot_and_draws_boxes() -> None:
    scan = np.full((300, 400, 3), 180, np.uint8)
    heat = np.zeros((75, 100), np.float32)
    heat[40:70, 5:30] = 1.0  # hot block in the lower left, away from the box
    picture = decode_rgb(render_overlay(scan, heat, [("firearm", 0.9, (200, 50, 350, 150))]))
    assert picture.shape == scan.shape
    assert (picture[20, 20] == 180).all()  # cold: the scan's own pixels
    assert not (picture[250, 60] == 180).all()  # hot: tinted by the colour map
    assert tuple(picture[100, 200]) == (255, 32, 32)  # the box's left edge
    assert (picture[100, 275] == 180).all()  # inside the box, no heat: untouched


def test_big_scans_are_reduced_for_display() -> None:
    scan = np.zeros((3000, 4000, 3), np.uint8)
    picture = decode_rgb(render_overlay(scan, np.zeros((10, 10), np.float32), [], max_side=1000))
    assert picture.shape == (750, 1000, 3)
