"""Events of other instances, republished to this instance's watchers: a dedicated PostgreSQL
connection LISTENs on shared_log.CHANNEL; a notice of log lines is read back from the database
(only when someone here watches that deployment), a status event is delivered as sent. The
connection is re-opened when lost; every watcher then gets a `resync` event and reads what it
missed from the database (api/routes/ws.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information
from tortoise.backends.base.config_generator import expand_db_url

from controller.events import shared_log
from controller.events.bus import Event, EventType, Topic
from controller.events.shared_bus import SharedBus

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 10.0
RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0)  # between attempts to re-open the listening connection
PING_SECONDS = 10.0  # a connection silently gone is noticed within this (plus its timeout)
PING_TIMEOUT_SECONDS = 5.0
CLOSE_TIMEOUT_SECONDS = 5.0
RELAYED_TYPES: frozenset[EventType] = frozenset({"status", "error", "deployment"})
# Notices waiting to be relayed, at most; past it they are dropped and watchers resync instead.
MAX_WAITING_NOTICES = 10_000


def connect_options(database_url: str) -> dict[str, Any]:
    """asyncpg.connect's arguments for the database of a Tortoise URL."""
    credentials = expand_db_url(database_url)["credentials"]
    return {
        key: credentials[key]
        for key in ("host", "port", "user", "password", "database")
        if credentials.get(key) not in (None, "")
    }


class Relay:
    """The owned task that listens and republishes (see module doc)."""

    def __init__(self, database_url: str, bus: SharedBus) -> None:
        self._options = connect_options(database_url)
        self._bus = bus
        self._notices: deque[str] = deque()
        self._arrived = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()  # set while listening (tests wait on it)
        self.connections = 0  # how many times the listening connection was opened

    def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="fogbank-relay")

    async def stop(self) -> None:
        self._stopping.set()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                connection = await asyncpg.connect(**self._options, timeout=CONNECT_TIMEOUT_SECONDS)
            except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
                pause = RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)]
                failures += 1
                log.warning("relay: cannot listen (%s); again in %.1f s", exc, pause)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), pause)
                continue
            failures = 0
            try:
                await self._listen(connection)
            except asyncio.CancelledError:
                raise
            except Exception:  # the loop boundary: log, re-open the connection
                log.exception("relay: listening connection lost")
            finally:
                self.connected.clear()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(connection.close(), CLOSE_TIMEOUT_SECONDS)

    async def _listen(self, connection: asyncpg.Connection) -> None:
        lost = asyncio.Event()

        def on_lost(_connection: object) -> None:
            lost.set()
            self._arrived.set()

        connection.add_termination_listener(on_lost)
        await connection.add_listener(shared_log.CHANNEL, self._on_notice)
        self.connections += 1
        self.connected.set()
        if self.connections > 1:
            # Notices sent while no connection listened are gone: watchers read the database.
            self._resync()
        while not lost.is_set():
            while self._notices:
                if len(self._notices) > MAX_WAITING_NOTICES:
                    log.warning("relay: %d notices behind; watchers resync", len(self._notices))
                    self._notices.clear()
                    self._resync()
                    break
                await self._relay(self._notices.popleft())
            self._arrived.clear()
            try:
                async with asyncio.timeout(PING_SECONDS):
                    await self._arrived.wait()
            except TimeoutError:
                await connection.fetchval("SELECT 1", timeout=PING_TIMEOUT_SECONDS)
        raise ConnectionError("the listening connection was closed")

    def _resync(self) -> None:
        for deployment_id in self._bus.watched_ids():
            self._bus.deliver(deployment_id, Event("resync", {}))

    def _on_notice(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        self._notices.append(payload)
        self._arrived.set()

    async def _relay(self, payload: str) -> None:
        try:
            notice: dict[str, Any] = json.loads(payload)
        except ValueError:
            log.warning("relay: a notice that is not JSON was ignored")
            return
        if notice.get("o") == self._bus.origin:
            return  # this instance's own: its watchers have it already
        if "f" in notice:
            deployment_id = int(notice["d"])
            if not self._bus.subscriber_count(deployment_id):
                return
            lines = await shared_log.read_range(deployment_id, int(notice["f"]), int(notice["l"]))
            for seq, line in lines:
                self._bus.deliver(deployment_id, Event("log", {"line": line, "seq": seq}))
            return
        frame = notice.get("e") or {}
        if frame.get("type") not in RELAYED_TYPES:
            return
        event = Event(frame["type"], dict(frame.get("data") or {}), str(frame.get("timestamp")))
        topic: Topic = int(notice["d"]) if "d" in notice else ("app", int(notice["a"]))
        self._bus.deliver(topic, event)
