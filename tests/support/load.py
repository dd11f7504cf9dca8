"""Steady HTTP load against a loopback URL, recording every answer (for the zero-downtime tests
and bench/zero_downtime.py)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

import httpx


@dataclass(frozen=True)
class Sample:
    started: float
    seconds: float
    status: int  # 0 for a connection error
    body: str


@dataclass
class SteadyLoad:
    """`clients` concurrent loops; half keep connections alive, half open a new one each time."""

    url: str
    clients: int = 10
    host_header: str | None = None
    samples: list[Sample] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def __aenter__(self) -> SteadyLoad:
        for index in range(self.clients):
            self._tasks.append(asyncio.create_task(self._loop(keep_alive=index % 2 == 0)))
        return self

    async def __aexit__(self, *_: object) -> None:
        self._stop.set()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self, *, keep_alive: bool) -> None:
        headers = {"Host": self.host_header} if self.host_header else {}
        limits = httpx.Limits(max_keepalive_connections=1 if keep_alive else 0)
        async with httpx.AsyncClient(timeout=5, limits=limits, headers=headers) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    response = await client.get(self.url)
                except httpx.HTTPError:
                    self.samples.append(Sample(started, time.monotonic() - started, 0, ""))
                    await asyncio.sleep(0.01)
                    continue
                self.samples.append(
                    Sample(started, time.monotonic() - started, response.status_code, response.text)
                )

    @property
    def failures(self) -> list[Sample]:
        return [s for s in self.samples if s.status == 0 or s.status >= 500]

    def bodies(self) -> set[str]:
        return {s.body for s in self.samples if s.status == 200}
