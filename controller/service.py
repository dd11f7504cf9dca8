"""The controller's one face. Built once per process, it wires every part, owns the start and
stop order (database, edge, Docker, recovery, workers, the outbox's courier, scheduled upkeep),
and is the only way in for the API, the webhook intake and polling. `request_deployments` is the
one function that requests a deployment, whatever the trigger; `reporting`: where results are
reported; `metrics`: /metrics; `overview`: the dashboard's pages; `runtime_logs`: what running
apps print, followed across swaps; `sources`: templates, database links and registry logins."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Sequence
from contextlib import AbstractContextManager
from typing import Any

from controller.apps import containers, lifecycle
from controller.apps.containers import Action
from controller.apps.overview import Overview
from controller.apps.runtime_logs import RuntimeLogs
from controller.apps.sources import Sources
from controller.build.image import ImageBuilder
from controller.build.pull import ImagePuller
from controller.cluster.member import Member
from controller.cluster.roster import InstanceView, roster
from controller.config import Settings
from controller.deploy.announce import announce_requested
from controller.deploy.pipeline import Pipeline
from controller.deploy.recovery import Recovery, recover
from controller.deploy.replacer import make_replacer
from controller.deploy.requests import DeploymentRequest, Outcome, Recorder, RequestDoor
from controller.deploy.workers import WorkerPool
from controller.edge.client import Edge
from controller.edge.layout import EdgeLayout, api_address
from controller.edge.switchboard import Switchboard
from controller.errors import EdgeError, FogbankError
from controller.events.app_events import AppEvents
from controller.events.bus import Subscription
from controller.events.sharing import EventSharing, Line
from controller.notify import outbox
from controller.notify.courier import Courier
from controller.notify.manage import Reporting
from controller.notify.notices import Notices
from controller.runtime.engine import Engine
from controller.source.mirror import GitSync
from controller.store import datadir
from controller.store.checkpoint import sqlite_path
from controller.store.db import close_database, open_database
from controller.store.models import App, Deployment, Domain, Status
from controller.telemetry.metrics import Metrics
from controller.upkeep.drift import AppState, DriftRepair
from controller.upkeep.polling import Poller
from controller.upkeep.retention import prune_all
from controller.upkeep.scheduler import Upkeep

log = logging.getLogger(__name__)

COURIER_STOP_SECONDS = 5.0  # a send in progress may finish; the rest stays in the outbox


class Controller:
    def __init__(self, settings: Settings, *, engine: Engine | None = None) -> None:
        """Wire the parts; nothing touches the database, Docker or Caddy until start()."""
        self.settings = settings
        self._owns_engine = engine is None
        self.engine = engine or Engine(**settings.runtime.log_cap())
        logs_dir, max_log_bytes = settings.logs_dir / "deployments", settings.build.max_log_bytes
        self.sharing = EventSharing(settings.database_url, logs_dir, max_log_bytes)
        self.bus, self.logs = self.sharing.bus, self.sharing.logs
        self.metrics = Metrics()
        self.overview = Overview()
        self.app_events = AppEvents(settings.logs_dir / "apps")
        self.notices = Notices(settings)
        self.courier = Courier(settings, self.metrics, self.app_events)
        self.notices.wake = self.courier.wake
        self.reporting = Reporting(self.notices, self.courier)
        self.runtime_logs = RuntimeLogs(self.engine)
        self.git = GitSync(
            settings.git_dir,
            allow_local=settings.git.allow_local,
            timeout_seconds=settings.git.timeout_seconds,
            max_context_bytes=settings.build.max_context_bytes,
            max_files=settings.build.max_files,
        )
        self.sources = Sources.load(settings.templates.catalogue_file, settings.runtime.backend)
        self.edge = Edge(EdgeLayout.of(settings))
        name, address = settings.instance_name, api_address(settings)
        self.switchboard = Switchboard(self.edge, self.metrics, instance=name, api_address=address)
        builder = ImageBuilder(settings, self.engine, self.git)
        self.replacer = make_replacer(settings, self.engine, self.switchboard)
        puller = ImagePuller(settings, self.engine)
        parts = (self.git, self.logs, self.bus, self.replacer, builder, self.notices)
        pipeline = Pipeline(settings, self.engine, *parts, self.metrics, puller)
        self.workers = WorkerPool(
            pipeline,
            self.logs,
            self.bus,
            workers=settings.controller.workers,
            shutdown_timeout_seconds=settings.controller.shutdown_timeout_seconds,
            instance=name,
        )
        cleanup = (self.switchboard.forget, settings.edge.drain_seconds, self.workers.wake)
        self.recovery = Recovery(self.engine, self.logs, self.bus, self.notices, *cleanup)
        self.member = Member(name, settings.cluster, self.recovery.take_over, address)
        self._door = RequestDoor(self.git, self.workers, self.notices, self.metrics)
        seen_by = (self.switchboard, self.workers.runs, self.app_events, self.notices, self.metrics)
        interval = settings.deploy.health_interval_seconds
        self.drift = DriftRepair(self.engine, builder, puller, *seen_by, interval, self.replacer)
        self._poller = Poller(self.git, self.request_deployments, self.engine)
        self.upkeep = Upkeep(
            drift=self._reconcile,
            drift_interval_seconds=settings.controller.reconcile_interval_seconds,
            retention=self.prune,
            poller=self._poller,
            sqlite_file=sqlite_path(settings.database_url),
            leads=self.member.leads,
            logs=self.logs,
        )

    # Lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Database, edge (with the routes the database holds), Docker, recovery, workers,
        upkeep. Edge and Docker failures are logged, not fatal: the API stays up."""
        settings = self.settings
        sealer = await asyncio.to_thread(datadir.prepare, settings)
        settings.git_dir.mkdir(parents=True, exist_ok=True)
        await open_database(settings.database_url, sealer)
        self.sharing.start()
        await self.notices.reload()
        try:
            await self.edge.start()
        except EdgeError as exc:
            log.error("edge: %s; app routes are down until it is back", exc.message)
        await self.member.join()  # its API address is one the edge balances over
        self.member.start()  # renewing from here on: recovery may outlast a short lease
        try:
            await self.engine.ping()
        except FogbankError as exc:
            log.error("%s; deployments will fail until it is back", exc.message)
        # Recovery also applies the edge's routes, without this instance's earlier candidates.
        await recover(self.recovery, builds_dir=settings.builds_dir, own=self.member.name)
        await self.replacer.refollow()
        self.workers.start()
        self.courier.start()
        self.upkeep.start()

    async def drain(self) -> None:
        """SIGTERM: take no more work; running deployments get the shutdown bound to finish
        (the rest are marked interrupted and re-queued)."""
        self.upkeep.stop()
        await self._door.close()
        await self.workers.stop()
        await self.member.stop()  # after the workers: their drain is still under our lease
        # After the workers: their last notices are in the outbox; what is not sent now is
        # sent after the next start.
        await self.courier.stop(COURIER_STOP_SECONDS)
        await self.sharing.stop(COURIER_STOP_SECONDS)

    async def stop(self) -> None:
        """Everything drain() does, then lets go of the edge (it keeps serving) and closes."""
        try:
            await self.drain()
        finally:
            try:
                await self.edge.stop()
                await self.replacer.close()
                if self._owns_engine:
                    await self.engine.close()
            finally:
                await close_database()

    async def _reconcile(self) -> None:
        """Drift repair's round, then the edge onto the Swarm tasks running now."""
        await self.drift.reconcile_all()
        await self.replacer.refollow()

    # The one door ------------------------------------------------------------------------

    async def request_deployments(
        self, wanted: Sequence[DeploymentRequest], *, record: Recorder | None = None
    ) -> list[Outcome]:
        """Request deployments (manual, rollback, webhook, poll): see controller/deploy/requests.
        Each app's watchers hear of every deployment this created (the dashboard's live list)."""
        outcomes = await self._door.request(wanted, record=record)
        announce_requested(self.bus, wanted, outcomes)
        return outcomes

    async def stop_deployment(self, deployment_id: int, reason: str) -> Deployment:
        return await self.workers.stop_deployment(deployment_id, reason)

    # Apps --------------------------------------------------------------------------------

    async def create_app(self, fields: dict[str, Any]) -> App:
        self.sources.check_backend(fields)
        app = await lifecycle.create_app(fields, self.sources.catalogue)
        await self.notices.reload()  # its repository may be on GitHub
        return app

    async def update_app(self, app: App, fields: dict[str, Any]) -> App:
        self.sources.check_backend(fields)
        updated = await lifecycle.update_app(app, fields, self.sources.catalogue)
        if "public_port" in fields:
            await self.switchboard.refresh()
        await self.notices.reload()
        return updated

    async def delete_app(self, app: App, *, delete_volumes: bool = False) -> list[str]:
        """Delete the app and what it owns; the names of its volumes (kept, or removed)."""
        async with self.drift.hold(app.id):
            names = await lifecycle.delete_app(
                app, self.engine, self.git, self.logs, delete_volumes=delete_volumes
            )
        self.drift.forget(app.id)
        await self.replacer.forget(app)
        self.app_events.delete(app.name)
        await self.notices.reload()
        await self.switchboard.refresh()
        return names

    async def rotate_deploy_key(self, app: App) -> App:
        return await lifecycle.rotate_deploy_key(app)

    async def instances(self) -> list[InstanceView]:
        return await roster(self.member.name)  # those sharing the database, this one marked

    def app_state(self, app_id: int) -> AppState:
        """What drift repair last saw of the app: sync and health."""
        return self.drift.state(app_id)

    def app_event_log(self, app_name: str, limit: int) -> list[str]:
        return self.app_events.recent(app_name, limit)

    async def routes_changed(self) -> str | None:
        """Re-apply the edge routes (after a domain change); the reason when the edge did not
        take them (the change is saved and reaches the edge with its next update)."""
        try:
            # Through the switchboard: it keeps any candidate a deployment is switching to.
            await self.switchboard.refresh()
        except EdgeError as exc:
            log.warning("routes changed but the edge was not updated: %s", exc.message)
            return exc.message
        return None

    async def add_domain(self, app: App, hostname: str) -> tuple[Domain, str | None]:
        domain = await lifecycle.add_domain(app, hostname)
        return domain, await self.routes_changed()

    async def remove_domain(self, domain: Domain) -> str | None:
        await domain.delete()
        return await self.routes_changed()

    async def control_container(self, app: App, action: Action) -> dict[str, Any]:
        return await containers.control_container(
            app, action, self.engine, self.switchboard, self.settings.deploy.stop_timeout_seconds
        )

    async def container_status(self, app: App) -> dict[str, Any]:
        return await containers.container_status(app, self.engine)

    # Upkeep ------------------------------------------------------------------------------

    async def poll(self, app_id: int) -> Outcome | None:
        """Ask the app's remote for its branch head now, as its poll job does; the request it
        made, if the head was new."""
        return await self._poller.poll(app_id)

    async def prune(self) -> None:
        """Retention: images, history, webhook deliveries and notices beyond what settings keep."""
        await prune_all(self.engine, self.logs, self.settings)

    async def metrics_text(self) -> bytes:
        """Every series in Prometheus' text format, the gauges (queue, outbox, sockets) read now."""
        metrics = self.metrics
        metrics.queue_depth.set(await Deployment.filter(status=Status.PENDING).count())
        metrics.outbox_backlog.replace(await outbox.backlog())
        metrics.websocket_watchers.set(self.bus.watchers())
        return metrics.exposition()

    # Logs and events of deployments and of running apps -----------------------------------

    def watch(self, deployment_id: int) -> AbstractContextManager[Subscription]:
        """Subscribe to a deployment's status/log/error events (a bounded queue)."""
        return self.bus.subscribe(deployment_id)

    def log_chunks(self, deployment_id: int, after: int = 0) -> AsyncGenerator[list[Line], None]:
        return self.sharing.chunks(deployment_id, after)

    async def log_text(self, deployment_id: int) -> str:
        return await self.sharing.text(deployment_id)

    async def log_tail(self, deployment_id: int, lines: int) -> tuple[str, int]:
        return await self.sharing.tail(deployment_id, lines)

    def close_watchers(self, message: str) -> int:
        """Tell every watcher (of deployments and of app logs) the server is going away."""
        return self.bus.close_all(message) + self.runtime_logs.watchers.close_all(message)

    async def watchers_gone(self) -> None:
        await self.bus.wait_idle()
        await self.runtime_logs.watchers.wait_idle()
