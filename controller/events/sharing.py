"""The deployments' event bus and log files, whether this instance shares them with others (on
PostgreSQL), and where a log is read from: this instance's file when it wrote one (every line it
published is there), else the shared database. On SQLite nothing is shared and logs are files,
as on one server."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from controller.events import shared_log
from controller.events.bus import EventBus
from controller.events.deployment_logs import DeploymentLogs

if TYPE_CHECKING:
    from controller.events.relay import Relay
    from controller.events.shared_bus import Announcer

Line = tuple[int, str]


class EventSharing:
    def __init__(self, database_url: str, logs_dir: Path, max_log_bytes: int | None) -> None:
        self.shared = shared_log.is_postgres_url(database_url)
        self.bus: EventBus
        self._announcer: Announcer | None = None
        self.relay: Relay | None = None
        if self.shared:
            # Imported here: a single SQLite instance never loads asyncpg.
            from controller.events.relay import Relay  # noqa: PLC0415 - see the comment
            from controller.events.shared_bus import Announcer, SharedBus  # noqa: PLC0415

            bus = SharedBus()
            self.bus = bus
            self._announcer = Announcer(bus)
            self.relay = Relay(database_url, bus)
        else:
            self.bus = EventBus()
        kind = shared_log.SharedDeploymentLogs if self.shared else DeploymentLogs
        self.logs = kind(logs_dir, self.bus, max_log_bytes)

    def start(self) -> None:
        """After the database is open: listen, and announce what this instance publishes."""
        if self._announcer is not None and self.relay is not None:
            self._announcer.start()
            self.relay.start()

    async def stop(self, timeout_seconds: float) -> None:
        """After the workers stopped: share their last events within the bound, stop listening."""
        if self._announcer is not None and self.relay is not None:
            try:
                await self._announcer.stop(timeout_seconds)
            finally:
                await self.relay.stop()

    async def chunks(self, deployment_id: int, after: int = 0) -> AsyncGenerator[list[Line], None]:
        """The (seq, line)s with seq > after, a bounded chunk at a time."""
        if self._in_database(deployment_id):
            async for page in shared_log.pages(deployment_id, after):
                yield page
            return
        backlog = self.logs.chunks(deployment_id, after)
        try:
            for chunk in backlog:
                yield chunk
        finally:
            backlog.close()

    async def text(self, deployment_id: int) -> str:
        if self._in_database(deployment_id):
            parts: list[str] = []
            async for page in shared_log.pages(deployment_id):
                parts.extend(f"{line}\n" for _, line in page)
            return "".join(parts)
        return self.logs.text(deployment_id)

    async def tail(self, deployment_id: int, lines: int) -> tuple[str, int]:
        """The log's last `lines` lines and how many came before them, read a bounded chunk at
        a time (a long log is never held whole); a file is read in a thread."""
        if self._in_database(deployment_id):
            tail = Tail(lines)
            async for page in shared_log.pages(deployment_id):
                tail.add(page)
            return tail.result()
        return await asyncio.to_thread(Tail(lines).of, self.logs.chunks(deployment_id))

    def _in_database(self, deployment_id: int) -> bool:
        """True when the log is read from the shared table (another instance wrote it)."""
        return self.shared and not self.logs.path(deployment_id).exists()


class Tail:
    """The last lines of a log read chunk by chunk, and how many lines came before them."""

    def __init__(self, lines: int) -> None:
        self._kept: deque[str] = deque(maxlen=lines)
        self._seen = 0

    def add(self, chunk: list[Line]) -> None:
        self._seen += len(chunk)
        self._kept.extend(line for _, line in chunk)

    def result(self) -> tuple[str, int]:
        return "\n".join(self._kept), self._seen - len(self._kept)

    def of(self, chunks: Iterable[list[Line]]) -> tuple[str, int]:
        for chunk in chunks:
            self.add(chunk)
        return self.result()
