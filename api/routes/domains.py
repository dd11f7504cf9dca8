"""Domains of an app: host names the edge routes, on edge.http_port, to its active deployment.
Every change re-applies the whole desired edge config."""

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
from api.schemas.domains import DomainCreate, DomainOut, DomainRef
from api.services import controller
from controller.errors import NotFound
from controller.store.models import Domain, Role

blueprint = Blueprint("domains", __name__)
Answer = tuple[dict[str, Any], int]


def _said(done: str, edge_problem: str | None) -> str:
    """The answer's message, which says so when the edge did not take the change (it is saved
    and reaches the edge with its next update)."""
    if edge_problem is None:
        return done
    return f"{done}, but the edge could not be updated yet: {edge_problem}"


@blueprint.post("/api/apps/domains/create")
@requires(Role.ADMIN)
@errors(404, 409)
@validate_request(DomainCreate)
@validate_response(Envelope[DomainOut], 201)
async def create(data: DomainCreate) -> Answer:
    """Route a host name to a web app."""
    app = await find_app(data.app_id)
    domain, edge_problem = await controller().add_domain(app, data.hostname)
    return ok_body(DomainOut.model_validate(domain), _said("Domain created", edge_problem)), 201


@blueprint.post("/api/apps/domains/get")
@requires(Role.VIEWER)
@errors(404)
@validate_request(AppRef)
@validate_response(Envelope[list[DomainOut]])
async def get(data: AppRef) -> Answer:
    """An app's domains."""
    app = await find_app(data.app_id)
    domains = await Domain.filter(app_id=app.id).order_by("hostname")
    found = [DomainOut.model_validate(d) for d in domains]
    return ok_body(found, "Domains retrieved successfully"), 200


@blueprint.delete("/api/apps/domains/delete")
@requires(Role.ADMIN)
@errors(404)
@validate_request(DomainRef)
@validate_response(Envelope[Deleted])
async def delete(data: DomainRef) -> Answer:
    """Remove a domain."""
    domain = await Domain.get_or_none(id=data.domain_id)
    if domain is None:
        raise NotFound(f"domain {data.domain_id} does not exist", code="DOMAIN_NOT_FOUND")
    edge_problem = await controller().remove_domain(domain)
    return ok_body(Deleted(id=data.domain_id), _said("Domain deleted", edge_problem)), 200
