"""In-process pub/sub of deployment events: each watcher gets a bounded queue; a watcher that
falls too far behind is marked overflowed and dropped instead of growing memory."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from controller.store.timefmt import iso_now

# "closing" is internal: it tells watchers the server is going away; it is never sent as is.
# "deployment" goes to an app's watchers: a deployment of that app was requested.
# "resync" is internal too: events from other instances may have been missed (relay.py).
EventType = Literal["status", "log", "error", "closing", "deployment", "resync"]
# Watchers of a deployment are keyed by its id, watchers of an app by ("app", its id).
Topic = int | tuple[Literal["app"], int]


@dataclass(frozen=True)
class Event:
    type: EventType
    data: dict[str, Any]
    timestamp: str = field(default_factory=iso_now)

    def frame(self) -> dict[str, Any]:
        """The WebSocket frame, exactly as the seed documents it."""
        return {"type": self.type, "timestamp": self.timestamp, "data": self.data}

    @cached_property
    def data_text(self) -> str:
        """`data` as JSON, serialised once (a batch of log lines joins these)."""
        return json.dumps(self.data)

    @cached_property
    def text(self) -> str:
        """The frame as JSON (json.dumps of `frame()`), serialised once however many watchers
        it goes to."""
        head = f'{{"type": {json.dumps(self.type)}, "timestamp": {json.dumps(self.timestamp)}'
        return f'{head}, "data": {self.data_text}}}'

    @cached_property
    def encoded(self) -> bytes:
        """`text` in UTF-8, encoded once."""
        return self.text.encode()


class EventQueue:
    """A bounded FIFO of events for one consumer, with what asyncio.Queue offers a watcher
    (put_nowait, get_nowait, get, empty, full, qsize) and `take_all`: everything ready at once,
    so a watcher writes one batch where a burst of lines arrived. Cheaper per event than
    asyncio.Queue, which a fan-out pays once per event per watcher."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: deque[Event] = deque()
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, event: Event) -> None:
        if len(self._items) >= self.maxsize:
            raise asyncio.QueueFull
        self._items.append(event)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def get_nowait(self) -> Event:
        if not self._items:
            raise asyncio.QueueEmpty
        return self._items.popleft()

    async def get(self) -> Event:
        await self.wait()
        return self._items.popleft()

    def take_all(self) -> list[Event]:
        """Every event ready now (maybe none), oldest first."""
        items = list(self._items)
        self._items.clear()
        return items

    async def wait(self) -> None:
        """Until an event is ready."""
        while not self._items:
            if self._waiter is None or self._waiter.done():
                self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter

    def empty(self) -> bool:
        return not self._items

    def full(self) -> bool:
        return len(self._items) >= self.maxsize

    def qsize(self) -> int:
        return len(self._items)


class Subscription:
    """A bounded queue of one watcher. A watcher that falls too far behind is marked overflowed
    and gets no more events, so one slow reader never grows memory without bound."""

    def __init__(self, maxsize: int) -> None:
        self.queue = EventQueue(maxsize)
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
    """Fan-out of events per deployment id (and per app id) to every current subscriber."""

    def __init__(self, queue_size: int = 10_000) -> None:
        self._queue_size = queue_size
        self._subscribers: dict[Topic, set[Subscription]] = {}
        self._idle = asyncio.Event()
        self._idle.set()

    def subscribe(self, deployment_id: int) -> contextlib.AbstractContextManager[Subscription]:
        return self._subscribe(deployment_id)

    def subscribe_app(self, app_id: int) -> contextlib.AbstractContextManager[Subscription]:
        """Events about the app as a whole (its deployments being requested)."""
        return self._subscribe(("app", app_id))

    @contextlib.contextmanager
    def _subscribe(self, topic: Topic) -> Iterator[Subscription]:
        subscription = Subscription(self._queue_size)
        self._subscribers.setdefault(topic, set()).add(subscription)
        self._idle.clear()
        try:
            yield subscription
        finally:
            subscribers = self._subscribers.get(topic)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:
                    del self._subscribers[topic]
            if not self._subscribers:
                self._idle.set()

    def watched_ids(self) -> list[int]:
        """The deployments at least one socket is watching."""
        # Unsubscribing drops a deployment with no socket left.
        return [topic for topic in self._subscribers if isinstance(topic, int)]

    def publish(self, deployment_id: int, event: Event) -> None:
        for subscription in tuple(self._subscribers.get(deployment_id, ())):
            subscription.offer(event)

    def publish_app(self, app_id: int, event: Event) -> None:
        for subscription in tuple(self._subscribers.get(("app", app_id), ())):
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
