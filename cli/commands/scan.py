"""`triage scan`: score image files with the bundled (or a given) model, or through a running service."""

from __future__ import annotations

import json
import os
import pathlib
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from cli.commands._errors import cli_errors, fail
from vision.classes import SCENE_KINDS

# Which graph of a model runs: --int8 its INT8 version (triage quantize), --fp32 its FP32 graph; neither,
# the graph its card serves by default (as the service does with TRIAGE_INT8 unset).
Precision = Annotated[
    bool | None,
    typer.Option(
        "--int8/--fp32",
        help="run the model's INT8 version (triage quantize) or its FP32 graph (default: the one its card "
        "serves by default)",
    ),
]

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".dcm", ".dicom"})
CONTENT_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".dcm": "application/dicom",
    ".dicom": "application/dicom",
}


def register(app: typer.Typer) -> None:
    """Add ``triage scan`` to ``app``."""
    app.command("scan")(scan)


@dataclass(frozen=True)
class ScanFile:
    """One scan to score: an image file, or a raw dual-energy pair (``path`` the high channel).

    ``hint`` is added to its error, if it has one (a file named like a raw channel whose partner is
    missing: scored as it is, so a grey channel is refused and a false-colour picture is not).
    """

    path: pathlib.Path
    low: pathlib.Path | None = None
    hint: str | None = None

    def describe(self) -> dict[str, str]:
        """Where the scan came from, as output fields."""
        if self.low is None:
            return {"path": str(self.path)}
        return {"high": str(self.path), "low": str(self.low)}

    def __str__(self) -> str:
        return str(self.path) if self.low is None else f"{self.path} + {self.low.name}"


def image_files(paths: Sequence[pathlib.Path]) -> Iterator[pathlib.Path]:
    """Files as given, and the image files inside folders (recursively, sorted)."""
    for path in paths:
        if path.is_dir():
            yield from sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
            )
        else:
            yield path


def channel_of(path: pathlib.Path) -> tuple[str, str] | None:
    """``(scan stem, "high" | "low")`` for a raw channel file named ``<stem>_high.*`` / ``<stem>_low.*``."""
    stem = path.stem
    for channel in ("high", "low"):
        if stem.lower().endswith(f"_{channel}") and len(stem) > len(channel) + 1:
            return stem[: -len(channel) - 1], channel
    return None


def pair_channels(files: Sequence[pathlib.Path]) -> list[ScanFile]:
    """Each file as its own scan, except raw channels: ``X_high.*`` and ``X_low.*`` in one folder become
    one dual-energy scan, in the place of the first of them. A file named like a channel without its
    partner stays a scan of its own, with a hint for its error: the modality check refuses a grey channel.
    """
    channels: dict[tuple[pathlib.Path, str], dict[str, pathlib.Path]] = {}
    for path in files:
        named = channel_of(path)
        if named is not None:
            channels.setdefault((path.parent, named[0]), {})[named[1]] = path
    scans: list[ScanFile] = []
    for path in files:
        named = channel_of(path)
        if named is None:
            scans.append(ScanFile(path))
            continue
        pair = channels.get((path.parent, named[0]))
        if pair is None:
            continue  # already placed with its partner
        if set(pair) != {"high", "low"}:
            missing = "low" if "high" in pair else "high"
            hint = (
                f"named like a raw {named[1]}-energy channel, but {named[0]}_{missing}.* is not beside it: "
                "pass both channels of a scan (or --high and --low)"
            )
            scans.append(ScanFile(path, hint=hint))
        else:
            scans.append(ScanFile(pair["high"], pair["low"]))
        del channels[(path.parent, named[0])]
    return scans


def _line(scan_file: ScanFile, result: dict[str, Any], jsonl: bool) -> str:
    if jsonl:
        return json.dumps({**scan_file.describe(), **result})
    boxes = " ".join(
        f"{d['label']}:{d['score']:.2f}@{[round(v) for v in d['box']]}" for d in result["detections"]
    )
    verdict = f"{result['verdict'].upper():<5}  {result['score']:.3f} / {result['threshold']:.3f}"
    return f"{scan_file}  {verdict}  {boxes}"


def scan(
    paths: Annotated[
        list[pathlib.Path] | None,
        typer.Argument(help="image files or folders; raw channels X_high.* + X_low.* are scored as one pair"),
    ] = None,
    high: Annotated[pathlib.Path | None, typer.Option(help="a raw high-energy channel (with --low)")] = None,
    low: Annotated[pathlib.Path | None, typer.Option(help="its raw low-energy channel (with --high)")] = None,
    model: Annotated[
        pathlib.Path | None, typer.Option(help="model folder (default: the bundled model)")
    ] = None,
    jsonl: Annotated[
        bool, typer.Option("--jsonl/--text", help="one JSON object per line, or plain text")
    ] = True,
    server: Annotated[str | None, typer.Option(help="post to this service instead (TRIAGE_API_KEY)")] = None,
    kind: Annotated[
        str | None,
        typer.Option(
            help=f"scene kind of every image ({', '.join(SCENE_KINDS)}): use the model's threshold for it"
        ),
    ] = None,
    threads: Annotated[int, typer.Option(min=1, help="onnxruntime threads")] = 2,
    int8: Precision = None,
) -> None:
    """Print a verdict, score, threshold and boxes per image; a bad file is reported and skipped."""
    if kind is not None and kind not in SCENE_KINDS:
        raise fail(f"--kind must be one of {', '.join(SCENE_KINDS)}, got {kind!r}")
    if (high is None) != (low is None):
        raise fail("--high and --low go together: pass both channels of the scan")
    scans = pair_channels(list(image_files(paths or [])))
    if high is not None and low is not None:
        scans.append(ScanFile(high, low))
    if not scans:
        raise fail("no image files found")
    with cli_errors():
        scorer = remote_scorer(server, kind) if server else local_scorer(model, threads, kind, int8)
    failed = 0
    for scan_file, outcome in score_all(scans, scorer):
        if isinstance(outcome, Exception):  # one bad file must not stop the others; report it on one line
            failed += 1
            reason = str(outcome).splitlines()[0] if str(outcome) else type(outcome).__name__
            hint = f" ({scan_file.hint})" if scan_file.hint else ""
            print(f"error: {scan_file}: {reason}{hint}", file=sys.stderr)
            continue
        print(_line(scan_file, outcome, jsonl), flush=True)
    if failed:
        raise typer.Exit(1)


@dataclass(frozen=True)
class Scorer:
    """How to score one scan in two steps: ``load`` reads (and decodes) its files, ``judge`` scores that.

    :func:`score_all` loads the next scan while the current one is judged.
    """

    load: Callable[[ScanFile], Any]
    judge: Callable[[Any], dict[str, Any]]


def score_all(
    scans: Sequence[ScanFile], scorer: Scorer
) -> Iterator[tuple[ScanFile, dict[str, Any] | Exception]]:
    """Each scan with its result, or the error that stopped it, in order.

    Reading and decoding the next file (one ahead, in a thread: file reads and OpenCV's decoders release
    the GIL) overlaps with judging the current one (onnxruntime releases it too), so the files' own cost
    hides behind inference; at most two decoded scans are held at once.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="triage-scan-load") as pool:
        ahead = pool.submit(scorer.load, scans[0]) if scans else None
        for index, scan_file in enumerate(scans):
            loading = ahead
            assert loading is not None
            ahead = pool.submit(scorer.load, scans[index + 1]) if index + 1 < len(scans) else None
            try:
                result = scorer.judge(loading.result())
            except Exception as error:  # reported per file by the caller
                yield scan_file, error
                continue
            yield scan_file, result


def local_scorer(model: pathlib.Path | None, threads: int, kind: str | None, int8: bool | None) -> Scorer:
    """Score with a model folder (default: the bundled model) in this process."""
    from vision.infer import Predictor
    from vision.io import DecodedImage, read_dual_energy, read_image
    from vision.registry import default_model_dir

    predictor = Predictor(model if model is not None else default_model_dir(), threads=threads, int8=int8)

    def load(scan_file: ScanFile) -> DecodedImage:
        path, low = scan_file.path, scan_file.low
        return read_image(path) if low is None else read_dual_energy(path, low)

    def judge(decoded: DecodedImage) -> dict[str, Any]:
        predictor.check_modality(decoded.modality)
        return {**predictor.predict(decoded.rgb, kind).to_dict(), "modality": decoded.modality}

    return Scorer(load, judge)


def remote_scorer(server: str, kind: str | None) -> Scorer:
    """Score by posting each scan's files to a running service (API key in ``TRIAGE_API_KEY``)."""
    import httpx

    key = os.environ.get("TRIAGE_API_KEY")
    if not key:
        raise fail("--server needs the API key in TRIAGE_API_KEY")
    client = httpx.Client(base_url=server.rstrip("/"), headers={"Authorization": f"Bearer {key}"}, timeout=60)

    def part(path: pathlib.Path) -> tuple[str, bytes, str]:
        content_type = CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")
        return path.name, path.read_bytes(), content_type

    def load(scan_file: ScanFile) -> dict[str, tuple[str, bytes, str]]:
        path, low = scan_file.path, scan_file.low
        return {"file": part(path)} if low is None else {"high": part(path), "low": part(low)}

    def judge(files: dict[str, tuple[str, bytes, str]]) -> dict[str, Any]:
        response = client.post("/v1/scans", files=files, data={"kind": kind} if kind else None)
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise RuntimeError(f"service answered {response.status_code}: {detail}")
        body: dict[str, Any] = response.json()
        return body

    return Scorer(load, judge)
