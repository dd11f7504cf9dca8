"""One deployment, stage by stage: cloning_repo -> building_image -> (stopping_old ->
starting_new, stop-first) -> completed. Any failure leaves the previously active version serving."""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from tortoise.transactions import in_transaction

from controller.config import Settings
from controller.engine import ContainerState, Engine
from controller.errors import FogbankError
from controller.events import DeploymentLogs, EventBus
from controller.gitsync import GitSync
from controller.health import HealthCheckFailed, wait_healthy
from controller.models import App, AppType, Deployment, EnvVar, Stage, Status
from controller.progress import Tracker
from controller.retention import prune_images

log = logging.getLogger(__name__)

STEP_LINE = re.compile(r"^Step (\d+)/(\d+)")
BUILD_PROGRESS = (25, 70)
CONTAINER_LOG_TAIL = 50


class DeployFailed(FogbankError):
    code = "DEPLOY_FAILED"


def image_tag(app: App, deployment: Deployment) -> str:
    return f"fogbank/{app.name}:{deployment.id}"


def container_name(app: App, deployment: Deployment) -> str:
    return f"fogbank-{app.name}-{deployment.id}"


def labels(app: App, deployment: Deployment) -> dict[str, str]:
    return {
        "fogbank.app": app.name,
        "fogbank.deployment": str(deployment.id),
        "fogbank.commit": deployment.commit_hash,
    }


def data_volume(app: App) -> str:
    return f"fogbank-{app.name}-data"


@dataclass
class Pipeline:
    settings: Settings
    engine: Engine
    git: GitSync
    logs: DeploymentLogs
    bus: EventBus

    async def run(self, deployment: Deployment) -> None:
        """Run a claimed deployment to a terminal status. Never raises FogbankError."""
        app = await App.get(id=deployment.app_id)
        envs = await EnvVar.filter(app_id=app.id)
        self.logs.open(deployment.id, [e.value for e in envs if e.is_secret])
        tracker = Tracker(deployment, self.logs, self.bus)
        try:
            await self._run(app, envs, deployment, tracker)
        except FogbankError as exc:
            await tracker.fail(exc.message)
        except asyncio.CancelledError:
            await asyncio.shield(tracker.fail("interrupted: controller shutting down"))
            raise
        except Exception as exc:
            log.exception("deployment %s failed unexpectedly", deployment.id)
            await tracker.fail(f"internal error: {type(exc).__name__}: {exc}")

    async def _run(
        self, app: App, envs: list[EnvVar], deployment: Deployment, tracker: Tracker
    ) -> None:
        tag = image_tag(app, deployment)
        await self._build(app, envs, deployment, tracker, tag)
        deployment.image_tag = tag
        await deployment.save(update_fields=["image_tag", "updated_at"])
        previous = await Deployment.filter(app_id=app.id, is_active=True).first()
        await self._swap_stop_first(app, envs, deployment, tracker, previous)
        await self._activate(app, deployment, previous)
        await tracker.succeed("Deployment completed successfully")
        await prune_images(self.engine, app, self.settings.controller.keep_images)

    async def _build(
        self, app: App, envs: list[EnvVar], deployment: Deployment, tracker: Tracker, tag: str
    ) -> None:
        await tracker.enter(Status.BUILDING, Stage.CLONING_REPO, 10, "Cloning repository...")
        workdir = self.settings.builds_dir / str(deployment.id)
        try:
            await asyncio.to_thread(shutil.rmtree, workdir, True)
            await self.git.export(
                app.name, app.git_repository, app.git_branch, deployment.commit_hash, workdir
            )
            tracker.log(f"Checked out commit {deployment.commit_hash}")
            await tracker.advance(25)
            await tracker.enter(
                Status.BUILDING, Stage.BUILDING_IMAGE, 25, "Building Docker image..."
            )
            context = workdir / app.root_directory
            self._check_context(app, context)

            async def on_line(line: str) -> None:
                tracker.log(line)
                step = STEP_LINE.match(line)
                if step:
                    done, total = int(step.group(1)), max(1, int(step.group(2)))
                    low, high = BUILD_PROGRESS
                    await tracker.advance(low + (high - low) * (done - 1) // total)

            await self.engine.build(
                context,
                dockerfile=app.dockerfile_path,
                tag=tag,
                labels=labels(app, deployment),
                buildargs={e.key: e.value for e in envs if e.is_build_arg and not e.is_secret},
                on_line=on_line,
            )
            await tracker.advance(BUILD_PROGRESS[1], "Image built")
        finally:
            await asyncio.to_thread(shutil.rmtree, workdir, True)

    @staticmethod
    def _check_context(app: App, context: Path) -> None:
        if not context.is_dir():
            raise DeployFailed(f"rootDirectory '{app.root_directory}' does not exist in the commit")
        if not (context / app.dockerfile_path).is_file():
            raise DeployFailed(
                f"Dockerfile '{app.dockerfile_path}' not found in '{app.root_directory}'"
            )

    async def _swap_stop_first(
        self,
        app: App,
        envs: list[EnvVar],
        deployment: Deployment,
        tracker: Tracker,
        previous: Deployment | None,
    ) -> None:
        """Mist's order: stop the old container, start the new one; restart the old one if the
        new one fails, so a bad release never leaves the app down."""
        await tracker.enter(
            Status.DEPLOYING, Stage.STOPPING_OLD, 72, "Stopping previous container..."
        )
        old_container = previous.container_id if previous else ""
        if old_container:
            await self.engine.stop(old_container, self.settings.deploy.stop_timeout_seconds)
        try:
            await tracker.enter(
                Status.DEPLOYING, Stage.STARTING_NEW, 75, "Starting new container..."
            )
            await self._start_candidate(app, envs, deployment, tracker)
        except BaseException:
            if old_container:
                await asyncio.shield(self._restore_previous(old_container, tracker))
            raise

    async def _start_candidate(
        self, app: App, envs: list[EnvVar], deployment: Deployment, tracker: Tracker
    ) -> ContainerState:
        limits = self.settings.deploy
        container = await self.engine.run(
            name=container_name(app, deployment),
            image=image_tag(app, deployment),
            env={e.key: e.value for e in envs if not e.is_build_arg or e.is_secret},
            labels=labels(app, deployment),
            container_port=app.port,
            host_port=app.public_port,
            restart_policy=app.restart_policy,
            memory_bytes=app.memory_limit_mb * 1024 * 1024 if app.memory_limit_mb else None,
            nano_cpus=int(app.cpu_limit * 1e9) if app.cpu_limit else None,
            volumes={data_volume(app): "/data"} if app.app_type is AppType.DATABASE else None,
        )
        deployment.container_id = container.id
        await deployment.save(update_fields=["container_id", "updated_at"])
        host_port = container.host_port
        tracker.log(f"Container {container.name} started on 127.0.0.1:{host_port}")
        await tracker.advance(78, "Waiting for the health check...")
        if host_port is None:
            raise DeployFailed("container has no published port")

        async def on_attempt(attempt: int, reason: str) -> None:
            tracker.log(f"Health check attempt {attempt}: {reason}")
            await tracker.advance(min(84, 78 + attempt))

        try:
            await wait_healthy(
                self.engine,
                container.id,
                host_port=host_port,
                http_path=app.health_check_path if app.app_type is AppType.WEB else None,
                deadline_seconds=float(app.health_timeout_seconds),
                interval_seconds=limits.health_interval_seconds,
                on_attempt=on_attempt,
            )
        except HealthCheckFailed:
            await self._discard_candidate(container.id, tracker)
            raise
        except BaseException:
            await asyncio.shield(self._discard_candidate(container.id, tracker))
            raise
        tracker.log("Health check passed")
        await tracker.advance(85)
        return container

    async def _discard_candidate(self, container_id: str, tracker: Tracker) -> None:
        """Copy the candidate's own output into the deploy log, then remove it."""
        lines = await self.engine.logs(container_id, tail=CONTAINER_LOG_TAIL)
        tracker.log(f"--- last {len(lines)} lines of the container's output ---")
        for line in lines:
            tracker.log(f"[container] {line}")
        await self.engine.remove_container(container_id)

    async def _restore_previous(self, container_id: str, tracker: Tracker) -> None:
        try:
            await self.engine.start(container_id)
        except FogbankError as exc:
            tracker.log(f"Could not restart the previous container: {exc.message}")
        else:
            tracker.log("Previous container restarted; the previous version keeps serving")

    async def _activate(
        self, app: App, deployment: Deployment, previous: Deployment | None
    ) -> None:
        async with in_transaction():
            await Deployment.filter(app_id=app.id, is_active=True).update(is_active=False)
            deployment.is_active = True
            await deployment.save(update_fields=["is_active", "updated_at"])
        if previous is not None and previous.container_id:
            await self.engine.remove_container(previous.container_id)
