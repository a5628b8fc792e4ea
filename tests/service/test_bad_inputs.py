"""A corpus of bad uploads, made in fixtures: every one is answered 4xx with a reason, nothing is stored,
and the service goes on serving.

Truncated PNG, JPEG and TIFF; 16-bit edge cases; decompression bombs that announce huge sizes in PNG,
TIFF and JPEG headers; polyglots; wrong and missing content types; multipart without a file, with two
files, with huge fields; path traversal in ids and file names; DICOM without pixel data; raw high/low pairs
that cannot be one scan.
"""

from __future__ import annotations

import pathlib
import struct
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.helpers import dicom_bytes, png_bomb
from tests.service.conftest import MAX_PIXELS, png_bytes
from tests.service.test_api import scan_count, stored_files


def _encode(array: np.ndarray, ext: str) -> bytes:
    ok, data = cv2.imencode(ext, array)
    assert ok
    return data.tobytes()


def _tiff_bomb(width: int, height: int) -> bytes:
    """A little-endian TIFF whose one IFD announces ``width`` x ``height`` 8-bit grey pixels in 8 bytes."""
    entries = [
        (256, 4, 1, width),  # ImageWidth
        (257, 4, 1, height),  # ImageLength
        (258, 3, 1, 8),  # BitsPerSample
        (259, 3, 1, 1),  # Compression: none
        (262, 3, 1, 1),  # Photometric: black is zero
        (273, 4, 1, 8),  # StripOffsets
        (278, 4, 1, height),  # RowsPerStrip
        (279, 4, 1, 8),  # StripByteCounts
    ]
    ifd_offset = 16
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", *e) for e in entries) + b"\0" * 4
    return b"II*\x00" + struct.pack("<I", ifd_offset) + bytes(8) + ifd


def _jpeg_bomb(width: int, height: int) -> bytes:
    """A small valid JPEG whose frame header (SOF0) is patched to announce ``width`` x ``height``."""
    data = bytearray(_encode(np.full((16, 16, 3), 128, np.uint8), ".jpg"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _file(data: bytes, name: str = "scan.png", mime: str = "image/png") -> dict[str, Any]:
    return {"files": {"file": (name, data, mime)}}


def _pair(high: bytes, low: bytes) -> dict[str, Any]:
    return {"files": {"high": ("h.tiff", high, "image/tiff"), "low": ("l.tiff", low, "image/tiff")}}


def corpus() -> dict[str, Callable[[], dict[str, Any]]]:
    """Case name -> keyword arguments of ``client.post("/v1/scans", ...)``."""
    good_png = png_bytes(160, 120)
    good_jpeg = _encode(cv2.imdecode(np.frombuffer(good_png, np.uint8), cv2.IMREAD_COLOR), ".jpg")
    colour16 = (np.random.default_rng(1).integers(0, 65535, (40, 50, 3))).astype(np.uint16)
    good_tiff16 = _encode(colour16, ".tiff")
    grey16 = np.random.default_rng(2).integers(0, 65535, (40, 50)).astype(np.uint16)
    side = int(MAX_PIXELS**0.5) + 64
    return {
        "truncated PNG": lambda: _file(good_png[: len(good_png) // 2]),
        "PNG cut inside its header": lambda: _file(good_png[:20]),
        "truncated JPEG": lambda: _file(good_jpeg[: len(good_jpeg) * 3 // 4], "scan.jpg", "image/jpeg"),
        "truncated 16-bit TIFF": lambda: _file(good_tiff16[: len(good_tiff16) // 2], "s.tiff", "image/tiff"),
        "empty file": lambda: _file(b""),
        "16-bit grey PNG (one raw channel)": lambda: _file(_encode(grey16, ".png")),
        "three-page 16-bit TIFF": lambda: _file(
            cv2.imencodemulti(".tiff", [grey16, grey16, grey16])[1].tobytes(), "s.tiff", "image/tiff"
        ),
        "PNG bomb": lambda: _file(png_bomb(side, side)),
        "TIFF bomb": lambda: _file(_tiff_bomb(60_000, 60_000), "b.tiff", "image/tiff"),
        "JPEG bomb": lambda: _file(_jpeg_bomb(60_000, 60_000), "b.jpg", "image/jpeg"),
        "PDF with a PNG inside": lambda: _file(b"%PDF-1.4\n" + good_png),
        "GIF header then a PNG": lambda: _file(b"GIF89a" + good_png),
        "HTML named .png": lambda: _file(b"<html><script>alert(1)</script></html>" * 4),
        "PNG magic then garbage": lambda: _file(good_png[:8] + b"\x00" * 200),
        "declared text/plain": lambda: _file(good_png, mime="text/plain"),
        "declared image/gif": lambda: _file(good_png, mime="image/gif"),
        "raw body, no multipart": lambda: {"content": good_png, "headers": {"Content-Type": "image/png"}},
        "JSON body": lambda: {"json": {"file": "iVBORw0KGgo="}},
        "no Content-Type": lambda: {"content": good_png},
        "multipart without a file": lambda: {"files": {"kind": (None, b"luggage")}},
        "multipart with an unknown part": lambda: {**_file(good_png), "data": {"note": "x"}},
        "multipart with two files": lambda: {
            "files": [("file", ("a.png", good_png, "image/png")), ("file", ("b.png", good_png, "image/png"))]
        },
        "file and high at once": lambda: {
            "files": {"file": ("a.png", good_png, "image/png"), "high": ("h.png", good_png, "image/png")}
        },
        "huge station field": lambda: {**_file(good_png), "data": {"station": "x" * 20_000}},
        "unknown kind": lambda: {**_file(good_png), "data": {"kind": "../../etc/passwd"}},
        "station with control characters": lambda: {**_file(good_png), "data": {"station": "lane\x00-3"}},
        "DICOM without pixel data": lambda: _file(
            dicom_bytes(grey16, with_pixels=False), "s.dcm", "application/dicom"
        ),
        "DICOM cut short": lambda: _file(dicom_bytes(grey16)[:400], "s.dcm", "application/dicom"),
        "raw pair of different sizes": lambda: _pair(_encode(grey16, ".tiff"), _encode(grey16[:30], ".tiff")),
        "raw pair, high in colour": lambda: _pair(good_tiff16, _encode(grey16, ".tiff")),
        "raw pair, channels swapped": lambda: _pair(_encode(grey16 // 2, ".tiff"), _encode(grey16, ".tiff")),
        "raw pair, low missing": lambda: {
            "files": {"high": ("h.tiff", _encode(grey16, ".tiff"), "image/tiff")}
        },
    }


CORPUS = corpus()


@pytest.mark.parametrize("case", sorted(CORPUS))
def test_a_bad_upload_is_refused_with_a_reason_and_leaves_nothing(
    client: TestClient, scanner: dict[str, str], case: str
) -> None:
    request = CORPUS[case]()
    headers = {**scanner, **request.pop("headers", {})}
    response = client.post("/v1/scans", headers=headers, **request)
    assert 400 <= response.status_code < 500, (case, response.status_code, response.text)
    detail = response.json()["detail"]
    assert detail and isinstance(detail, str | list), case
    assert scan_count(client) == 0 and stored_files(client) == [], case
    # Still serving, and a good scan still goes through.
    assert client.get("/healthz").status_code == 200
    assert (
        client.post(
            "/v1/scans", files={"file": ("ok.png", png_bytes(), "image/png")}, headers=scanner
        ).status_code
        == 201
    )


def test_ids_and_file_names_cannot_reach_outside_the_store(
    client: TestClient, scanner: dict[str, str]
) -> None:
    for path in (
        "/v1/scans/..%2F..%2Fetc%2Fpasswd",
        "/v1/scans/%2e%2e/%2e%2e/triage.db",
        "/v1/scans/00000000-0000-0000-0000-000000000000%00/overlay.png",
        "/v1/events/..%2Ftriage.db/snapshot.jpg",
        "/console/..%2F..%2Fservice%2Fsettings.py",
    ):
        response = client.get(path, headers=scanner)
        assert response.status_code in (404, 422), (path, response.status_code)
    # A client's file name is never a path on disk: images are stored under their content hash.
    data = png_bytes(seed=9)
    stored = client.post(
        "/v1/scans", files={"file": ("../../../../tmp/evil.png", data, "image/png")}, headers=scanner
    )
    assert stored.status_code == 201
    state = client.app.state.triage  # type: ignore[attr-defined]
    (image,) = stored_files(client)
    assert image.resolve().is_relative_to(pathlib.Path(state.settings.images_dir).resolve())
    assert "evil" not in image.name and image.read_bytes() == data
