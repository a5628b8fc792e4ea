"""Frame sources for ``triage watch``: live streams (RTSP/HTTP), video files and folders of frames.

- Live streams are read by a thread that keeps only the latest frame, so a slow screener never falls
  behind the camera (old frames are dropped, not queued). Opening and reading have timeouts; a lost
  stream is reopened with exponential backoff.
- Files and folders are read sequentially and sampled at the screening rate on their own timeline,
  as fast as the screener goes (or at the real rate with ``realtime``), so nothing is skipped for speed.
"""

from __future__ import annotations

import pathlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from vision.errors import VisionError

LIVE_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")
FRAME_SUFFIXES = (".jpg", ".jpeg", ".png")


class SourceError(VisionError):
    """A frame source cannot be opened, or was lost for good."""


@dataclass(frozen=True)
class SourceFrame:
    """One frame from a source: decoded pixels or the encoded bytes as read (folders), and its time.

    Attributes:
        image: BGR uint8 frame, or None when ``encoded`` is given.
        encoded: JPEG/PNG bytes as read from a folder, or None.
        timestamp: seconds since the epoch (media time offset from the start for files and folders).
        index: running number of the frame in the source.
    """

    image: np.ndarray | None
    encoded: bytes | None
    timestamp: float
    index: int


@dataclass(frozen=True)
class LiveOptions:
    """Timeouts and reconnection for live streams.

    Attributes:
        open_timeout_s: give up opening a stream after this long.
        read_timeout_s: a stream that delivers no frame for this long is reopened.
        backoff_s: first wait before reopening; doubled on each failure up to ``backoff_max_s``.
        backoff_max_s: longest wait between attempts.
        max_reconnects: consecutive failed reopen attempts before giving up (0: never give up).
    """

    open_timeout_s: float = 10.0
    read_timeout_s: float = 10.0
    backoff_s: float = 1.0
    backoff_max_s: float = 30.0
    max_reconnects: int = 10


def is_live(source: str) -> bool:
    """True for stream URLs (RTSP, HTTP ...), False for paths."""
    return source.lower().startswith(LIVE_SCHEMES)


def _open_capture(source: str, options: LiveOptions | None) -> cv2.VideoCapture:
    if options is None:
        return cv2.VideoCapture(source)
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(options.open_timeout_s * 1000),
        cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(options.read_timeout_s * 1000),
    ]  # fmt: skip
    return cv2.VideoCapture(source, cv2.CAP_FFMPEG, params)


class FolderSource:
    """A folder of JPEG/PNG frames in name order, one frame per screening step."""

    def __init__(self, folder: pathlib.Path, fps: float, realtime: bool = False) -> None:
        """List the frames of ``folder``.

        Raises:
            SourceError: the folder holds no JPEG or PNG frames.
        """
        self.paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in FRAME_SUFFIXES and p.is_file())
        if not self.paths:
            raise SourceError(f"folder {folder} holds no .jpg or .png frames")
        self.fps, self.realtime = fps, realtime

    def frames(self) -> Iterator[SourceFrame]:
        """The frames, time-stamped ``1/fps`` apart from now."""
        start = time.time()
        for index, path in enumerate(self.paths):
            timestamp = start + index / self.fps
            if self.realtime:
                time.sleep(max(0.0, timestamp - time.time()))
            try:
                data = path.read_bytes()
            except OSError as error:
                raise SourceError(f"cannot read frame {path}: {error.strerror or error}") from None
            yield SourceFrame(image=None, encoded=data, timestamp=timestamp, index=index)

    def close(self) -> None:
        """Nothing to release."""


class FileSource:
    """A video file read sequentially and sampled at ``fps`` on the file's own timeline."""

    def __init__(self, path: pathlib.Path, fps: float, realtime: bool = False) -> None:
        """Open ``path``.

        Raises:
            SourceError: the file does not exist or OpenCV cannot read a frame from it.
        """
        if not path.is_file():
            raise SourceError(f"source {path} does not exist")
        self.capture = _open_capture(str(path), None)
        if not self.capture.isOpened():
            raise SourceError(f"cannot open video {path}")
        source_fps = float(self.capture.get(cv2.CAP_PROP_FPS) or 0.0)
        # Containers without a rate (MJPEG streams saved raw) get the common 25.
        self.source_fps = source_fps if 0.1 < source_fps < 1000 else 25.0
        self.path, self.fps, self.realtime = path, fps, realtime

    def frames(self) -> Iterator[SourceFrame]:
        """Every frame at or after each ``1/fps`` step of media time; frames in between are skipped."""
        start = time.time()
        next_media_s = 0.0
        index = -1
        kept = 0
        while True:
            if not self.capture.grab():  # grab without decoding: skipped frames cost little
                break
            index += 1
            media_s = index / self.source_fps
            if media_s + 1e-9 < next_media_s:
                continue
            ok, image = self.capture.retrieve()
            if not ok or image is None:
                break
            next_media_s += 1.0 / self.fps
            if self.realtime:
                time.sleep(max(0.0, start + media_s - time.time()))
            yield SourceFrame(image=image, encoded=None, timestamp=start + media_s, index=kept)
            kept += 1
        if kept == 0:
            raise SourceError(f"no frame could be read from {self.path}")

    def close(self) -> None:
        """Release the file."""
        self.capture.release()


class LiveSource:
    """A live stream read by a background thread that keeps only the latest frame."""

    def __init__(self, url: str, fps: float, options: LiveOptions | None = None) -> None:
        """Open ``url`` (once, synchronously, so a wrong URL fails at once) and start the reader.

        Raises:
            SourceError: the stream cannot be opened.
        """
        self.url, self.fps = url, fps
        self.options = options or LiveOptions()
        capture = _open_capture(url, self.options)
        if not capture.isOpened():
            capture.release()
            raise SourceError(f"cannot open stream {_redact(url)}")
        self._capture: cv2.VideoCapture | None = capture
        self._latest: tuple[np.ndarray, float, int] | None = None
        self._condition = threading.Condition()
        self._stop = threading.Event()
        self._failure: str | None = None
        self.reconnects = 0
        self._thread = threading.Thread(target=self._read_loop, name=f"reader:{_redact(url)}", daemon=True)
        self._thread.start()

    def _read_loop(self) -> None:
        count = 0
        failures = 0
        while not self._stop.is_set():
            capture = self._capture
            ok, image = (False, None) if capture is None else capture.read()
            if ok and image is not None:
                failures = 0
                with self._condition:
                    self._latest = (image, time.time(), count)
                    self._condition.notify_all()
                count += 1
                continue
            if capture is not None:
                capture.release()
                self._capture = None
            # Reconnect with exponential backoff; give up after max_reconnects consecutive failures.
            if self.options.max_reconnects and failures >= self.options.max_reconnects:
                with self._condition:
                    self._failure = (
                        f"stream {_redact(self.url)} lost; {failures} reconnection attempts failed"
                    )
                    self._condition.notify_all()
                return
            delay = min(self.options.backoff_max_s, self.options.backoff_s * 2**failures)
            failures += 1
            if self._stop.wait(delay):
                return
            self.reconnects += 1
            capture = _open_capture(self.url, self.options)
            if capture.isOpened():
                self._capture = capture
            else:
                capture.release()

    def frames(self) -> Iterator[SourceFrame]:
        """The latest frame every ``1/fps`` seconds (a frame is never handed out twice).

        Raises:
            SourceError: the stream was lost and could not be reopened.
        """
        last_count = -1
        next_time = time.monotonic()
        kept = 0
        while not self._stop.is_set():
            next_time += 1.0 / self.fps
            with self._condition:
                while (self._latest is None or self._latest[2] == last_count) and self._failure is None:
                    if not self._condition.wait(timeout=0.5) and self._stop.is_set():
                        return
                if self._failure is not None:
                    raise SourceError(self._failure)
                assert self._latest is not None
                image, timestamp, last_count = self._latest
            yield SourceFrame(image=image, encoded=None, timestamp=timestamp, index=kept)
            kept += 1
            time.sleep(max(0.0, next_time - time.monotonic()))
            next_time = max(next_time, time.monotonic() - 1.0 / self.fps)  # do not burst after a stall

    def close(self) -> None:
        """Stop the reader thread and release the stream."""
        self._stop.set()
        with self._condition:
            self._condition.notify_all()
        self._thread.join(timeout=5)
        if self._capture is not None:
            self._capture.release()


FrameSource = FolderSource | FileSource | LiveSource


def open_source(
    source: str, fps: float, realtime: bool = False, options: LiveOptions | None = None
) -> FrameSource:
    """Open a stream URL, a video file or a folder of frames.

    Raises:
        SourceError: the source does not exist or cannot be opened.
    """
    if fps <= 0:
        raise SourceError("fps must be positive")
    if is_live(source):
        return LiveSource(source, fps, options)
    path = pathlib.Path(source)
    if path.is_dir():
        return FolderSource(path, fps, realtime)
    return FileSource(path, fps, realtime)


def _redact(url: str) -> str:
    """The URL without credentials (``rtsp://user:pass@host`` → ``rtsp://***@host``), for messages."""
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest.split("/", 1)[0]:
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
