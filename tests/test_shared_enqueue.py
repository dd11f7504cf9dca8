"""Enqueue batches racing on a real database (SQLite and PostgreSQL): two batches that name the
same apps in opposite orders, in transactions of their own (as two instances' webhook batches
are), both commit, numbered without gaps or repeats. On PostgreSQL they run on separate pooled
connections; taking the apps' row locks in the order the batch named them deadlocked there."""

from __future__ import annotations

import asyncio

import pytest
from tortoise.transactions import in_transaction

from controller.deploy.queue import CommitRef, NewDeployment, enqueue_many
from controller.store.models import App, Deployment, Trigger

pytestmark = pytest.mark.both_backends

APPS = 6
ROUNDS = 20


async def test_batches_naming_apps_in_opposite_orders_both_commit(db: None) -> None:
    apps = [await App.create(name=f"app{i}") for i in range(APPS)]

    async def batch(order: list[App], round_number: int) -> None:
        wanted = [
            NewDeployment(app.id, CommitRef(f"{round_number:040x}"), Trigger.WEBHOOK)
            for app in order
        ]
        async with in_transaction():
            await enqueue_many(wanted)
            await asyncio.sleep(0)  # the other batch takes its locks meanwhile

    for round_number in range(ROUNDS):
        await asyncio.gather(
            batch(apps, round_number), batch(list(reversed(apps)), round_number)
        )  # a deadlock raises here (OperationalError on PostgreSQL)
    for app in apps:
        numbers = await Deployment.filter(app_id=app.id).values_list("deployment_number", flat=True)
        assert sorted(int(str(number)) for number in numbers) == list(range(1, 2 * ROUNDS + 1))
