"""The durable queue against a real database (SQLite and PostgreSQL): numbering, claim, supersede,
recovery."""

from __future__ import annotations

import asyncio

import pytest

from controller.deploy.queue import (
    CommitRef,
    claim_next,
    enqueue,
    fail_interrupted,
    requeue_if_newest,
)
from controller.store.models import App, Deployment, Status, Trigger

SHA = "a" * 40
pytestmark = pytest.mark.both_backends


async def test_concurrent_enqueues_number_without_gaps(db: None) -> None:
    app = await App.create(name="one")
    other = await App.create(name="two")
    made = await asyncio.gather(
        *[enqueue(app, CommitRef(SHA), Trigger.MANUAL) for _ in range(20)],
        *[enqueue(other, CommitRef(SHA), Trigger.MANUAL) for _ in range(5)],
    )
    numbers = sorted(d.deployment_number for d in made if d.app_id == app.id)
    assert numbers == list(range(1, 21))
    assert sorted(d.deployment_number for d in made if d.app_id == other.id) == [1, 2, 3, 4, 5]


async def test_claim_takes_newest_and_supersedes_older(db: None) -> None:
    app = await App.create(name="one")
    first, second, third = [await enqueue(app, CommitRef(SHA), Trigger.MANUAL) for _ in range(3)]
    claim = await claim_next(set())
    assert claim is not None
    assert claim.deployment.id == third.id
    assert claim.deployment.status is Status.BUILDING
    assert claim.superseded == 2
    for old in (first, second):
        await old.refresh_from_db()
        assert old.status is Status.STOPPED
        assert old.error_message == f"superseded by deployment #{third.deployment_number}"
    # The app is now in flight: nothing more to claim for it.
    await enqueue(app, CommitRef(SHA), Trigger.MANUAL)
    assert await claim_next(set()) is None


async def test_claim_skips_busy_apps_and_serves_others(db: None) -> None:
    busy = await App.create(name="busy")
    idle = await App.create(name="idle")
    await enqueue(busy, CommitRef(SHA), Trigger.MANUAL)
    waiting = await enqueue(idle, CommitRef(SHA), Trigger.MANUAL)
    claim = await claim_next({busy.id})
    assert claim is not None and claim.deployment.id == waiting.id


async def test_concurrent_claims_never_double_claim(db: None) -> None:
    apps = [await App.create(name=f"app{i}") for i in range(5)]
    for app in apps:
        await enqueue(app, CommitRef(SHA), Trigger.MANUAL)
    claims = await asyncio.gather(*[claim_next(set()) for _ in range(10)])
    claimed = [c.deployment.id for c in claims if c is not None]
    assert len(claimed) == len(set(claimed)) == 5


async def test_recovery_fails_in_flight_and_requeues_only_the_newest(db: None) -> None:
    app = await App.create(name="one")
    await enqueue(app, CommitRef(SHA, "msg", "me"), Trigger.WEBHOOK)
    claim = await claim_next(set())
    assert claim is not None
    interrupted = await fail_interrupted()
    assert [d.id for d in interrupted] == [claim.deployment.id]
    failed = await Deployment.get(id=claim.deployment.id)
    assert failed.status is Status.FAILED
    assert "interrupted" in failed.error_message
    again = await requeue_if_newest(failed)
    assert again is not None
    assert (again.commit_hash, again.commit_message, again.triggered_by) == (
        SHA,
        "msg",
        Trigger.WEBHOOK,
    )
    assert again.deployment_number == 2
    # Not the newest any more: no second re-queue.
    assert await requeue_if_newest(failed) is None
