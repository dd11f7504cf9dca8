"""Queue claims per second: SQLite with one instance, PostgreSQL with one and with two instances
(separate processes, as two `fogbank serve` on one database), in one run.

Each run seeds APPS apps with one pending deployment each; every instance runs WORKERS claimers
that claim (fogbank's claim_next) and mark the deployment finished until nothing is left. The
figure is claims over the wall time from the common start to the last instance's end; every
deployment must be claimed exactly once. Usage: `.venv/bin/python -m bench.queue_claims`."""

from __future__ import annotations

import asyncio
import multiprocessing
import tempfile
import time
from multiprocessing.synchronize import Event as StartEvent
from pathlib import Path
from typing import Any

from controller.deploy.queue import CommitRef, claim_next, enqueue
from controller.store.db import close_database, open_database
from controller.store.models import App, Deployment, Status, Trigger
from controller.store.sealing import KEY_BYTES, Sealer
from tests.support.postgres import start_cluster

APPS = 600
WORKERS = 4  # claimers per instance (controller.workers)
KEY = bytes(KEY_BYTES)  # the seeded rows hold no secret


async def seed(url: str) -> None:
    await open_database(url, Sealer(KEY))
    try:
        for index in range(APPS):
            app = await App.create(name=f"bench{index}")
            await enqueue(app, CommitRef("a" * 40), Trigger.MANUAL)
    finally:
        await close_database()


async def claim_all(url: str, start: StartEvent) -> tuple[list[int], float]:
    """Claim until the queue is empty; the ids claimed and the wall-clock end time."""
    await open_database(url, Sealer(KEY))
    claimed: list[int] = []

    async def claimer() -> None:
        while (claim := await claim_next(set())) is not None:
            claimed.append(claim.deployment.id)
            await Deployment.filter(id=claim.deployment.id).update(status=Status.SUCCESS)

    try:
        await asyncio.to_thread(start.wait)
        await asyncio.gather(*[claimer() for _ in range(WORKERS)])
        return claimed, time.time()
    finally:
        await close_database()


def seeder(url: str) -> None:
    asyncio.run(seed(url))


def instance(url: str, start: StartEvent, results: Any) -> None:
    results.put(asyncio.run(claim_all(url, start)))


def run(url: str, instances: int) -> tuple[float, int]:
    """(claims per second, claims) of `instances` processes on the database at `url`."""
    context = multiprocessing.get_context("spawn")
    # Every process of its own, as fogbank's: one database (and dialect) per process.
    seeding = context.Process(target=seeder, args=(url,))
    seeding.start()
    seeding.join()
    start, results = context.Event(), context.Queue()
    processes = [
        context.Process(target=instance, args=(url, start, results)) for _ in range(instances)
    ]
    for process in processes:
        process.start()
    time.sleep(3)  # every instance has opened the database
    began = time.time()
    start.set()
    done = [results.get(timeout=600) for _ in processes]
    for process in processes:
        process.join()
    ids = [deployment_id for claimed, _ in done for deployment_id in claimed]
    if len(ids) != len(set(ids)) or len(ids) != APPS:
        raise SystemExit(f"claimed {len(ids)} ({len(set(ids))} distinct) of {APPS}")
    return len(ids) / (max(end for _, end in done) - began), len(ids)


def main() -> None:
    cluster = start_cluster()
    try:
        with tempfile.TemporaryDirectory() as root:
            rows = [
                ("SQLite", 1, run(f"sqlite://{Path(root) / 'claims.db'}", 1)),
                ("PostgreSQL", 1, run(cluster.create_database(), 1)),
                ("PostgreSQL", 2, run(cluster.create_database(), 2)),
            ]
    finally:
        cluster.stop()
    print(f"{APPS} deployments, {WORKERS} claimers per instance")
    for backend, count, (rate, claims) in rows:
        print(f"{backend:<11} {count} instance(s): {rate:7.1f} claims/s ({claims} claimed once)")


if __name__ == "__main__":
    main()
