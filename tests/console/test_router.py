"""The console's router without a browser: static files, ``/v1/me``, the scan stream, image and heat layer."""

from __future__ import annotations

import json
import pathlib
import re
from collections.abc import Iterator

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from service.app import create_app
from service.routers import console, scans
from service.settings import Settings
from tests.service.conftest import ADMIN_KEY, bearer, new_key, png_bytes
from vision.overlay import heat_layer_png

ADMIN = bearer(ADMIN_KEY)
CONSOLE = pathlib.Path(console.__file__).resolve().parent.parent / "console"


@pytest.fixture
def client(tmp_path: pathlib.Path, tiny_model_dir: pathlib.Path) -> Iterator[TestClient]:
    """A running app with a throw-away store and the tiny model."""
    settings = Settings(
        data_dir=tmp_path / "data",
        model_dir=tiny_model_dir,
        models_root=tiny_model_dir.parent.parent,
        admin_key=SecretStr(ADMIN_KEY),
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def _decode(data: bytes, flags: int = cv2.IMREAD_UNCHANGED) -> np.ndarray:
    picture = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    assert picture is not None, "not a decodable image"
    return picture


def _scan(client: TestClient, data: bytes, name: str = "bag.png", mime: str = "image/png") -> dict:
    response = client.post("/v1/scans", files={"file": (name, data, mime)}, headers=ADMIN)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_page_and_static_files_are_served_without_a_key_and_nothing_else(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    # The page may load nothing from elsewhere.
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/console/app.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/console/messages.vi.json").json()["verdict.alarm"] == "CẢNH BÁO"
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
    assert client.get("/console/favicon.svg").content == icon.content
    for bad in ("/console/..%2Fapp.py", "/console/__init__.py", "/console/.hidden.js", "/console/none.js"):
        assert client.get(bad).status_code == 404, bad


def test_console_files_reference_nothing_on_the_internet() -> None:
    for path in CONSOLE.iterdir():
        if path.suffix in {".html", ".js", ".css"}:
            # The SVG namespace is a name, never fetched.
            text = path.read_text().replace("http://www.w3.org/2000/svg", "")
            assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text, re.I), path.name
            assert "@import" not in text and "url(http" not in text, path.name


def _used_keys() -> set[str]:
    keys: set[str] = set()
    html = (CONSOLE / "index.html").read_text()
    keys |= set(re.findall(r'data-i18n(?:-title|-placeholder)?="([^"]+)"', html))
    for script in CONSOLE.glob("*.js"):
        keys |= set(re.findall(r'\bt\("([a-zA-Z0-9_.]+)"', script.read_text()))
        keys |= set(re.findall(r'\["(models\.[a-zA-Z]+)"', script.read_text()))
    return keys


def test_catalogues_cover_every_string_in_both_languages() -> None:
    english = json.loads((CONSOLE / "messages.en.json").read_text())
    vietnamese = json.loads((CONSOLE / "messages.vi.json").read_text())
    used = _used_keys()
    assert len(used) > 60
    for key in used:
        plural = {k for k in english if k.startswith(key + ".")}
        assert key in english or plural, f"{key} is used but not in messages.en.json"
    # Vietnamese has one plural form ("other"); English has "one" and "other".
    assert set(english) - {"cameras.frames.one"} == set(vietnamese)
    # Proper Vietnamese, with diacritics, not English left in place.
    same = [k for k in vietnamese if english[k] == vietnamese[k]]
    assert len(same) < 12, same
    diacritics = sum(bool(re.search(r"[ăâđêôơưàảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵ]",
                                     v, re.I)) for v in vietnamese.values())  # fmt: skip
    assert diacritics > 0.7 * len(vietnamese)
    # Every class of the model has a name in both languages.
    from vision.classes import THREAT_CLASSES

    for label in THREAT_CLASSES:
        assert f"class.{label}" in english and f"class.{label}" in vietnamese


def test_me_names_the_key_and_its_scopes(client: TestClient) -> None:
    assert client.get("/v1/me").status_code == 401
    operator = new_key(client, "scan", "feedback")
    me = client.get("/v1/me", headers=operator).json()
    assert me["scopes"] == ["feedback", "scan"] and me["name"] == "test"
    assert client.get("/v1/me", headers=ADMIN).json()["scopes"] == ["admin"]


def test_scan_stream_sends_new_scans_and_resumes(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scans, "STREAM_LIFETIME_S", 1.0)
    assert client.get("/v1/scans/stream").status_code == 401
    # A camera key may not read scans; and "stream" is not taken for a scan id (route order).
    assert client.get("/v1/scans/stream", headers=new_key(client, "camera")).status_code == 403
    first = _scan(client, png_bytes(96, 64, seed=1))
    stored = client.get(f"/v1/scans/{first['id']}", headers=ADMIN).json()
    with client.stream(
        "GET", "/v1/scans/stream", params={"since": stored["created"]}, headers=ADMIN
    ) as answer:
        assert answer.headers["content-type"].startswith("text/event-stream")
        body = "".join(answer.iter_text())
    events = [block for block in body.split("\n\n") if "event: scan" in block]
    assert len(events) == 1
    record = json.loads(events[0].split("data: ", 1)[1])
    assert record["id"] == first["id"] and record["verdict"] == first["verdict"]
    assert "event: bye" in body
    # Resuming from the event id (the scan's time) does not lose a scan stored meanwhile.
    resume = events[0].split("id: ", 1)[1].split("\n", 1)[0]
    second = _scan(client, png_bytes(96, 64, seed=2))
    with client.stream("GET", "/v1/scans/stream", headers={**ADMIN, "Last-Event-ID": resume}) as answer:
        body = "".join(answer.iter_text())
    ids = [json.loads(b.split("data: ", 1)[1])["id"] for b in body.split("\n\n") if "event: scan" in b]
    assert second["id"] in ids
    bad = client.get("/v1/scans/stream", headers={**ADMIN, "Last-Event-ID": "yesterday"})
    assert bad.status_code == 422


def test_image_and_heat_layer(client: TestClient) -> None:
    result = _scan(client, png_bytes(200, 150, seed=3))
    image = client.get(f"/v1/scans/{result['id']}/image", headers=ADMIN)
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    picture = _decode(image.content)
    assert picture.shape == (150, 200, 3)
    assert np.array_equal(picture, _decode(png_bytes(200, 150, seed=3), cv2.IMREAD_COLOR))
    heat = client.get(f"/v1/scans/{result['id']}/heatmap.png", headers=ADMIN)
    layer = _decode(heat.content)
    assert layer.ndim == 3 and layer.shape[2] == 4
    assert client.get(f"/v1/scans/{result['id']}/image").status_code == 401
    assert client.get(f"/v1/scans/{result['id']}/image", headers=new_key(client, "camera")).status_code == 403
    missing = "00000000-0000-4000-8000-000000000000"
    assert client.get(f"/v1/scans/{missing}/image", headers=ADMIN).status_code == 404
    assert client.get(f"/v1/scans/{missing}/heatmap.png", headers=ADMIN).status_code == 404


def test_sixteen_bit_tiff_scan_is_shown_as_png(client: TestClient) -> None:
    ramp = np.linspace(0, 65535, 120 * 90).reshape(90, 120)
    # A 16-bit false-colour scan (BGR planes): the served model reads false colour, never grey.
    colour = np.stack([ramp * 0.2, ramp * 0.6, ramp], axis=2).astype(np.uint16)
    ok, tiff = cv2.imencode(".tiff", colour)
    assert ok
    result = _scan(client, tiff.tobytes(), "raw.tiff", "image/tiff")
    image = client.get(f"/v1/scans/{result['id']}/image", headers=ADMIN)
    picture = _decode(image.content)
    assert picture.dtype == np.uint8 and picture.shape[:2] == (90, 120)
    # Dark to bright across the picture, as in the 16-bit original.
    assert picture[:5].mean() < picture[-5:].mean()


def test_heat_layer_is_transparent_where_cold_and_opaque_where_hot() -> None:
    heat = np.zeros((8, 8), np.float32)
    heat[4:, 4:] = 1.0
    layer = _decode(heat_layer_png(heat))
    assert layer[0, 0, 3] == 0 and layer[7, 7, 3] == 128
