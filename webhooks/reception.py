"""What a webhook request goes through before anything trusts it.

The URL names whose secret signs it: `/webhooks/github` the global secret
(`github.webhook_secret`), `/webhooks/github/<app>` that app's own secret and nothing else. So
the secret is known before the body is read, and the HMAC is computed as the body arrives
(within `github.max_body_bytes` and `github.read_timeout_seconds`), kept in memory only up to a
small size (webhooks/body.py); large bodies are read two at a time, and one that cannot verify
(no secret for its URL, no well-formed signature) is not read past a mebibyte. At most
`github.max_unverified_requests` requests are in that state at once; more are answered 503 at
once. Only a body whose signature matched is parsed (in a thread when it is large, a few at a
time), then handed to the intake, which records and enqueues it (webhooks/intake.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

from controller.apps.validation import APP_NAME
from controller.errors import PayloadTooLarge, RequestTimeout, ServiceUnavailable, Unauthorized
from controller.store.models import App
from webhooks.body import SpooledBody
from webhooks.dispatch import Delivery, Received, receive
from webhooks.intake import DeliveryIntake
from webhooks.plan import Answer
from webhooks.signature import Signature, well_formed

# Bodies up to this size are parsed on the event loop (a push is usually a few KiB); larger
# ones in a thread, MAX_LARGE_PARSES at a time, so parsing never stalls other requests.
INLINE_PARSE_BYTES = 64 * 1024
MAX_LARGE_PARSES = 2
# Bodies past this are read MAX_LARGE_READS at a time (the others wait, within the read
# timeout, unread): a flood of big ones then costs the event loop a few chunks per turn, not
# one per request. One that cannot verify is not read past it at all.
LARGE_BODY_BYTES = 1024 * 1024
MAX_LARGE_READS = 2


@dataclass(frozen=True)
class ReceptionLimits:
    global_secret: str
    max_body_bytes: int
    read_timeout_seconds: float
    max_unverified: int
    spool_dir: Path


def check_length(declared: int | None, received: int, max_bytes: int) -> None:
    """413 when the declared Content-Length or the bytes received so far pass `max_bytes`."""
    if (declared is not None and declared > max_bytes) or received > max_bytes:
        raise PayloadTooLarge(f"webhook body is larger than {max_bytes} bytes")


class Reception:
    def __init__(self, limits: ReceptionLimits, intake: DeliveryIntake) -> None:
        self._limits = limits
        self._intake = intake
        self._unverified = 0
        self._parsing = asyncio.Semaphore(MAX_LARGE_PARSES)
        self._large_reads = asyncio.Semaphore(MAX_LARGE_READS)

    @property
    def unverified(self) -> int:
        """Requests whose signature is not checked yet (reading or waiting for their secret)."""
        return self._unverified

    async def answer(
        self,
        app_name: str | None,
        headers: Mapping[str, str],
        chunks: AsyncIterable[bytes],
        declared_length: int | None,
    ) -> Answer:
        """The answer to one request (headers by lower-case name); raises its FogbankError."""
        if self._unverified >= self._limits.max_unverified:
            raise ServiceUnavailable(
                "too many webhook requests are being verified at once; try again shortly",
                code="WEBHOOKS_BUSY",
            )
        self._unverified += 1
        try:
            delivery = await self._verified(app_name, headers, chunks, declared_length)
        finally:
            self._unverified -= 1
        return await self._intake.submit(await self._parse(delivery, app_name))

    async def _verified(
        self,
        app_name: str | None,
        headers: Mapping[str, str],
        chunks: AsyncIterable[bytes],
        declared_length: int | None,
    ) -> Delivery:
        limits = self._limits
        check_length(declared_length, 0, limits.max_body_bytes)  # refused before it is read
        header = headers.get("x-hub-signature-256")
        secret = limits.global_secret if app_name is None else await app_secret(app_name)
        # Without a secret or a well-formed header nothing can verify: the body is never kept,
        # only read (up to LARGE_BODY_BYTES) so that a usual sender reads a clean 401.
        signature = Signature(secret) if secret and well_formed(header) else None
        if signature is None and (declared_length or 0) > LARGE_BODY_BYTES:
            raise Unauthorized(_refusal(app_name))  # not worth reading at all
        body = SpooledBody(limits.spool_dir) if signature is not None else None
        try:
            await self._read(chunks, signature, body, declared_length)
            if signature is None or body is None or not signature.matches(header):
                raise Unauthorized(_refusal(app_name))
            raw = await body.read()
        finally:
            if body is not None:
                body.close()
        delivery_id = headers.get("x-github-delivery", "").strip()
        return Delivery(
            event=headers.get("x-github-event", "").strip(),
            delivery_id=delivery_id,
            signature=header,
            body=raw,
            content_type=headers.get("content-type", "application/json"),
        )

    async def _read(
        self,
        chunks: AsyncIterable[bytes],
        signature: Signature | None,
        body: SpooledBody | None,
        declared_length: int | None,
    ) -> None:
        """Feed the body to the signature and the spool; one that cannot verify (no signature
        or secret) is only drained, and no further than LARGE_BODY_BYTES."""
        limits = self._limits
        size = 0
        try:
            async with asyncio.timeout(limits.read_timeout_seconds), AsyncExitStack() as slot:
                large = (declared_length or 0) > LARGE_BODY_BYTES
                if large:
                    await slot.enter_async_context(self._large_reads)
                async for chunk in chunks:
                    size += len(chunk)
                    check_length(None, size, limits.max_body_bytes)
                    if signature is None or body is None:
                        if size > LARGE_BODY_BYTES:
                            return  # refused all the same; no need to read the rest
                        continue
                    if not large and size > LARGE_BODY_BYTES:  # no (or a false) length
                        large = True
                        await slot.enter_async_context(self._large_reads)
                    signature.update(chunk)
                    body.append(chunk)
        except TimeoutError:
            raise RequestTimeout(
                f"the webhook body did not arrive within github.read_timeout_seconds "
                f"({limits.read_timeout_seconds:g} s)"
            ) from None

    async def _parse(self, delivery: Delivery, app_name: str | None) -> Received:
        if len(delivery.body) <= INLINE_PARSE_BYTES:
            return receive(delivery, app_name)
        async with self._parsing:
            return await asyncio.to_thread(receive, delivery, app_name)


async def app_secret(app_name: str) -> str:
    """The app's own webhook secret ('' when there is no such app or it has none)."""
    if not APP_NAME.fullmatch(app_name):  # no app has that name; the database refuses to look
        return ""
    found = await App.filter(name=app_name).values_list("webhook_secret", flat=True)
    return str(found[0]) if found else ""


def _refusal(app_name: str | None) -> str:
    if app_name is None:
        return (
            "X-Hub-Signature-256 is missing or does not match github.webhook_secret (an app's "
            "own secret signs only on its own URL, /webhooks/github/<app>)"
        )
    return "X-Hub-Signature-256 is missing or does not match the webhook secret of this URL"
