"""The seed's Deployments API: add, getByAppId, logs."""

from __future__ import annotations

from quart import Blueprint, Response, jsonify, request

from api.body import read_body
from api.envelope import ok
from api.guard import current_principal, requires
from api.routes.apps import find_app
from api.serialize import deployment_json
from api.services import controller
from controller.apps import validation
from controller.deploy.queue import CommitRef
from controller.deploy.requests import DeploymentRequest
from controller.errors import NotFound, ValidationFailed
from controller.store.models import Deployment, Role, Trigger

blueprint = Blueprint("deployments", __name__)

MAX_PAGE = 200
DEFAULT_PAGE = 50


async def find_deployment(deployment_id: int) -> Deployment:
    deployment = await Deployment.get_or_none(id=deployment_id)
    if deployment is None:
        raise NotFound(f"deployment {deployment_id} does not exist", code="DEPLOYMENT_NOT_FOUND")
    return deployment


@blueprint.post("/api/deployment/add")
@requires(Role.DEPLOYER)
async def add() -> Response:
    """Queue a deployment of the branch head (or of `commitHash`); answers the bare object."""
    body = (await read_body()).allow_only("appId", "commitHash")
    app_id = body.require_int("appId")
    commit = body.text("commitHash", required=False)
    if commit is not None:
        commit = validation.commit(commit)
    app = await find_app(app_id)
    ref = CommitRef(commit) if commit is not None else None
    (outcome,) = await controller().request_deployments(
        [DeploymentRequest(app.id, Trigger.MANUAL, ref)]
    )
    return jsonify(deployment_json(await Deployment.get(id=outcome.id)))


@blueprint.post("/api/deployment/stop")
@requires(Role.DEPLOYER)
async def stop() -> tuple[Response, int]:
    """Pending: stopped at once. Building or starting: aborted. After the switch: 409."""
    body = (await read_body()).allow_only("deploymentId")
    deployment = await find_deployment(body.require_int("deploymentId"))
    reason = f"stopped by {current_principal().user.username}"
    stopped = await controller().stop_deployment(deployment.id, reason)
    return ok(deployment_json(stopped), "Deployment stopped")


@blueprint.post("/api/deployment/rollback")
@requires(Role.DEPLOYER)
async def rollback() -> tuple[Response, int]:
    """Queue a return to an earlier successful deployment (`deploymentId` is the target)."""
    body = (await read_body()).allow_only("deploymentId")
    target = await find_deployment(body.require_int("deploymentId"))
    (outcome,) = await controller().request_deployments(
        [DeploymentRequest(target.app_id, Trigger.ROLLBACK, rollback_to=target.id)]
    )
    return ok(deployment_json(await Deployment.get(id=outcome.id)), "Rollback queued")


@blueprint.post("/api/deployment/getByAppId")
@requires(Role.VIEWER)
async def get_by_app_id() -> tuple[Response, int]:
    body = (await read_body()).allow_only("appId", "limit", "before")
    app = await find_app(body.require_int("appId"))
    limit = body.integer("limit", required=False, default=DEFAULT_PAGE) or DEFAULT_PAGE
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed(f"limit must be between 1 and {MAX_PAGE}")
    query = Deployment.filter(app_id=app.id)
    before = body.integer("before", required=False)
    if before is not None:
        query = query.filter(id__lt=before)
    deployments = await query.order_by("-id").limit(limit)
    return ok([deployment_json(d) for d in deployments], "Deployments retrieved successfully")


@blueprint.get("/api/deployment/logs/<int:deployment_id>")
@requires(Role.VIEWER)
async def logs(deployment_id: int) -> Response | tuple[Response, int]:
    """The build log so far: text/plain, or the envelope when JSON is asked for."""
    deployment = await find_deployment(deployment_id)
    text = controller().log_text(deployment.id)
    if (
        request.accept_mimetypes.best_match(["text/plain", "application/json"])
        == "application/json"
    ):
        return ok({"deployment": deployment_json(deployment), "logs": text}, "Logs retrieved")
    return Response(text, status=200, content_type="text/plain; charset=utf-8")
