"""The event bus of an instance that shares its database (PostgreSQL): every event published
here reaches this instance's watchers at once, as on one server, and is also queued for the
announcer, which writes log lines with their seq to the database and sends one NOTIFY per run
of lines or per status event, in publish order, so other instances republish them (relay.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from typing import Any

from tortoise.transactions import in_transaction

from controller.events import shared_log
from controller.events.bus import Event, EventBus, Topic

log = logging.getLogger(__name__)

BATCH_EVENTS = 2000  # events written per transaction
ERROR_PAUSE_SECONDS = 1.0
SHARED_TYPES = frozenset({"status", "log", "error", "deployment"})


class SharedBus(EventBus):
    """An EventBus whose events are also announced to the other instances (see module doc)."""

    def __init__(self, queue_size: int = 10_000) -> None:
        super().__init__(queue_size)
        # Tells this instance's own notices apart from the others'.
        self.origin = uuid.uuid4().hex
        self._outbound: deque[tuple[Topic, Event]] = deque()
        self._ready = asyncio.Event()

    def publish(self, deployment_id: int, event: Event) -> None:
        super().publish(deployment_id, event)
        self._queue(deployment_id, event)

    def publish_app(self, app_id: int, event: Event) -> None:
        super().publish_app(app_id, event)
        self._queue(("app", app_id), event)

    def deliver(self, topic: Topic, event: Event) -> None:
        """An event from another instance, to this instance's watchers only."""
        if isinstance(topic, int):
            super().publish(topic, event)
        else:
            super().publish_app(topic[1], event)

    def _queue(self, topic: Topic, event: Event) -> None:
        if event.type in SHARED_TYPES:
            self._outbound.append((topic, event))
            self._ready.set()

    def pending(self) -> int:
        return len(self._outbound)

    def wake(self) -> None:
        self._ready.set()

    async def wait_queued(self) -> None:
        """Until an event is queued (or wake() is called); clears the signal first when the
        queue is empty, so a wake-up between rounds is not lost."""
        if not self._outbound:
            await self._ready.wait()
        self._ready.clear()

    async def announce_ready(self) -> None:
        """Write what is queued (a bounded batch per transaction) until nothing is left."""
        while self._outbound:
            batch = [self._outbound[i] for i in range(min(BATCH_EVENTS, len(self._outbound)))]
            rows, notices = self._encode(batch)
            async with in_transaction() as connection:
                skipped = await shared_log.write(connection, rows, notices)
            if skipped:
                log.warning(
                    "announcer: %d log lines not shared (seq taken or deployment gone)", skipped
                )
            for _ in batch:
                self._outbound.popleft()

    def _encode(
        self, batch: list[tuple[Topic, Event]]
    ) -> tuple[list[tuple[int, int, str]], list[str]]:
        """The rows of the log lines and the notices, in order: consecutive lines of one
        deployment become one notice with their seq range."""
        rows: list[tuple[int, int, str]] = []
        notices: list[str] = []
        run: list[int] = []  # deployment id, first seq, last seq of the lines being gathered

        def close_run() -> None:
            if run:
                notices.append(
                    shared_log.fitted({"o": self.origin, "d": run[0], "f": run[1], "l": run[2]})
                )
                run.clear()

        for topic, event in batch:
            if event.type == "log" and isinstance(topic, int):
                seq = int(event.data["seq"])
                rows.append((topic, seq, str(event.data["line"])))
                if run and run[0] == topic and run[2] + 1 == seq:
                    run[2] = seq
                else:
                    close_run()
                    run.extend((topic, seq, seq))
                continue
            close_run()
            payload: dict[str, Any] = {"o": self.origin, "e": event.frame()}
            if isinstance(topic, int):
                payload["d"] = topic
            else:
                payload["a"] = topic[1]
            notices.append(shared_log.fitted(payload))
        close_run()
        return rows, notices


class Announcer:
    """The owned task that writes a SharedBus's queue to the database (see SharedBus)."""

    def __init__(self, bus: SharedBus) -> None:
        self._bus = bus
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="fogbank-announcer")

    async def stop(self, timeout_seconds: float) -> None:
        """Write what is left within the bound, then cancel (other instances' watchers then
        read the rest from the row and the log when they re-check)."""
        self._stopping.set()
        self._bus.wake()
        task, self._task = self._task, None
        if task is None:
            return
        _, pending = await asyncio.wait({task}, timeout=timeout_seconds)
        if pending:
            log.warning("announcer: %d events not shared at shutdown", self._bus.pending())
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _run(self) -> None:
        bus = self._bus
        while True:
            try:
                await bus.announce_ready()
            except asyncio.CancelledError:
                raise
            except Exception:  # the loop boundary: log, pause, keep the queue and retry
                log.exception("announcer: could not share %d events", bus.pending())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), ERROR_PAUSE_SECONDS)
                continue
            if self._stopping.is_set():
                return
            await bus.wait_queued()
