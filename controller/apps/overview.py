"""What the dashboard reads: every app with its active and newest deployment, and one app's
history page, each in a few indexed queries of plain rows (no model per row), so the apps page
and an app page stay fast however long the history grows (bench/dashboard.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise import connections

from controller.store.models import App, Deployment, Status

Row = dict[str, Any]

APP_FIELDS = ("id", "name", "app_type", "public_port", "container_stopped", "git_branch")
DEPLOYMENT_FIELDS = (
    "id",
    "app_id",
    "deployment_number",
    "commit_hash",
    "commit_message",
    "commit_author",
    "triggered_by",
    "requested_by",
    "status",
    "stage",
    "progress",
    "error_message",
    "is_active",
    "duration",
    "created_at",
    "started_at",
    "finished_at",
)
NOT_FINISHED = (Status.PENDING, Status.BUILDING, Status.DEPLOYING)
# What the apps page shows of a deployment, read as plain SQL (constant text, no input): turning
# a hundred rows into ORM values cost more than the queries themselves (bench/dashboard.py).
NEWEST = (
    "SELECT id, app_id, deployment_number, commit_hash, commit_message, commit_author, status, "
    "created_at, is_active FROM deployment WHERE id IN "
    "(SELECT (SELECT MAX(d.id) FROM deployment d WHERE d.app_id = a.id) FROM app a)"
)
ACTIVE = (
    "SELECT id, app_id, deployment_number, commit_hash, commit_message, commit_author, status, "
    "created_at, is_active FROM deployment WHERE is_active = TRUE"
)


@dataclass(frozen=True)
class AppSummary:
    """An app (`APP_FIELDS`) with its active and newest deployment (at least the columns of
    `NEWEST`)."""

    app: Row
    active: Row | None
    newest: Row | None

    @property
    def status(self) -> str:
        """running, deploying, stopped, failed or not deployed: what a user asks first."""
        newest, active = self.newest, self.active
        if newest is not None and newest["status"] in NOT_FINISHED:
            return "deploying"
        if self.app["container_stopped"]:
            return "stopped"
        if active is not None:
            return "running"
        if newest is None:
            return "not deployed"
        return "failed" if newest["status"] is Status.FAILED else "stopped"


class Overview:
    """The dashboard's reads, as the controller's face hands them out."""

    async def app_summaries(self) -> list[AppSummary]:
        return await app_summaries()

    async def app_summary(self, app_id: int) -> AppSummary | None:
        return await app_summary(app_id)

    async def history(self, app_id: int, limit: int, before: int | None = None) -> list[Row]:
        return await history(app_id, limit, before)


async def app_summaries() -> list[AppSummary]:
    """Every app by name, each with its active and newest deployment."""
    apps = await App.all().order_by("name").values(*APP_FIELDS)
    newest = await _summary_rows(NEWEST)
    active = await _summary_rows(ACTIVE)
    return [AppSummary(app, active.get(app["id"]), newest.get(app["id"])) for app in apps]


async def app_summary(app_id: int) -> AppSummary | None:
    """One app with its active and newest deployment, or None when it does not exist."""
    app = await App.filter(id=app_id).first().values(*APP_FIELDS)
    if app is None:
        return None
    active = (
        await Deployment.filter(app_id=app_id, is_active=True).first().values(*DEPLOYMENT_FIELDS)
    )
    newest = (
        await Deployment.filter(app_id=app_id).order_by("-id").first().values(*DEPLOYMENT_FIELDS)
    )
    return AppSummary(app, active, newest)


async def history(app_id: int, limit: int, before: int | None = None) -> list[Row]:
    """The app's deployments newest first, `limit` of them, older than id `before` if given."""
    query = Deployment.filter(app_id=app_id)
    if before is not None:
        query = query.filter(id__lt=before)
    return list(await query.order_by("-id").limit(limit).values(*DEPLOYMENT_FIELDS))


def live_one(newest_first: list[Row]) -> Row | None:
    """The deployment to follow live among the newest ones: the one running, else the newest
    one waiting, else None."""
    waiting = [row for row in newest_first if row["status"] is Status.PENDING]
    running = [row for row in newest_first if row["status"] in NOT_FINISHED[1:]]
    if running:
        return running[0]
    return waiting[0] if waiting else None


async def _summary_rows(sql: str) -> dict[int, Row]:
    """app id -> its row, typed as the ORM would (SQLite answers text and integers)."""
    found: dict[int, Row] = {}
    for row in await connections.get("default").execute_query_dict(sql):
        row["status"] = Status(row["status"])
        row["is_active"] = bool(row["is_active"])
        row["created_at"] = _moment(row["created_at"])
        found[int(row["app_id"])] = row
    return found


def _moment(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
