"""Records one deployment's way through the state machine: the database row, its log file and
the status/log/error events watchers receive. Progress never goes backwards; the one table of
stage -> progress band is STAGE_BANDS."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from controller.errors import Conflict
from controller.events.bus import Event, EventBus
from controller.events.deployment_logs import DeploymentLogs
from controller.notify.notices import Notices
from controller.store.models import TERMINAL, Deployment, Stage, Status
from controller.store.timefmt import iso_ms_now, utcnow
from controller.telemetry.metrics import Metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Band:
    """The progress a stage starts at and the most it reaches before the next stage."""

    start: int
    end: int

    def at(self, done: int, total: int) -> int:
        """Progress after `done` of `total` steps of the stage."""
        total = max(1, total)
        return self.start + (self.end - self.start) * min(done, total) // total


# The seed's guide: pending 0, cloning 10-25, building 25-70, starting_new 75-85 (the health
# gate included), stopping_old 90, completed 100. Stop-first stops the old container between the
# build and the start, so its stopping_old band sits there (STOP_FIRST_STOPPING_OLD). Image and
# template apps never enter cloning_repo: their pull is building_image (25-70, by bytes).
STAGE_BANDS: dict[Stage, Band] = {
    Stage.CLONING_REPO: Band(10, 25),
    Stage.BUILDING_IMAGE: Band(25, 70),
    Stage.STARTING_NEW: Band(75, 85),
    Stage.STOPPING_OLD: Band(90, 99),
    Stage.COMPLETED: Band(100, 100),
}
STOP_FIRST_STOPPING_OLD = Band(70, 75)
STATUS_OF_STAGE = {
    Stage.CLONING_REPO: Status.BUILDING,
    Stage.BUILDING_IMAGE: Status.BUILDING,
    Stage.STARTING_NEW: Status.DEPLOYING,
    Stage.STOPPING_OLD: Status.DEPLOYING,
}


def status_data(deployment: Deployment, message: str = "") -> dict[str, Any]:
    """The `data` of a status frame, as the seed documents it."""
    return {
        "deployment_id": deployment.id,
        "status": str(deployment.status),
        "stage": str(deployment.stage),
        "progress": deployment.progress,
        "message": message,
        "error_message": deployment.error_message,
    }


class Tracker:
    """Also the one place that tells the world: every stage and final status goes to the
    process log, the metrics and the outbox (notices write rows; nothing waits on a send)."""

    def __init__(
        self,
        deployment: Deployment,
        logs: DeploymentLogs,
        bus: EventBus,
        notices: Notices,
        metrics: Metrics,
    ) -> None:
        self.deployment = deployment
        self._logs = logs
        self._bus = bus
        self._notices = notices
        self._metrics = metrics
        self._band = Band(0, 0)
        self._stage_started: float | None = None
        self._entered = False

    def log(self, text: str, *, essential: bool = False) -> None:
        self._logs.append(self.deployment.id, text, essential=essential)

    async def enter(self, stage: Stage, message: str, *, band: Band | None = None) -> None:
        """Move to `stage` (its status and progress from STAGE_BANDS, or `band`), log the
        message and tell every watcher."""
        deployment = self.deployment
        if await self._finished_elsewhere():
            raise Conflict(
                f"deployment #{deployment.deployment_number} was finished by another instance "
                "(this instance's lease had lapsed)",
                code="TAKEN_OVER",
            )
        self._close_stage()
        self._band = band or STAGE_BANDS[stage]
        deployment.status = STATUS_OF_STAGE[stage]
        deployment.stage = stage
        deployment.progress = max(deployment.progress, self._band.start)
        # The first entry counts: a stage entered again (restoring the old container) keeps it.
        deployment.stage_times.setdefault(str(stage), iso_ms_now())
        await deployment.save(
            update_fields=["status", "stage", "progress", "stage_times", "updated_at"]
        )
        first, self._entered = not self._entered, True
        self._stage_started = time.monotonic()
        self.log(message, essential=True)
        self._publish(message)
        log.info("deployment #%s %s: %s", deployment.deployment_number, stage, message)
        await self._tell(self._notices.stage(deployment, first=first))

    async def step(self, done: int, total: int, message: str = "") -> None:
        """Progress within the current stage's band: `done` of `total` steps."""
        await self.advance(self._band.at(done, total), message)

    async def finish_stage(self, message: str = "") -> None:
        """The current stage's band is complete."""
        await self.advance(self._band.end, message)

    async def advance(self, progress: int, message: str = "") -> None:
        if progress <= self.deployment.progress:
            return
        self.deployment.progress = min(progress, 99)
        await self.deployment.save(update_fields=["progress", "updated_at"])
        self._publish(message)

    async def succeed(self, message: str) -> None:
        await self._finish(Status.SUCCESS, Stage.COMPLETED, "", message)

    async def fail(self, error_message: str, *, then: str = "") -> None:
        """Fail at the current stage; watchers get an `error` frame before the final status.
        `then` is one more log line written before that status: a socket closes after the
        final status, so a line written later would reach no watcher."""
        self.log(f"ERROR: {error_message}", essential=True)
        if then:
            self.log(then, essential=True)
        self._bus.publish(
            self.deployment.id,
            Event("error", {"message": self._logs.mask(self.deployment.id, error_message)}),
        )
        await self._finish(Status.FAILED, self.deployment.stage, error_message, "Deployment failed")

    async def stop(self, reason: str) -> None:
        await self._finish(Status.STOPPED, self.deployment.stage, reason, "Deployment stopped")

    async def _finished_elsewhere(self) -> bool:
        """Another instance failed this deployment ("interrupted") after our lease lapsed: its
        row is no longer ours to write."""
        return await Deployment.filter(id=self.deployment.id, status__in=TERMINAL).exists()

    async def _finish(self, status: Status, stage: Stage, error: str, message: str) -> None:
        deployment = self.deployment
        self._close_stage()
        if await self._finished_elsewhere():
            log.warning("deployment #%s was finished by another instance; %s not recorded",
                        deployment.deployment_number, status)  # fmt: skip
            self._logs.close(deployment.id)
            return
        now = utcnow()
        deployment.status = status
        deployment.stage = stage
        deployment.error_message = self._logs.mask(deployment.id, error)
        if status is Status.SUCCESS:
            deployment.progress = STAGE_BANDS[Stage.COMPLETED].start
        deployment.finished_at = now
        if deployment.started_at is not None:
            deployment.duration = max(0, round((now - deployment.started_at).total_seconds()))
        await deployment.save()
        self.log(message, essential=True)
        self._publish(message)
        self._logs.close(deployment.id)
        self._metrics.deployments.inc(str(status), str(deployment.triggered_by))
        if deployment.started_at is not None:
            took = (now - deployment.started_at).total_seconds()
            self._metrics.deployment_seconds.observe(max(0.0, took), str(status))
        error = f": {deployment.error_message}" if deployment.error_message else ""
        log.info("deployment #%s %s%s", deployment.deployment_number, status, error)
        await self._tell(self._notices.finished(deployment))

    def _close_stage(self) -> None:
        """Time spent in the stage being left."""
        if self._stage_started is not None and self.deployment.stage is not Stage.NONE:
            took = time.monotonic() - self._stage_started
            self._metrics.stage_seconds.observe(took, str(self.deployment.stage))
        self._stage_started = None

    async def _tell(self, writing: Awaitable[None]) -> None:
        """Write notices; a failure to write them never fails the deployment."""
        try:
            await writing
        except Exception:
            log.exception("could not record the notices of deployment %s", self.deployment.id)

    def _publish(self, message: str) -> None:
        data = status_data(self.deployment, message)
        self._bus.publish(self.deployment.id, Event("status", data))


def is_terminal(status: Status) -> bool:
    return status in TERMINAL
