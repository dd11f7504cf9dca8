"""GET /api/health (liveness) and GET /api/ready (readiness: the database, Docker and the edge
answer) for load balancers and systemd; no auth, no secrets."""

from __future__ import annotations

from typing import Any

from quart import Blueprint
from quart_schema import validate_response

from api.documentation import errors
from api.envelope import ok_body
from api.guard import public
from api.schemas.base import Envelope, Liveness, Readiness
from api.services import services
from controller.errors import ServiceUnavailable

blueprint = Blueprint("health", __name__)


@blueprint.get("/api/health")
@public
@validate_response(Envelope[Liveness])
async def health() -> tuple[dict[str, Any], int]:
    """Liveness."""
    return ok_body(Liveness(status="ok"), "fogbank is running"), 200


@blueprint.get("/api/ready")
@public
@errors(503)
@validate_response(Envelope[Readiness])
async def ready() -> tuple[dict[str, Any], int]:
    """Readiness: 200 when the database, Docker and the edge answer, else 503 naming them."""
    down = await services().readiness.down()
    if down:
        raise ServiceUnavailable(f"not ready: {', '.join(down)} down", code="NOT_READY")
    return ok_body(Readiness(database="ok", docker="ok", edge="ok"), "fogbank is ready"), 200
