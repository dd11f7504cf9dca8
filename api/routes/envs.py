"""Environment variables of an app. Secret values are masked in every answer."""

from __future__ import annotations

from quart import Blueprint, Response

from api.body import read_body
from api.envelope import ok
from api.guard import requires
from api.routes.apps import find_app
from api.serialize import env_json
from controller.apps import validation
from controller.errors import Conflict, NotFound, ValidationFailed
from controller.store.models import EnvVar, Role

blueprint = Blueprint("envs", __name__)

BUILD_ARG_REFUSED = (
    "a secret cannot be a build arg: build args are stored in the image's history; "
    "pass it at run time instead"
)


async def _find_env(env_id: int) -> EnvVar:
    env = await EnvVar.get_or_none(id=env_id)
    if env is None:
        raise NotFound(f"env var {env_id} does not exist", code="ENV_NOT_FOUND")
    return env


@blueprint.post("/api/apps/envs/create")
@requires(Role.ADMIN)
async def create() -> tuple[Response, int]:
    body = (await read_body()).allow_only("appId", "key", "value", "isSecret", "isBuildArg")
    app = await find_app(body.require_int("appId"))
    key = validation.env_key(body.require_str("key"))
    value = validation.env_value(body.text("value", required=False, default="") or "")
    is_secret = bool(body.boolean("isSecret", required=False, default=False))
    is_build_arg = bool(body.boolean("isBuildArg", required=False, default=False))
    if is_secret and is_build_arg:
        raise ValidationFailed(BUILD_ARG_REFUSED)
    if await EnvVar.filter(app_id=app.id, key=key).exists():
        raise Conflict(f"env var '{key}' already exists for this app", code="ENV_EXISTS")
    env = await EnvVar.create(
        app=app, key=key, value=value, is_secret=is_secret, is_build_arg=is_build_arg
    )
    return ok(env_json(env), "Env var created", 201)


@blueprint.post("/api/apps/envs/get")
@requires(Role.VIEWER)
async def get() -> tuple[Response, int]:
    body = (await read_body()).allow_only("appId")
    app = await find_app(body.require_int("appId"))
    envs = await EnvVar.filter(app_id=app.id).order_by("key")
    return ok([env_json(env) for env in envs], "Env vars retrieved successfully")


@blueprint.put("/api/apps/envs/update")
@requires(Role.ADMIN)
async def update() -> tuple[Response, int]:
    body = (await read_body()).allow_only("envId", "value", "isSecret", "isBuildArg")
    env = await _find_env(body.require_int("envId"))
    if body.has("value"):
        env.value = validation.env_value(body.require_str("value"))
    if body.has("isSecret"):
        env.is_secret = bool(body.boolean("isSecret"))
    if body.has("isBuildArg"):
        env.is_build_arg = bool(body.boolean("isBuildArg"))
    if env.is_secret and env.is_build_arg:
        raise ValidationFailed(BUILD_ARG_REFUSED)
    await env.save()
    return ok(env_json(env), "Env var updated")


@blueprint.delete("/api/apps/envs/delete")
@requires(Role.ADMIN)
async def delete() -> tuple[Response, int]:
    body = (await read_body()).allow_only("envId")
    env = await _find_env(body.require_int("envId"))
    await env.delete()
    return ok({"id": env.id}, "Env var deleted")
