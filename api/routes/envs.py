"""Environment variables of an app. Secret values are masked in every answer."""

from __future__ import annotations

from typing import Any

from quart import Blueprint
from quart_schema import validate_request, validate_response

from api.documentation import errors
from api.envelope import ok_body
from api.guard import requires
from api.routes.apps import find_app
from api.schemas.apps import AppRef
from api.schemas.base import Deleted, Envelope
from api.schemas.envs import EnvCreate, EnvOut, EnvRef, EnvUpdate
from controller.errors import Conflict, NotFound, ValidationFailed
from controller.store.models import EnvVar, Role

blueprint = Blueprint("envs", __name__)
Answer = tuple[dict[str, Any], int]

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
@errors(404, 409)
@validate_request(EnvCreate)
@validate_response(Envelope[EnvOut], 201)
async def create(data: EnvCreate) -> Answer:
    """Add an env var (a secret cannot be a build arg)."""
    fields = data.model_dump(exclude_unset=True, exclude={"app_id"})
    app = await find_app(data.app_id)
    if fields.get("is_secret") and fields.get("is_build_arg"):
        raise ValidationFailed(BUILD_ARG_REFUSED)
    if await EnvVar.filter(app_id=app.id, key=fields["key"]).exists():
        raise Conflict(f"env var '{fields['key']}' already exists for this app", code="ENV_EXISTS")
    env = await EnvVar.create(app=app, **{"value": "", **fields})
    return ok_body(EnvOut.model_validate(env), "Env var created"), 201


@blueprint.post("/api/apps/envs/get")
@requires(Role.VIEWER)
@errors(404)
@validate_request(AppRef)
@validate_response(Envelope[list[EnvOut]])
async def get(data: AppRef) -> Answer:
    """An app's env vars, secrets masked."""
    app = await find_app(data.app_id)
    envs = await EnvVar.filter(app_id=app.id).order_by("key")
    return ok_body(
        [EnvOut.model_validate(env) for env in envs], "Env vars retrieved successfully"
    ), 200


@blueprint.put("/api/apps/envs/update")
@requires(Role.ADMIN)
@errors(404)
@validate_request(EnvUpdate)
@validate_response(Envelope[EnvOut])
async def update(data: EnvUpdate) -> Answer:
    """Change an env var."""
    env = await _find_env(data.env_id)
    env.update_from_dict(data.model_dump(exclude_unset=True, exclude={"env_id"}))
    if env.is_secret and env.is_build_arg:
        raise ValidationFailed(BUILD_ARG_REFUSED)
    await env.save()
    return ok_body(EnvOut.model_validate(env), "Env var updated"), 200


@blueprint.delete("/api/apps/envs/delete")
@requires(Role.ADMIN)
@errors(404)
@validate_request(EnvRef)
@validate_response(Envelope[Deleted])
async def delete(data: EnvRef) -> Answer:
    """Delete an env var."""
    env = await _find_env(data.env_id)
    await env.delete()
    return ok_body(Deleted(id=env.id), "Env var deleted"), 200
