"""Rollback: a new deployment that returns an app to an earlier successful one, reusing its
retained image (rebuilt from the commit, or pulled by its digest, when the image was pruned)."""

from __future__ import annotations

from controller.deploy.queue import CommitRef, NewDeployment
from controller.errors import Conflict, NotFound
from controller.store.models import App, Deployment, Status, Trigger

ROLLBACK_TARGETS = (Status.SUCCESS, Status.ROLLED_BACK)


async def rollback_plan(app: App, target_id: int) -> NewDeployment:
    """The deployment that returns `app` to deployment `target_id`; the active one becomes
    `rolled_back` once the rollback succeeds."""
    target = await Deployment.get_or_none(id=target_id, app_id=app.id)
    if target is None:
        raise NotFound(
            f"deployment {target_id} does not exist in app {app.name}", code="DEPLOYMENT_NOT_FOUND"
        )
    if target.status not in ROLLBACK_TARGETS:
        raise Conflict(
            f"deployment #{target.deployment_number} is {target.status}; only a deployment that "
            "succeeded can be rolled back to",
            code="NOT_A_ROLLBACK_TARGET",
        )
    if target.is_active:
        raise Conflict(
            f"deployment #{target.deployment_number} is already the active one",
            code="ALREADY_ACTIVE",
        )
    active = await Deployment.filter(app_id=app.id, is_active=True).first()
    return NewDeployment(
        app.id,
        CommitRef(target.commit_hash, target.commit_message, target.commit_author),
        Trigger.ROLLBACK,
        rolled_back_from=active.id if active else None,
        image_tag=target.image_tag,
        image_ref=target.image_ref,
        image_digest=target.image_digest,  # pulled exactly, should its image be gone
    )
