"""`triage watch` (screen a camera source, print or post events) and `triage motion-eval` (CDnet scoring)."""

from __future__ import annotations

import datetime as dt
import json
import os
import pathlib
import sys
import time
from typing import Annotated, Any

import typer

from cli.commands._errors import cli_errors


def register(app: typer.Typer) -> None:
    """Add ``watch`` and ``motion-eval`` to ``app``."""
    app.command("watch")(watch)
    app.command("motion-eval")(motion_eval)


def iso_time(timestamp: float) -> str:
    """Seconds since the epoch as ISO 8601 UTC with milliseconds (``2026-11-23T18:30:00.123Z``)."""
    moment = dt.datetime.fromtimestamp(timestamp, tz=dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event_line(event: Any, snapshot: str | None) -> dict[str, Any]:
    """The JSON object ``triage watch`` prints for a finished event."""
    return {
        "camera": event.camera,
        "start": iso_time(event.start),
        "end": iso_time(event.end),
        "zone": event.zone,
        "boxes": [list(box) for box in event.boxes],
        "peak_score": round(event.peak_score, 4),
        "snapshot": snapshot,
    }


def _load_config(config: pathlib.Path | None, camera: str) -> Any:
    from vision.motion.config import CameraConfig, check_camera_id, load_cameras_file

    check_camera_id(camera)
    if config is None:
        return CameraConfig()
    cameras = load_cameras_file(config)
    if camera not in cameras:
        known = ", ".join(sorted(cameras)) or "none"
        raise ValueError(f"camera {camera!r} is not in {config} (it has: {known})")
    return cameras[camera]


def watch(
    source: Annotated[
        str, typer.Argument(help="rtsp:// or http(s):// URL, video file, or folder of JPEG/PNG")
    ],
    camera: Annotated[str, typer.Option(help="camera id")],
    server: Annotated[
        str | None, typer.Option(help="post frames to this service (key in TRIAGE_API_KEY)")
    ] = None,
    fps: Annotated[float, typer.Option(min=0.1, max=60.0, help="frames screened per second")] = 5.0,
    config: Annotated[
        pathlib.Path | None, typer.Option(help="camera config file (YAML/JSON, strict)")
    ] = None,
    snapshots: Annotated[
        pathlib.Path | None,
        typer.Option(help="folder for event snapshots, without --server (default: DATA_DIR/snapshots)"),
    ] = None,
    realtime: Annotated[
        bool, typer.Option(help="read files at their real rate, not as fast as possible")
    ] = False,
    max_reconnects: Annotated[
        int, typer.Option(min=0, help="failed reconnections before giving up on a stream (0: never)")
    ] = 10,
    timeout: Annotated[
        float, typer.Option(min=0.5, help="stream open/read and HTTP timeout, seconds")
    ] = 10.0,
) -> None:
    """Screen SOURCE for movement; print one JSON line per finished event, or post frames to --server."""
    from vision.motion.source import LiveOptions, open_source

    with cli_errors():
        camera_config = _load_config(config, camera)
        options = LiveOptions(open_timeout_s=timeout, read_timeout_s=timeout, max_reconnects=max_reconnects)
        frame_source = open_source(source, fps, realtime=realtime, options=options)
    try:
        with cli_errors():
            if server:
                _post_frames(frame_source, server, camera, timeout)
            else:
                _screen_locally(frame_source, camera, camera_config, snapshots or _default_snapshots())
    finally:
        frame_source.close()


def _default_snapshots() -> pathlib.Path:
    """``snapshots`` in the service's data folder (``TRIAGE_DATA_DIR``), never the current folder."""
    from service.settings import load_settings

    return load_settings().data_dir / "snapshots"


def _screen_locally(frame_source: Any, camera: str, camera_config: Any, snapshots: pathlib.Path) -> None:
    from vision.errors import ImageDecodeError, ImageTooLarge, UnsupportedImageType
    from vision.motion.screener import Screener

    screener = Screener(camera, camera_config)
    snapshots.mkdir(parents=True, exist_ok=True)

    def report(event: Any) -> None:
        path = None
        if event.snapshot is not None:
            stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(event.start))
            path = snapshots / f"{camera}-{stamp}-{event.id[:8]}.jpg"
            path.write_bytes(event.snapshot)
        print(json.dumps(event_line(event, str(path) if path else None)), flush=True)

    try:
        for frame in frame_source.frames():
            try:
                if frame.encoded is not None:
                    result = screener.process_encoded(frame.encoded, frame.timestamp)
                else:
                    result = screener.process(frame.image, frame.timestamp)
            except (ImageDecodeError, UnsupportedImageType, ImageTooLarge) as error:
                # One bad frame in a folder must not end the watch; the screener's state is untouched.
                print(f"warning: frame {frame.index}: {error}", file=sys.stderr)
                continue
            for event in result.ended:
                report(event)
    except KeyboardInterrupt:
        pass
    finally:
        # The end of a file, Ctrl-C, or a stream lost for good: the event in progress is still reported.
        last = screener.flush()
        if last is not None:
            report(last)


def _post_frames(frame_source: Any, server: str, camera: str, timeout: float) -> None:
    import cv2
    import httpx

    key = os.environ.get("TRIAGE_API_KEY")
    if not key:
        raise ValueError("--server needs the API key in TRIAGE_API_KEY")
    url = f"/v1/cameras/{camera}/frames"
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=server.rstrip("/"), headers=headers, timeout=timeout) as client:
        try:
            for frame in frame_source.frames():
                if frame.encoded is not None:
                    body = frame.encoded
                    content_type = "image/png" if body.startswith(b"\x89PNG") else "image/jpeg"
                else:
                    ok, jpeg = cv2.imencode(".jpg", frame.image, [cv2.IMWRITE_JPEG_QUALITY, 85])
                    if not ok:
                        continue
                    body, content_type = jpeg.tobytes(), "image/jpeg"
                # The capture time, so that the stored event lasts as long as the movement did.
                answer = _post_with_retry(client, url, body, content_type, frame.index, frame.timestamp)
                if answer is not None and answer.get("event_id"):
                    print(json.dumps(answer), flush=True)
        except KeyboardInterrupt:
            pass
        finally:
            # The end of a file, Ctrl-C, or a stream lost for good: the event in progress ends now.
            _end_source(client, f"/v1/cameras/{camera}/end")


def _end_source(client: Any, url: str) -> None:
    import httpx

    try:
        response = client.post(url)
    except httpx.HTTPError as error:
        print(f"warning: could not end the camera's event: {error}", file=sys.stderr)
        return
    if response.status_code >= 400:
        print(f"warning: could not end the camera's event ({response.status_code}): {_detail(response)}",
              file=sys.stderr)  # fmt: skip


def _post_with_retry(
    client: Any,
    url: str,
    body: bytes,
    content_type: str,
    index: int,
    timestamp: float | None = None,
    attempts: int = 5,
) -> dict[str, Any] | None:
    """POST one frame (with its capture time); retry transport errors and 5xx with backoff; 4xx other
    than 400, 413 and 415 are fatal."""
    import httpx

    delay = 0.5
    params = {"timestamp": timestamp} if timestamp is not None else None
    for attempt in range(attempts):
        try:
            response = client.post(url, content=body, params=params, headers={"Content-Type": content_type})
        except httpx.HTTPError as error:
            if attempt == attempts - 1:
                raise ValueError(f"cannot reach the service: {error}") from None
            time.sleep(delay)
            delay *= 2
            continue
        if response.status_code < 400:
            answer: dict[str, Any] = response.json()
            return answer
        detail = _detail(response)
        if response.status_code in (400, 413, 415):
            print(
                f"warning: frame {index}: service refused it ({response.status_code}): {detail}",
                file=sys.stderr,
            )
            return None
        if response.status_code < 500 or attempt == attempts - 1:
            raise ValueError(f"service answered {response.status_code}: {detail}")
        time.sleep(delay)
        delay *= 2
    return None


def _detail(response: Any) -> str:
    try:
        return str(response.json().get("detail", response.text))
    except ValueError:
        return str(response.text)[:200]


def motion_eval(
    input_dir: Annotated[
        pathlib.Path | None, typer.Option("--input", help="CDnet input folder (or its sequence folder)")
    ] = None,
    groundtruth: Annotated[
        pathlib.Path | None, typer.Option(help="CDnet groundtruth folder (or its sequence folder)")
    ] = None,
    roi: Annotated[pathlib.Path | None, typer.Option(help="ROI.bmp (default: the sequence's)")] = None,
    temporal_roi: Annotated[
        pathlib.Path | None, typer.Option(help="temporalROI.txt (default: the sequence's)")
    ] = None,
    all_dir: Annotated[
        pathlib.Path | None,
        typer.Option("--all", help="score every CDnet-layout sequence under this folder, in one table"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    config: Annotated[
        pathlib.Path | None, typer.Option(help="camera config file to take settings from")
    ] = None,
    camera: Annotated[str, typer.Option(help="camera id in --config")] = "cdnet",
) -> None:
    """Score motion screening on a CDnet 2014 sequence (or all under --all): precision, recall, F, fps."""
    from vision.motion.cdnet import SequenceError, evaluate, find_sequence, find_sequences

    with cli_errors():
        camera_config = _load_config(config, camera)
        if all_dir is not None:
            if input_dir is not None or groundtruth is not None:
                raise SequenceError("give --all DIR, or --input and --groundtruth, not both")
            rows = {
                name: evaluate(sequence, camera_config).to_dict()
                for name, sequence in find_sequences(all_dir).items()
            }
            _print_table(rows, as_json)
            return
        if input_dir is None or groundtruth is None:
            raise SequenceError("give --input and --groundtruth (or --all DIR)")
        sequence = find_sequence(input_dir, groundtruth, roi, temporal_roi)
        result = evaluate(sequence, camera_config, progress=not as_json and sys.stderr.isatty())
    summary = result.to_dict()
    if as_json:
        print(json.dumps(summary))
        return
    print(
        f"precision {summary['precision']:.4f}  recall {summary['recall']:.4f}  "
        f"F-measure {summary['f_measure']:.4f}  fps {summary['fps']:.1f}  frames {summary['frames']}"
    )
    if result.confusion.tp + result.confusion.fn == 0:
        print("note: no moving pixels in the scored frames; recall and F-measure are 0 by convention")


def _print_table(rows: dict[str, dict[str, Any]], as_json: bool) -> None:
    """One row a sequence (and their mean F), as a table or one JSON object."""
    mean_f = round(sum(r["f_measure"] for r in rows.values()) / len(rows), 4)
    if as_json:
        print(json.dumps({"sequences": rows, "mean_f_measure": mean_f}))
        return
    width = max(len("sequence"), *(len(name) for name in rows))
    print(f"{'sequence':<{width}}  precision  recall  F-measure    fps  frames")
    for name, r in rows.items():
        print(
            f"{name:<{width}}  {r['precision']:>9.4f}  {r['recall']:>6.4f}  {r['f_measure']:>9.4f}"
            f"  {r['fps']:>5.1f}  {r['frames']:>6}"
        )
    print(f"{'mean':<{width}}  {'':>9}  {'':>6}  {mean_f:>9.4f}")
