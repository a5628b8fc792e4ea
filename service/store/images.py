"""Scan images, addressed by the SHA-256 of their bytes and written whole before any row names them.

Two stores behind one interface (:class:`ImageStore`): :class:`ImageFiles`, the local folder (the
default), and :class:`service.store.objects.S3Images`, an S3-compatible object store for API processes
on several machines. Keys are the same relative paths in both (``ab/abcd….png``).

On disk a file is written to ``tmp/`` in the same folder tree, flushed and fsynced, then renamed into
place with ``os.replace`` (atomic on POSIX) and the folder fsynced; so a reader, or a restart after a
crash, sees either the whole file or none. The database row that names a file is committed only after
this returns.
"""

from __future__ import annotations

import hashlib
import pathlib
import secrets
import shutil
import time
from collections.abc import Iterable
from typing import Protocol

from vision.files import write_atomic

_TMP = "tmp"
EXTENSIONS = {"png": ".png", "jpeg": ".jpg", "tiff": ".tiff", "dicom": ".dcm"}


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


class ImageStore(Protocol):
    """Where scan images live: content-addressed, each written whole or not at all."""

    def put(self, data: bytes, image_format: str, digest: str | None = None) -> tuple[str, str]:
        """Store ``data`` once by content; returns its hex SHA-256 and its key."""
        ...

    def read(self, relative: str) -> bytes:
        """The bytes stored under a key."""
        ...

    def location(self, relative: str) -> str:
        """Where a key's image is, for people and provenance (a path, or an ``s3://`` URL)."""
        ...

    def sweep(self, referenced: Iterable[str], older_than_s: float = 0.0) -> tuple[int, int]:
        """Remove leftovers of interrupted writes and images no row names, older than ``older_than_s``;
        returns how many temporaries and how many images went."""
        ...

    def check_ready(self, room_bytes: int) -> str | None:
        """Why a write of ``room_bytes`` would fail now (``None``: it would not)."""
        ...


def relative_path(digest: str, image_format: str) -> str:
    """The key of an image with this hash and format."""
    return f"{digest[:2]}/{digest}{EXTENSIONS.get(image_format, '.bin')}"


class ImageFiles:
    """Content-addressed image files under ``root``.

    Args:
        root: the images folder (created if missing).
    """

    def __init__(self, root: pathlib.Path) -> None:
        self.root = root
        self.tmp = root / _TMP
        self.tmp.mkdir(parents=True, exist_ok=True)

    def path(self, relative: str) -> pathlib.Path:
        """The absolute path of a stored image."""
        return self.root / relative

    def location(self, relative: str) -> str:
        """The absolute path of a stored image, as text."""
        return str(self.root / relative)

    def put(self, data: bytes, image_format: str, digest: str | None = None) -> tuple[str, str]:
        """Store ``data`` once by content (a second identical image reuses the file).

        Returns:
            The hex SHA-256 and the path relative to ``root``.
        """
        digest = digest or sha256_hex(data)
        relative = relative_path(digest, image_format)
        target = self.root / relative
        if not (target.exists() and target.stat().st_size == len(data)):
            write_atomic(target, data, tmp_dir=self.tmp)
        return digest, relative

    def read(self, relative: str) -> bytes:
        """The bytes of a stored image."""
        return (self.root / relative).read_bytes()

    def sweep(self, referenced: Iterable[str], older_than_s: float = 0.0) -> tuple[int, int]:
        """Remove half-written temporaries and files no row names (left by a crash before commit).

        With one service process, call at start-up (no scan is being written). Where several processes
        share the store and the folder, another one may be between writing an image and committing its
        row: ``older_than_s`` leaves alone everything younger than that.

        Returns:
            How many temporaries and how many unreferenced images were removed.
        """
        horizon = time.time() - older_than_s
        parts = 0
        for part in self.tmp.iterdir():
            if _older(part, horizon):
                part.unlink(missing_ok=True)
                parts += 1
        keep = set(referenced)
        orphans = 0
        for file in self.root.glob("??/*"):
            unreferenced = file.is_file() and file.relative_to(self.root).as_posix() not in keep
            if unreferenced and _older(file, horizon):
                file.unlink(missing_ok=True)
                orphans += 1
        return parts, orphans

    def check_ready(self, room_bytes: int) -> str | None:
        """A probe file written and removed, and room for ``room_bytes`` more on the disk."""
        try:
            probe = self.tmp / f"ready-{secrets.token_hex(4)}"
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as error:
            return f"image folder not writable: {type(error).__name__}: {error}"
        # A disk that cannot hold one more upload of the largest size would refuse the next scan: say so
        # before it does, so that a load balancer sends scans elsewhere.
        free = shutil.disk_usage(self.tmp).free
        if free < room_bytes:
            return (
                f"disk nearly full: {free // 1024} KiB free, less than one upload ({room_bytes // 1024} KiB)"
            )
        return None


def _older(path: pathlib.Path, horizon: float) -> bool:
    try:
        return path.stat().st_mtime < horizon
    except FileNotFoundError:
        return False
