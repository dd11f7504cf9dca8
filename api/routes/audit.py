"""The audit log, for admins: who changed what, when, from where."""

from __future__ import annotations

from typing import Any

from quart import Blueprint
from quart_schema import validate_querystring, validate_response

from api.envelope import ok_body
from api.guard import requires
from api.schemas.auth import AuditEntryOut, AuditQuery
from api.schemas.base import Envelope
from controller.accounts import audit
from controller.store.models import Role

blueprint = Blueprint("audit", __name__)


@blueprint.get("/api/audit")
@requires(Role.ADMIN)
@validate_querystring(AuditQuery)
@validate_response(Envelope[list[AuditEntryOut]])
async def entries(query_args: AuditQuery) -> tuple[dict[str, Any], int]:
    """Entries newest first; `?before=<id>` pages back."""
    found = await audit.page(query_args.limit, query_args.before)
    return ok_body([AuditEntryOut.model_validate(entry) for entry in found], "Audit log"), 200
