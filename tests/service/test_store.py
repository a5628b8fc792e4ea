"""The store's pieces: content-addressed atomic image files and the start-up sweep after a crash."""

from __future__ import annotations

import hashlib
import os
import pathlib
import time

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from service.store.images import ImageFiles
from tests.service.backends import database  # noqa: F401  (SQLite and PostgreSQL)
from tests.service.conftest import bearer, png_bytes
from vision.files import write_atomic


def test_put_is_content_addressed_and_deduplicated(tmp_path: pathlib.Path) -> None:
    images = ImageFiles(tmp_path / "images")
    data = png_bytes()
    digest, relative = images.put(data, "png")
    assert digest == hashlib.sha256(data).hexdigest() and relative == f"{digest[:2]}/{digest}.png"
    assert images.put(data, "png") == (digest, relative)
    assert images.read(relative) == data
    assert list(images.tmp.iterdir()) == []


def test_failed_write_leaves_nothing(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out" / "PROMOTED"

    def broken_replace(*_args: object) -> None:
        raise OSError("disk went away")

    monkeypatch.setattr("vision.files.os.replace", broken_replace)
    with pytest.raises(OSError):
        write_atomic(target, b"name/version\n")
    assert list((tmp_path / "out").iterdir()) == []


def test_startup_removes_partial_and_unreferenced_files(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        files = {"file": ("scan.png", png_bytes(), "image/png")}
        kept = client.post("/v1/scans", files=files, headers=bearer(settings.admin_key.get_secret_value()))  # type: ignore[union-attr]
        assert kept.status_code == 201
    images = settings.images_dir
    (images / "tmp" / "abc.part").write_bytes(b"half an ima")  # a write cut short
    orphan = images / "ff" / ("f" * 64 + ".png")  # written, but its row was never committed
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(png_bytes(seed=9))
    # Left an hour ago: a store shared by several processes (PostgreSQL) sweeps only old leftovers.
    for leftover in (images / "tmp" / "abc.part", orphan):
        os.utime(leftover, (time.time() - 3600, time.time() - 3600))
    with TestClient(create_app(settings)) as client:
        key = bearer(settings.admin_key.get_secret_value())  # type: ignore[union-attr]
        scan = client.get(f"/v1/scans/{kept.json()['id']}", headers=key).json()
        assert client.get(f"/v1/scans/{scan['id']}/overlay.png", headers=key).status_code == 200
    remaining = [p.relative_to(images).as_posix() for p in images.rglob("*") if p.is_file()]
    digest = scan["image_sha256"]
    assert remaining == [f"{digest[:2]}/{digest}.png"]
