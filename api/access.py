"""The outermost ASGI layer: every HTTP request and WebSocket gets a request id (the caller's
X-Request-Id when it is a plain token, else a new one), carried by every log line written while
it runs (controller/telemetry/logcontext.py) and returned in the X-Request-Id header; when it
ends, one access log line: method, path (never the query: it may hold a token), status,
duration, user."""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Iterable
from typing import Any, cast

from hypercorn.typing import ASGIFramework, ASGIReceiveCallable, ASGISendCallable, Scope

from controller.telemetry.logcontext import RequestInfo, current_request

log = logging.getLogger("fogbank.access")

HEADER = b"x-request-id"
# What a proxy in front may pass on: no spaces, quotes or control characters reach a log line.
INCOMING = re.compile(rb"^[A-Za-z0-9._:-]{1,64}$")


def request_id(scope: Scope) -> str:
    headers = cast(Iterable[tuple[bytes, bytes]], scope.get("headers", ()))
    for name, value in headers:
        if name.lower() == HEADER and INCOMING.fullmatch(value):
            return value.decode("ascii")
    return secrets.token_hex(8)


class AccessLog:
    def __init__(self, inner: ASGIFramework, *, enabled: bool) -> None:
        self.inner = inner
        self._enabled = enabled

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.inner(scope, receive, send)
            return
        info = RequestInfo(request_id(scope))
        header = (HEADER, info.request_id.encode("ascii"))
        status: int | str = "-"
        started = time.perf_counter()

        async def send_with_id(message: Any) -> None:
            nonlocal status
            kind = message["type"]
            if kind in ("http.response.start", "websocket.accept"):
                message = {**message, "headers": [*message.get("headers", ()), header]}
                status = message.get("status", 101)
            elif kind == "websocket.close" and status == "-":
                status = 403  # closed before it was accepted
            await send(message)

        token = current_request.set(info)
        try:
            await self.inner(scope, receive, send_with_id)
        finally:
            if self._enabled:
                self._write(scope, status, time.perf_counter() - started, info)
            current_request.reset(token)

    @staticmethod
    def _write(scope: Scope, status: int | str, seconds: float, info: RequestInfo) -> None:
        method = scope.get("method", "WS") if scope["type"] == "http" else "WS"
        path = scope.get("path", "")
        duration_ms = round(seconds * 1000, 2)
        log.info(
            "%s %s %s %.1f ms",
            method,
            path,
            status,
            duration_ms,
            extra={
                "method": method,
                "path": path,
                "status": status,
                "duration_ms": duration_ms,
                "user": info.user or "-",
            },
        )
