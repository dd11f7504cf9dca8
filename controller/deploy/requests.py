"""The one door every deployment request comes through: manual add, rollback, webhook, poll.

For a batch of requests it names what to deploy, enqueues it (numbered per app, one
transaction with whatever the caller records alongside), supersedes each app's older pending
requests, cancels the app's older build still running when the new request is newer ("latest
wins": at once for manual and rollback requests, after an ancestry check for pushes and polls,
so an older commit never cancels a newer one), and wakes a worker. A push or poll of a commit
already pending, running or active for its app creates nothing new.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from tortoise.transactions import in_transaction

from controller.deploy import reachability
from controller.deploy.duplicates import AUTOMATIC, Existing, already_there, dedup_key
from controller.deploy.image_plan import image_plan
from controller.deploy.inflight import RunControl
from controller.deploy.queue import (
    CommitRef,
    Enqueued,
    NewDeployment,
    enqueue_many,
    supersede_older,
    superseded_reason,
)
from controller.deploy.rollback import rollback_plan
from controller.errors import FogbankError, NotFound
from controller.notify.notices import Notices
from controller.source.mirror import GitSync
from controller.store.models import App, Status, Trigger
from controller.telemetry.metrics import Metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeploymentRequest:
    """What a caller asks for. `commit` None (manual only) means the branch head, named now;
    a rollback names the earlier deployment to return to in `rollback_to`."""

    app_id: int
    trigger: Trigger
    commit: CommitRef | None = None
    rollback_to: int | None = None
    requested_by: str = ""  # the user of a manual deploy or rollback
    allow_unreachable: bool = False  # a manual commit on no branch (an admin's choice)
    image: str | None = None  # an image app's reference to deploy (default: the app's)
    image_digest: str = ""  # the digest a poll found (`commit` then holds its commit_hash)


Outcome = Enqueued | Existing
# Called inside the door's transaction with the outcome of each request, in order.
Recorder = Callable[[Sequence[Outcome]], Awaitable[None]]


class RequestFn(Protocol):
    """The door's signature, for callers that are handed it (polling, the webhook intake)."""

    def __call__(
        self, wanted: Sequence[DeploymentRequest], *, record: Recorder | None = None
    ) -> Awaitable[list[Outcome]]: ...


class Workers(Protocol):
    """What the door needs of the worker pool."""

    def running(self, app_id: int) -> RunControl | None: ...

    def wake(self, app_ids: Iterable[int] = ()) -> None: ...

    async def announce_superseded(self, app_id: int, newest_number: int) -> None: ...


class RequestDoor:
    def __init__(
        self,
        git: GitSync,
        workers: Workers,
        notices: Notices | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        """`notices` and `metrics` default to ones nobody reads (tests of the door alone)."""
        self._git = git
        self._workers = workers
        self._notices = notices
        self._metrics = metrics or Metrics()
        # Ancestry checks of pushes against running builds: one task per app at a time, which
        # checks the newest candidate that arrived meanwhile (a burst costs one check, not one
        # per batch).
        self._checks: dict[int, asyncio.Task[None]] = {}
        self._candidates: dict[int, tuple[RunControl, str, str]] = {}

    async def request(
        self, wanted: Sequence[DeploymentRequest], *, record: Recorder | None = None
    ) -> list[Outcome]:
        """Enqueue `wanted` (see the module docstring); the outcome of each, in order."""
        ids = await App.filter(id__in={r.app_id for r in wanted}).values_list("id", flat=True)
        known = {int(str(app_id)) for app_id in ids}
        planned = [await self._plan(request, request.app_id in known) for request in wanted]
        async with in_transaction():
            existing = await already_there(planned)
            fresh: list[NewDeployment] = []
            slots: list[Existing | int] = []  # per request: what exists, or its row in fresh
            first_of: dict[tuple[int, str], int] = {}
            for item in planned:
                key = dedup_key(item)
                if key is not None and key in existing:
                    slots.append(existing[key])
                elif key is not None and key in first_of:
                    slots.append(first_of[key])  # a twin later in the batch: nothing new
                else:
                    if key is not None:
                        first_of[key] = len(fresh)
                    slots.append(len(fresh))
                    fresh.append(item)
            made = await enqueue_many(fresh)
            await self._queued(fresh, made)
            outcomes: list[Outcome] = []
            answered: set[int] = set()
            for slot in slots:
                if isinstance(slot, Existing):
                    outcomes.append(slot)
                elif slot in answered:
                    twin = made[slot]
                    outcomes.append(
                        Existing(
                            twin.id, twin.deployment_number, twin.app_id, Status.PENDING, False
                        )
                    )
                else:
                    answered.add(slot)
                    outcomes.append(made[slot])
            newest = {item.app_id: (made[index], item) for index, item in enumerate(fresh)}
            superseded = {
                app_id: await self._supersede(app_id, last) for app_id, (last, _) in newest.items()
            }
            if record is not None:
                await record(outcomes)
        for app_id, (last, item) in newest.items():
            if superseded[app_id]:
                await self._workers.announce_superseded(app_id, last.deployment_number)
            self._supersede_running(last, item)
        if newest:
            self._workers.wake(newest)
        return outcomes

    async def _queued(self, fresh: Sequence[NewDeployment], made: Sequence[Enqueued]) -> None:
        """Count the new requests and write GitHub's `pending` (a dict lookup per request when
        nothing reports: the webhook burst path)."""
        for item in fresh:
            self._metrics.deployments_queued.inc(str(item.triggered_by))
        if self._notices is None:
            return
        reported = [
            (enqueued.id, enqueued.app_id, enqueued.deployment_number, item.commit.sha)
            for item, enqueued in zip(fresh, made, strict=True)
            if self._notices.wants(item.app_id)
        ]
        if reported:
            await self._notices.queued(reported)

    async def _supersede(self, app_id: int, newest: Enqueued) -> int:
        count = await supersede_older(app_id, newest.id, newest.deployment_number)
        if count:
            self._metrics.superseded.inc(amount=count)
            if self._notices is not None and self._notices.wants(app_id):
                reason = superseded_reason(newest.deployment_number)
                await self._notices.superseded(app_id, reason)
        return count

    async def close(self) -> None:
        """Cancel the ancestry checks still running."""
        checks, self._checks = set(self._checks.values()), {}
        self._candidates.clear()
        for task in checks:
            task.cancel()
        if checks:
            await asyncio.wait(checks)

    async def _plan(self, request: DeploymentRequest, known: bool) -> NewDeployment:
        planned = await self._decide(request, known)
        if request.requested_by:
            planned = replace(planned, requested_by=request.requested_by)
        return planned

    async def _decide(self, request: DeploymentRequest, known: bool) -> NewDeployment:
        if not known:
            raise NotFound(f"app {request.app_id} does not exist", code="APP_NOT_FOUND")
        if request.trigger in AUTOMATIC and request.commit is not None:
            found = NewDeployment(request.app_id, request.commit, request.trigger)
            return replace(found, image_ref=request.image or "", image_digest=request.image_digest)
        app = await App.get(id=request.app_id)
        if request.trigger is Trigger.ROLLBACK:
            if request.rollback_to is None:
                raise ValueError("a rollback request names the deployment to return to")
            return await rollback_plan(app, request.rollback_to)
        if (planned := image_plan(app, request.trigger, request.image, request.commit)) is not None:
            return planned
        commit = request.commit
        if commit is None and request.trigger is Trigger.MANUAL:
            # The branch head is named by asking the remote, not by fetching it: the add answers
            # at once, and the worker fetches and fills in the message and author (README).
            sha = await self._git.remote_head(self._git.remote_of(app), app.git_branch)
            return NewDeployment(app.id, CommitRef(sha), request.trigger)
        if commit is None or request.trigger is Trigger.MANUAL:
            named, off = await reachability.named(self._git, app, commit, request.allow_unreachable)
            remote, branch = self._git.remote_of(app), app.git_branch
            info = await self._git.resolve(app.name, remote, branch, named, fetch_off_branch=off)
            commit = CommitRef(info.sha, info.message, info.author)
        return NewDeployment(app.id, commit, request.trigger)

    def _supersede_running(self, newest: Enqueued, item: NewDeployment) -> None:
        """Latest wins: a newer request cancels its app's build still in progress (before the
        switch; after it, the newer one simply runs next). A push or poll does so only when the
        running commit is an ancestor of the new one."""
        control = self._workers.running(item.app_id)
        if control is None or control.deployment_id >= newest.id or control.switched:
            return
        reason = superseded_reason(newest.deployment_number)
        if item.triggered_by not in AUTOMATIC or item.image_ref:
            control.request_stop(reason)
            return
        if control.commit_hash == item.commit.sha:
            return
        self._candidates[item.app_id] = (control, item.commit.sha, reason)
        if item.app_id not in self._checks:
            self._checks[item.app_id] = asyncio.create_task(
                self._check_pushes(item.app_id), name=f"fogbank-supersede-app-{item.app_id}"
            )

    async def _check_pushes(self, app_id: int) -> None:
        """Stop the app's running build when the newest pushed commit descends from it."""
        try:
            while (candidate := self._candidates.pop(app_id, None)) is not None:
                control, newer, reason = candidate
                if control.finished.is_set() or control.switched or control.stop_reason:
                    continue
                if await self._descends(app_id, control, newer):
                    control.request_stop(reason)
        finally:
            self._checks.pop(app_id, None)

    async def _descends(self, app_id: int, control: RunControl, newer: str) -> bool:
        """Whether `newer` has the running commit as an ancestor; fetches the branch only when
        the mirror does not have `newer` yet. False (the build keeps running) when unknown."""
        try:
            app = await App.get(id=app_id)
            if not await self._git.has_commit(app.name, newer):
                await self._git.resolve(app.name, self._git.remote_of(app), app.git_branch, newer)
            return await self._git.is_ancestor(app.name, control.commit_hash, newer)
        except FogbankError as exc:
            log.warning(
                "could not tell whether deployment %s is older than %s: %s; it keeps running",
                control.deployment_id,
                newer[:12],
                exc.message,
            )
            return False
