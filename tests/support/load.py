"""Steady HTTP load against a loopback URL, recording every answer (for the zero-downtime tests
and bench/zero_downtime.py). A failure is any answer but a 200 with an expected body: a 404 or
a 502 from the edge during a swap or a restart counts as much as a refused connection."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
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
    """`clients` concurrent loops; half keep connections alive, half open a new one each time.
    `expect`: the bodies a right answer may carry (empty: any body of a 200)."""

    url: str
    clients: int = 10
    host_header: str | None = None
    expect: frozenset[str] = frozenset()
    verify: str | bool | ssl.SSLContext = True  # what https answers are verified with
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
        # https to 127.0.0.1 for a host name: the TLS handshake names the host (SNI).
        tls_name = self.host_header if self.url.startswith("https:") else None
        extensions = {"sni_hostname": tls_name} if tls_name else {}
        limits = httpx.Limits(max_keepalive_connections=1 if keep_alive else 0)
        async with httpx.AsyncClient(
            timeout=5, limits=limits, headers=headers, verify=self.verify
        ) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    response = await client.get(self.url, extensions=extensions)
                except httpx.HTTPError:
                    self.samples.append(Sample(started, time.monotonic() - started, 0, ""))
                    await asyncio.sleep(0.01)
                    continue
                self.samples.append(
                    Sample(started, time.monotonic() - started, response.status_code, response.text)
                )

    @property
    def failures(self) -> list[Sample]:
        """Every answer but a 200 with an expected body (0: no answer at all)."""
        return [
            s
            for s in self.samples
            if s.status != 200 or (self.expect and s.body not in self.expect)
        ]

    def counts(self) -> str:
        """ "N requests, F failed (status: count, ...)" for a test's printout."""
        by_status: dict[int, int] = {}
        for sample in self.failures:
            by_status[sample.status] = by_status.get(sample.status, 0) + 1
        detail = ", ".join(
            f"{status or 'no answer'}: {n}" for status, n in sorted(by_status.items())
        )
        return f"{len(self.samples)} requests, {len(self.failures)} failed" + (
            f" ({detail})" if detail else ""
        )

    def bodies(self) -> set[str]:
        return {s.body for s in self.samples if s.status == 200}
