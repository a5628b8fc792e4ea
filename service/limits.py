"""Request limits: total body bytes (declared and actually streamed) and the bounded scan queue."""

from __future__ import annotations

import asyncio
import json

from fastapi import HTTPException, status
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.metrics import Metrics


class RequestTooLarge(HTTPException):
    """The body grew past the limit while streaming (HTTP 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            status.HTTP_413_CONTENT_TOO_LARGE, detail=f"request body exceeds the limit of {limit} bytes"
        )


class BodyLimitMiddleware:
    """Pure ASGI middleware refusing bodies over ``max_bytes``.

    A declared ``Content-Length`` over the limit is refused before a byte is read; a body without one
    (chunked) or lying about it is counted as it streams, and reading past the limit raises
    ``RequestTooLarge`` inside the endpoint, which answers 413 and writes nothing.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _send_json(
                send, 413, f"request body of {declared} bytes exceeds the limit of {self.max_bytes}"
            )
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise RequestTooLarge(self.max_bytes)
            return message

        await self.app(scope, counting_receive, send)


class Admission:
    """A bounded number of scan requests in progress; the next one is refused at once, not queued.

    Refusing fast (503 with ``Retry-After``) keeps latency bounded for the admitted requests and tells
    the workstation to back off, instead of letting a queue grow without limit.
    """

    def __init__(self, limit: int, retry_after_s: int, metrics: Metrics) -> None:
        self.limit = limit
        self.retry_after_s = retry_after_s
        self.metrics = metrics
        self.in_flight = 0
        metrics.in_flight_limit.set(limit)

    def try_enter(self) -> bool:
        """Take one place if one is free (no await: on one event loop this is race-free)."""
        if self.in_flight >= self.limit:
            self.metrics.rejected.inc()
            return False
        self.in_flight += 1
        self.metrics.in_flight.set(self.in_flight)
        return True

    def leave(self) -> None:
        """Give back a place taken by ``try_enter``."""
        self.in_flight -= 1
        self.metrics.in_flight.set(self.in_flight)

    def busy_detail(self) -> str:
        """The reason given with a refusal."""
        return f"server busy: {self.in_flight} scans in progress; retry after {self.retry_after_s} s"


class AdmissionMiddleware:
    """Pure ASGI middleware admitting scan posts (``POST /v1/scans``) before anything else is done with them.

    A refusal (503 with ``Retry-After``) is decided from the method and path alone, before the key is
    looked up or a byte of the body is read, the connection is closed rather than drained, and the answer
    waits :data:`REFUSAL_PAUSE_S`: refused work must cost almost nothing, so that admitted scans do not
    starve behind clients that ignore ``Retry-After``. Measured with ``python -m benchmarks.load`` (16
    such clients, 1024x768 JPEGs, 2 cores): without the pause the service refused 870 requests a second
    and accepted 0.55x its peak; with a 50 ms pause, about 150 a second and 0.96x (model 1.13.0). With
    1.14.0 (twice the model's cost) the clients' own CPU on the same two cores counts more: 50 ms gave
    0.79x (141 refusals a second; 0.98x with the server pinned to its own core), 100 ms 0.81x (73 a
    second). An admitted request holds its place until its answer is sent.
    """

    def __init__(self, app: ASGIApp, path: str = "/v1/scans") -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call."""
        state = getattr(getattr(scope.get("app"), "state", None), "triage", None)
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or scope["path"] != self.path
            or state is None
        ):
            await self.app(scope, receive, send)
            return
        admission: Admission = state.admission
        if not admission.try_enter():
            headers = [(b"retry-after", str(admission.retry_after_s).encode()), (b"connection", b"close")]
            # Answered after a short pause: a client that ignores Retry-After and asks again at once then
            # asks REFUSAL_PAUSE_S apart, not thousands of times a second, and the refusals it costs do
            # not take the CPU of the admitted scans (goodput under overload, benchmarks/load.py).
            await asyncio.sleep(REFUSAL_PAUSE_S)
            await _send_json(send, 503, admission.busy_detail(), headers)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            admission.leave()


# How long a refused scan post waits for its 503 (against the Retry-After of a second or more).
REFUSAL_PAUSE_S = 0.1


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", ()):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_json(
    send: Send, status_code: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status_code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
