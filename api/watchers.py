"""What every WebSocket of fogbank shares: accept, then authenticate and check the role (closing
4401/4403 itself), the close codes, the end of a socket whose credential ends (4401) and the drop
of a watcher that stopped reading (1013)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from quart import websocket

from api.guard import Principal, authenticate_websocket, check_role
from api.services import services
from controller.errors import FogbankError
from controller.events.bus import Event, EventQueue
from controller.store.models import Role

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_TOO_SLOW = 1013
CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
# Wait at most this long for an event before re-checking state the bus may not announce.
RECHECK_SECONDS = 5.0
# A watcher dropped as too slow may not read its close frame either; wait no longer than this.
CLOSE_WAIT_SECONDS = 5.0
TOO_SLOW_REASON = "watcher too slow; reconnect to resume"


async def send(frame: dict[str, Any]) -> None:
    await websocket.send(json.dumps(frame))


async def open_socket(role: Role) -> Principal | None:
    """Accept the socket and identify the caller; None (the socket closed 4401 or 4403) when the
    caller is unknown or below `role`."""
    await websocket.accept()
    try:
        principal = await authenticate_websocket()
    except FogbankError as exc:
        code = CLOSE_FORBIDDEN if exc.status_code == 403 else CLOSE_UNAUTHORIZED
        await websocket.close(code, exc.message[:120])
        return None
    if principal is None:
        await websocket.close(CLOSE_UNAUTHORIZED, "authentication required")
        return None
    try:
        check_role(principal, role)
    except FogbankError:
        await websocket.close(CLOSE_FORBIDDEN, "role too low")
        return None
    return principal


async def serve_watcher(
    principal: Principal,
    stream: Callable[[asyncio.Timeout], Awaitable[None]],
    too_slow_reason: str = TOO_SLOW_REASON,
) -> None:
    """Run `stream(too_slow)`. When its bounded queue overflows it expires `too_slow` (with
    `expire_now`), which ends it at once, even inside a send blocked on a watcher that stopped
    reading, and the socket is closed 1013. When the caller's credential is revoked, expires or
    its user is disabled (api/sockets.py), the socket is closed 4401."""
    try:
        async with asyncio.timeout(None) as ended:
            with services().sockets.watch(principal.credential, lambda: expire_now(ended)):
                async with asyncio.timeout(None) as too_slow:
                    await stream(too_slow)
    except TimeoutError:
        if ended.expired():
            await close_within(CLOSE_UNAUTHORIZED, "credentials revoked or expired")
        elif too_slow.expired():
            await close_within(CLOSE_TOO_SLOW, too_slow_reason)
        else:
            raise


async def close_within(code: int, reason: str) -> None:
    """Close the socket; a peer that stopped reading may not read its close frame either, so
    wait no longer than CLOSE_WAIT_SECONDS."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(CLOSE_WAIT_SECONDS):
            await websocket.close(code, reason)


def expire_now(timeout: asyncio.Timeout) -> None:
    if not timeout.expired():
        timeout.reschedule(0)  # a deadline in the past: expires on the next loop iteration


async def next_events(queue: EventQueue) -> list[Event]:
    """Every event ready (at least one), or TimeoutError after RECHECK_SECONDS without one."""
    if queue.empty():
        # Not wait_for: on Python 3.11 it swallows a cancellation (the too-slow drop) that
        # lands just as the queue hands over an event.
        async with asyncio.timeout(RECHECK_SECONDS):
            await queue.wait()
    return queue.take_all()
