"""Files written whole or not at all, and their content hashes (no dependencies beyond the standard library).

The store's images, the model registry's ``PROMOTED`` and cards, station files and datasets all rely on
these: a reader never sees half a file, even across a crash.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import secrets


def fsync_dir(path: pathlib.Path) -> None:
    """Flush a folder's entries (a rename is durable only once its folder is synced)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: pathlib.Path, data: bytes, tmp_dir: pathlib.Path | None = None) -> None:
    """Write ``data`` to ``path`` so that it is never seen half-written, even across a crash.

    Args:
        path: the final file.
        data: its bytes.
        tmp_dir: where the temporary goes (same file system as ``path``); default ``path``'s folder.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = (tmp_dir or path.parent) / f".{path.name}.{secrets.token_hex(8)}.part"
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def file_sha256(path: pathlib.Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
