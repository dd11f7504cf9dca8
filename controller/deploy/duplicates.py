"""Pushes and polls of a commit an app already has pending, running or active create nothing
new: the door finds those deployments here, keyed by (app, commit)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tortoise.expressions import Q

from controller.deploy.queue import NewDeployment
from controller.store.models import IN_FLIGHT, Deployment, Status, Trigger

AUTOMATIC = (Trigger.WEBHOOK, Trigger.POLL)


@dataclass(frozen=True)
class Existing:
    """A push or poll of a commit the app already has pending, running or active."""

    id: int
    deployment_number: int
    app_id: int
    status: Status
    is_active: bool


def dedup_key(item: NewDeployment) -> tuple[int, str] | None:
    """Automatic requests are de-duplicated by (app, commit); others never (None)."""
    return (item.app_id, item.commit.sha) if item.triggered_by in AUTOMATIC else None


async def already_there(planned: Sequence[NewDeployment]) -> dict[tuple[int, str], Existing]:
    """The deployments of automatic requests' commits that are pending, running or active."""
    keys = {key for item in planned if (key := dedup_key(item)) is not None}
    if not keys:
        return {}
    apps = {app_id for app_id, _ in keys}
    commits = {sha for _, sha in keys}
    rows = (
        await Deployment.filter(app_id__in=apps, commit_hash__in=commits)
        .filter(Q(status__in=(Status.PENDING, *IN_FLIGHT)) | Q(is_active=True))
        .order_by("id")
        .values_list("app_id", "commit_hash", "id", "deployment_number", "status", "is_active")
    )
    found: dict[tuple[int, str], Existing] = {}
    for app_id, sha, deployment_id, number, status, active in rows:
        key = (int(str(app_id)), str(sha))
        if key in keys:
            found[key] = Existing(
                int(str(deployment_id)), int(str(number)), key[0], Status(status), bool(active)
            )
    return found
