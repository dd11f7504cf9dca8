"""Domains of an app: host names the edge routes, on edge.http_port, to its active deployment.
Every change re-applies the whole desired edge config."""

from __future__ import annotations

import logging
from typing import Any

from quart import Blueprint, Response
from tortoise.exceptions import IntegrityError

from api.body import read_body
from api.envelope import ok
from api.guard import requires
from api.routes.apps import find_app
from api.services import services
from controller.apps import validation
from controller.errors import Conflict, EdgeError, NotFound, ValidationFailed
from controller.store.models import AppType, Domain, Role
from controller.store.timefmt import iso

log = logging.getLogger(__name__)

blueprint = Blueprint("domains", __name__)


def domain_json(domain: Domain) -> dict[str, Any]:
    return {
        "id": domain.id,
        "app_id": domain.app_id,
        "hostname": domain.hostname,
        "created_at": iso(domain.created_at),
    }


async def _refresh_edge(done: str) -> str:
    """Re-apply the routes; the answer's message, which says so when the edge did not take them
    (the change itself is saved and reaches the edge with its next update)."""
    try:
        # Through the switchboard: it keeps any candidate a deployment is switching to.
        await services().reconciler.switchboard.refresh()
    except EdgeError as exc:
        log.warning("domains changed but the edge was not updated: %s", exc.message)
        return f"{done}, but the edge could not be updated yet: {exc.message}"
    return done


@blueprint.post("/api/apps/domains/create")
@requires(Role.ADMIN)
async def create() -> tuple[Response, int]:
    body = (await read_body()).allow_only("appId", "hostname")
    app = await find_app(body.require_int("appId"))
    hostname = validation.hostname(body.require_str("hostname"))
    if app.app_type != AppType.WEB:
        raise ValidationFailed(
            f"domains route HTTP to web apps; {app.name} is a {app.app_type} app"
        )
    if await Domain.filter(hostname=hostname).exists():
        raise Conflict(f"domain '{hostname}' is already in use", code="DOMAIN_EXISTS")
    try:
        domain = await Domain.create(app=app, hostname=hostname)
    except IntegrityError as exc:  # a concurrent create of the same name won the race
        raise Conflict(f"domain '{hostname}' is already in use", code="DOMAIN_EXISTS") from exc
    return ok(domain_json(domain), await _refresh_edge("Domain created"), 201)


@blueprint.post("/api/apps/domains/get")
@requires(Role.VIEWER)
async def get() -> tuple[Response, int]:
    body = (await read_body()).allow_only("appId")
    app = await find_app(body.require_int("appId"))
    domains = await Domain.filter(app_id=app.id).order_by("hostname")
    return ok([domain_json(d) for d in domains], "Domains retrieved successfully")


@blueprint.delete("/api/apps/domains/delete")
@requires(Role.ADMIN)
async def delete() -> tuple[Response, int]:
    body = (await read_body()).allow_only("domainId")
    domain_id = body.require_int("domainId")
    domain = await Domain.get_or_none(id=domain_id)
    if domain is None:
        raise NotFound(f"domain {domain_id} does not exist", code="DOMAIN_NOT_FOUND")
    await domain.delete()
    return ok({"id": domain_id}, await _refresh_edge("Domain deleted"))
