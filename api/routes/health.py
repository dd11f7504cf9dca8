"""GET /api/health: liveness for load balancers and systemd; no auth, no secrets."""

from __future__ import annotations

from typing import Any

from quart import Blueprint
from quart_schema import validate_response

from api.envelope import ok_body
from api.guard import public
from api.schemas.base import Envelope, Liveness

blueprint = Blueprint("health", __name__)


@blueprint.get("/api/health")
@public
@validate_response(Envelope[Liveness])
async def health() -> tuple[dict[str, Any], int]:
    """Liveness."""
    return ok_body(Liveness(status="ok"), "fogbank is running"), 200
