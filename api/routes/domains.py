"""Domains of an app: host names the edge routes, on edge.http_port, to its active deployment.
Every change re-applies the whole desired edge config."""

from __future__ import annotations

import logging
from typing import Any

from quart import Blueprint, Response

from api.body import read_body
from api.envelope import ok
from api.guard import requires
from api.routes.apps import find_app
from api.services import controller
from controller.errors import NotFound
from controller.store.models import Domain, Role
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


def _said(done: str, edge_problem: str | None) -> str:
    """The answer's message, which says so when the edge did not take the change (it is saved
    and reaches the edge with its next update)."""
    if edge_problem is None:
        return done
    return f"{done}, but the edge could not be updated yet: {edge_problem}"


@blueprint.post("/api/apps/domains/create")
@requires(Role.ADMIN)
async def create() -> tuple[Response, int]:
    body = (await read_body()).allow_only("appId", "hostname")
    app = await find_app(body.require_int("appId"))
    domain, edge_problem = await controller().add_domain(app, body.require_str("hostname"))
    return ok(domain_json(domain), _said("Domain created", edge_problem), 201)


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
    edge_problem = await controller().remove_domain(domain)
    return ok({"id": domain_id}, _said("Domain deleted", edge_problem))
