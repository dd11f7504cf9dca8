"""The durable deployment queue: the `deployment` table itself.

enqueue numbers deployments per app without gaps or duplicates; claim_next hands a worker the
newest pending deployment of an idle app with a compare-and-set, superseding older pending ones.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from controller.deploy.inflight import SUPERSEDED_PREFIX
from controller.deploy.locked_claim import claim_locked, shared_queue
from controller.store.bulk import insert_rows
from controller.store.models import IN_FLIGHT, App, Deployment, Stage, Status, Trigger
from controller.store.timefmt import utcnow

INTERRUPTED_MESSAGE = "interrupted: controller restarted"


@dataclass(frozen=True)
class CommitRef:
    sha: str
    message: str = ""
    author: str = ""


@dataclass(frozen=True)
class Enqueued:
    id: int
    deployment_number: int
    app_id: int


@dataclass(frozen=True)
class Claim:
    deployment: Deployment
    superseded: int  # how many older pending deployments of the app this claim stopped


def superseded_reason(deployment_number: int) -> str:
    return f"{SUPERSEDED_PREFIX}{deployment_number}"


async def enqueue(
    app: App,
    commit: CommitRef,
    triggered_by: Trigger,
    *,
    rolled_back_from: int | None = None,
    image_tag: str = "",
    image_ref: str = "",
    image_digest: str = "",
) -> Deployment:
    """Append a pending deployment; its deployment_number is the app's next one."""
    async with in_transaction():
        # The UPDATE takes the row (or database) write lock first, so concurrent enqueues of
        # one app serialise here and each reads back its own number.
        await App.filter(id=app.id).update(deployment_counter=F("deployment_counter") + 1)
        number = (await App.get(id=app.id)).deployment_counter
        return await Deployment.create(
            app_id=app.id,
            deployment_number=number,
            commit_hash=commit.sha,
            commit_message=commit.message,
            commit_author=commit.author,
            triggered_by=triggered_by,
            rolled_back_from=rolled_back_from,
            image_tag=image_tag,
            image_ref=image_ref,
            image_digest=image_digest,
        )


@dataclass(frozen=True)
class NewDeployment:
    """One row to enqueue: what the door decided to deploy."""

    app_id: int
    commit: CommitRef
    triggered_by: Trigger
    rolled_back_from: int | None = None
    image_tag: str = ""
    requested_by: str = ""
    image_ref: str = ""  # image apps: the reference to pull
    image_digest: str = ""  # ... and exactly which image, when known (poll, rollback)


async def enqueue_many(wanted: Sequence[NewDeployment]) -> list[Enqueued]:
    """Append one pending deployment per item, numbered in order per app, in few statements;
    the answer is in the order of `wanted`.

    For a burst of webhook deliveries: each app's counter moves once, by its number of new rows,
    every row goes in with one multi-row insert and their ids come back with one select. Must
    run inside the caller's transaction. The counters are bumped before they are read, as in
    `enqueue`, so concurrent writers serialise on the row lock.
    """
    if not wanted:
        return []
    per_app: dict[int, int] = {}
    for item in wanted:
        per_app[item.app_id] = per_app.get(item.app_id, 0) + 1
    # In app id order: two batches (two instances) naming the same apps in other orders would
    # otherwise each hold a row lock the other waits for (PostgreSQL aborts one: a deadlock).
    for app_id in sorted(per_app):
        await App.filter(id=app_id).update(
            deployment_counter=F("deployment_counter") + per_app[app_id]
        )
    counters = await App.filter(id__in=list(per_app)).values_list("id", "deployment_counter")
    first = {
        int(str(app_id)): int(str(last)) - per_app[int(str(app_id))] + 1
        for app_id, last in counters
    }
    numbers: list[int] = []
    taken = dict.fromkeys(per_app, 0)
    for item in wanted:
        numbers.append(first[item.app_id] + taken[item.app_id])
        taken[item.app_id] += 1
    rows: list[dict[str, Any]] = []
    for item, number in zip(wanted, numbers, strict=True):
        row: dict[str, Any] = {
            "app_id": item.app_id,
            "deployment_number": number,
            "commit_hash": item.commit.sha,
            "commit_message": item.commit.message,
            "commit_author": item.commit.author,
            "triggered_by": item.triggered_by,
        }
        if item.rolled_back_from is not None:
            row["rolled_back_from"] = item.rolled_back_from
        if item.image_tag:
            row["image_tag"] = item.image_tag
        if item.requested_by:
            row["requested_by"] = item.requested_by
        if item.image_ref:
            row["image_ref"] = item.image_ref
        if item.image_digest:
            row["image_digest"] = item.image_digest
        rows.append(row)
    await insert_rows(Deployment, rows)
    # A many-row insert does not read back primary keys; (app_id, deployment_number) is unique.
    made = Q(
        *[Q(app_id=app_id, deployment_number__gte=number) for app_id, number in first.items()],
        join_type=Q.OR,
    )
    ids = {
        (int(str(app_id)), int(str(number))): int(str(deployment_id))
        for app_id, deployment_id, number in await Deployment.filter(made).values_list(
            "app_id", "id", "deployment_number"
        )
    }
    return [
        Enqueued(ids[(item.app_id, number)], number, item.app_id)
        for item, number in zip(wanted, numbers, strict=True)
    ]


async def supersede_older(app_id: int, newest_id: int, newest_number: int) -> int:
    """Stop the app's pending deployments older than `newest_id` ("latest wins"); how many."""
    now = utcnow()
    return await Deployment.filter(app_id=app_id, status=Status.PENDING, id__lt=newest_id).update(
        status=Status.STOPPED,
        error_message=superseded_reason(newest_number),
        finished_at=now,
        updated_at=now,
    )


async def claim_next(busy_app_ids: set[int], instance: str = "") -> Claim | None:
    """Claim the newest pending deployment of the app waiting longest for `instance` (the one
    that recovers it if this process dies), or None.

    Apps in `busy_app_ids` (running in this process) or with an in-flight row are skipped.
    On PostgreSQL the claim locks the app's row, for instances sharing the queue.
    """
    if shared_queue():
        locked = await claim_locked(busy_app_ids, instance)
        if locked is None:
            return None
        superseded = await supersede_older(locked.app_id, locked.id, locked.deployment_number)
        return Claim(locked, superseded)
    candidates = (
        await Deployment.filter(status=Status.PENDING)
        .exclude(app_id__in=busy_app_ids)
        .order_by("id")
        .values_list("app_id", flat=True)
    )
    seen: set[int] = set()
    for raw_app_id in candidates:
        app_id = int(str(raw_app_id))
        if app_id in seen:
            continue
        seen.add(app_id)
        if await Deployment.filter(app_id=app_id, status__in=IN_FLIGHT).exists():
            continue
        newest = (
            await Deployment.filter(app_id=app_id, status=Status.PENDING).order_by("-id").first()
        )
        if newest is None:
            continue
        now = utcnow()
        claimed = await Deployment.filter(id=newest.id, status=Status.PENDING).update(
            status=Status.BUILDING, started_at=now, updated_at=now, instance=instance
        )
        if claimed != 1:
            continue  # another worker (or a stop) got there first
        # One statement for all of them, by condition rather than by id: a burst of pushes may
        # leave thousands pending (the door supersedes at enqueue too; this covers a race).
        superseded = await supersede_older(app_id, newest.id, newest.deployment_number)
        await newest.refresh_from_db()
        return Claim(newest, superseded)
    return None


async def fail_interrupted(
    holders: Collection[str] | None = None, message: str = INTERRUPTED_MESSAGE
) -> list[Deployment]:
    """Mark the in-flight deployments of the instances `holders` (None: every one) failed, the
    process that ran them being gone; return those this call failed. Each row moves by
    compare-and-set, so of two instances taking over the same work only one fails each row."""
    found = Deployment.filter(status__in=IN_FLIGHT)
    if holders is not None:
        found = found.filter(instance__in=list(holders))
    interrupted: list[Deployment] = []
    for deployment in await found.order_by("id"):
        now = utcnow()
        failed = await Deployment.filter(
            id=deployment.id, status__in=IN_FLIGHT, instance=deployment.instance
        ).update(status=Status.FAILED, error_message=message, finished_at=now, updated_at=now)
        if failed != 1:
            continue
        deployment.status = Status.FAILED
        deployment.error_message = message
        deployment.finished_at = deployment.updated_at = now
        interrupted.append(deployment)
    return interrupted


async def requeue_if_newest(deployment: Deployment) -> Deployment | None:
    """Enqueue the same commit again when `deployment` was its app's newest request."""
    newer = await Deployment.filter(app_id=deployment.app_id, id__gt=deployment.id).exists()
    if newer:
        return None
    app = await App.get(id=deployment.app_id)
    return await enqueue(
        app,
        CommitRef(deployment.commit_hash, deployment.commit_message, deployment.commit_author),
        deployment.triggered_by,
        rolled_back_from=deployment.rolled_back_from,
        image_tag=deployment.image_tag if deployment.triggered_by is Trigger.ROLLBACK else "",
        image_ref=deployment.image_ref,
        image_digest=deployment.image_digest,
    )


async def stop_pending(app_id: int, reason: str) -> list[Deployment]:
    """Stop every pending deployment of an app (used when the app is deleted)."""
    pending = await Deployment.filter(app_id=app_id, status=Status.PENDING)
    now = utcnow()
    for deployment in pending:
        await Deployment.filter(id=deployment.id, status=Status.PENDING).update(
            status=Status.STOPPED, error_message=reason, finished_at=now, stage=Stage.NONE
        )
    return pending
