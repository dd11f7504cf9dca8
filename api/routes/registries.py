"""Service templates, and global registry credentials (their passwords write-only)."""

from __future__ import annotations

from typing import Any

from quart import Blueprint
from quart_schema import validate_request, validate_response

from api.documentation import errors
from api.envelope import ok_body
from api.guard import requires
from api.schemas.base import Deleted, Envelope
from api.schemas.templates import RegistryCreate, RegistryOut, RegistryRef, TemplateOut
from api.services import controller
from controller.store.models import Role

blueprint = Blueprint("registries", __name__)
Answer = tuple[dict[str, Any], int]


@blueprint.get("/api/templates")
@requires(Role.VIEWER)
@validate_response(Envelope[list[TemplateOut]])
async def templates() -> Answer:
    """The service templates database apps are created from (templateName)."""
    found = [
        TemplateOut(
            name=t.name,
            description=t.description,
            image=t.reference,
            port=t.port,
            data_dir=t.data_dir,
            user=t.user,
            database=t.database,
            env=sorted(t.env),
            health_check="command" if t.health_command else "tcp",
        )
        for t in controller().sources.templates()
    ]
    return ok_body(found, "Templates"), 200


@blueprint.post("/api/registries/create")
@requires(Role.ADMIN)
@errors(409)
@validate_request(RegistryCreate)
@validate_response(Envelope[RegistryOut], 201)
async def create(data: RegistryCreate) -> Answer:
    """Store credentials for a registry host (the password is write-only)."""
    made = await controller().sources.add_registry(data.registry, data.username, data.password)
    return ok_body(RegistryOut.model_validate(made), "Registry credentials stored"), 201


@blueprint.get("/api/registries/getAll")
@requires(Role.ADMIN)
@validate_response(Envelope[list[RegistryOut]])
async def get_all() -> Answer:
    """Every registry with stored credentials, without the passwords."""
    found = [RegistryOut.model_validate(r) for r in await controller().sources.registries()]
    return ok_body(found, "Registry credentials (passwords never shown)"), 200


@blueprint.delete("/api/registries/delete")
@requires(Role.ADMIN)
@errors(404)
@validate_request(RegistryRef)
@validate_response(Envelope[Deleted])
async def delete(data: RegistryRef) -> Answer:
    """Forget a registry's credentials."""
    await controller().sources.remove_registry(data.registry_id)
    return ok_body(Deleted(id=data.registry_id), "Registry credentials deleted"), 200
