"""`triage watch` on the sample clip and on folders; frame sources."""

from __future__ import annotations

import json
import pathlib
import time

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from cli.main import app
from vision.motion.source import FileSource, FolderSource, LiveOptions, LiveSource, SourceError, open_source

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLIP = ROOT / "sample_images" / "camera" / "trail_walker.avi"


def test_watch_prints_one_event_for_the_walker_clip(tmp_path: pathlib.Path) -> None:
    result = CliRunner().invoke(
        app, ["watch", str(CLIP), "--camera", "trail-1", "--snapshots", str(tmp_path / "snaps")]
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 1
    event = lines[0]
    assert set(event) == {"camera", "start", "end", "zone", "boxes", "peak_score", "snapshot"}
    assert event["camera"] == "trail-1" and event["end"] > event["start"]
    snapshot = pathlib.Path(event["snapshot"])
    assert snapshot.parent == tmp_path / "snaps"
    picture = cv2.imread(str(snapshot))
    assert picture is not None and picture.shape == (240, 320, 3)
    ((x1, y1, x2, y2),) = event["boxes"]
    # The walker keeps to the trail, in the lower half, and is taller than wide.
    assert y1 > 80 and y2 > 150 and (y2 - y1) > (x2 - x1)


def test_watch_snapshots_go_to_the_data_folder_by_default(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRIAGE_DATA_DIR", str(tmp_path / "station-data"))
    result = CliRunner().invoke(app, ["watch", str(CLIP), "--camera", "trail-1"])
    assert result.exit_code == 0, result.output
    (event,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert pathlib.Path(event["snapshot"]).parent == tmp_path / "station-data" / "snapshots"
    assert not (tmp_path / "snapshots").exists()


def test_watch_on_a_folder_with_zones_from_a_config(tmp_path: pathlib.Path) -> None:
    capture = cv2.VideoCapture(str(CLIP))
    folder = tmp_path / "frames"
    folder.mkdir()
    index = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        cv2.imwrite(str(folder / f"f{index:04d}.jpg"), frame)
        index += 1
    (folder / "f0030.jpg").write_bytes(b"\xff\xd8\xff garbage")  # one corrupt frame is skipped, not fatal
    config = tmp_path / "cameras.yaml"
    config.write_text("cameras:\n  trail-1:\n    zones:\n      trail: [[0, 0.4], [1, 0.4], [1, 1], [0, 1]]\n")
    result = CliRunner().invoke(
        app,
        [
            "watch",
            str(folder),
            "--camera",
            "trail-1",
            "--config",
            str(config),
            "--snapshots",
            str(tmp_path / "s"),
        ],
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 1 and lines[0]["zone"] == "trail"
    assert "frame 30" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/nonexistent/clip.avi", "--camera", "c"], "does not exist"),
        ([str(CLIP), "--camera", "bad id!"], "camera id"),
        ([str(CLIP), "--camera", "c", "--config", "/nonexistent.yaml"], "cannot read"),
        (["rtsp://127.0.0.1:1/none", "--camera", "c", "--timeout", "1"], "cannot open stream"),
    ],
)
def test_watch_bad_input_is_one_line_and_nonzero(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["watch", *args])
    assert result.exit_code != 0
    assert message in result.stderr and result.stderr.count("\n") == 1


def test_watch_with_a_config_missing_the_camera(tmp_path: pathlib.Path) -> None:
    config = tmp_path / "cameras.json"
    config.write_text(json.dumps({"cameras": {"other": {}}}))
    result = CliRunner().invoke(app, ["watch", str(CLIP), "--camera", "trail-1", "--config", str(config)])
    assert result.exit_code == 2 and "not in" in result.stderr


def test_watch_with_server_needs_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRIAGE_API_KEY", raising=False)
    result = CliRunner().invoke(app, ["watch", str(CLIP), "--camera", "c", "--server", "http://127.0.0.1:9"])
    assert result.exit_code == 2 and "TRIAGE_API_KEY" in result.stderr


def test_file_source_samples_at_the_requested_rate() -> None:
    every = list(FileSource(CLIP, fps=5.0).frames())  # the clip is 5 fps, 48 frames
    half = list(FileSource(CLIP, fps=2.5).frames())
    assert len(every) == 48 and len(half) == 24
    assert half[1].timestamp - half[0].timestamp == pytest.approx(0.4)
    assert half[1].image is not None and every[2].image is not None
    assert np.array_equal(half[1].image, every[2].image)


def test_folder_source_is_in_name_order(tmp_path: pathlib.Path) -> None:
    for name in ("b.jpg", "a.png", "c.txt"):
        (tmp_path / name).write_bytes(b"x")
    frames = list(FolderSource(tmp_path, fps=2.0).frames())
    assert [f.encoded for f in frames] == [b"x", b"x"] and frames[1].timestamp - frames[0].timestamp == 0.5
    with pytest.raises(SourceError):
        open_source(str(tmp_path / "nothing-here"), fps=5)


def test_live_reader_hands_out_only_new_frames_and_stops() -> None:
    # A file opened as a "stream": the reader thread races ahead, and the consumer gets the latest frame.
    source = LiveSource(str(CLIP), fps=50.0, options=LiveOptions(backoff_s=0.01, max_reconnects=1))
    try:
        seen = []
        for frame in source.frames():
            seen.append(frame.timestamp)
            if len(seen) == 5:
                break
        assert len(seen) == 5 and seen == sorted(seen) and len(set(seen)) == 5
    finally:
        began = time.monotonic()
        source.close()
        assert time.monotonic() - began < 5


def test_live_reader_gives_up_after_the_reconnection_attempts(tmp_path: pathlib.Path) -> None:
    clip = tmp_path / "stream.avi"
    clip.write_bytes(CLIP.read_bytes())
    source = LiveSource(str(clip), fps=200.0, options=LiveOptions(backoff_s=0.01, max_reconnects=2))
    clip.unlink()  # the "camera" goes away: every reopen fails once the reader reaches the end
    try:
        with pytest.raises(SourceError, match="2 reconnection attempts failed"):
            for _ in source.frames():
                pass
        assert source.reconnects == 2
    finally:
        source.close()
