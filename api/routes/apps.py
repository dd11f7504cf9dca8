"""Apps, with Mist's route names: create, getById, getAll, update, delete."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from quart import Blueprint, Response

from api.body import Body, read_body
from api.envelope import ok
from api.guard import requires
from api.serialize import app_json
from api.services import controller, services
from controller.apps import validation
from controller.errors import NotFound, ValidationFailed
from controller.store.models import App, AppType, Role, UpdateOrder
from controller.upkeep import polling

blueprint = Blueprint("apps", __name__)


def _choice(field: str, allowed: tuple[str, ...]) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value not in allowed:
            raise ValidationFailed(f"{field} must be one of: {', '.join(allowed)}")
        return value

    return check


def _bounded(field: str, low: int, high: int) -> Callable[[int], int]:
    def check(value: int) -> int:
        if not low <= value <= high:
            raise ValidationFailed(f"{field} must be between {low} and {high}")
        return value

    return check


def _positive(field: str, limit: int) -> Callable[[int], int]:
    def check(value: int) -> int:
        if not 1 <= value <= limit:
            raise ValidationFailed(f"{field} must be between 1 and {limit}")
        return value

    return check


# camelCase request key -> (model field, JSON type, validator)
FIELDS: dict[str, tuple[str, type, Callable[[Any], Any]]] = {
    "name": ("name", str, validation.app_name),
    "appType": ("app_type", str, lambda v: AppType(_choice("appType", tuple(AppType))(v))),
    "gitBranch": ("git_branch", str, validation.branch),
    "rootDirectory": (
        "root_directory",
        str,
        lambda v: validation.relative_path("rootDirectory", v),
    ),
    "dockerfilePath": (
        "dockerfile_path",
        str,
        lambda v: validation.relative_path("dockerfilePath", v),
    ),
    "port": ("port", int, lambda v: validation.port("port", v)),
    "publicPort": ("public_port", int, validation.public_port),
    "healthCheckPath": (
        "health_check_path",
        str,
        lambda v: validation.http_path("healthCheckPath", v),
    ),
    "healthTimeoutSeconds": ("health_timeout_seconds", int, _positive("healthTimeoutSeconds", 600)),
    "autoDeploy": ("auto_deploy", bool, lambda v: v),
    "templateName": ("template_name", str, lambda v: v),
    "restartPolicy": (
        "restart_policy",
        str,
        _choice("restartPolicy", ("no", "always", "unless-stopped", "on-failure")),
    ),
    "memoryLimitMb": ("memory_limit_mb", int, _positive("memoryLimitMb", 1024 * 1024)),
    "pollIntervalSeconds": ("poll_interval_seconds", int, polling.check_interval),
    "updateOrder": (
        "update_order",
        str,
        lambda v: UpdateOrder(_choice("updateOrder", tuple(UpdateOrder))(v)),
    ),
    "stabilizationSeconds": (
        "stabilization_seconds",
        int,
        _bounded("stabilizationSeconds", 0, 600),
    ),
}
NULLABLE = {"publicPort", "memoryLimitMb"}


def _fields(body: Body) -> dict[str, Any]:
    """Validated model fields for every known key present in the body."""
    result: dict[str, Any] = {}
    for key, (attr, kind, check) in FIELDS.items():
        if not body.has(key):
            continue
        if kind is int:
            value: Any = body.integer(key, required=key not in NULLABLE)
        elif kind is bool:
            value = body.boolean(key)
        else:
            value = body.text(key)
        result[attr] = None if value is None else check(value)
    if body.has("gitRepository"):
        url = body.require_str("gitRepository")
        result["git_repository"] = validation.repository(
            url, allow_local=services().settings.git.allow_local
        )
    return result


async def find_app(app_id: int) -> App:
    app = await App.get_or_none(id=app_id)
    if app is None:
        raise NotFound(f"app {app_id} does not exist", code="APP_NOT_FOUND")
    return app


@blueprint.post("/api/apps/create")
@requires(Role.ADMIN)
async def create() -> tuple[Response, int]:
    body = (await read_body()).allow_only("gitRepository", *FIELDS)
    body.require_str("name")
    app = await controller().create_app(_fields(body))
    return ok(app_json(app), "App created", 201)


@blueprint.post("/api/apps/getById")
@requires(Role.VIEWER)
async def get_by_id() -> tuple[Response, int]:
    body = (await read_body()).allow_only("appId")
    app = await find_app(body.require_int("appId"))
    return ok(_with_state(app), "App retrieved successfully")


@blueprint.get("/api/apps/getAll")
@requires(Role.VIEWER)
async def get_all() -> tuple[Response, int]:
    return ok(
        [_with_state(app) for app in await App.all().order_by("id")], "Apps retrieved successfully"
    )


def _with_state(app: App) -> dict[str, Any]:
    """The app with what the reconciler last saw: sync and health, reported separately."""
    state = controller().app_state(app.id)
    return {
        **app_json(app),
        "sync": str(state.sync),
        "health": str(state.health),
        "sync_detail": state.detail,
        "checked_at": state.checked_at,
    }


@blueprint.post("/api/apps/events")
@requires(Role.VIEWER)
async def events() -> tuple[Response, int]:
    """The app's event log: drift found and repaired by the reconciler, newest last."""
    body = (await read_body()).allow_only("appId", "limit")
    app_id = body.require_int("appId")
    limit = body.integer("limit", required=False, default=100) or 100
    if not 1 <= limit <= 1000:
        raise ValidationFailed("limit must be between 1 and 1000")
    app = await find_app(app_id)
    return ok(controller().app_event_log(app.name, limit), "App events")


@blueprint.put("/api/apps/update")
@requires(Role.ADMIN)
async def update() -> tuple[Response, int]:
    body = (await read_body()).allow_only("appId", "gitRepository", *FIELDS)
    app = await find_app(body.require_int("appId"))
    updated = await controller().update_app(app, _fields(body))
    return ok(app_json(updated), "App updated")


@blueprint.delete("/api/apps/delete")
@requires(Role.ADMIN)
async def delete() -> tuple[Response, int]:
    body = (await read_body()).allow_only("appId")
    app = await find_app(body.require_int("appId"))
    await controller().delete_app(app)
    return ok({"id": body.require_int("appId")}, "App deleted with its containers and images")
