"""Drift on Docker Swarm: a deployed web app's service must hold the spec fogbank gives it for
the active deployment (image pinned by digest, replicas, health check, update and rollback
policy, resources, restart policy, labels, env, published ports). What differs is put back
with that spec, a removed service is created again; DriftRepair records both."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from controller.build.image import ImageBuilder
from controller.deploy.inflight import RunRegistry
from controller.deploy.swarm_swap import POLL_SECONDS, SLACK_SECONDS, SwarmSwapper
from controller.errors import EngineError
from controller.events.app_events import AppEvents
from controller.runtime.engine import Engine
from controller.runtime.health import probe_http, probe_tcp
from controller.runtime.launch import health_path
from controller.runtime.naming import image_tag
from controller.runtime.swarm.client import PAUSED, ROLLED_BACK, UPDATED, ServiceState
from controller.runtime.swarm.client import service_state as state_of
from controller.runtime.swarm.compare import differences, engine_spec, settled
from controller.runtime.swarm.spec import registry_ref, service_name
from controller.store.models import IN_FLIGHT, App, Deployment, EnvVar


@dataclass
class ServiceDrift:
    swapper: SwarmSwapper
    engine: Engine
    builder: ImageBuilder
    runs: RunRegistry
    events: AppEvents
    # app id -> (deployment id, its image pinned by digest): the registry is asked once.
    _pinned: dict[int, tuple[int, str]] = field(default_factory=dict)

    async def problem(self, app: App, active: Deployment) -> str | None:
        """What of the app's live service differs from fogbank's spec for `active` (None:
        nothing). Field names only: env values may be secrets."""
        name, number = service_name(app), active.deployment_number
        live = await self.swapper.swarm.inspect(name)
        if live is None:
            return f"service {name} of deployment #{number} is missing"
        image = await self._image(app, active)
        if image is None:
            return f"the image of deployment #{number} is missing from the registry"
        envs = await EnvVar.filter(app_id=app.id)
        wanted = engine_spec(self.swapper.spec_for(app, envs, active, image))
        differ = differences(wanted, live[0].get("Spec") or {})
        if differ:
            return f"service {name} differs from deployment #{number} in {', '.join(differ)}"
        return None

    async def repair(self, app: App, active: Deployment) -> None:
        """Fogbank's spec again (the service created if it is gone), rolled out by Swarm as a
        deployment is (start-first, health-gated), the edge following the healthy tasks."""
        envs = await EnvVar.filter(app_id=app.id)
        image = await self._image(app, active) or await self._push_again(app, active, envs)
        await self.swapper.swarm.deploy(self.swapper.spec_for(app, envs, active, image))
        state = await self._settle(app)
        if state is not None and state.task_ports and active.host_port not in state.task_ports:
            active.host_port = state.task_ports[0]  # what the edge falls back to after a restart
            await active.save(update_fields=["host_port", "updated_at"])

    async def serving(self, app: App, probe_timeout_seconds: float) -> bool:
        """Every replica runs healthy and answers the app's health probe on its task port."""
        state = await self.swapper.swarm.service(service_name(app))
        replicas = self.swapper.settings.runtime.replicas
        if state is None or len(state.task_ports) < replicas:
            return False
        path = health_path(app)
        for port in state.task_ports:
            if path is not None:
                reason = await probe_http(port, path, probe_timeout_seconds)
            else:
                reason = await probe_tcp(port, probe_timeout_seconds)
            if reason is not None:
                return False
        return True

    def forget(self, app_id: int) -> None:
        self._pinned.pop(app_id, None)

    async def _settle(self, app: App) -> ServiceState | None:
        """Wait until every task runs the spec just given, as many as its replicas; None when a
        deployment of the app began meanwhile (it owns the service from there)."""
        name = service_name(app)
        window = app.health_timeout_seconds + max(1, app.stabilization_seconds)
        replicas = self.swapper.settings.runtime.replicas
        deadline = time.monotonic() + replicas * window + SLACK_SECONDS
        while True:
            if self.runs.for_app(app.id) is not None or await _in_flight(app):
                return None
            live = await self.swapper.swarm.inspect(name)
            if live is None:
                raise EngineError(f"service {name} disappeared during its repair")
            attrs, tasks = live
            state = state_of(attrs, tasks)
            await self.swapper.follow(app, state)
            if state.update_state in ROLLED_BACK or state.update_state == PAUSED:
                raise EngineError(
                    f"Swarm rolled the repair of service {name} back: "
                    f"{state.update_message or 'a new task failed'}"
                )
            if state.update_state in ("", UPDATED) and settled(attrs, tasks):
                return state
            if time.monotonic() > deadline:
                raise EngineError(f"service {name} did not settle after its repair")
            await asyncio.sleep(POLL_SECONDS)

    async def _image(self, app: App, active: Deployment) -> str | None:
        """The active deployment's image in the registry, pinned by the digest the registry
        holds for its tag (None: the registry has no such tag)."""
        known = self._pinned.get(app.id)
        if known is not None and known[0] == active.id:
            return known[1]
        target = registry_ref(self.swapper.settings.runtime.registry, image_tag(app, active))
        digest = await self.swapper.swarm.registry_digest(target)
        if digest is None:
            return None
        return self._remember(app, active, f"{target}@{digest}")

    async def _push_again(self, app: App, active: Deployment, envs: list[EnvVar]) -> str:
        local = image_tag(app, active)
        if not await self.engine.image_exists(local):
            self.events.record(app.name, f"image {local} is missing: rebuilding")

            async def ignore(_: str) -> None:
                return None

            await self.builder.rebuild(app, envs, active, ignore)
        self.events.record(app.name, f"pushing {local} to the registry again")
        target = registry_ref(self.swapper.settings.runtime.registry, local)
        pinned = await self.swapper.swarm.push(local, target)
        await self.swapper.swarm.untag(target)  # as a deployment does: one local tag
        return self._remember(app, active, pinned)

    def _remember(self, app: App, active: Deployment, pinned: str) -> str:
        self._pinned[app.id] = (active.id, pinned)
        return pinned


async def _in_flight(app: App) -> bool:
    """A deployment of the app is running, on this instance or another sharing the database."""
    return await Deployment.filter(app_id=app.id, status__in=IN_FLIGHT).exists()
