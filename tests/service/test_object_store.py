"""Scan images in an S3-compatible object store: the service against a local server that speaks the S3
API (moto's, in-process on loopback), with the same content-hash keys and write-before-commit rule."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.feedback_export import export_feedback
from service.settings import Settings
from service.store.objects import ImageStoreError, S3Images
from tests.helpers import free_port
from tests.service.conftest import bearer, png_bytes

BUCKET = "triage-scans"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A local S3 API on a free port, with the bucket made."""
    boto3 = pytest.importorskip("boto3")
    server_module = pytest.importorskip("moto.server")
    port = free_port()
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=endpoint, **_CREDENTIALS).create_bucket(Bucket=BUCKET)
    try:
        yield endpoint
    finally:
        server.stop()


_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test", "region_name": "us-east-1"}


@pytest.fixture
def s3_settings(settings: Settings, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    prefix = pathlib.Path(str(settings.data_dir)).parent.name  # a prefix of its own per test
    return settings.model_copy(
        update={"images_url": f"s3://{BUCKET}/{prefix}", "s3_endpoint_url": s3_endpoint}
    )


def test_scans_are_stored_read_and_exported_from_the_object_store(
    s3_settings: Settings, tmp_path: pathlib.Path
) -> None:
    key = bearer(s3_settings.admin_key.get_secret_value())  # type: ignore[union-attr]
    with TestClient(create_app(s3_settings)) as client:
        images = client.app.state.triage.images  # type: ignore[attr-defined]
        assert isinstance(images, S3Images)
        assert client.get("/readyz").status_code == 200
        data = png_bytes(seed=3)
        scan = client.post("/v1/scans", files={"file": ("bag.png", data, "image/png")}, headers=key).json()
        record = client.get(f"/v1/scans/{scan['id']}", headers=key).json()
        digest = record["image_sha256"]
        assert images.read(f"{digest[:2]}/{digest}.png") == data
        assert not (s3_settings.images_dir / digest[:2]).exists()  # nothing on the local disk
        assert client.get(f"/v1/scans/{scan['id']}/overlay.png", headers=key).status_code == 200
        assert client.get(f"/v1/scans/{scan['id']}/image", headers=key).status_code == 200
        outcome = "false_alarm" if scan["verdict"] == "alarm" else "cleared"
        assert (
            client.post(
                f"/v1/scans/{scan['id']}/feedback", json={"outcome": outcome}, headers=key
            ).status_code
            == 201
        )
        state = client.app.state.triage  # type: ignore[attr-defined]
        result = export_feedback(state.store, state.images, tmp_path / "export")
        assert result.report.images == 1
        exported = list((tmp_path / "export" / "images").iterdir())
        assert [p.read_bytes() for p in exported] == [data]


def test_the_sweep_removes_only_unreferenced_objects(s3_endpoint: str) -> None:
    import boto3

    client = boto3.client("s3", endpoint_url=s3_endpoint, **_CREDENTIALS)
    images = S3Images(f"s3://{BUCKET}/sweep", client=client)
    _, kept = images.put(png_bytes(seed=1), "png")
    _, orphan = images.put(png_bytes(seed=2), "png")
    assert images.put(png_bytes(seed=1), "png")[1] == kept  # content-addressed: stored once
    assert images.sweep([kept], older_than_s=600) == (0, 0)  # both too young to judge
    assert images.sweep([kept]) == (0, 1)
    assert images.read(kept) == png_bytes(seed=1)
    with pytest.raises(client.exceptions.NoSuchKey):
        images.read(orphan)
    assert images.location(kept) == f"s3://{BUCKET}/sweep/{kept}"


def test_an_unusable_images_url_is_refused() -> None:
    for url in ("http://bucket/x", "s3://", "/tmp/images"):
        with pytest.raises(ImageStoreError, match="s3://BUCKET"):
            S3Images(url, client=object())


def test_an_unreachable_object_store_stops_the_start_with_the_reason(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    exceptions = pytest.importorskip("botocore.exceptions")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    closed = f"http://127.0.0.1:{free_port()}"
    unreachable = settings.model_copy(update={"images_url": f"s3://{BUCKET}/x", "s3_endpoint_url": closed})
    app = create_app(unreachable)
    # The start-up sweep cannot list the bucket: the service does not start (rather than lose writes later).
    with pytest.raises(exceptions.EndpointConnectionError, match=r"127\.0\.0\.1"), TestClient(app):
        pass
