"""WS /ws/apps/deployments?appId=N: an app's deployments as they are requested, whatever asked
(a button, a webhook, polling, a rollback). On connect one frame names the app's newest
deployment; then one frame per new one. Each deployment's progress and log come from the seed's
socket (/ws/deployment/logs). The dashboard's app page keeps its list live with it."""

from __future__ import annotations

import asyncio

from pydantic import ValidationError
from quart import Blueprint, websocket
from quart_schema import document_querystring

from api.guard import Principal, authenticate_websocket, check_role
from api.routes.ws import (
    CLOSE_BAD_REQUEST,
    CLOSE_FORBIDDEN,
    CLOSE_GOING_AWAY,
    CLOSE_NOT_FOUND,
    CLOSE_TOO_SLOW,
    CLOSE_UNAUTHORIZED,
    close_ended,
    expire_now,
)
from api.schemas.apps import AppFeedQuery
from api.services import controller, services
from controller.deploy.announce import requested_event
from controller.errors import FogbankError
from controller.store.models import App, Deployment, Role

blueprint = Blueprint("ws_apps", __name__)


async def _admitted() -> tuple[Principal, AppFeedQuery] | None:
    """Who a viewer's socket is and what it asks, or None after closing it with the reason."""
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
        check_role(principal, Role.VIEWER)
    except FogbankError:
        await websocket.close(CLOSE_FORBIDDEN, "role too low")
        return None
    try:
        return principal, AppFeedQuery.model_validate(websocket.args.to_dict())
    except ValidationError:
        await websocket.close(CLOSE_BAD_REQUEST, "appId must be an integer")
        return None


@blueprint.websocket("/ws/apps/deployments")
@document_querystring(AppFeedQuery)
async def app_deployments() -> None:
    """WebSocket: the app's newest deployment, then each one requested; close 4401/4403/4404."""
    await websocket.accept()
    admitted = await _admitted()
    if admitted is None:
        return
    principal, query = admitted
    if not await App.exists(id=query.app_id):
        await websocket.close(CLOSE_NOT_FOUND, "app not found")
        return
    try:
        # Ends when the socket's credential is revoked, expires or its user is disabled.
        async with asyncio.timeout(None) as ended:
            with services().sockets.watch(principal.credential, lambda: expire_now(ended)):
                await _announce(query.app_id)
    except TimeoutError:
        if not ended.expired():
            raise
        await close_ended()


async def _announce(app_id: int) -> None:
    with controller().bus.subscribe_app(app_id) as subscription:
        newest = await Deployment.filter(app_id=app_id).order_by("-id").first()
        if newest is not None:
            announced = requested_event(
                newest.id, newest.app_id, newest.deployment_number, newest.triggered_by
            )
            await websocket.send(announced.text)
        while True:
            event = await subscription.queue.get()
            if event.type == "closing":
                await websocket.close(CLOSE_GOING_AWAY, "server shutting down")
                return
            await websocket.send(event.text)
            if subscription.overflowed and subscription.queue.empty():
                await websocket.close(CLOSE_TOO_SLOW, "watcher too slow; reconnect")
                return
