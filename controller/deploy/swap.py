"""Replacing the running container: the health-gated candidate, then either the start-first swap
through the edge (zero downtime, with a post-switch safety window) or Mist's stop-first order
(database and service apps, or `updateOrder: stop-first`)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from controller.config import Settings
from controller.deploy.inflight import RunControl
from controller.deploy.progress import STOP_FIRST_STOPPING_OLD, Tracker
from controller.edge.switchboard import Switchboard
from controller.errors import FogbankError
from controller.runtime.engine import Engine
from controller.runtime.launch import launch, wait_until_healthy
from controller.runtime.state import ContainerState
from controller.store.models import App, AppType, Deployment, EnvVar, Stage, UpdateOrder

CONTAINER_LOG_TAIL = 50
# The health gate's share of starting_new, in steps: started, attempts..., passed.
HEALTH_STEPS = 10
CRASH_LOG_LINES = 5
WATCH_INTERVAL_SECONDS = 0.25


class DeployFailed(FogbankError):
    code = "DEPLOY_FAILED"


def is_start_first(app: App) -> bool:
    """Only HTTP apps behind the edge can run two versions side by side."""
    return app.app_type is AppType.WEB and app.update_order is UpdateOrder.START_FIRST


@dataclass
class Swapper:
    settings: Settings
    engine: Engine
    switchboard: Switchboard

    async def activated(self, app_id: int) -> None:
        """Traffic follows the app's newly active deployment (its host port)."""
        await self.switchboard.release(app_id)

    async def refollow(self) -> None:
        """Containers keep their port: the routes of the database stay right."""

    async def forget(self, app: App) -> None:
        """The app's containers went with lifecycle.delete_app: nothing else to remove."""

    async def close(self) -> None:
        """The engine belongs to the service, which closes it."""

    async def start_first(
        self,
        app: App,
        envs: list[EnvVar],
        deployment: Deployment,
        previous: Deployment | None,
        tracker: Tracker,
        control: RunControl,
    ) -> None:
        """Candidate beside the old container; health gate; switch; safety window; stop old."""
        await tracker.enter(Stage.STARTING_NEW, "Starting new container...")
        candidate = await self.start_candidate(app, envs, deployment, tracker)
        assert candidate.host_port is not None
        try:
            if not control.try_switch():
                await asyncio.sleep(0)  # a stop was requested: its cancellation lands here
            await asyncio.shield(self.switchboard.point(app.id, candidate.host_port))
            tracker.log(f"Traffic switched to 127.0.0.1:{candidate.host_port}")
            await tracker.enter(Stage.STOPPING_OLD, "Watching the new container...")
            window = max(float(app.stabilization_seconds), self.settings.edge.drain_seconds)
            await self._watch(candidate, window, tracker)
        except BaseException:
            await asyncio.shield(self._revert(app, candidate.id, tracker))
            raise
        if previous is not None and previous.container_id:
            tracker.log("Stopping previous container")
            await self.engine.stop(previous.container_id, self.settings.deploy.stop_timeout_seconds)

    async def stop_first(
        self,
        app: App,
        envs: list[EnvVar],
        deployment: Deployment,
        previous: Deployment | None,
        tracker: Tracker,
    ) -> None:
        """Mist's order: stop the old container, start the new one; if the new one fails,
        start the old one again so a bad release never leaves the app down."""
        await tracker.enter(
            Stage.STOPPING_OLD, "Stopping previous container...", band=STOP_FIRST_STOPPING_OLD
        )
        old_container = previous.container_id if previous else ""
        if old_container:
            await self.engine.stop(old_container, self.settings.deploy.stop_timeout_seconds)
        try:
            await tracker.enter(Stage.STARTING_NEW, "Starting new container...")
            candidate = await self.start_candidate(app, envs, deployment, tracker)
            if app.app_type is AppType.WEB and candidate.host_port is not None:
                await self.switchboard.point(app.id, candidate.host_port)
        except BaseException:
            if old_container:
                await asyncio.shield(self._restart(old_container, tracker))
            raise

    async def start_candidate(
        self, app: App, envs: list[EnvVar], deployment: Deployment, tracker: Tracker
    ) -> ContainerState:
        """Run the new container and hold it at the health gate; remove it if it fails."""
        container = await launch(self.engine, app, envs, deployment, self.settings.runtime)
        tracker.log(f"Container {container.name} started on 127.0.0.1:{container.host_port}")
        await tracker.step(1, HEALTH_STEPS, "Waiting for the health check...")
        try:

            async def on_attempt(attempt: int, reason: str) -> None:
                tracker.log(f"Health check attempt {attempt}: {reason}")
                await tracker.step(min(1 + attempt, HEALTH_STEPS - 1), HEALTH_STEPS)

            await wait_until_healthy(
                self.engine,
                app,
                container,
                interval_seconds=self.settings.deploy.health_interval_seconds,
                on_attempt=on_attempt,
            )
        except BaseException:
            await asyncio.shield(self.discard(container.id, tracker))
            raise
        tracker.log("Health check passed")
        await tracker.finish_stage()
        return container

    async def discard(self, container_id: str, tracker: Tracker) -> list[str]:
        """Copy the container's own output into the deploy log, then remove it."""
        lines = await self.engine.logs(container_id, tail=CONTAINER_LOG_TAIL)
        tracker.log(f"--- last {len(lines)} lines of the container's output ---")
        for line in lines:
            tracker.log(f"[container] {line}")
        await self.engine.remove_container(container_id)
        return lines

    async def _watch(self, candidate: ContainerState, seconds: float, tracker: Tracker) -> None:
        """The safety window: the new container must keep running, without restarts."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            state = await self.engine.inspect(candidate.id)
            if state is None or not state.running or state.restart_count > candidate.restart_count:
                lines = await self.engine.logs(candidate.id, tail=CRASH_LOG_LINES)
                code = "gone" if state is None else f"exit code {state.exit_code}"
                last = " | ".join(lines) if lines else "no output"
                raise DeployFailed(f"crashed after switch: {code}; last log lines: {last}")
            await asyncio.sleep(WATCH_INTERVAL_SECONDS)
        tracker.log(f"New container stayed healthy for {seconds:g} s")

    async def _revert(self, app: App, container_id: str, tracker: Tracker) -> None:
        """Traffic back to the active deployment at once, then remove the candidate."""
        try:
            await self.switchboard.release(app.id)
        except FogbankError as exc:
            tracker.log(f"Could not switch traffic back: {exc.message}")
        else:
            tracker.log("Traffic switched back to the previous version")
        await self.discard(container_id, tracker)

    async def _restart(self, container_id: str, tracker: Tracker) -> None:
        try:
            await self.engine.start(container_id)
        except FogbankError as exc:
            tracker.log(f"Could not restart the previous container: {exc.message}")
        else:
            tracker.log("Previous container restarted; the previous version keeps serving")
