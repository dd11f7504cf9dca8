"""Records one deployment's way through the state machine: the database row, its log file and
the status/log/error events watchers receive. Progress never goes backwards."""

from __future__ import annotations

from typing import Any

from controller.events.deployment_logs import DeploymentLogs, Event, EventBus
from controller.store.models import TERMINAL, Deployment, Stage, Status
from controller.store.timefmt import utcnow


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
    def __init__(self, deployment: Deployment, logs: DeploymentLogs, bus: EventBus) -> None:
        self.deployment = deployment
        self._logs = logs
        self._bus = bus

    def log(self, text: str, *, essential: bool = False) -> None:
        self._logs.append(self.deployment.id, text, essential=essential)

    async def enter(self, status: Status, stage: Stage, progress: int, message: str) -> None:
        """Move to a new status/stage, log the message and tell every watcher."""
        deployment = self.deployment
        deployment.status = status
        deployment.stage = stage
        deployment.progress = max(deployment.progress, progress)
        await deployment.save(update_fields=["status", "stage", "progress", "updated_at"])
        self.log(message, essential=True)
        self._publish(message)

    async def advance(self, progress: int, message: str = "") -> None:
        if progress <= self.deployment.progress:
            return
        self.deployment.progress = min(progress, 99)
        await self.deployment.save(update_fields=["progress", "updated_at"])
        self._publish(message)

    async def succeed(self, message: str) -> None:
        await self._finish(Status.SUCCESS, Stage.COMPLETED, "", message)

    async def fail(self, error_message: str) -> None:
        """Fail at the current stage; watchers get an `error` frame before the final status."""
        self.log(f"ERROR: {error_message}", essential=True)
        self._bus.publish(
            self.deployment.id,
            Event("error", {"message": self._logs.mask(self.deployment.id, error_message)}),
        )
        await self._finish(Status.FAILED, self.deployment.stage, error_message, "Deployment failed")

    async def stop(self, reason: str) -> None:
        await self._finish(Status.STOPPED, self.deployment.stage, reason, "Deployment stopped")

    async def _finish(self, status: Status, stage: Stage, error: str, message: str) -> None:
        deployment = self.deployment
        now = utcnow()
        deployment.status = status
        deployment.stage = stage
        deployment.error_message = self._logs.mask(deployment.id, error)
        if status is Status.SUCCESS:
            deployment.progress = 100
        deployment.finished_at = now
        if deployment.started_at is not None:
            deployment.duration = max(0, round((now - deployment.started_at).total_seconds()))
        await deployment.save()
        self.log(message, essential=True)
        self._publish(message)
        self._logs.close(deployment.id)

    def _publish(self, message: str) -> None:
        data = status_data(self.deployment, message)
        self._bus.publish(self.deployment.id, Event("status", data))


def is_terminal(status: Status) -> bool:
    return status in TERMINAL
