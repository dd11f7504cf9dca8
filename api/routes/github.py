"""An app's GitHub reporting: commit statuses and deployments, its own token and repository."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from quart import Blueprint
from quart_schema import validate_request, validate_response

from api.documentation import errors
from api.envelope import ok_body
from api.guard import requires
from api.routes.apps import find_app
from api.schemas.base import Envelope
from api.schemas.notifications import GithubOut, GithubRef, GithubUpdate
from api.services import controller
from controller.store.models import Role

blueprint = Blueprint("github", __name__)
Answer = tuple[dict[str, Any], int]


@blueprint.post("/api/apps/github/get")
@requires(Role.VIEWER)
@errors(404)
@validate_request(GithubRef)
@validate_response(Envelope[GithubOut])
async def get(data: GithubRef) -> Answer:
    """How the app reports to GitHub (the token only as whether one is set)."""
    app = await find_app(data.app_id)
    view = await controller().reporting.github_view(app)
    return ok_body(GithubOut.model_validate(asdict(view)), "GitHub reporting"), 200


@blueprint.put("/api/apps/github/update")
@requires(Role.ADMIN)
@errors(404)
@validate_request(GithubUpdate)
@validate_response(Envelope[GithubOut])
async def update(data: GithubUpdate) -> Answer:
    """Set the app's own token, repository and switches (null: follow the global settings)."""
    app = await find_app(data.app_id)
    fields = data.model_dump(exclude_unset=True, exclude={"app_id"})
    for text in ("token", "repository"):
        if fields.get(text, "") is None:
            del fields[text]  # null text means unchanged; "" clears it
    view = await controller().reporting.update_github(app, fields)
    return ok_body(GithubOut.model_validate(asdict(view)), "GitHub reporting updated"), 200
