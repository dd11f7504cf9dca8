"""The GitHub receiver's fast path: a bare ASGI endpoint mounted in front of Quart.

The receiver is the one route that takes bursts (a busy organisation's pushes, GitHub's
redeliveries) and whose answer time matters: bench/webhook_burst.py asks for an ack p99 under
100 ms at 50 concurrent senders. Quart's request and response machinery (contexts, the request
and response objects, hooks, signals) costs about a third of a delivery's CPU, so create_app
mounts this in front of it: a POST to a receiver path is read and answered here, by the same
core (`answer_delivery`) and in the same envelope, serialised by the app's own JSON provider,
as the Quart view in api/routes/webhooks.py. That view stays registered: the URL map, the
OpenAPI document and the route walks see it, other methods get Quart's 405, and it answers
whenever the mount is not in front (tests/test_webhook_receiver.py checks that both give the
same bytes).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from hypercorn.typing import ASGIFramework, ASGIReceiveCallable, ASGISendCallable, Scope
from quart import Quart

from api.envelope import failure_body, ok_body
from api.services import EXTENSION_KEY, Services
from controller.errors import FogbankError, PayloadTooLarge, ServiceUnavailable
from webhooks.dispatch import Delivery, receive

log = logging.getLogger(__name__)

RECEIVER_PATH = "/webhooks/github"
RECEIVER_ALIAS = "/api/github/webhook"
RECEIVER_PATHS = frozenset({RECEIVER_PATH, RECEIVER_ALIAS})


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


async def answer_delivery(
    found: Services, headers: Mapping[str, str], body: bytes
) -> tuple[int, dict[str, Any]]:
    """The status and envelope for one delivery; `headers` are looked up by lower-case name.
    A delivery that is refused (400, 401, 503...) gets its error envelope."""
    delivery = Delivery(
        event=headers.get("x-github-event", "").strip(),
        delivery_id=headers.get("x-github-delivery", "").strip(),
        signature=headers.get("x-hub-signature-256"),
        body=body,
        content_type=headers.get("content-type", "application/json"),
    )
    try:
        answer = await found.intake.submit(receive(delivery))
    except FogbankError as error:
        if error.status_code >= 500:
            log.error("%s: %s", error.code, error.message)
        return error.status_code, failure_body(error.message, error.code)
    return answer.status, ok_body(answer.data, answer.message)


def check_length(declared: int | None, received: int, max_bytes: int) -> None:
    """413 when the declared Content-Length or the bytes received so far pass `max_bytes`."""
    if (declared is not None and declared > max_bytes) or received > max_bytes:
        raise PayloadTooLarge(f"webhook body is larger than {max_bytes} bytes")


class ReceiverMount:
    """ASGI: POSTs to the receiver paths are answered here; everything else goes to `inner`."""

    def __init__(self, app: Quart, inner: ASGIFramework) -> None:
        self._app = app
        self.inner = inner  # Quart's own ASGI callable

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or scope["path"] not in RECEIVER_PATHS
        ):
            await self.inner(scope, receive, send)
            return
        started = time.perf_counter()
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in scope["headers"]
        }
        try:
            status, envelope = await self._answer(headers, receive)
        except ClientGone:
            return
        except Exception:  # the request boundary, as api/errors.py's handler for Quart routes
            log.exception("unhandled error in the webhook receiver")
            status, envelope = 500, failure_body("internal server error", "INTERNAL_ERROR")
        text = self._app.json.dumps(envelope, separators=(",", ":")) + "\n"
        payload = text.encode("utf-8")
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
        record_delivery(
            self._app.extensions.get(EXTENSION_KEY), status, time.perf_counter() - started
        )

    async def _answer(
        self, headers: Mapping[str, str], receive: ASGIReceiveCallable
    ) -> tuple[int, dict[str, Any]]:
        found: Services | None = self._app.extensions.get(EXTENSION_KEY)
        if found is None:
            error = ServiceUnavailable("the server is starting up; try again in a moment")
            return error.status_code, failure_body(error.message, error.code)
        max_bytes = found.settings.github.max_body_bytes
        try:
            body = await _read_body(receive, _content_length(headers), max_bytes)
        except FogbankError as error:
            return error.status_code, failure_body(error.message, error.code)
        return await answer_delivery(found, headers, body)


def _content_length(headers: Mapping[str, str]) -> int | None:
    value = headers.get("content-length", "").strip()
    return int(value) if value.isascii() and value.isdigit() else None


async def _read_body(receive: ASGIReceiveCallable, declared: int | None, max_bytes: int) -> bytes:
    """The exact bytes GitHub signed; refused with 413 before or while reading past the cap."""
    check_length(declared, 0, max_bytes)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientGone()  # http.disconnect
        chunk = message.get("body", b"")
        size += len(chunk)
        check_length(None, size, max_bytes)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
