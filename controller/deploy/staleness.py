"""Ordering of automatic deployments: an older commit never replaces a newer one that deployed.

Webhooks cannot know ancestry (no git in the request), so the check runs when a worker claims
the deployment: a webhook or poll deployment whose commit is a strict ancestor of the active
deployment's commit is stale (a late redelivery, an out-of-order push). Manual deployments and
rollbacks may go back on purpose and are never stale.
"""

from __future__ import annotations

from typing import Protocol

from controller.store.models import App, Deployment, Trigger

AUTOMATIC_TRIGGERS = (Trigger.WEBHOOK, Trigger.POLL)


class Ancestry(Protocol):
    """The part of GitSync this check needs (a fake in unit tests)."""

    async def is_ancestor(self, app: str, older: str, newer: str) -> bool: ...


async def stale_reason(git: Ancestry, app: App, deployment: Deployment) -> str | None:
    """Why `deployment` must not run because a newer commit is already active, or None."""
    if deployment.triggered_by not in AUTOMATIC_TRIGGERS or not deployment.commit_hash:
        return None
    if not app.git_repository:
        return None  # an image's digests have no order; a poll deploys what the tag names now
    active = (
        await Deployment.filter(app_id=app.id, is_active=True).exclude(id=deployment.id).first()
    )
    if active is None or not active.commit_hash or active.commit_hash == deployment.commit_hash:
        return None
    if not await git.is_ancestor(app.name, deployment.commit_hash, active.commit_hash):
        return None
    return (
        f"commit {deployment.commit_hash[:7]} is older than the active deployment's commit "
        f"{active.commit_hash[:7]}"
    )
