"""The seed's Deployments API: add, getByAppId, logs; and stop, rollback."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, request
from quart_schema import document_response, validate_request, validate_response

from api.answers import history_rows, listing
from api.documentation import content, errors
from api.envelope import ok_body
from api.guard import check_role, current_principal, requires
from api.routes.apps import ensure_app, find_app
from api.schemas.base import Envelope
from api.schemas.deployments import (
    DeploymentAdd,
    DeploymentLog,
    DeploymentOut,
    DeploymentRef,
    HistoryPage,
)
from api.services import controller
from controller.deploy.queue import CommitRef
from controller.deploy.requests import DeploymentRequest
from controller.errors import NotFound, ValidationFailed
from controller.store.models import Deployment, Role, Trigger

blueprint = Blueprint("deployments", __name__)
Answer = tuple[dict[str, Any], int]


async def find_deployment(deployment_id: int) -> Deployment:
    deployment = await Deployment.get_or_none(id=deployment_id)
    if deployment is None:
        raise NotFound(f"deployment {deployment_id} does not exist", code="DEPLOYMENT_NOT_FOUND")
    return deployment


@blueprint.post("/api/deployment/add")
@requires(Role.DEPLOYER)
@errors(404, 409, 422)
@validate_request(DeploymentAdd)
@validate_response(DeploymentOut)
async def add(data: DeploymentAdd) -> DeploymentOut:
    """Queue a deployment of the branch head or of commitHash (the seed's bare object).

    commitHash must be on some branch of the repository (422 COMMIT_UNREACHABLE otherwise);
    an admin may set allowUnreachable to deploy a commit no branch reaches."""
    if data.allow_unreachable:
        check_role(current_principal(), Role.ADMIN)
        if data.commit_hash is None:
            raise ValidationFailed("allowUnreachable needs a commitHash to deploy")
    app = await find_app(data.app_id)
    ref = CommitRef(data.commit_hash) if data.commit_hash is not None else None
    who = current_principal().user.username
    wanted = DeploymentRequest(
        app.id,
        Trigger.MANUAL,
        ref,
        requested_by=who,
        allow_unreachable=data.allow_unreachable,
        image=data.image,
    )
    (outcome,) = await controller().request_deployments([wanted])
    return DeploymentOut.model_validate(await Deployment.get(id=outcome.id))


@blueprint.post("/api/deployment/stop")
@requires(Role.DEPLOYER)
@errors(404, 409, 503)
@validate_request(DeploymentRef)
@validate_response(Envelope[DeploymentOut])
async def stop(data: DeploymentRef) -> Answer:
    """Stop a deployment: pending at once, building or starting aborted, 409 after the switch."""
    deployment = await find_deployment(data.deployment_id)
    reason = f"stopped by {current_principal().user.username}"
    stopped = await controller().stop_deployment(deployment.id, reason)
    return ok_body(DeploymentOut.model_validate(stopped), "Deployment stopped"), 200


@blueprint.post("/api/deployment/rollback")
@requires(Role.DEPLOYER)
@errors(404, 409)
@validate_request(DeploymentRef)
@validate_response(Envelope[DeploymentOut])
async def rollback(data: DeploymentRef) -> Answer:
    """Queue a return to an earlier successful deployment (deploymentId is the target)."""
    target = await find_deployment(data.deployment_id)
    (outcome,) = await controller().request_deployments(
        [
            DeploymentRequest(
                target.app_id,
                Trigger.ROLLBACK,
                rollback_to=target.id,
                requested_by=current_principal().user.username,
            )
        ]
    )
    deployment = await Deployment.get(id=outcome.id)
    return ok_body(DeploymentOut.model_validate(deployment), "Rollback queued"), 200


@blueprint.post("/api/deployment/getByAppId")
@requires(Role.VIEWER)
@errors(404)
@validate_request(HistoryPage)
@document_response(Envelope[list[DeploymentOut]])
async def get_by_app_id(data: HistoryPage) -> Response:
    """An app's deployments, newest first."""
    # Plain values, one encode (api/answers.py): the answer DeploymentOut describes.
    page = await history_rows(data.app_id, data.limit, data.before)
    if not page:  # a page with rows proves the app exists; only an empty one asks
        await ensure_app(data.app_id)
    return listing(page, "Deployments retrieved successfully")


@blueprint.get("/api/deployment/logs/<int:deployment_id>")
@requires(Role.VIEWER)
@errors(404)
@document_response(Envelope[DeploymentLog])
@content(200, "text/plain", "The log so far")
async def logs(deployment_id: int) -> Response | Answer:
    """The build log: text/plain, or the envelope with Accept: application/json."""
    deployment = await find_deployment(deployment_id)
    text = await controller().log_text(deployment.id)
    wanted = request.accept_mimetypes.best_match(["text/plain", "application/json"])
    if wanted == "application/json":
        log = DeploymentLog(deployment=DeploymentOut.model_validate(deployment), logs=text)
        return ok_body(log, "Logs retrieved"), 200
    response = Response(text, status=200, content_type="text/plain; charset=utf-8")
    # A log is whatever the build printed: never let a browser sniff it into HTML.
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
