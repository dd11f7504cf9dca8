"""The GitHub receiver's fast path: a bare ASGI endpoint mounted in front of Quart.

The receiver is the one route that takes bursts (a busy organisation's pushes, GitHub's
redeliveries) and whose answer time matters: bench/webhook_burst.py asks for an ack p99 under
100 ms at 50 concurrent senders. Quart's request and response machinery (contexts, the request
and response objects, hooks, signals) costs about a third of a delivery's CPU, so create_app
mounts this in front of it: a POST to a receiver path is read and answered here, by the same
core (`answer_delivery`, then webhooks/reception.py) and in the same envelope, serialised by the
app's own JSON provider, as the Quart views in api/routes/webhooks.py. Those views stay
registered: the URL map, the OpenAPI document and the route walks see them, other methods get
Quart's 405, and they answer whenever the mount is not in front
(tests/test_webhook_receiver.py checks that both give the same bytes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from typing import Any

from hypercorn.typing import ASGIFramework, ASGIReceiveCallable, ASGISendCallable, Scope
from quart import Quart

from api.envelope import failure_body, ok_body
from api.services import EXTENSION_KEY, Services
from controller.errors import FogbankError, ServiceUnavailable

log = logging.getLogger(__name__)

RECEIVER_PATH = "/webhooks/github"
RECEIVER_ALIAS = "/api/github/webhook"
RECEIVER_PATHS = frozenset({RECEIVER_PATH, RECEIVER_ALIAS})
APP_RECEIVER_PREFIX = RECEIVER_PATH + "/"  # + the app's name: only its own secret signs there


OUTCOMES = {200: "accepted", 202: "ignored", 401: "unauthorized"}


def record_delivery(found: Services | None, status: int, seconds: float) -> None:
    """Count the delivery by outcome and its answer time (two additions, no lock)."""
    if found is None:
        return
    metrics = found.controller.metrics
    outcome = OUTCOMES.get(status) or ("error" if status >= 500 else "invalid")
    metrics.webhook_deliveries.inc(outcome)
    metrics.webhook_ack_seconds.observe(seconds)


class ClientGone(Exception):
    """The sender hung up before its body arrived; there is nobody to answer."""


def app_receiver_path(app_name: str) -> str:
    """The payload URL path of one app's own webhook."""
    return APP_RECEIVER_PREFIX + app_name


def receiver_scope(path: str) -> tuple[bool, str | None]:
    """(whether `path` is a receiver path, the app it belongs to or None for the global one)."""
    if path in RECEIVER_PATHS:
        return True, None
    if path.startswith(APP_RECEIVER_PREFIX):
        name = path[len(APP_RECEIVER_PREFIX) :]
        if name and "/" not in name:
            return True, name
    return False, None


async def answer_delivery(
    found: Services,
    app_name: str | None,
    headers: Mapping[str, str],
    chunks: AsyncIterable[bytes],
    declared_length: int | None,
) -> tuple[int, dict[str, Any]]:
    """The status and envelope for one delivery; `headers` are looked up by lower-case name.
    A delivery that is refused (400, 401, 408, 413, 503...) gets its error envelope."""
    try:
        answer = await found.reception.answer(app_name, headers, chunks, declared_length)
    except FogbankError as error:
        if error.status_code >= 500:
            log.error("%s: %s", error.code, error.message)
        return error.status_code, failure_body(error.message, error.code)
    return answer.status, ok_body(answer.data, answer.message)


class ReceiverMount:
    """ASGI: POSTs to the receiver paths are answered here; everything else goes to `inner`."""

    def __init__(self, app: Quart, inner: ASGIFramework) -> None:
        self._app = app
        self.inner = inner  # Quart's own ASGI callable

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.inner(scope, receive, send)
            return
        ours, app_name = receiver_scope(scope["path"])
        if not ours:
            await self.inner(scope, receive, send)
            return
        started = time.perf_counter()
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in scope["headers"]
        }
        body = _Body(receive)
        try:
            status, envelope = await self._answer(app_name, headers, body)
        except ClientGone:
            return
        except Exception:  # the request boundary, as api/errors.py's handler for Quart routes
            log.exception("unhandled error in the webhook receiver")
            status, envelope = 500, failure_body("internal server error", "INTERNAL_ERROR")
        text = self._app.json.dumps(envelope, separators=(",", ":")) + "\n"
        payload = text.encode("utf-8")
        # What is left of the body is taken (and dropped) while the answer goes out: the server
        # finishes the exchange by queueing a disconnect behind the unread chunks (_Body).
        drain = asyncio.create_task(body.drain(), name="fogbank-webhook-drain")
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(payload)).encode("ascii")),
                    ],
                    "trailers": False,
                }
            )
            await send({"type": "http.response.body", "body": payload, "more_body": False})
        finally:
            drain.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await drain
        record_delivery(
            self._app.extensions.get(EXTENSION_KEY), status, time.perf_counter() - started
        )

    async def _answer(
        self, app_name: str | None, headers: Mapping[str, str], body: _Body
    ) -> tuple[int, dict[str, Any]]:
        found: Services | None = self._app.extensions.get(EXTENSION_KEY)
        if found is None:
            error = ServiceUnavailable("the server is starting up; try again in a moment")
            return error.status_code, failure_body(error.message, error.code)
        declared = _content_length(headers)
        return await answer_delivery(found, app_name, headers, body.chunks(), declared)


def _content_length(headers: Mapping[str, str]) -> int | None:
    value = headers.get("content-length", "").strip()
    return int(value) if value.isascii() and value.isdigit() else None


class _Body:
    """The request body as the server hands it over. What the answer did not need is drained
    while the answer is sent: Hypercorn queues every chunk for the app (a small queue, waited
    on when full) and ends the exchange by queueing a disconnect behind them, so an unread
    body would hold the connection, its buffers and the answer for good."""

    def __init__(self, receive: ASGIReceiveCallable) -> None:
        self._receive = receive
        self._done = False

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body's chunks (ClientGone if the sender hangs up)."""
        while not self._done:
            message = await self._receive()
            if message["type"] != "http.request":
                self._done = True
                raise ClientGone()  # http.disconnect
            self._done = not message.get("more_body", False)
            chunk = message.get("body", b"")
            if chunk:
                yield chunk

    async def drain(self) -> None:
        """Take, and drop, whatever of the body is still coming."""
        while not self._done:
            message = await self._receive()
            self._done = message["type"] != "http.request" or not message.get("more_body", False)
