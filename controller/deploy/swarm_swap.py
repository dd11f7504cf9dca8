"""Replacing an app's running version on Docker Swarm: the image goes to the registry, the
app's service is created or updated, and Swarm does the swap itself (start-first or
stop-first, a health-gated task at a time, rolled back by Swarm when a new task fails). The
stages keep their meaning: starting_new until every new task passed its health check,
stopping_old until no task of the previous version runs."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from controller.config import Settings
from controller.deploy.inflight import RunControl
from controller.deploy.progress import STOP_FIRST_STOPPING_OLD, Tracker
from controller.deploy.swap import DeployFailed
from controller.edge.switchboard import Switchboard
from controller.errors import FogbankError
from controller.runtime.naming import image_tag
from controller.runtime.swarm.client import (
    PAUSED,
    ROLLED_BACK,
    ROLLING_BACK,
    UPDATED,
    ServiceState,
    SwarmClient,
)
from controller.runtime.swarm.spec import registry_ref, service_name, service_spec
from controller.store.models import App, AppType, Deployment, EnvVar, Stage

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5
# Beyond the health checks and monitor windows Swarm itself waits for: scheduling, pulls.
SLACK_SECONDS = 60.0


def not_on_swarm(app: App) -> str | None:
    """Why the app cannot run as a Swarm service here (None: it can)."""
    if app.app_type is not AppType.WEB:
        # Their public port and data volume have no Swarm form here yet: refused, not lost.
        return (
            f"{app.app_type.value} apps do not run on Swarm yet (runtime.backend = swarm "
            "serves web apps only)"
        )
    if app.image or app.volumes or app.linked_database_id is not None:
        # Created before the backend was Swarm: it has no image pulls, volumes or networks.
        return (
            "image apps, volumes and database links do not run on Swarm yet "
            "(runtime.backend = swarm runs the images fogbank builds, without volumes)"
        )
    return None


@dataclass
class SwarmSwapper:
    settings: Settings
    swarm: SwarmClient
    switchboard: Switchboard
    _busy: set[int] = field(default_factory=set)  # apps with a deployment in the service now

    async def activated(self, app_id: int) -> None:
        """The edge stays on the tasks it follows (no single active port to fall back to)."""

    async def refollow(self) -> None:
        """Swarm replaces a task that dies, on a new port: point the edge at the tasks of each
        deployed web app as they run now (after a controller restart too)."""
        deployed = Deployment.filter(is_active=True, app__app_type=AppType.WEB)
        for active in await deployed.prefetch_related("app"):
            app: App = active.app
            if app.id in self._busy:
                continue  # its deployment's own loop follows the tasks
            try:
                state = await self.swarm.service(service_name(app))
                if state is not None:
                    await self._follow(app, state, None)
            except FogbankError as exc:
                log.warning("edge: cannot follow the tasks of %s: %s", app.name, exc.message)

    def spec_for(
        self, app: App, envs: list[EnvVar], deployment: Deployment, image: str
    ) -> dict[str, Any]:
        """The service spec of the app running `deployment` from `image` (pinned by digest)."""
        deploy = self.settings.deploy
        return service_spec(
            app,
            envs,
            deployment,
            image,
            self.settings.runtime,
            deploy.health_interval_seconds,
            deploy.stop_timeout_seconds,
        )

    async def follow(self, app: App, state: ServiceState) -> None:
        """The edge onto the app's tasks running healthy in `state` (drift repair's rollout)."""
        await self._follow(app, state, None)

    async def forget(self, app: App) -> None:
        """The deleted app's service goes, and with it its tasks (Swarm would restart them)."""
        await self.swarm.remove(service_name(app))
        await self.switchboard.release(app.id)

    async def close(self) -> None:
        await self.swarm.close()

    async def start_first(
        self,
        app: App,
        envs: list[EnvVar],
        deployment: Deployment,
        previous: Deployment | None,
        tracker: Tracker,
        control: RunControl,
    ) -> None:
        await tracker.enter(Stage.STARTING_NEW, "Pushing the image to the registry...")
        image = await self._push(app, deployment, tracker)
        if not control.try_switch():
            await asyncio.sleep(0)  # a stop was requested: its cancellation lands here
        await self._roll_out(app, envs, deployment, image, tracker)
        await tracker.enter(Stage.STOPPING_OLD, "Swarm stopped the previous tasks")

    async def stop_first(
        self,
        app: App,
        envs: list[EnvVar],
        deployment: Deployment,
        previous: Deployment | None,
        tracker: Tracker,
    ) -> None:
        """Swarm stops each old task before starting its replacement (update order)."""
        await tracker.enter(
            Stage.STOPPING_OLD, "Pushing the image to the registry...", band=STOP_FIRST_STOPPING_OLD
        )
        image = await self._push(app, deployment, tracker)
        await tracker.enter(Stage.STARTING_NEW, "Updating the service (stop-first)...")
        await self._roll_out(app, envs, deployment, image, tracker)

    async def _push(self, app: App, deployment: Deployment, tracker: Tracker) -> str:
        reason = not_on_swarm(app)
        if reason is not None:
            raise DeployFailed(reason)
        local = image_tag(app, deployment)
        target = registry_ref(self.settings.runtime.registry, local)
        pinned = await self.swarm.push(local, target)
        await self.swarm.untag(target)  # the local copy keeps one tag: retention stays as is
        tracker.log(f"Pushed {pinned}")
        return pinned

    async def _roll_out(
        self, app: App, envs: list[EnvVar], deployment: Deployment, image: str, tracker: Tracker
    ) -> None:
        name = service_name(app)
        existed = await self.swarm.service(name) is not None
        spec = self.spec_for(app, envs, deployment, image)
        self._busy.add(app.id)
        try:
            await self.swarm.deploy(spec)
            tracker.log(f"Service {name} {'updated' if existed else 'created'} with {image}")
            await self._await_service(app, deployment, name, existed, tracker)
        finally:
            self._busy.discard(app.id)

    async def _await_service(
        self, app: App, deployment: Deployment, name: str, existed: bool, tracker: Tracker
    ) -> None:
        """Swarm's update to its end; undone (or left to Swarm's rollback) when it fails."""
        try:
            state = await self._converge(app, name, existed, tracker)
        except BaseException:
            await asyncio.shield(self._undo(app, name, existed, tracker))
            raise
        deployment.host_port = state.task_ports[0] if state.task_ports else None
        await deployment.save(update_fields=["host_port", "updated_at"])
        await tracker.finish_stage()

    async def _converge(self, app: App, name: str, existed: bool, tracker: Tracker) -> ServiceState:
        """Wait until every task of the new image runs healthy and Swarm calls the update
        done, the edge following the healthy tasks meanwhile; a rollback by Swarm, or no end
        within the bound, fails the deployment."""
        replicas = self.settings.runtime.replicas
        window = app.health_timeout_seconds + max(1, app.stabilization_seconds)
        deadline = time.monotonic() + replicas * window + SLACK_SECONDS
        seen = ""
        while True:
            state = await self.swarm.service(name)
            if state is None:
                raise DeployFailed(f"service {name} disappeared during the update")
            await self._follow(app, state, tracker)
            progress = f"{state.update_state or 'creating'}: {state.running}/{replicas} new tasks"
            if progress != seen:
                tracker.log(f"Swarm {progress} running")
                seen = progress
            # Reported once Swarm has finished: the previous version serves again by then.
            if state.update_state in ROLLED_BACK or state.update_state == PAUSED:
                raise DeployFailed(
                    f"Swarm rolled the update back ({state.update_state}): "
                    f"{state.update_message or 'a new task failed'}"
                )
            done = state.update_state == UPDATED if existed else True
            if done and state.running >= replicas and len(state.task_ports) == replicas:
                return state
            if time.monotonic() > deadline:
                raise DeployFailed(f"service {name} did not converge: {progress}")
            await asyncio.sleep(POLL_SECONDS)

    async def _follow(self, app: App, state: ServiceState, tracker: Tracker | None) -> None:
        """Point the edge at the tasks running healthy now (old and new alike): a task Swarm
        adds takes traffic once it passed its health check, one it stops is dropped."""
        if app.app_type is not AppType.WEB or not state.task_ports:
            return
        # The edge keeps following an app's tasks (not one host port the database could name).
        if await self.switchboard.pointed(app.id) == state.task_ports:
            return
        await asyncio.shield(self.switchboard.point(app.id, *state.task_ports))
        ports = ", ".join(str(port) for port in state.task_ports)
        if tracker is not None:
            tracker.log(f"Edge routes to the tasks on 127.0.0.1 ports {ports}")

    async def _undo(self, app: App, name: str, existed: bool, tracker: Tracker) -> None:
        """A failed or interrupted update: the previous spec again (a no-op when Swarm already
        rolled back); a service created by this deployment is removed."""
        if existed:
            state = await self.swarm.service(name)
            if state is not None and state.update_state not in (*ROLLED_BACK, ROLLING_BACK):
                await self.swarm.roll_back(name)
                tracker.log(f"Service {name} put back on its previous version")
            else:
                tracker.log(f"Swarm rolled service {name} back; the previous version serves")
            state = await self.swarm.service(name)
            if state is not None:
                await self._follow(app, state, tracker)
        else:
            await self.swarm.remove(name)
            tracker.log(f"Service {name} removed")
