"""An app's ssh deploy key: only its public half is ever shown (the private half is sealed in
the database and reaches ssh as a 0600 file while git runs)."""

from __future__ import annotations

from typing import Any

from quart import Blueprint
from quart_schema import validate_request, validate_response

from api.documentation import errors
from api.envelope import ok_body
from api.guard import requires
from api.routes.apps import find_app
from api.schemas.apps import DeployKey, DeployKeyRequest
from api.schemas.base import Envelope
from api.services import controller
from controller.store.models import Role

blueprint = Blueprint("deploy_keys", __name__)


@blueprint.post("/api/apps/deployKey")
@requires(Role.ADMIN)
@errors(404)
@validate_request(DeployKeyRequest)
@validate_response(Envelope[DeployKey])
async def deploy_key(data: DeployKeyRequest) -> tuple[dict[str, Any], int]:
    """The app's public ssh key, to add to the repository as a read-only deploy key (`rotate`:
    a new pair first; apps made before deploy keys get theirs the first time it is asked for)."""
    app = await find_app(data.app_id)
    if data.rotate or not app.deploy_public_key:
        app = await controller().rotate_deploy_key(app)
    return ok_body(DeployKey(public_key=app.deploy_public_key), "Deploy key"), 200
