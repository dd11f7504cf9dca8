"""Recovery of deployments whose process is gone: nothing stays non-terminal. What was in flight
is failed ("interrupted"), re-queued when it was its app's newest request, and its half-started
containers and build leftovers removed.

At start an instance recovers its own earlier work (on SQLite, the only instance: all of it)
and restarts every active container (stop-first may have stopped it); while running, it takes
over the work of instances whose lease ran out (controller/cluster/member.py). Work that a live
instance runs is never touched."""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from controller.deploy.locked_claim import shared_queue
from controller.deploy.progress import status_data
from controller.deploy.queue import INTERRUPTED_MESSAGE, fail_interrupted, requeue_if_newest
from controller.errors import FogbankError
from controller.events.bus import Event, EventBus
from controller.events.deployment_logs import DeploymentLogs
from controller.notify.notices import Notices
from controller.runtime.engine import Engine
from controller.runtime.images import discard_image
from controller.runtime.naming import APP_LABEL, DEPLOYMENT_LABEL, app_labels, deployment_of
from controller.runtime.swarm.spec import SWARM_TASK_LABEL
from controller.store.models import IN_FLIGHT, App, Deployment

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recovery:
    """What recovering needs: where to record it, and how to clean up after it."""

    engine: Engine
    logs: DeploymentLogs
    bus: EventBus
    notices: Notices
    # Drops the edge overrides these instances set (None: all) and points the edge at the
    # active deployments again: a dead instance may have switched it to a candidate that is
    # about to be removed.
    release_edge: Callable[[Collection[str] | None], Awaitable[None]]
    drain_seconds: float
    wake_workers: Callable[[], object]  # work was re-queued

    async def take_over(self, holders: list[str]) -> None:
        """Instances `holders` stopped answering: fail and re-queue what they were running."""
        message = f"interrupted: instance {', '.join(holders)} stopped answering"
        if await self.interrupt(holders, message, cleanup_first=True):
            self.wake_workers()

    async def interrupt(
        self, holders: Collection[str] | None, message: str, *, cleanup_first: bool = False
    ) -> list[Deployment]:
        """Fail the in-flight work of `holders` (None: all), record and announce it, re-queue
        each one that was its app's newest request. With `cleanup_first` its containers and
        images go before the re-queue (other workers may claim that at once)."""
        interrupted = await fail_interrupted(holders, message)
        for deployment in interrupted:
            log.warning("deployment %s was interrupted (%s)", deployment.id, message)
            await self.logs.adopt(deployment.id)  # another instance may have written it
            self.logs.append(deployment.id, f"ERROR: {message}")
            self.bus.publish(deployment.id, Event("status", status_data(deployment)))
            await self.notices.finished(deployment)
        if cleanup_first:
            await self.release(holders)
            await self.clean_up(interrupted)
        for deployment in interrupted:
            requeued = await requeue_if_newest(deployment)
            if requeued is not None:
                number = requeued.deployment_number
                self.logs.append(deployment.id, f"Re-queued as deployment #{number}")
        return interrupted

    async def release(self, holders: Collection[str] | None) -> None:
        """The edge off what `holders` pointed it at (before their candidates are removed)."""
        try:
            await self.release_edge(holders)
        except FogbankError as exc:
            log.error("could not point the edge at the active deployments: %s", exc.message)

    async def clean_up(self, interrupted: list[Deployment]) -> None:
        """Containers, images and dangling build steps of interrupted deployments."""
        try:
            leftovers = [
                container
                for deployment in interrupted
                for container in await self.engine.containers(
                    {DEPLOYMENT_LABEL: str(deployment.id)}
                )
            ]
            if leftovers:  # requests in flight drain
                await asyncio.sleep(self.drain_seconds)
            for container in leftovers:
                log.warning("removing interrupted container %s", container.name)
                await self.engine.remove_container(container.id)
            for deployment in interrupted:
                await discard_image(self.engine, deployment)
                app = await App.get_or_none(id=deployment.app_id)
                if app is not None:  # steps of its cut-short build
                    await self.engine.prune_dangling(app_labels(app.name))
        except FogbankError as exc:
            log.error("could not clean up interrupted deployments: %s", exc.message)


async def recover(recovery: Recovery, *, builds_dir: Path, own: str) -> None:
    """Run once at start, before any worker claims: this instance's (`own`) earlier work is
    interrupted; on SQLite, which no other instance shares, all in-flight work."""
    holders = [own] if shared_queue() else None
    await recovery.release(holders)  # first: leftovers removed below may be candidates
    interrupted = await recovery.interrupt(holders, INTERRUPTED_MESSAGE)
    # Build contexts of this instance's deployments that will never finish (nothing runs yet).
    await asyncio.to_thread(shutil.rmtree, builds_dir, True)
    await asyncio.to_thread(builds_dir.mkdir, parents=True, exist_ok=True)
    try:
        await _remove_orphans(recovery.engine, recovery.drain_seconds)
    except FogbankError as exc:
        log.error("could not clean up containers at start: %s", exc.message)
    await recovery.clean_up(interrupted)


async def _remove_orphans(engine: Engine, drain_seconds: float) -> None:
    active = {d.container_id for d in await Deployment.filter(is_active=True) if d.container_id}
    # Deployments another instance runs now: their candidates are not leftovers.
    running = {
        int(str(found))
        for found in await Deployment.filter(status__in=IN_FLIGHT).values_list("id", flat=True)
    }
    # Only apps of this database: another fogbank (or a test run) on the host is left alone.
    apps = {app.name: app for app in await App.all()}
    leftovers = []
    for container in await engine.containers({}):
        app = apps.get(container.labels.get(APP_LABEL, ""))
        # A Swarm task belongs to its service, which Swarm keeps running (deploy/swarm_swap.py).
        if app is None or SWARM_TASK_LABEL in container.labels:
            continue
        if container.id in active:
            if not container.running and not app.container_stopped:
                log.warning("restarting active container %s", container.name)
                await engine.start(container.id)
            continue
        if deployment_of(container.labels) in running:
            continue
        leftovers.append(container)
    if leftovers:
        # The edge already routes to the active containers again; a candidate that was
        # serving when the controller died gets the drain period for requests in flight.
        await asyncio.sleep(drain_seconds)
    for container in leftovers:
        log.warning("removing leftover container %s", container.name)
        await engine.remove_container(container.id)
