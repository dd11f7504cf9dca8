"""One deployment, stage by stage: cloning_repo -> building_image -> starting_new ->
stopping_old -> completed (start-first), or with stopping_old before starting_new (stop-first).
Image and template apps have no repository: no cloning_repo, the pull is building_image.
Any failure or stop leaves the previously active version serving."""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass

from tortoise.transactions import in_transaction

from controller.build.image import ImageBuilder
from controller.build.pull import ImagePuller
from controller.build.registry import secrets_of
from controller.config import Settings
from controller.deploy.inflight import RunControl
from controller.deploy.progress import Tracker
from controller.deploy.queue import requeue_if_newest
from controller.deploy.reachability import check_pushed
from controller.deploy.replacer import Replacer
from controller.deploy.staleness import stale_reason
from controller.deploy.swap import is_start_first
from controller.errors import FogbankError
from controller.events.bus import EventBus
from controller.events.deployment_logs import DeploymentLogs
from controller.notify.events import CRASH_PREFIX
from controller.notify.notices import Notices
from controller.runtime.engine import Engine
from controller.runtime.images import discard_image, prune_images
from controller.runtime.naming import image_tag
from controller.source.mirror import GitSync
from controller.store.models import App, Deployment, EnvVar, Stage, Status, Trigger
from controller.telemetry.logcontext import deployment_context
from controller.telemetry.metrics import Metrics

log = logging.getLogger(__name__)

STEP_LINE = re.compile(r"^Step (\d+)/(\d+)")
SHUTDOWN_MESSAGE = "interrupted: controller shutting down"


@dataclass
class Pipeline:
    settings: Settings
    engine: Engine
    git: GitSync
    logs: DeploymentLogs
    bus: EventBus
    swapper: Replacer
    builder: ImageBuilder
    notices: Notices
    metrics: Metrics
    puller: ImagePuller

    def tracker(self, deployment: Deployment) -> Tracker:
        return Tracker(deployment, self.logs, self.bus, self.notices, self.metrics)

    async def run(self, deployment: Deployment, control: RunControl) -> None:
        """Run a claimed deployment to a terminal status. Never raises FogbankError; re-raises
        cancellation after recording it as stopped (a stop or a newer deployment) or failed
        (shutdown). Every line it logs names the deployment and its app."""
        app = await App.get(id=deployment.app_id)
        with deployment_context(deployment.id, app.name):
            await self._run_logged(app, deployment, control)

    async def _run_logged(self, app: App, deployment: Deployment, control: RunControl) -> None:
        envs = await EnvVar.filter(app_id=app.id)
        secrets = [e.value for e in envs if e.is_secret] + await secrets_of(app)
        self.logs.open(deployment.id, secrets)
        tracker = self.tracker(deployment)
        try:
            await self._run(app, envs, deployment, tracker, control)
        except FogbankError as exc:
            crashed = exc.message.startswith(CRASH_PREFIX)
            self.metrics.build_failures.inc("crashed_after_switch" if crashed else exc.code.lower())
            await tracker.fail(exc.message)
            await self._discard_image(deployment)
        except asyncio.CancelledError:
            if control.stop_reason is not None:
                await asyncio.shield(tracker.stop(control.stop_reason))
            else:
                self.metrics.build_failures.inc("interrupted")
                await asyncio.shield(self._interrupted(tracker))
            await asyncio.shield(self._discard_image(deployment))
            raise
        except Exception as exc:
            log.exception("deployment %s failed unexpectedly", deployment.id)
            self.metrics.build_failures.inc("internal")
            await tracker.fail(f"internal error: {type(exc).__name__}: {exc}")

    async def _discard_image(self, deployment: Deployment) -> None:
        try:
            await discard_image(self.engine, deployment)
        except FogbankError as exc:
            log.warning("could not remove the image of deployment %s: %s", deployment.id, exc)

    async def _interrupted(self, tracker: Tracker) -> None:
        """Shutdown cut this deployment short: failed, and asked for again when it was the
        app's newest request, so the next start finishes the job."""
        again = await requeue_if_newest(tracker.deployment)
        then = f"Re-queued as deployment #{again.deployment_number}" if again is not None else ""
        await tracker.fail(SHUTDOWN_MESSAGE, then=then)

    async def _run(
        self,
        app: App,
        envs: list[EnvVar],
        deployment: Deployment,
        tracker: Tracker,
        control: RunControl,
    ) -> None:
        stale = await stale_reason(self.git, app, deployment)
        if stale is not None:
            await tracker.stop(stale)
            return
        tag = image_tag(app, deployment)
        reused = await self._reuse_image(app, deployment, tracker, tag)
        if not reused and app.image:
            await self._pull(app, deployment, tracker, tag)
        elif not reused:
            await self._build(app, envs, deployment, tracker, tag)
        deployment.image_tag = tag
        await deployment.save(update_fields=["image_tag", "updated_at"])
        previous = await Deployment.filter(app_id=app.id, is_active=True).first()
        if is_start_first(app):
            await self.swapper.start_first(app, envs, deployment, previous, tracker, control)
        else:
            control.try_switch()
            await self.swapper.stop_first(app, envs, deployment, previous, tracker)
        await self._activate(app, deployment, previous)
        await tracker.succeed("Deployment completed successfully")
        await prune_images(self.engine, app, self.settings.controller.keep_images)

    async def _reuse_image(
        self, app: App, deployment: Deployment, tracker: Tracker, tag: str
    ) -> bool:
        """A rollback reuses the retained image of its target (no clone, no build)."""
        source = deployment.image_tag
        if deployment.triggered_by is not Trigger.ROLLBACK or not source:
            return False
        await tracker.enter(Stage.BUILDING_IMAGE, f"Reusing image {source} (no build needed)")
        if not await self.engine.image_exists(source):
            again = "pulling" if app.image else "rebuilding commit"
            what = deployment.image_digest or deployment.commit_hash
            tracker.log(f"Image {source} was pruned; {again} {what}")
            return False
        await self.engine.tag_image(source, tag)
        await tracker.finish_stage("Image ready")
        return True

    async def _build(
        self, app: App, envs: list[EnvVar], deployment: Deployment, tracker: Tracker, tag: str
    ) -> None:
        await tracker.enter(Stage.CLONING_REPO, "Cloning repository...")
        await check_pushed(self.git, app, deployment)
        try:
            context = await self.builder.checkout(app, deployment)
            tracker.log(f"Checked out commit {deployment.commit_hash}")
            await tracker.finish_stage()
            await tracker.enter(Stage.BUILDING_IMAGE, "Building Docker image...")

            async def on_line(line: str) -> None:
                tracker.log(line)
                step = STEP_LINE.match(line)
                if step:
                    await tracker.step(int(step.group(1)) - 1, int(step.group(2)))

            await self.builder.build(app, envs, deployment, context, tag, on_line)
            await tracker.finish_stage("Image built")
        finally:
            await self.builder.clean(deployment)

    async def _pull(self, app: App, deployment: Deployment, tracker: Tracker, tag: str) -> None:
        """The image of an image or template app: pulled (progress in the log), its digest
        recorded (image_digest, and its first 40 hex digits as commit_hash)."""
        deployment.image_ref = deployment.image_ref or app.image
        await tracker.enter(Stage.BUILDING_IMAGE, f"Pulling image {deployment.image_ref}...")

        async def on_line(line: str) -> None:
            tracker.log(line)

        await self.puller.fetch(app, deployment, tag, on_line, tracker.step)
        deployment.commit_message = deployment.commit_message or deployment.image_ref
        await deployment.save(
            update_fields=[
                "commit_hash",
                "image_digest",
                "commit_message",
                "image_ref",
                "updated_at",
            ]
        )
        await tracker.finish_stage("Image ready")

    async def _activate(
        self, app: App, deployment: Deployment, previous: Deployment | None
    ) -> None:
        """is_active moves to the new deployment; a rollback marks what it replaced."""
        async with in_transaction():
            await Deployment.filter(app_id=app.id, is_active=True).update(is_active=False)
            deployment.is_active = True
            await deployment.save(update_fields=["is_active", "updated_at"])
            if previous is not None and deployment.triggered_by is Trigger.ROLLBACK:
                await Deployment.filter(id=previous.id).update(status=Status.ROLLED_BACK)
                previous.status = Status.ROLLED_BACK
            if app.container_stopped:
                app.container_stopped = False
                await app.save(update_fields=["container_stopped", "updated_at"])
            if app.image and deployment.image_ref and deployment.image_ref != app.image:
                # The reference the app runs now is the one later deploys and polls follow.
                app.image = deployment.image_ref
                await app.save(update_fields=["image", "updated_at"])
        await self.swapper.activated(app.id)
        if previous is not None:
            try:
                await self.notices.replaced(previous, deployment)
            except Exception:  # notices never fail a deployment (progress.Tracker._tell)
                log.exception("could not record the notices of deployment %s", previous.id)
            if previous.container_id:
                await self.engine.remove_container(previous.container_id)
