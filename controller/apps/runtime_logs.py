"""What a running app prints: the output of the container serving it, read once (the last lines)
or followed across swaps: when another deployment's container takes the traffic, the follow moves
to it and says so in a status event. Secret values are masked; each watcher has a bounded queue,
and one that falls a whole queue behind is marked overflowed (the socket then drops it)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

from controller.errors import Conflict, FogbankError
from controller.events.bus import Event, EventBus, Subscription
from controller.events.deployment_logs import mask_values, masked
from controller.runtime.container_logs import STREAMS, LogLine, Stream, follow_lines, read_lines
from controller.runtime.engine import Engine
from controller.runtime.state import ContainerState
from controller.store.models import App, Deployment, EnvVar, Stage, Status

log = logging.getLogger(__name__)

# How often a follow asks which container serves the app (a swap is seen within this).
POLL_SECONDS = 1.0
# Events one watcher may have waiting; more and it is dropped (it resumes with ?since=).
QUEUE_SIZE = 10_000
MAX_TAIL = 5_000

Following = contextlib.AbstractAsyncContextManager[Subscription]


@dataclass(frozen=True)
class AppLogs:
    """The last lines of the container serving an app, secrets masked."""

    app_id: int
    deployment_id: int
    container_id: str
    lines: list[LogLine]


async def serving_deployment(app_id: int) -> Deployment | None:
    """The deployment whose container takes the app's traffic: one that has switched the edge to
    its new container and is in its safety window (start-first), else the active one."""
    switched = (
        await Deployment.filter(app_id=app_id, status=Status.DEPLOYING, stage=Stage.STOPPING_OLD)
        .exclude(container_id="")
        .order_by("-id")
        .first()
    )
    if switched is not None:
        return switched
    return await Deployment.filter(app_id=app_id, is_active=True).exclude(container_id="").first()


async def secrets_of(app_id: int, container: ContainerState | None) -> tuple[str, ...]:
    """What to mask: the app's secret values now, and the values the container was started with
    for those keys (a secret changed since the deploy is still printed with its old value)."""
    secrets = await EnvVar.filter(app_id=app_id, is_secret=True)
    values = [env.value for env in secrets]
    if container is not None:
        values += [container.env[env.key] for env in secrets if env.key in container.env]
    return mask_values(values)


class RuntimeLogs:
    """Reads and follows app output; `watchers` holds every follow's queue (closed on shutdown)."""

    def __init__(
        self, engine: Engine, *, queue_size: int = QUEUE_SIZE, poll_seconds: float = POLL_SECONDS
    ) -> None:
        self.engine = engine
        self.watchers = EventBus(queue_size)
        self.poll_seconds = poll_seconds

    async def read(self, app: App, *, tail: int, since_ns: int = 0) -> AppLogs:
        """The last `tail` lines written after `since_ns`; Conflict when nothing serves the app."""
        deployment = await serving_deployment(app.id)
        if deployment is None:
            raise Conflict(f"app '{app.name}' has no active deployment yet", code="NOT_DEPLOYED")
        container = await self.engine.inspect(deployment.container_id)
        if container is None:
            raise Conflict(
                f"the container of deployment #{deployment.deployment_number} is gone "
                "(drift repair restores it)",
                code="CONTAINER_GONE",
            )
        values = await secrets_of(app.id, container)
        backlog = await read_lines(self.engine, container.id, tail=tail, since_ns=since_ns)
        hidden = [replace(line, line=masked(line.line, values)) for line in backlog.lines]
        return AppLogs(app.id, deployment.id, deployment.container_id, hidden)

    @contextlib.asynccontextmanager
    async def follow(self, app_id: int, *, tail: int, since_ns: int) -> AsyncIterator[Subscription]:
        """A queue of status and log events of the app's serving container, from the last
        `tail` lines after `since_ns` on, for as long as the block runs."""
        with self.watchers.subscribe(app_id) as subscription:
            follow = _Follow(self, app_id, subscription)
            task = asyncio.create_task(follow.run(tail, since_ns), name=f"app-logs-{app_id}")
            try:
                yield subscription
            finally:
                task.cancel()
                await asyncio.wait({task})


class _Follow:
    """One watcher's follow: which container serves the app, checked every poll; its lines."""

    def __init__(self, logs: RuntimeLogs, app_id: int, subscription: Subscription) -> None:
        self._logs = logs
        self._app_id = app_id
        self._subscription = subscription
        self._started_ns = time.time_ns()
        # The last line's time per container and stream followed: a container followed again
        # (it restarted, or traffic came back to it) goes on from there.
        self._cursors: dict[tuple[str, Stream], int] = {}
        self._reported: str | None = None

    async def run(self, tail: int, since_ns: int) -> None:
        try:
            await self._run(tail, since_ns)
        except Exception:  # the loop's boundary: the watcher is told, the server goes on
            log.exception("following the logs of app %s failed", self._app_id)
            self._end("following the logs failed: internal error")

    async def _run(self, tail: int, since_ns: int) -> None:
        followed: str | None = None
        reader: asyncio.Task[None] | None = None
        first = True
        try:
            while True:
                if not await App.exists(id=self._app_id):
                    self._end("the app was deleted")
                    return
                deployment = await serving_deployment(self._app_id)
                container_id = deployment.container_id if deployment else None
                if first or container_id != followed:
                    self._report_end_of(reader)
                    await _cancel(reader)
                    reader = None
                    self._announce(deployment, switched=not first)
                    followed = container_id
                if deployment is not None and (reader is None or reader.done()):
                    self._report_end_of(reader)
                    initial = (tail, since_ns) if first else None
                    reader = asyncio.create_task(self._read(deployment, initial))
                first = False
                await asyncio.sleep(self._logs.poll_seconds)
        finally:
            await _cancel(reader)

    async def _read(self, deployment: Deployment, initial: tuple[int, int] | None) -> None:
        """Follow the deployment's container until it stops: the first one from its last lines,
        any other from where this watcher left it (or from when the watcher began)."""
        engine = self._logs.engine
        container = await engine.inspect(deployment.container_id)
        if container is None:
            raise Conflict(f"the container of deployment #{deployment.deployment_number} is gone")
        values = await secrets_of(self._app_id, container)
        start_ns = self._started_ns
        if initial is not None:
            tail, since_ns = initial
            start_ns = max(since_ns, time.time_ns())
            backlog = await read_lines(engine, container.id, tail=tail, since_ns=since_ns)
            for line in backlog.lines:
                self._line(container.id, line, values)
            for stream, last_ns in backlog.last_ns.items():
                self._cursors[(container.id, stream)] = last_ns
        since = {s: self._cursors.get((container.id, s), start_ns) for s in STREAMS}
        await follow_lines(
            engine,
            container.id,
            since_ns=since,
            emit=lambda line: self._line(container.id, line, values),
        )

    def _line(self, container_id: str, line: LogLine, values: tuple[str, ...]) -> None:
        self._cursors[(container_id, line.stream)] = line.timestamp_ns
        data = {"line": masked(line.line, values), "stream": line.stream}
        self._subscription.offer(Event("log", data, line.timestamp))

    def _announce(self, deployment: Deployment | None, *, switched: bool) -> None:
        if deployment is None:
            message = "no deployment serves the app; waiting for one"
        elif switched:
            message = (
                f"deployment #{deployment.deployment_number} serves the app now: following "
                f"its container {deployment.container_id[:12]}"
            )
        else:
            message = (
                f"following deployment #{deployment.deployment_number} "
                f"(container {deployment.container_id[:12]})"
            )
        self._status(deployment, message)

    def _report_end_of(self, reader: asyncio.Task[None] | None) -> None:
        """Say why the last read ended, when it failed (once per distinct reason)."""
        if reader is None or not reader.done() or reader.cancelled():
            return
        if reader.exception() is None:
            return
        error = reader.exception()
        if not isinstance(error, FogbankError):
            log.error("reading the logs of app %s failed", self._app_id, exc_info=error)
            return
        if error.message != self._reported:
            self._reported = error.message
            self._status(None, f"cannot read the logs: {error.message}; retrying")

    def _status(self, deployment: Deployment | None, message: str) -> None:
        data: dict[str, Any] = {
            "app_id": self._app_id,
            "deployment_id": deployment.id if deployment else None,
            "deployment_number": deployment.deployment_number if deployment else None,
            "container_id": deployment.container_id if deployment else None,
            "message": message,
        }
        self._subscription.offer(Event("status", data))

    def _end(self, message: str) -> None:
        """The follow is over: the socket sends this as a status frame and closes 1000."""
        self._subscription.offer(Event("closing", {"message": message, "code": 1000}))


async def _cancel(task: asyncio.Task[None] | None) -> None:
    if task is None:
        return
    if not task.done():
        task.cancel()
        await asyncio.wait({task})
    if not task.cancelled():
        task.exception()  # retrieved: it was reported already, or it no longer matters
