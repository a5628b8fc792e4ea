"""The camera wall in a real browser: motion state, events with snapshots, masks and zones saved."""

from __future__ import annotations

import pathlib
import time
from typing import Any

import cv2
import pytest

from tests.console.conftest import Server, screenshot, sign_in
from vision.motion.trail import render_sequence, scenario


def _walker_jpegs() -> list[bytes]:
    """A walker crossing a 320×180 trail, then empty frames so that the event's cool-down ends it."""
    spec = scenario("walkers", width=320, height=180, warmup_frames=10, frames=90, walkers=1, trees=1,
                    walker_speed=3.0)  # fmt: skip
    frames = list(render_sequence(spec))
    pictures = [f.image for f in frames] + [frames[5].image] * 15
    return [cv2.imencode(".jpg", p, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes() for p in pictures]


def _post(server: Server, camera: str, key: str, frame: bytes, timestamp: float) -> dict[str, Any]:
    response = server.api(
        "POST", f"/v1/cameras/{camera}/frames", key, content=frame,
        params={"timestamp": timestamp}, headers={"Content-Type": "image/jpeg"},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    return dict(response.json())


def _click_at(page: Any, selector: str, points: list[tuple[float, float]]) -> None:
    box = page.locator(selector).bounding_box()
    assert box is not None
    for fx, fy in points:
        page.mouse.click(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)


@pytest.mark.slow
def test_camera_event_appears_and_zones_are_saved(page: Any, server: Server, shots: pathlib.Path) -> None:
    for camera in ("trail-1", "trail-2"):
        assert server.api("PUT", f"/v1/cameras/{camera}", json={}).status_code in (200, 201)
    camera_key = server.new_key("camera")
    sign_in(page, server)
    page.click("#nav-cameras")
    page.wait_for_selector(".tile[data-camera='trail-2']")
    assert page.locator(".tile[data-camera='trail-1']").get_attribute("data-motion") == "quiet"

    frames = _walker_jpegs()
    start = time.time() - len(frames) / 5
    answers: list[dict[str, Any]] = []
    index = 0
    # Frames until an event is open and a few more: the wall must show motion while it goes on.
    while index < len(frames) and sum(a["event_id"] is not None for a in answers) < 3:
        answers.append(_post(server, "trail-1", camera_key, frames[index], start + index / 5))
        index += 1
    assert any(a["motion"] for a in answers), "the walker should have started an event"
    page.wait_for_selector(".tile[data-camera='trail-1'][data-motion='motion']")
    page.wait_for_selector(".event[data-open='true']")
    screenshot(page, shots, "cameras-motion")

    for later in range(index, len(frames)):
        answers.append(_post(server, "trail-1", camera_key, frames[later], start + later / 5))
    events = server.api("GET", "/v1/events?camera=trail-1").json()
    assert events and not events[0]["open"] and events[0]["snapshot_url"]
    event_id = events[0]["id"]
    page.wait_for_selector(f".event[data-id='{event_id}'][data-open='false'] img[src^='blob:']")
    page.wait_for_selector(".tile[data-camera='trail-1'][data-motion='quiet'] .tile-frame img[src^='blob:']")
    assert (
        page.eval_on_selector(
            ".tile[data-camera='trail-1'] .tile-frame img", "img => img.complete && img.naturalWidth"
        )
        == 320
    )
    assert "trail-1" in page.locator(f".event[data-id='{event_id}']").inner_text()
    screenshot(page, shots, "cameras-event")
    # A click on an event's snapshot shows it large; Esc closes it.
    page.locator(f".event[data-id='{event_id}'] img").click()
    page.wait_for_selector("#lightbox:not([hidden])")
    assert page.eval_on_selector("#lightbox-img", "img => img.naturalWidth") == 320
    screenshot(page, shots, "cameras-snapshot-large")
    page.keyboard.press("Escape")
    page.wait_for_selector("#lightbox", state="hidden")

    # Draw a zone (4 points, closed with Enter) and a mask (3 points, closed on its first point); save.
    page.locator(".tile[data-camera='trail-1'] button.edit").click()
    page.wait_for_selector("#editor:not([hidden]) #ed-img[src^='blob:']")
    page.fill("#ed-zone-name", "trail")
    page.click("#ed-zone")
    _click_at(page, "#ed-layer", [(0.2, 0.5), (0.8, 0.5), (0.9, 0.95), (0.1, 0.95)])
    page.keyboard.press("Enter")
    page.click("#ed-mask")
    _click_at(page, "#ed-layer", [(0.0, 0.0), (0.3, 0.0), (0.3, 0.1), (0.0, 0.0)])
    assert page.locator("#ed-layer g.zone").count() == 1 and page.locator("#ed-layer g.mask").count() == 1
    screenshot(page, shots, "cameras-editor")
    page.click("#ed-save")
    page.wait_for_selector("#editor", state="hidden")
    config = server.api("GET", "/v1/cameras/trail-1").json()["config"]
    zone = config["zones"]["trail"]
    expected = [(0.2, 0.5), (0.8, 0.5), (0.9, 0.95), (0.1, 0.95)]
    assert len(zone) == 4
    assert all(
        abs(x - ex) < 0.01 and abs(y - ey) < 0.01 for (x, y), (ex, ey) in zip(zone, expected, strict=True)
    )
    assert len(config["masks"]) == 1 and len(config["masks"][0]) == 3
    # Everything else of the camera's settings was kept as it was.
    assert config["persistence"] == 3 and config["subtractor"]["kind"] == "gsoc" and config["confirm"]

    # The shapes come back from the API when the editor opens again, and the wall reads in Vietnamese.
    page.select_option("#lang", "vi")
    page.locator(".tile[data-camera='trail-1'] button.edit").click()
    page.wait_for_selector("#ed-layer g.zone")
    assert page.locator("#ed-layer g.zone text").text_content() == "trail"
    assert page.locator("#ed-save").inner_text() == "Lưu"
    page.click("#ed-cancel")
    # The saved shapes are drawn over the camera's tile on the wall.
    page.wait_for_selector(".tile[data-camera='trail-1'] .tile-shapes polygon.zone", state="attached")
    assert page.locator(".tile[data-camera='trail-1'] .tile-shapes polygon.mask").count() == 1
    assert page.locator("#nav-cameras").inner_text() == "Camera"
    assert "Sự kiện" in page.locator(".events-wrap h2").inner_text()
    screenshot(page, shots, "cameras-vi")
