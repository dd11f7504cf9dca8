"""The worker loops: each claims the next queued deployment (never two of one app) and runs it
through the pipeline as a task of its own, so a stop can cancel the deployment without the
worker. Also the stop API, since only the process running a deployment can abort it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

from controller.deploy.inflight import RunControl, RunRegistry, StopOutcome
from controller.deploy.pipeline import SHUTDOWN_MESSAGE, Pipeline
from controller.deploy.progress import status_data
from controller.deploy.queue import Claim, claim_next, superseded_reason
from controller.errors import Conflict
from controller.events.bus import Event, EventBus
from controller.events.deployment_logs import DeploymentLogs
from controller.store.models import IN_FLIGHT, Deployment, Status
from controller.store.timefmt import utcnow

log = logging.getLogger(__name__)

IDLE_RECHECK_SECONDS = 5.0
STOP_WAIT_SECONDS = 60.0
# After a newer request cancelled an app's build, its next build waits until requests for the
# app have been quiet this long: a burst of pushes then costs one build, not one per push.
SETTLE_SECONDS = 1.0


class WorkerPool:
    def __init__(
        self,
        pipeline: Pipeline,
        logs: DeploymentLogs,
        bus: EventBus,
        *,
        workers: int,
        shutdown_timeout_seconds: float,
        instance: str = "",
    ) -> None:
        self.pipeline = pipeline
        self.logs = logs
        self.bus = bus
        self.runs = RunRegistry()
        self._count = workers
        self._instance = instance  # recorded on each claim: who recovers it if we die
        self._shutdown_timeout_seconds = shutdown_timeout_seconds
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self._claim_lock = asyncio.Lock()
        self._busy_apps: set[int] = set()
        self._settling: dict[int, float] = {}  # app id -> loop time its next claim may start
        self._workers: list[asyncio.Task[None]] = []

    def start(self) -> None:
        for index in range(self._count):
            self._workers.append(asyncio.create_task(self._work(), name=f"fogbank-worker-{index}"))

    async def stop(self) -> None:
        """Stop claiming, let running deployments finish within the shutdown bound, then cancel
        them (the pipeline marks a cancelled deployment failed as 'interrupted')."""
        self._stopping.set()
        self._wakeup.set()
        if not self._workers:
            return
        _, pending = await asyncio.wait(self._workers, timeout=self._shutdown_timeout_seconds)
        for task in pending:
            task.cancel()
        for task in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers.clear()

    def wake(self, app_ids: Iterable[int] = ()) -> None:
        """Deployments of `app_ids` were enqueued: let an idle worker claim them now (an app
        whose build a newer request just cancelled settles a little longer first)."""
        now = asyncio.get_running_loop().time()
        for app_id in app_ids:
            if app_id in self._settling:
                self._settling[app_id] = now + SETTLE_SECONDS
        self._wakeup.set()

    def running(self, app_id: int) -> RunControl | None:
        """The app's deployment running in this process, if any."""
        return self.runs.for_app(app_id)

    async def stop_deployment(self, deployment_id: int, reason: str) -> Deployment:
        """Stop a deployment: pending ones at once; running ones are aborted (build cancelled,
        candidate removed, previous version untouched). Conflict once traffic has switched."""
        deployment = await Deployment.get(id=deployment_id)
        if deployment.status is Status.PENDING:
            stopped = await Deployment.filter(id=deployment.id, status=Status.PENDING).update(
                status=Status.STOPPED, error_message=reason, finished_at=utcnow()
            )
            await deployment.refresh_from_db()
            if stopped:
                self.logs.append(deployment.id, f"Stopped: {reason}")
                self.bus.publish(deployment.id, Event("status", status_data(deployment)))
                self.pipeline.metrics.deployments.inc("stopped", str(deployment.triggered_by))
                await self.pipeline.notices.finished(deployment)
                return deployment
        if deployment.status in IN_FLIGHT:
            if self.runs.request_stop(deployment.id, reason) is StopOutcome.TOO_LATE:
                raise Conflict(
                    f"deployment #{deployment.deployment_number} already serves traffic; "
                    "roll back to an earlier deployment instead",
                    code="ALREADY_SWITCHED",
                )
            if not await self.runs.wait_finished(deployment.id, STOP_WAIT_SECONDS):
                raise Conflict(
                    f"deployment #{deployment.deployment_number} did not stop within "
                    f"{STOP_WAIT_SECONDS:g} s (is another controller running it?)",
                    code="STOP_TIMEOUT",
                )
            await deployment.refresh_from_db()
            return deployment
        raise Conflict(
            f"deployment #{deployment.deployment_number} is already {deployment.status}",
            code="NOT_STOPPABLE",
        )

    async def announce_superseded(self, app_id: int, newest_number: int) -> None:
        """The final status event of each watched deployment that `newest_number` superseded.
        They never ran, so they get no log file, and no row is read unless a socket watches:
        a burst of pushes can supersede thousands at once."""
        watched = self.bus.watched_ids()
        if not watched:
            return
        stopped = Deployment.filter(
            id__in=watched,
            app_id=app_id,
            status=Status.STOPPED,
            error_message=superseded_reason(newest_number),
        )
        for old in await stopped.order_by("id"):
            self.bus.publish(old.id, Event("status", status_data(old)))

    async def _work(self) -> None:
        while not self._stopping.is_set():
            self._wakeup.clear()
            try:
                ran = await self._run_one()
            except asyncio.CancelledError:
                raise
            except Exception:
                # The loop boundary: log, keep the worker alive, back off a little.
                log.exception("worker iteration failed")
                ran = False
            if ran or self._stopping.is_set():
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self._idle_seconds())

    def _idle_seconds(self) -> float:
        """How long an idle worker waits for a wake-up: until the next app stops settling."""
        now = asyncio.get_running_loop().time()
        for app_id, until in list(self._settling.items()):
            if until <= now:
                del self._settling[app_id]
        if not self._settling:
            return IDLE_RECHECK_SECONDS
        return max(0.01, min(IDLE_RECHECK_SECONDS, min(self._settling.values()) - now))

    async def _run_one(self) -> bool:
        async with self._claim_lock:
            self._idle_seconds()  # forget the apps that settled
            claim = await claim_next(self._busy_apps | set(self._settling), self._instance)
            if claim is None:
                return False
            app_id = claim.deployment.app_id
            self._busy_apps.add(app_id)
        try:
            await self._run_claimed(claim)
        finally:
            self._busy_apps.discard(app_id)
            self._wakeup.set()  # this app may have more pending work
        return True

    async def _run_claimed(self, claim: Claim) -> None:
        deployment = claim.deployment
        control = RunControl(
            deployment.id, deployment.app_id, deployment.deployment_number, deployment.commit_hash
        )
        self.runs.add(control)
        metrics = self.pipeline.metrics
        if deployment.started_at is not None:
            waited = (deployment.started_at - deployment.created_at).total_seconds()
            metrics.queue_wait_seconds.observe(max(0.0, waited))
        try:
            if claim.superseded:
                metrics.superseded.inc(amount=claim.superseded)
                reason = superseded_reason(deployment.deployment_number)
                await self.pipeline.notices.superseded(deployment.app_id, reason)
                await self.announce_superseded(deployment.app_id, deployment.deployment_number)
            # The pipeline runs as its own task so a stop can cancel it without cancelling
            # this worker; a cancelled worker (shutdown) cancels it too.
            control.task = asyncio.create_task(
                self.pipeline.run(deployment, control), name=f"fogbank-deploy-{deployment.id}"
            )
            if control.stop_reason is not None:
                control.task.cancel()  # stopped while it was being claimed
            try:
                await asyncio.wait({control.task})
            except asyncio.CancelledError:
                control.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await control.task
                await asyncio.shield(self._settle_unstarted(deployment, control))
                raise
            await self._settle_unstarted(deployment, control)
            if not control.task.cancelled() and (error := control.task.exception()) is not None:
                raise error
        finally:
            self.runs.remove(control)
            if control.superseded:
                loop_time = asyncio.get_running_loop().time()
                self._settling[deployment.app_id] = loop_time + SETTLE_SECONDS

    async def _settle_unstarted(self, deployment: Deployment, control: RunControl) -> None:
        """A pipeline task cancelled before its first step never recorded anything: do it."""
        await deployment.refresh_from_db()
        if deployment.status not in IN_FLIGHT:
            return
        tracker = self.pipeline.tracker(deployment)
        if control.stop_reason is not None:
            await tracker.stop(control.stop_reason)
        else:
            await tracker.fail(SHUTDOWN_MESSAGE)
