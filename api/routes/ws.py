"""WS /ws/deployment/logs?deploymentId=N: one status frame, the log so far, then live frames
until the final status, then close 1000 (DESIGN section 7)."""

from __future__ import annotations

import asyncio
import contextlib

from pydantic import ValidationError
from quart import Blueprint, websocket
from quart_schema import document_querystring

from api.schemas.deployments import LogStreamQuery
from api.services import controller
from api.watchers import (
    CLOSE_BAD_REQUEST,
    CLOSE_GOING_AWAY,
    CLOSE_NORMAL,
    CLOSE_NOT_FOUND,
    CLOSE_TOO_SLOW,
    close_within,
    expire_now,
    next_events,
    open_socket,
    send,
    serve_watcher,
)
from api.wsframes import FrameWriter
from controller.deploy.progress import status_data
from controller.events.bus import Event
from controller.store.models import TERMINAL, Deployment, Role, Status

blueprint = Blueprint("ws", __name__)

TOO_SLOW_REASON = "watcher too slow; reconnect with ?after="


@blueprint.websocket("/ws/deployment/logs")
@document_querystring(LogStreamQuery)
async def deployment_logs() -> None:
    """WebSocket: a status frame, the log so far, live frames; close 4401/4403/4404/4400."""
    principal = await open_socket(Role.VIEWER)
    if principal is None:
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
    await serve_watcher(
        principal, lambda too_slow: _stream(deployment, query, too_slow), TOO_SLOW_REASON
    )


async def _stream(deployment: Deployment, query: LogStreamQuery, too_slow: asyncio.Timeout) -> None:
    found = controller()
    writer = FrameWriter()
    with found.watch(deployment.id) as subscription:
        # A full queue ends the stream at once, even while a send is blocked on a watcher that
        # stopped reading: its bounded buffer is all the server ever holds for it.
        subscription.on_overflow = lambda: expire_now(too_slow)
        await deployment.refresh_from_db()
        await send(Event("status", status_data(deployment, "")).frame())
        last_seq = await _send_backlog(writer, deployment.id, query.after, query.batch)
        if last_seq is None:
            await close_within(CLOSE_TOO_SLOW, TOO_SLOW_REASON)
            return
        if deployment.status in TERMINAL:
            await _send_final(deployment)
            return
        while True:
            try:
                events = await next_events(subscription.queue)
            except TimeoutError:
                # Re-read the row in case the deployment ended without a live event (e.g.
                # another process finished it); live frames come from the event bus.
                await deployment.refresh_from_db()
                if deployment.status in TERMINAL and subscription.queue.empty():
                    # Lines whose live events never came (another instance built it) first.
                    if await _send_backlog(writer, deployment.id, last_seq, query.batch) is None:
                        await close_within(CLOSE_TOO_SLOW, TOO_SLOW_REASON)
                        return
                    await _send_final(deployment)
                    return
                if subscription.overflowed:
                    await websocket.close(CLOSE_TOO_SLOW, TOO_SLOW_REASON)
                    return
                continue
            # Everything ready goes out in one write (api/wsframes.py).
            ready: list[Event] = []
            for event in events:
                if event.type == "resync":
                    # Events of other instances may be lost: what the database holds now.
                    await writer.send_events(ready, batch=query.batch)
                    ready = []
                    caught_up = await _send_backlog(writer, deployment.id, last_seq, query.batch)
                    if caught_up is None:
                        await close_within(CLOSE_TOO_SLOW, TOO_SLOW_REASON)
                        return
                    last_seq = caught_up
                    continue
                if event.type == "closing":
                    # The server is shutting down: the deployment's state as it is now, then go.
                    await writer.send_events(ready, batch=query.batch)
                    await deployment.refresh_from_db()
                    message = event.data["message"]
                    await send(Event("status", status_data(deployment, message)).frame())
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


async def _send_backlog(
    writer: FrameWriter, deployment_id: int, after: int, batch: bool
) -> int | None:
    """The log so far, read and sent a bounded chunk at a time, each within
    server.websocket_send_timeout_seconds; the last seq sent, or None when the watcher did not
    take a chunk in time (it resumes with ?after=)."""
    found = controller()
    send_timeout = found.settings.server.websocket_send_timeout_seconds
    last_seq = after
    backlog = found.log_chunks(deployment_id, after)
    async with contextlib.aclosing(backlog):
        async for chunk in backlog:
            events = [Event("log", {"line": line, "seq": seq}) for seq, line in chunk]
            try:
                async with asyncio.timeout(send_timeout):
                    await writer.send_events(events, batch=batch)
            except TimeoutError:
                return None
            last_seq = chunk[-1][0]
    return last_seq


async def _send_final(deployment: Deployment) -> None:
    if deployment.status is Status.FAILED and deployment.error_message:
        await send(Event("error", {"message": deployment.error_message}).frame())
    await send(Event("status", status_data(deployment, "")).frame())
    await websocket.close(CLOSE_NORMAL)
