"""Polling, the fallback when webhooks are missed: one APScheduler job per app with
`poll_interval_seconds > 0` asks the remote for the branch head (`git ls-remote`, nothing
fetched), or the registry for the digest of an image app's tag (upkeep/image_poll.py), and
enqueues a `poll` deployment when that commit or digest was never asked for.

A sync job (at start, then every SYNC_SECONDS) keeps the per-app jobs in step with the apps
table. Each poll is delayed by a random jitter so apps with one interval don't poll in lockstep.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from controller.deploy.queue import CommitRef
from controller.deploy.requests import DeploymentRequest, Outcome, RequestFn
from controller.errors import FogbankError, ValidationFailed
from controller.runtime.engine import Engine
from controller.source.mirror import GitSync
from controller.store.models import App, Deployment, Trigger
from controller.upkeep.image_poll import poll_image

log = logging.getLogger(__name__)

SYNC_SECONDS = 30
SYNC_JOB_ID = "poll-sync"
MAX_JITTER_SECONDS = 300
MIN_INTERVAL_SECONDS = 10
MAX_INTERVAL_SECONDS = 86400


def job_id(app_id: int) -> str:
    return f"poll-{app_id}"


def jitter_seconds(interval_seconds: int) -> int:
    """The most a poll is delayed: a tenth of the interval, between 1 s and 5 min."""
    return max(1, min(interval_seconds // 10, MAX_JITTER_SECONDS))


def needs_deploy(remote_head: str, known: Collection[str]) -> bool:
    """Whether the remote head is a commit nobody asked to deploy yet."""
    return remote_head not in known


async def known_commits(app_id: int) -> set[str]:
    """The commits (or digests) a poll must not enqueue again: the active one and the newest
    requested.

    "Newest requested" is the newest deployment that is not a rollback, whatever its status:
    a failed or stopped head is not retried every interval, and a rollback is not undone by
    redeploying the head it rolled back from. A new head still deploys.
    """
    known: set[str] = set()
    active = await Deployment.filter(app_id=app_id, is_active=True).first()
    if active is not None:
        known.add(active.commit_hash)
    newest = (
        await Deployment.filter(app_id=app_id)
        .exclude(triggered_by=Trigger.ROLLBACK)
        .order_by("-id")
        .first()
    )
    if newest is not None:
        known.add(newest.commit_hash)
    return known


def should_poll(app: App) -> bool:
    """Polling is on for auto-deploy apps with a repository or an image and an interval
    above 0."""
    source = bool(app.git_repository) or bool(app.image)
    return app.poll_interval_seconds > 0 and app.auto_deploy and source


async def poll_app(
    git: GitSync, app_id: int, request: RequestFn, *, engine: Engine | None = None
) -> Outcome | None:
    """Ask the remote for the app's branch head (the registry for its image's digest); request
    a poll deployment when it is new."""
    app = await App.get_or_none(id=app_id)
    if app is None or not should_poll(app):
        return None
    if app.image:
        if engine is None:
            return None
        return await poll_image(engine, app, await known_commits(app.id), request)
    head = await git.remote_head(git.remote_of(app), app.git_branch)
    if not needs_deploy(head, await known_commits(app.id)):
        return None
    info = await git.resolve(app.name, git.remote_of(app), app.git_branch, head)
    commit = CommitRef(info.sha, info.message, info.author)
    (outcome,) = await request([DeploymentRequest(app.id, Trigger.POLL, commit)])
    log.info("polling found %s on %s: deployment #%s", head[:12], app.name, outcome.id)
    return outcome


class Poller:
    """Owns the per-app poll jobs of one scheduler."""

    def __init__(self, git: GitSync, request: RequestFn, engine: Engine | None = None) -> None:
        self._git = git
        self._engine = engine
        self._request = request
        self._scheduler: AsyncIOScheduler | None = None
        self._intervals: dict[int, int] = {}  # app id -> interval its job runs at
        self.leads: Callable[[], bool] = lambda: True  # the scheduled polls run only if True

    def install(self, scheduler: AsyncIOScheduler) -> None:
        """Add the sync job to `scheduler`; it runs at once, then every SYNC_SECONDS."""
        self._scheduler = scheduler
        scheduler.add_job(
            self.sync_jobs,
            "interval",
            seconds=SYNC_SECONDS,
            id=SYNC_JOB_ID,
            next_run_time=datetime.now(UTC),
            coalesce=True,
            max_instances=1,
        )

    async def sync_jobs(self) -> None:
        """Add, re-time or remove per-app jobs so they match the apps table."""
        scheduler = self._scheduler
        if scheduler is None:
            return
        wanted = {app.id: app.poll_interval_seconds for app in await App.all() if should_poll(app)}
        for app_id in list(self._intervals):
            if wanted.get(app_id) != self._intervals[app_id]:
                if scheduler.get_job(job_id(app_id)) is not None:
                    scheduler.remove_job(job_id(app_id))
                del self._intervals[app_id]
        for app_id, interval in wanted.items():
            if app_id in self._intervals:
                continue
            scheduler.add_job(
                self._scheduled_poll,
                IntervalTrigger(seconds=interval, jitter=jitter_seconds(interval)),
                args=[app_id],
                id=job_id(app_id),
                replace_existing=True,
                coalesce=True,
                max_instances=1,
            )
            self._intervals[app_id] = interval

    async def _scheduled_poll(self, app_id: int) -> None:
        if self.leads():
            await self.poll(app_id)

    async def poll(self, app_id: int) -> Outcome | None:
        """One scheduled poll; a git failure is logged and retried at the next interval."""
        try:
            return await poll_app(self._git, app_id, self._request, engine=self._engine)
        except FogbankError as exc:
            log.warning("polling app %s failed: %s", app_id, exc.message)
            return None


def check_interval(value: int) -> int:
    """A poll interval from the API: 0 (off) or MIN..MAX_INTERVAL_SECONDS."""
    if value != 0 and not MIN_INTERVAL_SECONDS <= value <= MAX_INTERVAL_SECONDS:
        raise ValidationFailed(
            f"pollIntervalSeconds must be 0 (off) or between {MIN_INTERVAL_SECONDS} and "
            f"{MAX_INTERVAL_SECONDS}"
        )
    return value
