"""Turning expected errors into a one-line message and a non-zero exit, the CLI's edge."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import typer

from vision.errors import VisionError


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``message`` on stderr as one line and return the ``typer.Exit`` to raise."""
    print(f"error: {message}", file=sys.stderr)
    return typer.Exit(code)


@contextlib.contextmanager
def cli_errors() -> Iterator[None]:
    """Map ``VisionError``, ``OSError`` and ``ValueError`` raised inside to one line on stderr and exit 2."""
    try:
        yield
    except (VisionError, OSError, ValueError) as error:
        raise fail(str(error) or type(error).__name__) from None
