"""The periodic jobs, on one APScheduler: drift repair, git polling (per-app jobs kept in step
with the apps table), retention, and SQLite WAL checkpoints. Owned here, shut down with it.
Each job runs only while `leads()` says this instance leads (one instance of those sharing the
database); on the others it skips. Only the removal of an instance's own files of pruned
deployments runs on every instance."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from controller.events.deployment_logs import DeploymentLogs
from controller.store.checkpoint import CHECKPOINT_INTERVAL_SECONDS, WalCheckpointer
from controller.upkeep.polling import Poller
from controller.upkeep.retention import prune_orphan_logs

RETENTION_INTERVAL_SECONDS = 3600.0

Job = Callable[[], Awaitable[None]]


class Upkeep:
    def __init__(
        self,
        *,
        drift: Job,
        drift_interval_seconds: float,
        retention: Job,
        poller: Poller,
        sqlite_file: Path | None,
        leads: Callable[[], bool],
        logs: DeploymentLogs,
    ) -> None:
        self._jobs: list[tuple[str, Job, float]] = [
            ("drift", drift, drift_interval_seconds),
            ("retention", retention, RETENTION_INTERVAL_SECONDS),
        ]
        if sqlite_file is not None:
            checkpointer = WalCheckpointer(sqlite_file)
            self._jobs.append(("wal-checkpoint", checkpointer.run, CHECKPOINT_INTERVAL_SECONDS))
        self._everywhere: list[tuple[str, Job, float]] = [
            ("log-files", functools.partial(prune_orphan_logs, logs), RETENTION_INTERVAL_SECONDS)
        ]
        self._poller = poller
        self._leads = leads
        poller.leads = leads
        self._scheduler: AsyncIOScheduler | None = None

    def start(self) -> None:
        scheduler = AsyncIOScheduler(timezone="UTC")
        jobs = [(job_id, functools.partial(self._if_leading, job), seconds)
                for job_id, job, seconds in self._jobs]  # fmt: skip
        for job_id, job, seconds in [*jobs, *self._everywhere]:
            scheduler.add_job(
                job, "interval", seconds=seconds, id=job_id, coalesce=True, max_instances=1
            )
        self._poller.install(scheduler)
        scheduler.start()
        self._scheduler = scheduler

    async def _if_leading(self, job: Job) -> None:
        if self._leads():
            await job()

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
