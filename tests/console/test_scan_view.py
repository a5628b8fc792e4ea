"""The scan view in a real browser against a real service: live queue, verdict, boxes, feedback, uploads."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest

from tests.console.conftest import Server, sample_scan_png, screenshot, sign_in


def _post_scan(server: Server, png: bytes, station: str) -> dict[str, Any]:
    response = server.api(
        "POST", "/v1/scans", files={"file": ("bag.png", png, "image/png")}, data={"station": station}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


@pytest.mark.slow
def test_station_scan_arrives_live_and_operator_feedback_is_stored(
    page: Any, server: Server, shots: pathlib.Path
) -> None:
    operator = server.new_key("scan", "feedback")
    sign_in(page, server, operator)
    page.wait_for_selector("#live[data-state='live']")
    # A station posts while the operator watches: the scan must appear without a reload.
    posted = _post_scan(server, sample_scan_png(3), "lane-7")
    page.wait_for_selector(f".queue-item[data-id='{posted['id']}']")
    item = page.locator(f".queue-item[data-id='{posted['id']}']")
    assert "lane-7" in item.inner_text()
    item.click()
    page.wait_for_selector("#picture:not([hidden])")
    verdict = page.locator("#verdict")
    assert verdict.get_attribute("data-verdict") == posted["verdict"] == "alarm"
    assert verdict.inner_text().strip() == "ALARM"
    # Every detection is a box on the picture, labelled with class and score.
    assert posted["detections"], "the threshold-0 tiny model should report regions"
    boxes = page.locator("#box-layer g.det")
    assert boxes.count() == len(posted["detections"])
    first_label = boxes.first.locator("text").text_content() or ""
    assert first_label.split()[0] in page.locator("#detections").inner_text()
    # The picture is the scan itself with the heat-map layer over it, both loaded.
    natural = page.eval_on_selector("#scan-img", "img => [img.naturalWidth, img.naturalHeight]")
    assert natural == [480, 360]
    assert page.eval_on_selector("#heat-img", "img => img.complete && img.naturalWidth > 0")
    screenshot(page, shots, "scan-alarm-en")

    # Toggles: H hides the heat map, B hides the boxes.
    page.keyboard.press("h")
    assert page.locator("#heat-img").is_hidden()
    page.keyboard.press("b")
    assert page.eval_on_selector("#box-layer g.det", "g => getComputedStyle(g).display") == "none"
    page.keyboard.press("h")
    page.keyboard.press("b")
    assert page.locator("#heat-img").is_visible()
    # O shows the service's own overlay.png large; Esc closes it.
    page.keyboard.press("o")
    page.wait_for_selector("#lightbox:not([hidden]) #lightbox-img[src^='blob:']")
    assert page.eval_on_selector("#lightbox-img", "img => img.decode().then(() => img.naturalWidth)") == 480
    page.keyboard.press("Escape")
    page.wait_for_selector("#lightbox", state="hidden")

    # F marks a false alarm; it is stored with this key and shown.
    page.keyboard.press("f")
    page.wait_for_selector("#feedback-list li[data-outcome='false_alarm']")
    stored = server.api("GET", f"/v1/scans/{posted['id']}").json()
    assert [f["outcome"] for f in stored["feedback"]] == ["false_alarm"]

    # M, drag a box on the picture, pick the class, Enter: a "missed" feedback with that box in image pixels.
    page.keyboard.press("m")
    page.select_option("#missed-class", "blade")
    layer = page.locator("#box-layer").bounding_box()
    assert layer is not None
    x0, y0 = layer["x"] + layer["width"] * 0.25, layer["y"] + layer["height"] * 0.25
    x1, y1 = layer["x"] + layer["width"] * 0.5, layer["y"] + layer["height"] * 0.75
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=4)
    page.mouse.move(x1, y1, steps=4)
    page.mouse.up()
    page.wait_for_selector("#missed-boxes li")
    screenshot(page, shots, "scan-drawing-missed")
    page.locator("#missed-class").blur()
    page.keyboard.press("Enter")
    page.wait_for_selector("#feedback-list li[data-outcome='missed']")
    stored = server.api("GET", f"/v1/scans/{posted['id']}").json()
    missed = stored["feedback"][-1]
    assert missed["outcome"] == "missed" and missed["boxes"][0]["label"] == "blade"
    bx0, by0, bx1, by1 = missed["boxes"][0]["box"]
    # Drawn from 25 % to 50 % of the width and 25 % to 75 % of the height of a 480×360 scan.
    assert abs(bx0 - 120) <= 6 and abs(bx1 - 240) <= 6 and abs(by0 - 90) <= 6 and abs(by1 - 270) <= 6
    assert page.locator("#box-layer g.operator").count() == 1
    screenshot(page, shots, "scan-after-feedback")


@pytest.mark.slow
def test_clear_verdict_is_green_and_only_a_missed_threat_can_be_reported(
    page: Any, server: Server, shots: pathlib.Path
) -> None:
    # Serve the threshold-1 version for this test: every scan is clear.
    assert server.api("POST", "/v1/models/tiny-threat/0.0.2/promote").status_code == 200
    try:
        posted = _post_scan(server, sample_scan_png(21), "lane-4")
    finally:
        assert server.api("POST", "/v1/models/tiny-threat/0.0.1/promote").status_code == 200
    assert posted["verdict"] == "clear"
    sign_in(page, server)
    page.locator(f".queue-item[data-id='{posted['id']}']").click()
    page.wait_for_selector("#picture:not([hidden])")
    verdict = page.locator("#verdict")
    assert verdict.inner_text().strip() == "CLEAR"
    assert verdict.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(48, 164, 108)"
    assert page.locator("#act-confirm").is_disabled() and page.locator("#act-false").is_disabled()
    assert page.locator("#act-missed").is_enabled()
    # Regions the model reports under the threshold (none from this model here) are drawn as weak ones.
    assert page.locator("#box-layer g.det.weak").count() == len(posted["detections"])
    page.keyboard.press("c")
    page.keyboard.press("f")
    screenshot(page, shots, "scan-clear-en")
    assert server.api("GET", f"/v1/scans/{posted['id']}").json()["feedback"] == []


@pytest.mark.slow
def test_upload_by_drag_and_drop_shows_the_verdict(page: Any, server: Server, shots: pathlib.Path) -> None:
    sign_in(page, server)
    png = sample_scan_png(11)
    # A real drop event carrying a file, as the browser fires it when a file is dragged from the desktop.
    page.evaluate(
        """async (bytes) => {
            const file = new File([new Uint8Array(bytes)], "dropped.png", {type: "image/png"});
            const data = new DataTransfer();
            data.items.add(file);
            const page = document.getElementById("page-scans");
            page.dispatchEvent(new DragEvent("dragenter", {dataTransfer: data, bubbles: true}));
            page.dispatchEvent(new DragEvent("drop", {dataTransfer: data, bubbles: true, cancelable: true}));
        }""",
        list(png),
    )
    page.wait_for_selector(".queue-item[data-verdict] >> text=console")
    page.wait_for_selector("#picture:not([hidden])")
    listed = server.api("GET", "/v1/scans?limit=200").json()["items"]
    uploaded = [s for s in listed if s["station"] == "console"]
    assert len(uploaded) == 1
    assert page.locator("#verdict").get_attribute("data-verdict") == uploaded[0]["verdict"]
    assert page.locator(".queue-item.selected").get_attribute("data-id") == uploaded[0]["id"]
    assert page.locator("#dropzone").is_hidden()
    screenshot(page, shots, "scan-uploaded")


@pytest.mark.slow
def test_vietnamese_is_chosen_per_user_and_formats_numbers(
    page: Any, server: Server, shots: pathlib.Path
) -> None:
    posted = _post_scan(server, sample_scan_png(5), "làn-2")
    sign_in(page, server)
    page.select_option("#lang", "vi")
    page.wait_for_selector("html[lang='vi']", state="attached")
    page.locator(f".queue-item[data-id='{posted['id']}']").click()
    page.wait_for_selector("#picture:not([hidden])")
    assert page.locator("#nav-scans").inner_text() == "Lượt soi"
    assert page.locator("#verdict").inner_text().strip() == "CẢNH BÁO"
    assert "Báo động giả" in page.locator("#act-false").inner_text()
    assert "Bản đồ nhiệt" in page.locator(".stage-tools").inner_text()
    # Vietnamese writes decimals with a comma.
    score = page.locator("#fact-score").inner_text()
    assert score == f"{posted['score']:.3f}".replace(".", ","), score
    screenshot(page, shots, "scan-alarm-vi")
    # The choice is remembered for this user: a new sign-in in the same browser comes back in Vietnamese.
    page.click("#signout")
    page.fill("#signin-key", server.admin_key)
    page.click("#signin-submit")
    page.wait_for_selector("#app:not([hidden])")
    assert page.locator("#nav-models").inner_text() == "Mô hình"
    # Another operator at the same desk picks English for themselves; the first one keeps Vietnamese.
    page.click("#signout")
    page.fill("#signin-key", server.new_key("scan", "feedback"))
    page.click("#signin-submit")
    page.wait_for_selector("#app:not([hidden])")
    page.select_option("#lang", "en")
    assert page.locator("#nav-models").inner_text() == "Models"
    page.click("#signout")
    page.fill("#signin-key", server.admin_key)
    page.click("#signin-submit")
    page.wait_for_selector("#app:not([hidden])")
    assert page.locator("#nav-models").inner_text() == "Mô hình"


@pytest.mark.slow
def test_wrong_and_revoked_keys_are_refused(page: Any, server: Server, shots: pathlib.Path) -> None:
    page.goto(server.url + "/")
    page.fill("#signin-key", "tri_not-a-key-at-all-000000000")
    page.click("#signin-submit")
    page.wait_for_selector("#signin-error:not([hidden])")
    assert "unknown or revoked" in page.locator("#signin-error").inner_text()
    assert page.locator("#app").is_hidden()
    screenshot(page, shots, "signin-refused")
    # A key revoked while in use sends the operator back to the sign-in form at the next request.
    key = server.new_key("scan", "feedback")
    page.fill("#signin-key", key)
    page.click("#signin-submit")
    page.wait_for_selector("#app:not([hidden])")
    server.revoke(key)
    page.click("#nav-models")
    page.wait_for_selector("#signin:not([hidden]) #signin-error:not([hidden])")
    assert page.locator("#app").is_hidden()
    assert page.evaluate("() => sessionStorage.getItem('triage.apiKey')") is None


def _inside(inner: dict[str, float] | None, outer: dict[str, float] | None, slack: float = 1.0) -> bool:
    assert inner is not None and outer is not None
    return (
        inner["x"] >= outer["x"] - slack
        and inner["y"] >= outer["y"] - slack
        and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + slack
        and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + slack
    )


@pytest.mark.slow
@pytest.mark.parametrize(("width", "height"), [(1366, 768), (2560, 1440)])
def test_layout_fits_the_screen(
    page: Any, server: Server, shots: pathlib.Path, width: int, height: int
) -> None:
    posted = _post_scan(server, sample_scan_png(7), "lane-1")
    page.set_viewport_size({"width": width, "height": height})
    sign_in(page, server)
    page.locator(f".queue-item[data-id='{posted['id']}']").click()
    page.wait_for_selector("#picture:not([hidden])")
    screen = {"x": 0.0, "y": 0.0, "width": float(width), "height": float(height)}
    # No scrolling the page sideways or down: verdict, actions and the whole picture are on screen at once.
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    assert page.evaluate("() => document.documentElement.scrollHeight") <= height
    for selector in ("#verdict", "#act-confirm", "#act-false", "#act-missed", "#picture"):
        assert _inside(page.locator(selector).bounding_box(), screen), selector
    stage = page.locator("#stage-view").bounding_box()
    picture = page.locator("#picture").bounding_box()
    assert _inside(picture, stage)
    assert picture is not None and stage is not None
    # The scan is scaled up to use the stage (one side fills it), heat map and boxes on the same box.
    assert max(picture["width"] / stage["width"], picture["height"] / stage["height"]) > 0.9
    assert page.locator("#heat-img").bounding_box() == picture
    assert page.locator("#verdict").evaluate("el => parseFloat(getComputedStyle(el).fontSize)") >= 36
    screenshot(page, shots, f"scan-{width}x{height}")
