"""Drift self-heal, the GitOps half of the reconciler: every active deployment must have its
container, running its image, reachable through the edge (on Swarm: its service as fogbank
specifies it, upkeep/swarm_drift.py). What differs is repaired and written to the app's event
log. Sync and health are reported separately, as Argo CD does."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from enum import StrEnum

from controller.build.image import ImageBuilder
from controller.build.pull import ImagePuller
from controller.deploy.inflight import RunRegistry
from controller.deploy.replacer import Replacer
from controller.deploy.swarm_swap import SwarmSwapper, not_on_swarm
from controller.edge.switchboard import Switchboard
from controller.errors import FogbankError
from controller.events.app_events import AppEvents
from controller.notify.notices import Notices
from controller.runtime.engine import Engine
from controller.runtime.health import probe_http, probe_tcp
from controller.runtime.launch import health_path, launch_healthy
from controller.runtime.state import ContainerState
from controller.store.models import IN_FLIGHT, App, Deployment, EnvVar
from controller.store.timefmt import iso_now
from controller.telemetry.logcontext import app_context
from controller.telemetry.metrics import Metrics
from controller.upkeep.swarm_drift import ServiceDrift

log = logging.getLogger(__name__)

PROBE_TIMEOUT_SECONDS = 2.0


class Sync(StrEnum):
    SYNCED = "synced"
    DRIFTED = "drifted"
    REPAIRING = "repairing"


class Health(StrEnum):
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    UNKNOWN = "unknown"


@dataclass
class AppState:
    sync: Sync = Sync.SYNCED
    health: Health = Health.UNKNOWN
    detail: str = ""
    checked_at: str | None = None


@dataclass
class DriftRepair:
    engine: Engine
    builder: ImageBuilder
    puller: ImagePuller
    switchboard: Switchboard
    runs: RunRegistry
    events: AppEvents
    notices: Notices
    metrics: Metrics
    health_interval_seconds: float = 1.0
    # The runtime backend: on Swarm, each app's service is compared instead of a container.
    replacer: Replacer | None = None
    states: dict[int, AppState] = field(default_factory=dict)
    _holds: dict[int, asyncio.Lock] = field(default_factory=dict)
    _services: ServiceDrift | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if isinstance(self.replacer, SwarmSwapper):
            parts = (self.engine, self.builder, self.runs, self.events)
            self._services = ServiceDrift(self.replacer, *parts)

    def state(self, app_id: int) -> AppState:
        return self.states.get(app_id, AppState())

    def hold(self, app_id: int) -> asyncio.Lock:
        """Held while the app is checked or repaired; whoever else changes its containers
        outside a deployment (deleting the app) holds it too, so a repair never recreates a
        container that is being removed."""
        return self._holds.setdefault(app_id, asyncio.Lock())

    def forget(self, app_id: int) -> None:
        """The app is gone: drop what was kept about it."""
        self.states.pop(app_id, None)
        self._holds.pop(app_id, None)
        if self._services is not None:
            self._services.forget(app_id)

    async def reconcile_all(self) -> None:
        """One pass over every app; the edge config is re-applied if it was lost."""
        routes_changed = False
        for app in await App.all():
            try:
                with app_context(app.name):
                    hold = self.hold(app.id)
                    waited = hold.locked()
                    async with hold:
                        # Only after a wait can the app have been deleted meanwhile.
                        if not waited or await App.exists(id=app.id):
                            routes_changed |= await self.reconcile(app)
            except FogbankError as exc:
                self.metrics.drift_repairs.inc("failed")
                self._set(app, Sync.DRIFTED, Health.UNKNOWN, f"repair failed: {exc.message}")
                self.events.record(app.name, f"repair failed: {exc.message}")
        try:
            if routes_changed or not await self.switchboard.in_sync():
                await self.switchboard.refresh()
                self.events.record("_edge", "edge routes were missing or stale: re-applied")
        except FogbankError as exc:
            log.error("edge check failed: %s", exc.message)

    async def reconcile(self, app: App) -> bool:
        """Check and repair one app; True when its upstream port changed."""
        if self.runs.for_app(app.id) is not None:
            return False  # a deployment is running: it owns the app's containers right now
        if await Deployment.filter(app_id=app.id, status__in=IN_FLIGHT).exists():
            return False  # ... on another instance sharing the database
        active = await Deployment.filter(app_id=app.id, is_active=True).first()
        if self._services is not None:
            await self._reconcile_service(self._services, app, active)
            return False  # the edge follows the service's tasks (SwarmSwapper.follow)
        if active is None or not active.container_id:
            self._set(app, Sync.SYNCED, Health.UNKNOWN, "nothing deployed")
            return False
        state = await self.engine.inspect(active.container_id)
        problem = self._problem(app, active, state)
        if problem is None:
            assert state is not None
            self._set(app, Sync.SYNCED, await self._probe(app, state), "")
            return False
        self._repairing(app, problem)
        old_port = active.host_port
        state = await self._repair(app, active, state)
        await self._repaired(app, problem, await self._probe(app, state))
        return state.host_port != old_port

    async def _reconcile_service(
        self, services: ServiceDrift, app: App, active: Deployment | None
    ) -> None:
        """Swarm: the app's live service against fogbank's spec for its active deployment."""
        if active is None:
            self._set(app, Sync.SYNCED, Health.UNKNOWN, "nothing deployed")
            return
        reason = not_on_swarm(app)
        if reason is not None:  # no service of its own to compare: its deployments fail
            self._set(app, Sync.SYNCED, Health.UNKNOWN, reason)
            return
        problem = await services.problem(app, active)
        if problem is None:
            self._set(app, Sync.SYNCED, await self._service_health(services, app), "")
            return
        self._repairing(app, problem)
        await services.repair(app, active)
        await self._repaired(app, problem, await self._service_health(services, app))

    async def _service_health(self, services: ServiceDrift, app: App) -> Health:
        healthy = await services.serving(app, PROBE_TIMEOUT_SECONDS)
        return Health.HEALTHY if healthy else Health.UNHEALTHY

    def _repairing(self, app: App, problem: str) -> None:
        self._set(app, Sync.REPAIRING, Health.UNKNOWN, problem)
        self.events.record(app.name, f"drift: {problem}; repairing")

    async def _repaired(self, app: App, problem: str, health: Health) -> None:
        self._set(app, Sync.SYNCED, health, f"repaired: {problem}")
        self.events.record(app.name, f"repaired: {problem}")
        self.metrics.drift_repairs.inc("repaired")
        await self.notices.drift_repaired(app.id, problem)

    @staticmethod
    def _problem(app: App, active: Deployment, state: ContainerState | None) -> str | None:
        if state is None:
            return f"container of deployment #{active.deployment_number} is missing"
        if not state.running and not app.container_stopped:
            return f"container of deployment #{active.deployment_number} is {state.status}"
        if state.running and state.host_port != active.host_port:
            return (
                f"container now listens on 127.0.0.1:{state.host_port}, edge has {active.host_port}"
            )
        return None

    async def _repair(
        self, app: App, active: Deployment, state: ContainerState | None
    ) -> ContainerState:
        if state is not None and not state.running:
            await self.engine.start(active.container_id)
            state = await self.engine.inspect(active.container_id)
        if state is None:
            state = await self._recreate(app, active)
        if state.host_port != active.host_port:
            active.host_port = state.host_port
            await active.save(update_fields=["host_port", "updated_at"])
        return state

    async def _recreate(self, app: App, active: Deployment) -> ContainerState:
        envs = await EnvVar.filter(app_id=app.id)
        if not await self.engine.image_exists(active.image_tag):
            again = "pulling it again" if app.image else "rebuilding"
            self.events.record(app.name, f"image {active.image_tag} is missing: {again}")

            async def ignore(*_: object) -> None:
                return None

            if app.image:  # exactly the digest it ran
                await self.puller.fetch(app, active, active.image_tag, ignore, ignore)
            else:
                await self.builder.rebuild(app, envs, active, ignore)
        await self.engine.remove_container(active.container_id)  # a dead leftover of the name

        async def quiet(_: int, __: str) -> None:
            return None

        return await launch_healthy(
            self.engine,
            app,
            envs,
            active,
            self.builder.settings.runtime,
            interval_seconds=self.health_interval_seconds,
            on_attempt=quiet,
        )

    async def _probe(self, app: App, state: ContainerState) -> Health:
        if not state.running or state.host_port is None:
            return Health.UNKNOWN if app.container_stopped else Health.UNHEALTHY
        path = health_path(app)
        if path is not None:
            reason = await probe_http(state.host_port, path, PROBE_TIMEOUT_SECONDS)
        else:
            reason = await probe_tcp(state.host_port, PROBE_TIMEOUT_SECONDS)
        return Health.HEALTHY if reason is None else Health.UNHEALTHY

    def _set(self, app: App, sync: Sync, health: Health, detail: str) -> None:
        self.states[app.id] = AppState(sync, health, detail, iso_now())
