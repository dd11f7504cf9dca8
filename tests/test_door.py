"""The request door on its own, against a real database (SQLite and PostgreSQL): numbering, de-duplication of
pushes (across the database and inside one batch), supersede at enqueue, the caller's record in
the same transaction, and the wake-up. The worker pool is a hand-written fake (nothing runs)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from controller.deploy.duplicates import Existing
from controller.deploy.queue import CommitRef, Enqueued
from controller.deploy.requests import DeploymentRequest, Outcome, RequestDoor
from controller.errors import NotFound
from controller.source.mirror import GitSync
from controller.store.db import close_database, open_database
from controller.store.models import App, Deployment, Status, Trigger
from tests.support.fakes import IdleWorkers
from tests.support.sealing import fresh_sealer

A, B = "a" * 40, "b" * 40

pytestmark = pytest.mark.both_backends


@pytest.fixture
async def door(tmp_path: Path, database_url: str) -> AsyncIterator[tuple[RequestDoor, IdleWorkers]]:
    await open_database(database_url, fresh_sealer())
    workers = IdleWorkers()
    yield RequestDoor(GitSync(tmp_path / "git", allow_local=True), workers), workers
    await close_database()


def push(app: App, sha: str) -> DeploymentRequest:
    return DeploymentRequest(app.id, Trigger.WEBHOOK, CommitRef(sha, f"commit {sha[:7]}"))


async def test_a_batch_numbers_per_app_and_twins_create_one_row(
    door: tuple[RequestDoor, IdleWorkers],
) -> None:
    requests, workers = door
    one, two = await App.create(name="one"), await App.create(name="two")
    outcomes = await requests.request([push(one, A), push(two, A), push(one, A), push(one, B)])
    first, other, twin, newest = outcomes
    assert isinstance(first, Enqueued) and isinstance(other, Enqueued)
    assert isinstance(newest, Enqueued)
    assert isinstance(twin, Existing) and twin.id == first.id
    assert (first.deployment_number, newest.deployment_number, other.deployment_number) == (1, 2, 1)
    assert await Deployment.filter(app_id=one.id).count() == 2
    # The older push of app one is superseded by the newer at once; app two's stays pending.
    assert (await Deployment.get(id=first.id)).status is Status.STOPPED
    assert (await Deployment.get(id=first.id)).error_message == "superseded by deployment #2"
    assert (await Deployment.get(id=other.id)).status is Status.PENDING
    assert workers.wakes == 1


async def test_a_push_of_what_is_queued_or_active_creates_nothing(
    door: tuple[RequestDoor, IdleWorkers],
) -> None:
    requests, _ = door
    app = await App.create(name="web")
    (queued,) = await requests.request([push(app, A)])
    (again,) = await requests.request([push(app, A)])
    assert isinstance(again, Existing) and again.id == queued.id and again.status is Status.PENDING
    await Deployment.filter(id=queued.id).update(status=Status.SUCCESS, is_active=True)
    (active,) = await requests.request([push(app, A)])
    assert isinstance(active, Existing) and active.is_active
    # A failed deployment of the commit does not count: the push is deployed again.
    await Deployment.filter(id=queued.id).update(status=Status.FAILED, is_active=False)
    (retried,) = await requests.request([push(app, A)])
    assert isinstance(retried, Enqueued) and retried.id != queued.id
    assert await Deployment.filter(app_id=app.id).count() == 2


async def test_the_record_runs_in_the_same_transaction(
    door: tuple[RequestDoor, IdleWorkers],
) -> None:
    requests, workers = door
    app = await App.create(name="web")
    seen: list[Sequence[Outcome]] = []

    async def record(outcomes: Sequence[Outcome]) -> None:
        seen.append(outcomes)
        assert await Deployment.filter(app_id=app.id).count() == 1  # visible inside
        raise RuntimeError("the caller's write failed")

    with pytest.raises(RuntimeError):
        await requests.request([push(app, A)], record=record)
    assert len(seen) == 1
    assert await Deployment.filter(app_id=app.id).count() == 0  # rolled back together
    assert (await App.get(id=app.id)).deployment_counter == 0
    assert workers.wakes == 0


async def test_an_unknown_app_is_not_found(door: tuple[RequestDoor, IdleWorkers]) -> None:
    requests, _ = door
    with pytest.raises(NotFound):
        await requests.request([DeploymentRequest(999, Trigger.WEBHOOK, CommitRef(A))])
