"""The fogbank instances sharing this database, for admins: which are alive, which one runs the
scheduled jobs, and which one answered (behind one edge, requests go to any of them)."""

from __future__ import annotations

from typing import Any

from quart import Blueprint
from quart_schema import validate_response

from api.envelope import ok_body
from api.guard import requires
from api.schemas.auth import InstanceOut
from api.schemas.base import Envelope
from api.services import controller
from controller.store.models import Role

blueprint = Blueprint("instances", __name__)


@blueprint.get("/api/instances")
@requires(Role.ADMIN)
@validate_response(Envelope[list[InstanceOut]])
async def instances() -> tuple[dict[str, Any], int]:
    """Every instance heard of, by name."""
    found = [InstanceOut.model_validate(view) for view in await controller().instances()]
    return ok_body(found, "Instances"), 200
