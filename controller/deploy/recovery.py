"""Start-up recovery: nothing stays non-terminal across a restart. What was in flight is failed
("interrupted"), re-queued when it was its app's newest request, its half-started containers
and build leftovers removed, and every active container runs again (stop-first may have
stopped it)."""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path

from controller.deploy.progress import status_data
from controller.deploy.queue import fail_interrupted, requeue_if_newest
from controller.errors import FogbankError
from controller.events.bus import Event, EventBus
from controller.events.deployment_logs import DeploymentLogs
from controller.notify.notices import Notices
from controller.runtime.engine import Engine
from controller.runtime.images import discard_image
from controller.runtime.naming import APP_LABEL, app_labels
from controller.runtime.swarm.spec import SWARM_TASK_LABEL
from controller.store.models import App, Deployment

log = logging.getLogger(__name__)


async def recover(
    engine: Engine,
    logs: DeploymentLogs,
    bus: EventBus,
    *,
    builds_dir: Path,
    drain_seconds: float,
    notices: Notices,
) -> None:
    """Run once at start, before any worker claims."""
    interrupted = await fail_interrupted()
    for deployment in interrupted:
        log.warning("deployment %s was interrupted by a restart", deployment.id)
        logs.append(deployment.id, "ERROR: interrupted: controller restarted")
        bus.publish(deployment.id, Event("status", status_data(deployment)))
        await notices.finished(deployment)
        requeued = await requeue_if_newest(deployment)
        if requeued is not None:
            logs.append(deployment.id, f"Re-queued as deployment #{requeued.deployment_number}")
    # Build contexts of deployments that will never finish (nothing runs yet).
    await asyncio.to_thread(shutil.rmtree, builds_dir, True)
    await asyncio.to_thread(builds_dir.mkdir, parents=True, exist_ok=True)
    try:
        await _remove_orphans(engine, drain_seconds)
        for deployment in interrupted:
            await discard_image(engine, deployment)
            app = await App.get_or_none(id=deployment.app_id)
            if app is not None:  # steps of its cut-short build
                await engine.prune_dangling(app_labels(app.name))
    except FogbankError as exc:
        log.error("could not clean up containers at start: %s", exc.message)


async def _remove_orphans(engine: Engine, drain_seconds: float) -> None:
    active = {d.container_id for d in await Deployment.filter(is_active=True) if d.container_id}
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
        leftovers.append(container)
    if leftovers:
        # The edge already routes to the active containers again; a candidate that was
        # serving when the controller died gets the drain period for requests in flight.
        await asyncio.sleep(drain_seconds)
    for container in leftovers:
        log.warning("removing leftover container %s", container.name)
        await engine.remove_container(container.id)
