"""WS /ws/apps/deployments?appId=N: an app's deployments as they are requested, whatever asked
(a button, a webhook, polling, a rollback). On connect one frame names the app's newest
deployment; then one frame per new one. Each deployment's progress and log come from the seed's
socket (/ws/deployment/logs). The dashboard's app page keeps its list live with it."""

from __future__ import annotations

from pydantic import ValidationError
from quart import Blueprint, websocket
from quart_schema import document_querystring

from api.schemas.apps import AppFeedQuery
from api.services import controller
from api.watchers import (
    CLOSE_BAD_REQUEST,
    CLOSE_GOING_AWAY,
    CLOSE_NOT_FOUND,
    CLOSE_TOO_SLOW,
    open_socket,
    serve_watcher,
)
from controller.deploy.announce import requested_event
from controller.store.models import App, Deployment, Role

blueprint = Blueprint("ws_apps", __name__)


@blueprint.websocket("/ws/apps/deployments")
@document_querystring(AppFeedQuery)
async def app_deployments() -> None:
    """WebSocket: the app's newest deployment, then each one requested; close 4401/4403/4404."""
    principal = await open_socket(Role.VIEWER)
    if principal is None:
        return
    try:
        query = AppFeedQuery.model_validate(websocket.args.to_dict())
    except ValidationError:
        await websocket.close(CLOSE_BAD_REQUEST, "appId must be an integer")
        return
    if not await App.exists(id=query.app_id):
        await websocket.close(CLOSE_NOT_FOUND, "app not found")
        return
    # Closed 4401 when the socket's credential is revoked, expires or its user is disabled; the
    # feed's own queue overflow closes 1013 below, so `too_slow` is not used.
    await serve_watcher(principal, lambda _too_slow: _announce(query.app_id))


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
