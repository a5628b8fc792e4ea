"""Operator drills in a real browser: an admin switches them on, an operator clears a drill and sees it
revealed, and the report counts the miss."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest

from tests.console.conftest import Server, sample_scan_png, screenshot, sign_in


@pytest.mark.slow
def test_an_operator_who_clears_a_drill_sees_the_reveal_and_it_counts_as_a_miss(
    page: Any, server: Server, shots: pathlib.Path
) -> None:
    # The admin sets drills on for one station, one scan in one, from the drills page.
    sign_in(page, server)
    page.goto(server.url + "/#drills")
    page.wait_for_selector("#drill-classes input")
    page.fill("#drill-station", "drill-lane")
    page.check("#drill-enabled")
    page.fill("#drill-one-in", "1")
    page.click("#drill-save")
    page.wait_for_selector("#drill-settings tr[data-station='drill-lane']")
    settings = server.api("GET", "/v1/drills/settings").json()["items"]
    lane = next(s for s in settings if s["station"] == "drill-lane")
    assert lane["enabled"] is True and lane["rate"] == 1.0
    screenshot(page, shots, "drills-settings")

    posted = server.api(
        "POST",
        "/v1/scans",
        files={"file": ("bag.png", sample_scan_png(5), "image/png")},
        data={"station": "drill-lane"},
    ).json()
    assert posted["verdict"] == "alarm"  # the threshold-0 tiny model alarms on everything
    operator = server.new_key("scan", "feedback")
    page.evaluate("sessionStorage.clear()")
    sign_in(page, server, operator)
    page.locator(f".queue-item[data-id='{posted['id']}']").click()
    page.wait_for_selector("#picture:not([hidden])")
    shown = page.eval_on_selector("#scan-img", "img => img.src")
    # The operator clears it (F: false alarm): the reveal shows the projected threat, outlined.
    page.keyboard.press("f")
    page.wait_for_selector("#lightbox:not([hidden]) #lightbox-img[src^='blob:']")
    caption = page.locator("#lightbox-text").inner_text()
    assert "Drill" in caption and "missed" in caption
    screenshot(page, shots, "drill-reveal")
    page.keyboard.press("Escape")
    page.wait_for_selector("#lightbox", state="hidden")
    # The real scan follows: another picture, and the feedback says it was a drill.
    page.wait_for_function("src => document.getElementById('scan-img').src !== src", arg=shown)
    assert "Drill" in page.locator("#feedback-list").inner_text()
    report = server.api("GET", "/v1/drills/report?station=drill-lane").json()["items"]
    assert [(r["drills"], r["hits"], r["misses"]) for r in report] == [(1, 0, 1)]
    assert report[0]["operator"] == "console-test"

    # The admin's report page shows it.
    page.evaluate("sessionStorage.clear()")
    sign_in(page, server)
    page.goto(server.url + "/#drills")
    row = page.locator("#drill-report tr[data-station='drill-lane']")
    row.wait_for()
    assert row.locator("td.misses").inner_text() == "1" and row.locator("td.hits").inner_text() == "0"
    screenshot(page, shots, "drills-report")
