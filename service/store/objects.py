"""Scan images in an S3-compatible object store (AWS S3, MinIO, Ceph RGW...), for API processes that
share one database from several machines (``TRIAGE_IMAGES_URL=s3://BUCKET/PREFIX``, the ``s3`` extra).

The same content-hash keys as the local folder (:mod:`service.store.images`), under ``PREFIX/``. A PUT
is atomic (an object is visible whole or not at all) and is checked against the SHA-256 the client
computed (``ChecksumSHA256``), so the write-before-commit rule holds as on disk: the row that names an
image is committed only after its PUT returned. Credentials come from the usual AWS chain (environment,
profile, instance role); ``TRIAGE_S3_ENDPOINT_URL`` points at a store other than AWS.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlparse

from service.store.images import relative_path, sha256_hex


class ImageStoreError(ValueError):
    """An images URL this service cannot use."""


class S3Images:
    """Content-addressed images in a bucket, under a key prefix.

    Args:
        url: ``s3://bucket`` or ``s3://bucket/prefix``.
        endpoint_url: the S3 API's address where it is not AWS's (e.g. ``http://minio:9000``).
        client: a ready boto3 S3 client (tests); made from ``endpoint_url`` and the AWS chain if omitted.
    """

    def __init__(self, url: str, endpoint_url: str | None = None, client: Any = None) -> None:
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ImageStoreError(f"images URL must be s3://BUCKET[/PREFIX], got {url!r}")
        self.bucket, self.prefix = parsed.netloc, parsed.path.strip("/")
        if client is None:
            try:
                import boto3
            except ImportError:  # pragma: no cover - depends on the install
                raise ImageStoreError("an s3:// images URL needs boto3: pip install -e '.[s3]'") from None
            client = boto3.client("s3", endpoint_url=endpoint_url)
        self.client = client

    def _key(self, relative: str) -> str:
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def location(self, relative: str) -> str:
        """The object's ``s3://`` URL."""
        return f"s3://{self.bucket}/{self._key(relative)}"

    def put(self, data: bytes, image_format: str, digest: str | None = None) -> tuple[str, str]:
        """Store ``data`` once by content (an object already there under its hash is kept)."""
        digest = digest or sha256_hex(data)
        relative = relative_path(digest, image_format)
        key = self._key(relative)
        if not self._exists(key, len(data)):
            checksum = base64.b64encode(hashlib.sha256(data).digest()).decode()
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ChecksumSHA256=checksum)
        return digest, relative

    def _exists(self, key: str, size: int) -> bool:
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return int(head.get("ContentLength", -1)) == size

    def read(self, relative: str) -> bytes:
        """The bytes of a stored image."""
        answer = self.client.get_object(Bucket=self.bucket, Key=self._key(relative))
        return bytes(answer["Body"].read())

    def sweep(self, referenced: Iterable[str], older_than_s: float = 0.0) -> tuple[int, int]:
        """Delete images no row names, last written more than ``older_than_s`` ago (an object store has
        no half-written objects: the first count is always 0)."""
        keep = {self._key(r) for r in referenced}
        horizon = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=older_than_s)
        orphans = 0
        prefix = f"{self.prefix}/" if self.prefix else ""
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                key = str(item["Key"])
                if key in keep or key.startswith(f"{prefix}probe/") or item["LastModified"] >= horizon:
                    continue
                self.client.delete_object(Bucket=self.bucket, Key=key)
                orphans += 1
        return 0, orphans

    def check_ready(self, room_bytes: int) -> str | None:
        """A probe object written and deleted (an object store's room is not known; not checked)."""
        key = self._key(f"probe/ready-{secrets.token_hex(4)}")
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=b"ok")
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except Exception as error:  # any failure means "not ready", with its reason
            return f"image store not writable: {type(error).__name__}: {error}"
        return None
