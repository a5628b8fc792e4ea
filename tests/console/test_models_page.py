"""The models page: versions side by side with their card metrics; promote and roll back with an admin key."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest

from tests.console.conftest import Server, screenshot, sign_in


def _serving(server: Server) -> str:
    models = server.api("GET", "/v1/models").json()
    return next(f"{m['name']}/{m['version']}" for m in models if m["serving"])


@pytest.mark.slow
def test_models_side_by_side_promote_and_roll_back(page: Any, server: Server, shots: pathlib.Path) -> None:
    sign_in(page, server)
    page.click("#nav-models")
    page.wait_for_selector("#models-table th[data-model='tiny-threat/0.0.2']")
    table = page.locator("#models-table")
    text = table.inner_text()
    assert "tiny-threat 0.0.1" in text and "tiny-threat 0.0.2" in text
    # The cards' metrics in one row each, the better one marked.
    auroc = table.locator("tr", has_text="AUROC")
    assert auroc.locator("td").all_inner_texts() == ["91.0%", "95.0%"]
    assert auroc.locator("td.best").inner_text() == "95.0%"
    far = table.locator("tr", has_text="false-alarm rate").last
    assert far.locator("td.best").inner_text() == "4.0%"
    # A threshold per scene kind where a card has one; kinds no card calibrated apart get no row.
    luggage = table.locator("tr", has_text="Alarm threshold, luggage")
    assert luggage.locator("td").all_inner_texts() == ["—", "1.000"]
    assert table.locator("tr", has_text="Alarm threshold, vehicles").count() == 0
    screenshot(page, shots, "models")

    was = _serving(server)
    page.click("th[data-model='tiny-threat/0.0.2'] button.promote")
    page.click("#modal-ok")
    page.wait_for_selector("th[data-model='tiny-threat/0.0.2'] .badge.serving")
    assert _serving(server) == "tiny-threat/0.0.2" != was
    # Roll back: the older version's button says so, and brings it back.
    rollback = page.locator("th[data-model='tiny-threat/0.0.1'] button.rollback")
    assert rollback.count() == 1
    rollback.click()
    page.click("#modal-ok")
    page.wait_for_selector("th[data-model='tiny-threat/0.0.1'] .badge.serving")
    assert _serving(server) == "tiny-threat/0.0.1"
    # In Vietnamese, with Vietnamese number formatting.
    page.select_option("#lang", "vi")
    page.wait_for_selector("th[data-model='tiny-threat/0.0.1'] .badge.serving >> text=đang phục vụ")
    assert auroc.locator("td").all_inner_texts() == ["91,0%", "95,0%"]
    screenshot(page, shots, "models-vi")


@pytest.mark.slow
def test_models_page_hides_promotion_from_operators(page: Any, server: Server) -> None:
    sign_in(page, server, server.new_key("scan", "feedback"))
    page.click("#nav-models")
    page.wait_for_selector("#models-table th[data-model]")
    assert page.locator("#models-table button").count() == 0
    assert page.locator("#models-note").inner_text() != ""
    assert page.locator("#nav-cameras").is_hidden()


@pytest.mark.slow
def test_an_ungated_model_is_promoted_only_with_a_reason(
    page: Any, server: Server, tiny_model_dir: pathlib.Path, shots: pathlib.Path
) -> None:
    from tests.helpers import copy_model

    copy_model(tiny_model_dir, server.models_root / "tiny-threat" / "0.0.3", version="0.0.3", threshold=0.0)
    was = _serving(server)
    sign_in(page, server)
    page.click("#nav-models")
    page.click("th[data-model='tiny-threat/0.0.3'] button.promote")
    page.click("#modal-ok")
    # The service refuses (no gate passed); the console asks for a reason, and OK waits for one.
    page.wait_for_selector("#modal-input:visible")
    assert "did not pass the gate" in page.locator("#modal-text").inner_text()
    assert page.locator("#modal-ok").is_disabled()
    screenshot(page, shots, "models-force")
    page.fill("#modal-input", "hotfix: new door-panel concealment at port X")
    page.click("#modal-ok")
    page.wait_for_selector("th[data-model='tiny-threat/0.0.3'] .badge.serving")
    assert _serving(server) == "tiny-threat/0.0.3" != was
    history = (server.models_root / "HISTORY.jsonl").read_text().splitlines()
    last = json.loads(history[-1])
    assert last["model"] == "tiny-threat/0.0.3" and last["forced"] is True
    assert last["reason"] == "hotfix: new door-panel concealment at port X"
    server.api("POST", "/v1/models/rollback")
    assert _serving(server) == was


@pytest.mark.slow
def test_station_threshold_proposed_applied_and_rolled_back(
    page: Any, server: Server, shots: pathlib.Path
) -> None:
    import numpy as np

    from tests.service.conftest import png_bytes

    for seed in range(24):
        files = {"file": ("bag.png", png_bytes(seed=seed), "image/png")}
        scan = server.api(
            "POST", "/v1/scans", files=files, data={"station": "console-lane", "kind": "luggage"}
        )
        assert scan.status_code == 201, scan.text
        if scan.json()["verdict"] == "alarm":  # the operator clears it: a false alarm
            judged = server.api(
                "POST", f"/v1/scans/{scan.json()['id']}/feedback", json={"outcome": "false_alarm"}
            )
            assert judged.status_code == 201
    sign_in(page, server)
    page.click("#nav-models")
    row = page.locator("#stations-table tr[data-station='console-lane'][data-kind='luggage']")
    row.wait_for()
    assert "(model)" in row.locator("td.threshold").inner_text()
    row.locator("button.propose").click()
    page.wait_for_selector("#modal:not([hidden]) #modal-text >> text=console-lane")  # the proposal arrived
    question = page.locator("#modal-text").inner_text()
    assert "console-lane" in question and "24 cleared scans" in question and "95% interval" in question
    screenshot(page, shots, "station-proposal")
    page.click("#modal-ok")
    page.wait_for_selector("#stations-table tr[data-station='console-lane'] td.threshold >> text=(station)")
    proposal = server.api("GET", "/v1/stations/console-lane/threshold?kind=luggage").json()
    assert proposal["threshold_source"] == "station" and proposal["in_force"]["version"] == 1
    shown = float(row.locator("td.threshold").inner_text().split()[0])
    assert np.isclose(shown, proposal["threshold"], atol=1e-3)
    row.locator("button.rollback").click()
    page.click("#modal-ok")
    page.wait_for_selector("#stations-table tr[data-station='console-lane'] td.threshold >> text=(model)")
    assert server.api("GET", "/v1/stations/console-lane/threshold?kind=luggage").json()["in_force"] is None


@pytest.mark.slow
def test_the_served_model_is_in_view_at_1366x768_among_many_versions(
    page: Any, server: Server, shots: pathlib.Path
) -> None:
    listed = server.api("GET", "/v1/models").json()
    serving = next(m for m in listed if m["serving"])
    # A registry of many older versions, as a real one grows (the listing comes oldest first).
    older = [{**serving, "version": f"0.0.0.{i}", "serving": False, "promoted": False} for i in range(1, 14)]
    many = [*older, *listed]
    page.set_viewport_size({"width": 1366, "height": 768})
    page.route("**/v1/models", lambda route: route.fulfill(json=many))
    sign_in(page, server)
    page.click("#nav-models")
    header = page.wait_for_selector(f"#models-table th[data-model='{serving['name']}/{serving['version']}']")
    box = header.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 1366 and box["y"] < 768
    columns = page.locator("#models-table thead th[data-model]").evaluate_all(
        "cells => cells.map((c) => c.dataset.model)"
    )
    assert columns[0] == f"{serving['name']}/{serving['version']}" and columns[-1].endswith("/0.0.0.1")
    screenshot(page, shots, "models-1366x768")
