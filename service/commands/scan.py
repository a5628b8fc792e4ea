"""`triage scan`: score image files with the bundled (or a given) model, or through a running service."""

from __future__ import annotations

import json
import os
import pathlib
import sys
from collections.abc import Iterator, Sequence
from typing import Annotated, Any

import typer

from service.commands._errors import cli_errors, fail
from vision.classes import SCENE_KINDS

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


def image_files(paths: Sequence[pathlib.Path]) -> Iterator[pathlib.Path]:
    """Files as given, and the image files inside folders (recursively, sorted)."""
    for path in paths:
        if path.is_dir():
            yield from sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
            )
        else:
            yield path


def _line(path: pathlib.Path, result: dict[str, Any], jsonl: bool) -> str:
    if jsonl:
        return json.dumps({"path": str(path), **result})
    boxes = " ".join(
        f"{d['label']}:{d['score']:.2f}@{[round(v) for v in d['box']]}" for d in result["detections"]
    )
    return (
        f"{path}  {result['verdict'].upper():<5}  {result['score']:.3f} / {result['threshold']:.3f}  {boxes}"
    )


def scan(
    paths: Annotated[list[pathlib.Path], typer.Argument(help="image files or folders")],
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
    int8: Annotated[bool, typer.Option(help="run the model's INT8 version (triage quantize)")] = False,
) -> None:
    """Print a verdict, score, threshold and boxes per image; a bad file is reported and skipped."""
    if kind is not None and kind not in SCENE_KINDS:
        raise fail(f"--kind must be one of {', '.join(SCENE_KINDS)}, got {kind!r}")
    files = list(image_files(paths))
    if not files:
        raise fail("no image files found")
    with cli_errors():
        score_file = _remote(server, kind) if server else _local(model, threads, kind, int8)
    failed = 0
    for path in files:
        try:
            result = score_file(path)
        except Exception as error:  # one bad file must not stop the others; report it on one line
            failed += 1
            print(
                f"error: {path}: {str(error).splitlines()[0] if str(error) else type(error).__name__}",
                file=sys.stderr,
            )
            continue
        print(_line(path, result, jsonl), flush=True)
    if failed:
        raise typer.Exit(1)


def _local(model: pathlib.Path | None, threads: int, kind: str | None, int8: bool) -> Any:
    from vision.infer import Predictor, default_model_dir
    from vision.io import read_image

    predictor = Predictor(model if model is not None else default_model_dir(), threads=threads, int8=int8)

    def score_file(path: pathlib.Path) -> dict[str, Any]:
        return predictor.predict(read_image(path).rgb, kind).to_dict()

    return score_file


def _remote(server: str, kind: str | None) -> Any:
    import httpx

    key = os.environ.get("TRIAGE_API_KEY")
    if not key:
        raise fail("--server needs the API key in TRIAGE_API_KEY")
    client = httpx.Client(base_url=server.rstrip("/"), headers={"Authorization": f"Bearer {key}"}, timeout=60)

    def score_file(path: pathlib.Path) -> dict[str, Any]:
        content_type = CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")
        response = client.post(
            "/v1/scans",
            files={"file": (path.name, path.read_bytes(), content_type)},
            data={"kind": kind} if kind else None,
        )
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise RuntimeError(f"service answered {response.status_code}: {detail}")
        body: dict[str, Any] = response.json()
        return body

    return score_file
