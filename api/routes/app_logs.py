"""What a running app prints: GET /api/apps/logs (its last lines) and WS /ws/apps/logs (the
lines as they come, following the app across swaps), secrets masked in both."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import ValidationError
from quart import Blueprint, Response, request, websocket
from quart_schema import document_querystring, document_response, validate_querystring

from api.documentation import content, errors
from api.envelope import ok_body
from api.guard import requires
from api.routes.apps import find_app
from api.schemas.app_logs import AppLogsOut, AppLogsQuery, AppLogStreamQuery
from api.schemas.base import Envelope
from api.services import controller
from api.watchers import (
    CLOSE_BAD_REQUEST,
    CLOSE_GOING_AWAY,
    CLOSE_NOT_FOUND,
    expire_now,
    open_socket,
    send,
    serve_watcher,
)
from controller.events.bus import Event
from controller.store.models import App, Role

blueprint = Blueprint("app_logs", __name__)

TOO_SLOW_REASON = "watcher too slow; reconnect with ?since=<last timestamp>"


@blueprint.get("/api/apps/logs")
@requires(Role.VIEWER)
@errors(404, 409, 503)
@validate_querystring(AppLogsQuery)
@document_response(Envelope[AppLogsOut])
@content(200, "text/plain", "The last lines, oldest first")
async def read(query_args: AppLogsQuery) -> Response | tuple[dict[str, Any], int]:
    """The app's last output lines: text/plain, or the envelope with Accept: application/json."""
    app = await find_app(query_args.app_id)
    found = await controller().runtime_logs.read(
        app, tail=query_args.tail, since_ns=query_args.since_ns
    )
    wanted = request.accept_mimetypes.best_match(["text/plain", "application/json"])
    if wanted == "application/json":
        return ok_body(AppLogsOut.model_validate(found), "App logs retrieved"), 200
    text = "".join(f"{line.line}\n" for line in found.lines)
    response = Response(text, status=200, content_type="text/plain; charset=utf-8")
    # Whatever the app printed: never let a browser sniff it into HTML.
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@blueprint.websocket("/ws/apps/logs")
@document_querystring(AppLogStreamQuery)
async def follow() -> None:
    """WebSocket: a status frame, the last lines, then each new line; a status frame when another
    deployment's container takes over; close 4401/4403/4404/4400, 1013 when too slow."""
    principal = await open_socket(Role.VIEWER)
    if principal is None:
        return
    try:
        query = AppLogStreamQuery.model_validate(websocket.args.to_dict())
    except ValidationError:
        await websocket.close(
            CLOSE_BAD_REQUEST, "appId and tail must be integers, since an ISO-8601 time"
        )
        return
    app = await App.get_or_none(id=query.app_id)
    if app is None:
        await websocket.close(CLOSE_NOT_FOUND, "app not found")
        return
    await serve_watcher(
        principal, lambda too_slow: _stream(app.id, query, too_slow), TOO_SLOW_REASON
    )


async def _stream(app_id: int, query: AppLogStreamQuery, too_slow: asyncio.Timeout) -> None:
    following = controller().runtime_logs.follow(app_id, tail=query.tail, since_ns=query.since_ns)
    async with following as subscription:
        subscription.on_overflow = lambda: expire_now(too_slow)
        while True:
            event = await subscription.queue.get()
            if event.type == "closing":
                # The app was deleted (1000) or the server is shutting down (1001).
                message = str(event.data["message"])
                await send(Event("status", {"app_id": app_id, "message": message}).frame())
                code = int(event.data.get("code", CLOSE_GOING_AWAY))
                await websocket.close(code, message[:120])
                return
            await websocket.send(event.text)
