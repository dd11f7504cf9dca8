"""Control of the deployments running in this process: who may still be stopped, and why one
was cancelled. The reconciler owns one RunControl per running deployment; the pipeline marks
the moment traffic switches, after which a stop is refused."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from enum import Enum

SUPERSEDED_PREFIX = "superseded by deployment #"


class StopOutcome(Enum):
    CANCELLING = "cancelling"  # the running work is being aborted
    TOO_LATE = "too_late"  # traffic already switched to it
    NOT_RUNNING = "not_running"  # not running in this process


@dataclass
class RunControl:
    deployment_id: int
    app_id: int
    deployment_number: int
    commit_hash: str = ""
    task: asyncio.Task[None] | None = None
    switched: bool = False
    stop_reason: str | None = None
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    def request_stop(self, reason: str) -> StopOutcome:
        if self.switched:
            return StopOutcome.TOO_LATE
        if self.stop_reason is None:
            self.stop_reason = reason
            if self.task is not None:
                self.task.cancel()
        return StopOutcome.CANCELLING

    @property
    def superseded(self) -> bool:
        """Stopped because a newer request of the app came (latest wins)."""
        return bool(self.stop_reason and self.stop_reason.startswith(SUPERSEDED_PREFIX))

    def try_switch(self) -> bool:
        """Mark the moment traffic moves to this deployment; False when a stop came first.
        From then on it can no longer be stopped, only rolled back."""
        if self.stop_reason is not None:
            return False
        self.switched = True
        return True


class RunRegistry:
    """The running deployments of this process. A stop may arrive while a worker is still
    claiming (the row says building, the control is not registered yet): it is kept and applied
    the moment the control registers."""

    def __init__(self) -> None:
        self._by_deployment: dict[int, RunControl] = {}
        self._early_stops: dict[int, str] = {}
        self._finished: dict[int, asyncio.Event] = {}

    def add(self, control: RunControl) -> None:
        self._by_deployment[control.deployment_id] = control
        early = self._early_stops.pop(control.deployment_id, None)
        if early is not None:
            control.request_stop(early)

    def remove(self, control: RunControl) -> None:
        self._by_deployment.pop(control.deployment_id, None)
        self._early_stops.pop(control.deployment_id, None)
        control.finished.set()
        event = self._finished.pop(control.deployment_id, None)
        if event is not None:
            event.set()

    def get(self, deployment_id: int) -> RunControl | None:
        return self._by_deployment.get(deployment_id)

    def for_app(self, app_id: int) -> RunControl | None:
        for control in self._by_deployment.values():
            if control.app_id == app_id:
                return control
        return None

    def request_stop(self, deployment_id: int, reason: str) -> StopOutcome:
        control = self._by_deployment.get(deployment_id)
        if control is None:
            self._early_stops.setdefault(deployment_id, reason)
            return StopOutcome.CANCELLING
        return control.request_stop(reason)

    async def wait_finished(self, deployment_id: int, timeout_seconds: float) -> bool:
        """True once the deployment's run ended in this process, False at the timeout."""
        control = self._by_deployment.get(deployment_id)
        if control is not None and control.finished.is_set():
            return True
        event = self._finished.setdefault(deployment_id, asyncio.Event())
        try:
            async with asyncio.timeout(timeout_seconds):
                await event.wait()
        except TimeoutError:
            self._finished.pop(deployment_id, None)
            self._early_stops.pop(deployment_id, None)
            return False
        return True

    def __len__(self) -> int:
        return len(self._by_deployment)
