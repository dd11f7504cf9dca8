"""A request that supersedes older pending deployments tells the sockets watching them, and only
them: a burst of pushes may supersede thousands, so no row is read and no log file is written
for the unwatched ones. Real app lifespan and SQLite; no workers, so the claim is the test's."""

from __future__ import annotations

import pytest
from quart import Quart
from quart.testing import QuartClient

from controller.config import Settings
from controller.deploy.queue import claim_next
from controller.store.models import Deployment, Status
from tests.support.api import create_web_app, services_of, unique_name
from tests.support.repos import GitRepo

pytestmark = pytest.mark.slow


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # No workers, so queued deployments stay pending. A config cannot say this (controller.workers
    # is at least 1); model_copy does not validate, so a test can.
    controller = settings.controller.model_copy(update={"workers": 0})
    return settings.model_copy(update={"controller": controller})


async def test_watchers_of_superseded_deployments_get_their_final_status(
    app: Quart, client: QuartClient, admin: dict[str, str], web_repo: GitRepo
) -> None:
    created = await create_web_app(client, admin, unique_name(), web_repo)

    async def add() -> int:
        response = await client.post(
            "/api/deployment/add", json={"appId": created["id"]}, headers=admin
        )
        deployment_id: int = (await response.get_json())["id"]
        return deployment_id

    found = services_of(app)
    watched = await add()
    with found.controller.bus.subscribe(watched) as subscription:
        unwatched = await add()  # supersedes the watched one at once
        newest = await add()  # supersedes the unwatched one
        event = subscription.queue.get_nowait()
    assert subscription.queue.empty()
    assert event.type == "status"
    assert event.data["deployment_id"] == watched
    assert event.data["status"] == Status.STOPPED
    assert event.data["error_message"] == "superseded by deployment #2"
    assert (await Deployment.get(id=unwatched)).error_message == "superseded by deployment #3"
    assert (await Deployment.get(id=newest)).status is Status.PENDING
    logs = found.controller.logs
    assert logs.text(unwatched) == "" and not logs.path(unwatched).exists()
    # Nothing older is left pending for a worker's claim to supersede.
    claim = await claim_next(set())
    assert claim is not None and claim.deployment.id == newest and claim.superseded == 0
