"""Polling of an image app: when the digest its tag names in the registry is one nobody asked to
deploy yet, request a `poll` deployment of exactly that digest (through the one door)."""

from __future__ import annotations

import logging

from controller.build.registry import credentials_for, remote_digest
from controller.deploy.queue import CommitRef
from controller.deploy.requests import DeploymentRequest, Outcome, RequestFn
from controller.runtime.engine import Engine
from controller.runtime.reference import commit_of, parse
from controller.store.models import App, Trigger

log = logging.getLogger(__name__)


async def poll_image(
    engine: Engine, app: App, known: set[str], request: RequestFn
) -> Outcome | None:
    """Ask the registry for the digest of the app's tag; request it when it is not in `known`
    (the commit_hash of the active deployment and of the newest requested one)."""
    ref = parse(app.image)
    if ref.digest:
        return None  # pinned to a digest: there is nothing to follow
    digest = await remote_digest(engine, ref, await credentials_for(app, ref))
    commit = CommitRef(commit_of(digest), str(ref))
    if commit.sha in known:
        return None
    wanted = DeploymentRequest(app.id, Trigger.POLL, commit, image=str(ref), image_digest=digest)
    (outcome,) = await request([wanted])
    log.info("polling found %s for %s: deployment #%s", digest[:19], app.name, outcome.id)
    return outcome
