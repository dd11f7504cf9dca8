"""Container control of an app's active deployment: start, stop, restart, status."""

from __future__ import annotations

from quart import Blueprint, Response, request

from api.body import parse_id, read_body
from api.envelope import ok
from api.guard import requires
from api.routes.apps import find_app
from api.services import controller
from controller.apps.containers import Action
from controller.errors import ValidationFailed
from controller.store.models import Role

blueprint = Blueprint("containers", __name__)


async def _act(action: Action) -> tuple[Response, int]:
    body = (await read_body()).allow_only("appId")
    app = await find_app(body.require_int("appId"))
    status = await controller().control_container(app, action)
    return ok(status, f"Container {action} done")


@blueprint.post("/api/apps/container/start")
@requires(Role.DEPLOYER)
async def start() -> tuple[Response, int]:
    return await _act("start")


@blueprint.post("/api/apps/container/stop")
@requires(Role.DEPLOYER)
async def stop() -> tuple[Response, int]:
    return await _act("stop")


@blueprint.post("/api/apps/container/restart")
@requires(Role.DEPLOYER)
async def restart() -> tuple[Response, int]:
    return await _act("restart")


@blueprint.get("/api/apps/container/status")
@requires(Role.VIEWER)
async def status() -> tuple[Response, int]:
    app_id = parse_id(request.args.get("appId", ""))
    if app_id is None:
        raise ValidationFailed("query parameter appId must be an integer")
    app = await find_app(app_id)
    return ok(await controller().container_status(app), "Container status")
