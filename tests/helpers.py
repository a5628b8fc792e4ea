"""Helpers shared by several test packages: free ports, a real `triage serve`, crafted images."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Sequence
from typing import Any

import httpx
import numpy as np


def free_port() -> int:
    """A free loopback TCP port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_env(
    data_dir: pathlib.Path, models_root: pathlib.Path, admin_key: str, **settings: str
) -> dict[str, str]:
    """The environment of a `triage serve` on ``data_dir`` serving ``tiny-threat/0.0.1`` of ``models_root``,
    with more ``TRIAGE_*`` settings given by name (``MAX_IN_FLIGHT="16"``)."""
    return dict(
        os.environ,
        TRIAGE_DATA_DIR=str(data_dir),
        TRIAGE_MODEL_DIR=str(models_root / "tiny-threat" / "0.0.1"),
        TRIAGE_MODELS_ROOT=str(models_root),
        TRIAGE_ADMIN_KEY=admin_key,
        **{f"TRIAGE_{name}": value for name, value in settings.items()},
    )


def start_server(
    env: dict[str, str], port: int, log: pathlib.Path, timeout_s: float = 90, options: Sequence[str] = ()
) -> subprocess.Popen[bytes]:
    """Start `triage serve` (with more ``options``) on loopback in its own process group and wait until
    /readyz answers 200.

    Raises:
        AssertionError: with the end of the server's log, if it never became ready.
    """
    command = [sys.executable, "-m", "cli", "serve", "--host", "127.0.0.1", "--port", str(port), *options]
    with open(log, "ab") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.2)
    process.kill()
    raise AssertionError(f"triage serve did not become ready: {log.read_text()[-3000:]}")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, SIGKILL if it does not stop within 30 s."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def png_bomb(width: int, height: int) -> bytes:
    """A valid greyscale PNG of zeros: tiny on the wire, ``width * height`` bytes once decoded."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    compressor = zlib.compressobj(9)
    row = bytes(width + 1)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def dicom_bytes(pixels: np.ndarray, photometric: str = "MONOCHROME2", with_pixels: bool = True) -> bytes:
    """A one-frame 16-bit grey DICOM file (without its PixelData element if ``with_pixels`` is False)."""
    import io

    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"  # digital X-ray
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID = meta.MediaStorageSOPClassUID
    dataset.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    dataset.Rows, dataset.Columns = pixels.shape
    dataset.SamplesPerPixel = 1
    dataset.PhotometricInterpretation = photometric
    dataset.BitsAllocated = dataset.BitsStored = 16
    dataset.HighBit = 15
    dataset.PixelRepresentation = 0
    if with_pixels:
        dataset.PixelData = pixels.astype("<u2").tobytes()
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def postgres_bin() -> pathlib.Path | None:
    """The folder of Debian's PostgreSQL server binaries (``initdb``, ``pg_ctl``), or ``None``."""
    found = sorted(pathlib.Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


class Postgres:
    """A throw-away PostgreSQL server in a new temporary folder, on a free loopback port, trusting local
    connections; :meth:`stop` removes it.

    PostgreSQL refuses to run as root; as root it runs as the ``postgres`` system user (in a folder of
    its own: pytest's are private to root).
    """

    def __init__(self) -> None:
        bin_dir = postgres_bin()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL is not installed (apt-get install -y postgresql)")
        folder = pathlib.Path(tempfile.mkdtemp(prefix="triage-postgres-"))
        self.bin, self.folder, self.port = bin_dir, folder, free_port()
        self.data = folder / "pgdata"
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres", "postgres")
            self._as_user = ["runuser", "-u", "postgres", "--"]
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "triage", "--no-sync")
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(folder / "server.log"), "-w", "start",
            "-o", f"-p {self.port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off",
        )  # fmt: skip

    def _run(self, *command: str) -> None:
        subprocess.run([*self._as_user, *command], check=True, capture_output=True, cwd=self.folder)

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of ``database`` on this server."""
        return f"postgresql+psycopg://triage@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database; returns its URL."""
        import uuid

        import sqlalchemy

        name = f"t_{uuid.uuid4().hex[:12]}"
        engine = sqlalchemy.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return self.url(name)

    def stop(self) -> None:
        """Stop the server (immediately: its data is thrown away)."""
        try:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def copy_model(source: pathlib.Path, target: pathlib.Path, **card_fields: Any) -> pathlib.Path:
    """A copy of a model folder with fields of its card replaced (``version="0.0.2"``, ``threshold=0``)."""
    shutil.copytree(source, target)
    card = json.loads((target / "model.json").read_text())
    card.update(card_fields)
    (target / "model.json").write_text(json.dumps(card))
    return target
