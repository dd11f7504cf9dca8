"""The reconciler: worker loops that claim and run queued deployments, restart recovery, and the
periodic jobs (APScheduler). Every task it starts it also stops, within a bound."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from controller.build.image import ImageBuilder
from controller.config import Settings
from controller.deploy.inflight import RunControl, RunRegistry, StopOutcome
from controller.deploy.pipeline import SHUTDOWN_MESSAGE, Pipeline
from controller.deploy.progress import Tracker, status_data
from controller.deploy.queue import (
    Claim,
    claim_next,
    fail_interrupted,
    requeue_if_newest,
    superseded_reason,
)
from controller.deploy.swap import Swapper
from controller.edge.switchboard import RouteSink, Switchboard
from controller.errors import Conflict, FogbankError
from controller.events.app_events import AppEvents
from controller.events.deployment_logs import DeploymentLogs, Event, EventBus
from controller.runtime.engine import Engine
from controller.source.mirror import GitSync
from controller.store.checkpoint import CHECKPOINT_INTERVAL_SECONDS, WalCheckpointer, sqlite_path
from controller.store.models import IN_FLIGHT, App, Deployment, Status
from controller.store.timefmt import utcnow
from controller.upkeep.drift import DriftRepair
from controller.upkeep.polling import Poller
from controller.upkeep.retention import discard_image, prune_deliveries, prune_history, prune_images

log = logging.getLogger(__name__)

IDLE_RECHECK_SECONDS = 5.0
STOP_WAIT_SECONDS = 60.0


class Reconciler:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        git: GitSync,
        bus: EventBus,
        logs: DeploymentLogs,
        edge: RouteSink,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.git = git
        self.bus = bus
        self.logs = logs
        self.switchboard = Switchboard(edge)
        self.runs = RunRegistry()
        swapper = Swapper(settings, engine, self.switchboard)
        self.builder = ImageBuilder(settings, engine, git)
        self.app_events = AppEvents(settings.logs_dir / "apps")
        self.drift = DriftRepair(
            engine,
            self.builder,
            self.switchboard,
            self.runs,
            self.app_events,
            settings.deploy.health_interval_seconds,
        )
        self.pipeline = Pipeline(settings, engine, git, logs, bus, swapper, self.builder)
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self._claim_lock = asyncio.Lock()
        self._busy_apps: set[int] = set()
        self._workers: list[asyncio.Task[None]] = []
        self._scheduler: AsyncIOScheduler | None = None

    async def start(self) -> None:
        """Recover from a previous run, then start the workers and the periodic jobs."""
        await self.recover()
        for index in range(self.settings.controller.workers):
            self._workers.append(asyncio.create_task(self._work(), name=f"fogbank-worker-{index}"))
        scheduler = AsyncIOScheduler(timezone="UTC")
        scheduler.add_job(
            self.prune_all, "interval", hours=1, id="retention", coalesce=True, max_instances=1
        )
        scheduler.add_job(
            self.drift.reconcile_all,
            "interval",
            seconds=self.settings.controller.reconcile_interval_seconds,
            id="drift",
            coalesce=True,
            max_instances=1,
        )
        Poller(self.git, self.wake).install(scheduler)
        if (database := sqlite_path(self.settings.database_url)) is not None:
            scheduler.add_job(
                WalCheckpointer(database).run,
                "interval",
                seconds=CHECKPOINT_INTERVAL_SECONDS,
                id="wal-checkpoint",
                coalesce=True,
                max_instances=1,
            )
        scheduler.start()
        self._scheduler = scheduler

    async def stop(self) -> None:
        """Stop claiming, let running deployments finish within the shutdown bound, then cancel
        them (the pipeline marks a cancelled deployment failed as 'interrupted')."""
        self._stopping.set()
        self._wakeup.set()
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        if not self._workers:
            return
        _, pending = await asyncio.wait(
            self._workers, timeout=self.settings.controller.shutdown_timeout_seconds
        )
        for task in pending:
            task.cancel()
        for task in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers.clear()

    def wake(self) -> None:
        """A deployment was enqueued: let an idle worker claim it now."""
        self._wakeup.set()

    async def recover(self) -> None:
        """Nothing stays non-terminal across a restart: fail what was in flight, remove its
        half-started containers, re-queue it when it was its app's newest request, and make
        sure every active container runs again (stop-first may have stopped it)."""
        interrupted = await fail_interrupted()
        for deployment in interrupted:
            log.warning("deployment %s was interrupted by a restart", deployment.id)
            self.logs.append(deployment.id, "ERROR: interrupted: controller restarted")
            self.bus.publish(deployment.id, Event("status", status_data(deployment)))
            requeued = await requeue_if_newest(deployment)
            if requeued is not None:
                self.logs.append(
                    deployment.id, f"Re-queued as deployment #{requeued.deployment_number}"
                )
        # Build contexts of deployments that will never finish (nothing runs yet).
        await asyncio.to_thread(shutil.rmtree, self.settings.builds_dir, True)
        self.settings.builds_dir.mkdir(parents=True, exist_ok=True)
        try:
            await self._remove_orphans()
            for deployment in interrupted:
                await discard_image(self.engine, deployment)
                app = await App.get_or_none(id=deployment.app_id)
                if app is not None:  # steps of its cut-short build
                    await self.engine.prune_dangling({"fogbank.app": app.name})
        except FogbankError as exc:
            log.error("could not clean up containers at start: %s", exc.message)

    async def _remove_orphans(self) -> None:
        active = {
            d.container_id: d for d in await Deployment.filter(is_active=True) if d.container_id
        }
        # Only apps of this database: another fogbank (or a test run) on the host is left alone.
        apps = {app.name: app for app in await App.all()}
        leftovers = []
        for container in await self.engine.containers({}):
            app = apps.get(container.labels.get("fogbank.app", ""))
            if app is None:
                continue
            if container.id in active:
                if not container.running and not app.container_stopped:
                    log.warning("restarting active container %s", container.name)
                    await self.engine.start(container.id)
                continue
            leftovers.append(container)
        if leftovers:
            # The edge already routes to the active containers again; a candidate that was
            # serving when the controller died gets the drain period for requests in flight.
            await asyncio.sleep(self.settings.edge.drain_seconds)
        for container in leftovers:
            log.warning("removing leftover container %s", container.name)
            await self.engine.remove_container(container.id)

    async def prune_all(self) -> None:
        """Images, deployment history and webhook deliveries beyond their retention."""
        history = self.settings.history
        for app in await App.all():
            try:
                await prune_images(self.engine, app, self.settings.controller.keep_images)
            except FogbankError as exc:
                log.error("retention for %s failed: %s", app.name, exc.message)
            for deployment_id in await prune_history(app, history.keep_deployments):
                self.logs.delete(deployment_id)
        await prune_deliveries(history.keep_webhook_deliveries)

    def is_busy(self, app_id: int) -> bool:
        return app_id in self._busy_apps

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
                await asyncio.wait_for(self._wakeup.wait(), IDLE_RECHECK_SECONDS)

    async def _run_one(self) -> bool:
        async with self._claim_lock:
            claim = await claim_next(self._busy_apps)
            if claim is None:
                return False
            app_id = claim.deployment.app_id
            self._busy_apps.add(app_id)
        deployment = claim.deployment
        control = RunControl(deployment.id, app_id, deployment.deployment_number)
        self.runs.add(control)
        try:
            await self.announce_superseded(claim)
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
            self._busy_apps.discard(app_id)
            self._wakeup.set()  # this app may have more pending work
        return True

    async def announce_superseded(self, claim: Claim) -> None:
        """The final status event of each deployment the claim superseded that a socket is
        watching. They never ran, so they get no log file, and no row is read unless watched:
        a burst of pushes can supersede thousands at once. Their error_message says which
        deployment replaced them."""
        watched = self.bus.watched_ids()
        if not claim.superseded or not watched:
            return
        stopped = Deployment.filter(
            id__in=watched,
            app_id=claim.deployment.app_id,
            status=Status.STOPPED,
            error_message=superseded_reason(claim.deployment.deployment_number),
        )
        for old in await stopped.order_by("id"):
            self.bus.publish(old.id, Event("status", status_data(old)))

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

    async def _settle_unstarted(self, deployment: Deployment, control: RunControl) -> None:
        """A pipeline task cancelled before its first step never recorded anything: do it."""
        await deployment.refresh_from_db()
        if deployment.status not in IN_FLIGHT:
            return
        tracker = Tracker(deployment, self.logs, self.bus)
        if control.stop_reason is not None:
            await tracker.stop(control.stop_reason)
        else:
            await tracker.fail(SHUTDOWN_MESSAGE)

    def submitted(self, deployment: Deployment) -> None:
        """A deployment was enqueued: cancel its app's older build, wake a worker."""
        self.supersede_running(deployment)
        self.wake()

    def supersede_running(self, newer: Deployment) -> None:
        """Latest wins: a newer request cancels its app's build still in progress (before the
        switch; after it, the newer one simply runs next)."""
        control = self.runs.for_app(newer.app_id)
        if control is not None and control.deployment_id < newer.id:
            control.request_stop(superseded_reason(newer.deployment_number))
