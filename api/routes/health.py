"""GET /api/health: liveness for load balancers and systemd; no auth, no secrets."""

from __future__ import annotations

from quart import Blueprint, Response

from api.envelope import ok
from api.guard import public

blueprint = Blueprint("health", __name__)


@blueprint.get("/api/health")
@public
async def health() -> tuple[Response, int]:
    return ok({"status": "ok"}, "fogbank is running")
