"""What happened, in words: the events notification targets subscribe to, the commit status
and GitHub deployment state of each deployment status, and the texts that say so. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from controller.store.models import Deployment, Stage, Status
from controller.store.timefmt import iso

# GitHub cuts nothing itself: a longer description is refused (422).
MAX_DESCRIPTION = 140
CRASH_PREFIX = "crashed after switch"
INTERRUPTED_PREFIX = "interrupted:"
SUPERSEDED_PREFIX = "superseded by deployment #"


class Event(StrEnum):
    SUCCEEDED = "deployment.succeeded"
    FAILED = "deployment.failed"
    STOPPED = "deployment.stopped"
    ROLLED_BACK = "deployment.rolled_back"
    # The new version crashed in its safety window; traffic went back to the previous one.
    REVERTED = "deployment.reverted"
    DRIFT_REPAIRED = "drift.repaired"
    TEST = "test"


SUBSCRIBABLE = tuple(event for event in Event if event is not Event.TEST)


def final_event(deployment: Deployment) -> Event | None:
    """The notification a deployment's final status makes, if any. Superseded requests and
    restarts interrupting a build notify nobody: the newer request reports for them."""
    message = deployment.error_message or ""
    if deployment.status is Status.SUCCESS:
        return Event.SUCCEEDED
    if deployment.status is Status.FAILED:
        if message.startswith(INTERRUPTED_PREFIX):
            return None
        return Event.REVERTED if message.startswith(CRASH_PREFIX) else Event.FAILED
    if deployment.status is Status.STOPPED and not message.startswith(SUPERSEDED_PREFIX):
        return Event.STOPPED
    return None


def commit_state(deployment: Deployment) -> str:
    """The commit status state of a deployment's status (GitHub: pending, success, failure,
    error). A stopped deployment never ran to the end: error, not failure."""
    return {
        Status.SUCCESS: "success",
        Status.FAILED: "failure",
        Status.STOPPED: "error",
        Status.ROLLED_BACK: "success",
    }.get(deployment.status, "pending")


def deployment_state(deployment: Deployment) -> str:
    """The GitHub deployment status state (in_progress, success, failure, inactive)."""
    return {
        Status.SUCCESS: "success",
        Status.FAILED: "failure",
        Status.STOPPED: "inactive",
        Status.ROLLED_BACK: "inactive",
    }.get(deployment.status, "in_progress")


def shorten(text: str, limit: int = MAX_DESCRIPTION) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe(deployment: Deployment) -> str:
    """One line for a commit status or a deployment status: the stage, or how it ended."""
    number = f"#{deployment.deployment_number}"
    status = deployment.status
    if status is Status.PENDING:
        return f"Queued as deployment {number}"
    if status is Status.SUCCESS:
        took = f" in {deployment.duration} s" if deployment.duration is not None else ""
        return f"Deployed {number}{took}"
    if status is Status.FAILED:
        stage = f" at {deployment.stage}" if deployment.stage is not Stage.NONE else ""
        return shorten(f"Failed{stage}: {deployment.error_message}")
    if status is Status.STOPPED:
        return shorten(f"Stopped: {deployment.error_message}")
    if status is Status.ROLLED_BACK:
        return f"Deployment {number} was rolled back"
    return f"Deployment {number}: {deployment.stage or status}"


@dataclass(frozen=True)
class Links:
    """Where a reader of GitHub or a notification can look: fogbank's own address."""

    base_url: str

    def deployment(self, deployment_id: int) -> str:
        return f"{self.base_url}/api/deployment/logs/{deployment_id}"


def deployment_facts(deployment: Deployment, links: Links) -> dict[str, Any]:
    """A deployment as a notification's JSON body shows it."""
    return {
        "id": deployment.id,
        "number": deployment.deployment_number,
        "status": str(deployment.status),
        "stage": str(deployment.stage),
        "commit_hash": deployment.commit_hash,
        "commit_message": (deployment.commit_message or "").split("\n", 1)[0],
        "triggered_by": str(deployment.triggered_by),
        "error_message": deployment.error_message or "",
        "duration": deployment.duration,
        "finished_at": iso(deployment.finished_at),
        "url": links.deployment(deployment.id),
    }


def headline(event: Event, app: str, deployment: dict[str, Any] | None, detail: str) -> str:
    """The one-line message of a notification (Slack, Discord, the email's subject)."""
    number = f"deployment #{deployment['number']}" if deployment else ""
    sha = f" ({deployment['commit_hash'][:7]})" if deployment and deployment["commit_hash"] else ""
    error = f": {deployment['error_message']}" if deployment and deployment["error_message"] else ""
    texts = {
        Event.SUCCEEDED: f"{app}: {number}{sha} deployed",
        Event.FAILED: f"{app}: {number}{sha} failed at {deployment and deployment['stage']}{error}",
        Event.STOPPED: f"{app}: {number}{sha} stopped{error}",
        Event.ROLLED_BACK: f"{app}: {number}{sha} was rolled back{': ' + detail if detail else ''}",
        Event.REVERTED: f"{app}: {number}{sha} crashed after the switch; traffic is back on "
        f"the previous version{error}",
        Event.DRIFT_REPAIRED: f"{app}: drift repaired: {detail}",
        Event.TEST: f"Test notification from fogbank{': ' + detail if detail else ''}",
    }
    return texts[event]
