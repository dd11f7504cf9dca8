"""WS /ws/deployment/logs?deploymentId=N: one status frame, the log so far, then live frames
until the final status, then close 1000 (DESIGN section 7)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from pydantic import ValidationError
from quart import Blueprint, websocket
from quart_schema import document_querystring

from api.guard import authenticate_websocket, check_role
from api.schemas.deployments import LogStreamQuery
from api.services import controller, services
from api.wsframes import FrameWriter
from controller.deploy.progress import status_data
from controller.errors import FogbankError
from controller.events.bus import Event, EventQueue
from controller.store.models import TERMINAL, Deployment, Role, Status

blueprint = Blueprint("ws", __name__)

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_TOO_SLOW = 1013
CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
# Re-read the row at this interval in case the deployment ended without a live event
# (e.g. another process finished it); live frames come from the event bus, not from here.
RECHECK_SECONDS = 5.0
# A watcher dropped as too slow may not read its close frame either; wait no longer than this.
CLOSE_WAIT_SECONDS = 5.0


async def _send(frame: dict[str, Any]) -> None:
    await websocket.send(json.dumps(frame))


@blueprint.websocket("/ws/deployment/logs")
@document_querystring(LogStreamQuery)
async def deployment_logs() -> None:
    """WebSocket: a status frame, the log so far, live frames; close 4401/4403/4404/4400."""
    await websocket.accept()
    try:
        principal = await authenticate_websocket()
    except FogbankError as exc:
        code = CLOSE_FORBIDDEN if exc.status_code == 403 else CLOSE_UNAUTHORIZED
        await websocket.close(code, exc.message[:120])
        return
    if principal is None:
        await websocket.close(CLOSE_UNAUTHORIZED, "authentication required")
        return
    try:
        check_role(principal, Role.VIEWER)
    except FogbankError:
        await websocket.close(CLOSE_FORBIDDEN, "role too low")
        return
    try:
        query = LogStreamQuery.model_validate(websocket.args.to_dict())
    except ValidationError:
        await websocket.close(CLOSE_BAD_REQUEST, "deploymentId and after must be integers")
        return
    deployment = await Deployment.get_or_none(id=query.deployment_id)
    if deployment is None:
        await websocket.close(CLOSE_NOT_FOUND, "deployment not found")
        return
    try:
        # `ended` expires when the socket's credential is revoked, expires or its user is
        # disabled (api/sockets.py); `too_slow` when the watcher stops reading.
        async with asyncio.timeout(None) as ended:
            with services().sockets.watch(principal.credential, lambda: expire_now(ended)):
                async with asyncio.timeout(None) as too_slow:
                    await _stream(deployment, query, too_slow)
    except TimeoutError:
        if ended.expired():
            await close_ended()
        elif too_slow.expired():
            await _drop_too_slow()
        else:
            raise


async def _stream(deployment: Deployment, query: LogStreamQuery, too_slow: asyncio.Timeout) -> None:
    found = controller()
    writer = FrameWriter()
    with found.watch(deployment.id) as subscription:
        # A full queue ends the stream at once, even while a send is blocked on a watcher that
        # stopped reading: its bounded buffer is all the server ever holds for it.
        subscription.on_overflow = lambda: expire_now(too_slow)
        await deployment.refresh_from_db()
        await _send(Event("status", status_data(deployment, "")).frame())
        last_seq = await _send_backlog(writer, deployment.id, query.after, query.batch)
        if last_seq is None:
            await _drop_too_slow()
            return
        if deployment.status in TERMINAL:
            await _send_final(deployment)
            return
        while True:
            try:
                events = await _next_events(subscription.queue)
            except TimeoutError:
                await deployment.refresh_from_db()
                if deployment.status in TERMINAL and subscription.queue.empty():
                    await _send_final(deployment)
                    return
                if subscription.overflowed:
                    await websocket.close(
                        CLOSE_TOO_SLOW, "watcher too slow; reconnect with ?after="
                    )
                    return
                continue
            # Everything ready goes out in one write (api/wsframes.py).
            ready: list[Event] = []
            for event in events:
                if event.type == "closing":
                    # The server is shutting down: the deployment's state as it is now, then go.
                    await writer.send_events(ready, batch=query.batch)
                    await deployment.refresh_from_db()
                    message = event.data["message"]
                    await _send(Event("status", status_data(deployment, message)).frame())
                    await websocket.close(CLOSE_GOING_AWAY, "server shutting down")
                    return
                if event.type == "log":
                    if event.data["seq"] <= last_seq:
                        continue
                    last_seq = event.data["seq"]
                ready.append(event)
                if event.type == "status" and Status(event.data["status"]) in TERMINAL:
                    await writer.send_events(ready, batch=query.batch)
                    await websocket.close(CLOSE_NORMAL)
                    return
            await writer.send_events(ready, batch=query.batch)


async def _next_events(queue: EventQueue) -> list[Event]:
    """Every event ready (at least one), or TimeoutError after RECHECK_SECONDS without one."""
    if queue.empty():
        # Not wait_for: on Python 3.11 it swallows a cancellation (the too-slow drop) that
        # lands just as the queue hands over an event.
        async with asyncio.timeout(RECHECK_SECONDS):
            await queue.wait()
    return queue.take_all()


async def _send_backlog(
    writer: FrameWriter, deployment_id: int, after: int, batch: bool
) -> int | None:
    """The log so far, read and sent a bounded chunk at a time, each within
    server.websocket_send_timeout_seconds; the last seq sent, or None when the watcher did not
    take a chunk in time (it resumes with ?after=)."""
    found = controller()
    send_timeout = found.settings.server.websocket_send_timeout_seconds
    last_seq = after
    with contextlib.closing(found.log_chunks(deployment_id, after)) as backlog:
        for chunk in backlog:
            events = [Event("log", {"line": line, "seq": seq}) for seq, line in chunk]
            try:
                async with asyncio.timeout(send_timeout):
                    await writer.send_events(events, batch=batch)
            except TimeoutError:
                return None
            last_seq = chunk[-1][0]
    return last_seq


def expire_now(timeout: asyncio.Timeout) -> None:
    if not timeout.expired():
        timeout.reschedule(0)  # a deadline in the past: expires on the next loop iteration


async def close_ended() -> None:
    """4401: the credential this socket authenticated with is no longer valid."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(CLOSE_WAIT_SECONDS):
            await websocket.close(CLOSE_UNAUTHORIZED, "credentials revoked or expired")


async def _drop_too_slow() -> None:
    """Close 1013; the watcher resumes with ?after=<last seq it got>."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(CLOSE_WAIT_SECONDS):
            await websocket.close(CLOSE_TOO_SLOW, "watcher too slow; reconnect with ?after=")


async def _send_final(deployment: Deployment) -> None:
    if deployment.status is Status.FAILED and deployment.error_message:
        await _send(Event("error", {"message": deployment.error_message}).frame())
    await _send(Event("status", status_data(deployment, "")).frame())
    await websocket.close(CLOSE_NORMAL)
