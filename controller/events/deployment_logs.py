"""In-process pub/sub of deployment events, and the append-only log file of each deployment.

A log line is written to the file and published in one synchronous step, so a watcher that
subscribes first and then reads the file sees every line exactly once (deduplicated by seq).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from controller.store.timefmt import iso_now

# "closing" is internal: it tells watchers the server is going away; it is never sent as is.
EventType = Literal["status", "log", "error", "closing"]
MASK = "********"
MIN_MASKED_LINE = 4


@dataclass(frozen=True)
class Event:
    type: EventType
    data: dict[str, Any]
    timestamp: str = field(default_factory=iso_now)

    def frame(self) -> dict[str, Any]:
        """The WebSocket frame, exactly as the seed documents it."""
        return {"type": self.type, "timestamp": self.timestamp, "data": self.data}

    @cached_property
    def text(self) -> str:
        """The frame as JSON, serialised once however many watchers it goes to."""
        return json.dumps(self.frame())


class Subscription:
    """A bounded queue of one watcher. A watcher that falls too far behind is marked overflowed
    and gets no more events, so one slow reader never grows memory without bound."""

    def __init__(self, maxsize: int) -> None:
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize)
        self.overflowed = False
        # Called once, when the queue overflows (the WebSocket handler then drops the watcher).
        self.on_overflow: Callable[[], None] | None = None

    def offer(self, event: Event) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True
            if self.on_overflow is not None:
                self.on_overflow()


class EventBus:
    """Fan-out of events per deployment id to every current subscriber."""

    def __init__(self, queue_size: int = 10_000) -> None:
        self._queue_size = queue_size
        self._subscribers: dict[int, set[Subscription]] = {}
        self._idle = asyncio.Event()
        self._idle.set()

    @contextlib.contextmanager
    def subscribe(self, deployment_id: int) -> Iterator[Subscription]:
        subscription = Subscription(self._queue_size)
        self._subscribers.setdefault(deployment_id, set()).add(subscription)
        self._idle.clear()
        try:
            yield subscription
        finally:
            subscribers = self._subscribers.get(deployment_id)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:
                    del self._subscribers[deployment_id]
            if not self._subscribers:
                self._idle.set()

    def watched_ids(self) -> list[int]:
        """The deployments at least one socket is watching."""
        return list(self._subscribers)  # unsubscribing drops a deployment with no socket left

    def publish(self, deployment_id: int, event: Event) -> None:
        for subscription in tuple(self._subscribers.get(deployment_id, ())):
            subscription.offer(event)

    def close_all(self, message: str) -> int:
        """Tell every watcher of every deployment that the server is shutting down."""
        event = Event("closing", {"message": message})
        count = 0
        for subscribers in tuple(self._subscribers.values()):
            for subscription in tuple(subscribers):
                # Past a full queue too: this one must arrive.
                subscription.overflowed = False
                if subscription.queue.full():
                    subscription.queue.get_nowait()
                subscription.queue.put_nowait(event)
                count += 1
        return count

    def watchers(self) -> int:
        return sum(len(s) for s in self._subscribers.values())

    async def wait_idle(self) -> None:
        """Until no watcher is subscribed any more."""
        await self._idle.wait()

    def subscriber_count(self, deployment_id: int) -> int:
        return len(self._subscribers.get(deployment_id, ()))


def mask_values(secrets: Sequence[str]) -> tuple[str, ...]:
    """What to mask for these secret values, longest first: each value, trimmed too, and each
    line of a multi-line one (a key file printed by the app reaches the log one line at a time).
    Lines shorter than MIN_MASKED_LINE are left: masking every "a" would hide the log, not the
    secret."""
    values: set[str] = set()
    for secret in secrets:
        values.update({secret, secret.strip()})
        values.update(
            line.strip() for line in secret.splitlines() if len(line.strip()) >= MIN_MASKED_LINE
        )
    values.discard("")
    return tuple(sorted(values, key=len, reverse=True))


class DeploymentLogs:
    """One append-only text file per deployment (keyed by id); line numbers are the seq."""

    def __init__(self, directory: Path, bus: EventBus, max_bytes: int | None = None) -> None:
        self._directory = directory
        self._bus = bus
        self._max_bytes = max_bytes
        self._next_seq: dict[int, int] = {}
        self._size: dict[int, int] = {}
        self._truncated: set[int] = set()
        self._secrets: dict[int, tuple[str, ...]] = {}

    def path(self, deployment_id: int) -> Path:
        return self._directory / f"{deployment_id}.log"

    def open(self, deployment_id: int, secrets: Sequence[str] = ()) -> None:
        """Start (or resume) writing; every secret value is masked in every later line."""
        self._directory.mkdir(parents=True, exist_ok=True)
        self._secrets[deployment_id] = mask_values(secrets)
        if deployment_id not in self._next_seq:
            self._next_seq[deployment_id] = len(self.read(deployment_id)) + 1
            path = self.path(deployment_id)
            self._size[deployment_id] = path.stat().st_size if path.exists() else 0

    def close(self, deployment_id: int) -> None:
        self._next_seq.pop(deployment_id, None)
        self._size.pop(deployment_id, None)
        self._truncated.discard(deployment_id)
        self._secrets.pop(deployment_id, None)

    def append(self, deployment_id: int, text: str, *, essential: bool = False) -> None:
        """Write one or more lines (split on newlines) and publish each as a log event.

        Past max_bytes only `essential` lines (stage changes, errors) are still written; the
        first line dropped leaves a marker, so the file never grows without bound."""
        if deployment_id not in self._next_seq:
            self.open(deployment_id)
        masked = self.mask(deployment_id, text)
        lines = [line.rstrip("\r") for line in masked.split("\n")]
        size = self._size.get(deployment_id, 0)
        if self._max_bytes is not None and not essential and size >= self._max_bytes:
            if deployment_id in self._truncated:
                return
            self._truncated.add(deployment_id)
            lines = [f"[log truncated: build.max_log_bytes ({self._max_bytes}) reached]"]
        self._size[deployment_id] = size + sum(len(line.encode()) + 1 for line in lines)
        with self.path(deployment_id).open("a", encoding="utf-8") as handle:
            for line in lines:
                handle.write(line + "\n")
        for line in lines:
            seq = self._next_seq[deployment_id]
            self._next_seq[deployment_id] = seq + 1
            self._bus.publish(deployment_id, Event("log", {"line": line, "seq": seq}))

    def mask(self, deployment_id: int, text: str) -> str:
        for secret in self._secrets.get(deployment_id, ()):
            text = text.replace(secret, MASK)
        return text

    def read(self, deployment_id: int, after: int = 0) -> list[tuple[int, str]]:
        """Every (seq, line) written so far with seq > after."""
        try:
            content = self.path(deployment_id).read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        lines = content.split("\n")[:-1]
        return [(seq, line) for seq, line in enumerate(lines, start=1) if seq > after]

    def text(self, deployment_id: int) -> str:
        try:
            return self.path(deployment_id).read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def delete(self, deployment_id: int) -> None:
        self.close(deployment_id)
        self.path(deployment_id).unlink(missing_ok=True)
