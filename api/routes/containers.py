"""Container control of an app's active deployment: start, stop, restart, status."""

from __future__ import annotations

from typing import Any

from quart import Blueprint
from quart_schema import validate_querystring, validate_request, validate_response

from api.documentation import errors
from api.envelope import ok_body
from api.guard import requires
from api.routes.apps import find_app
from api.schemas.apps import AppRef
from api.schemas.base import Envelope
from api.schemas.containers import ContainerQuery, ContainerStatus
from api.services import controller
from controller.apps.containers import Action
from controller.store.models import Role

blueprint = Blueprint("containers", __name__)
Answer = tuple[dict[str, Any], int]


async def _act(action: Action, app_id: int) -> Answer:
    app = await find_app(app_id)
    status = await controller().control_container(app, action)
    return ok_body(status, f"Container {action} done"), 200


@blueprint.post("/api/apps/container/start")
@requires(Role.DEPLOYER)
@errors(404, 409, 503)
@validate_request(AppRef)
@validate_response(Envelope[ContainerStatus])
async def start(data: AppRef) -> Answer:
    """Start the active container."""
    return await _act("start", data.app_id)


@blueprint.post("/api/apps/container/stop")
@requires(Role.DEPLOYER)
@errors(404, 409, 503)
@validate_request(AppRef)
@validate_response(Envelope[ContainerStatus])
async def stop(data: AppRef) -> Answer:
    """Stop the active container; drift repair leaves it stopped."""
    return await _act("stop", data.app_id)


@blueprint.post("/api/apps/container/restart")
@requires(Role.DEPLOYER)
@errors(404, 409, 503)
@validate_request(AppRef)
@validate_response(Envelope[ContainerStatus])
async def restart(data: AppRef) -> Answer:
    """Restart the active container."""
    return await _act("restart", data.app_id)


@blueprint.get("/api/apps/container/status")
@requires(Role.VIEWER)
@errors(404, 409, 503)
@validate_querystring(ContainerQuery)
@validate_response(Envelope[ContainerStatus])
async def status(query_args: ContainerQuery) -> Answer:
    """State of the active container."""
    app = await find_app(query_args.app_id)
    return ok_body(await controller().container_status(app), "Container status"), 200
