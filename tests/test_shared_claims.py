"""Claims racing enqueues on a real database (SQLite and PostgreSQL): however claims, enqueues and
finishes interleave, an app never has two deployments in flight. On PostgreSQL the claimers run
on separate pooled connections, as two fogbank instances on one database do."""

from __future__ import annotations

import asyncio
import random

import pytest

from controller.deploy.queue import CommitRef, claim_next, enqueue
from controller.store.models import IN_FLIGHT, App, Deployment, Status, Trigger

pytestmark = pytest.mark.both_backends

APPS = 4
ROUNDS = 30
CLAIMERS = 6


async def in_flight_per_app() -> dict[int, int]:
    counts: dict[int, int] = {}
    for app_id in await Deployment.filter(status__in=IN_FLIGHT).values_list("app_id", flat=True):
        counts[int(str(app_id))] = counts.get(int(str(app_id)), 0) + 1
    return counts


async def test_never_two_in_flight_for_one_app(db: None) -> None:
    apps = [await App.create(name=f"app{i}") for i in range(APPS)]
    rng = random.Random(19)
    claimed: list[int] = []
    worst = 0

    async def claimer() -> None:
        claim = await claim_next(set())
        if claim is not None:
            claimed.append(claim.deployment.id)

    for _ in range(ROUNDS):
        # Pushes and claims at the same time: a claim must not take a deployment enqueued after
        # it found the app idle while another claim of that app is committing.
        await asyncio.gather(
            *[enqueue(rng.choice(apps), CommitRef("a" * 40), Trigger.MANUAL) for _ in range(3)],
            *[claimer() for _ in range(CLAIMERS)],
        )
        worst = max([worst, *(await in_flight_per_app()).values()])
        # Finish some builds so apps become idle again.
        for deployment in await Deployment.filter(status__in=IN_FLIGHT):
            if rng.random() < 0.5:
                await Deployment.filter(id=deployment.id).update(status=Status.SUCCESS)
    assert worst == 1
    assert len(claimed) == len(set(claimed))
    assert len(claimed) >= ROUNDS // 2  # the race was exercised: claims did happen
