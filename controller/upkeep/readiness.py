"""Readiness: whether the database, the Docker engine and the edge answer, each within a bound.
At most one check of each kind runs at a time, so probes against a hung Docker daemon never pile
up threads (a check that outlives its bound keeps running and the next probe waits on it)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 3.0

# A check answers unless it raises or returns False.
Check = Callable[[], Awaitable[bool | None]]


class Readiness:
    def __init__(self, database: Check, docker: Check, edge: Check) -> None:
        self._checks = {"database": database, "docker": docker, "edge": edge}
        self._running: dict[str, asyncio.Task[None]] = {}
        self._last_down: dict[str, str] = {}

    async def down(self) -> dict[str, str]:
        """What does not answer (database, docker, edge), with why (for the log; the API names
        only the parts)."""
        reasons = await asyncio.gather(*(self._check(name) for name in self._checks))
        down = {name: why for name, why in zip(self._checks, reasons, strict=True) if why}
        if down != self._last_down:
            if down:
                log.warning("not ready: %s", "; ".join(f"{k}: {v}" for k, v in down.items()))
            else:
                log.info("ready: %s answer", ", ".join(self._checks))
            self._last_down = down
        return down

    async def close(self) -> None:
        running, self._running = list(self._running.values()), {}
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)  # their outcome no longer matters

    async def _check(self, name: str) -> str:
        task = self._running.get(name)
        if task is None or task.done():
            task = asyncio.create_task(self._run(name), name=f"fogbank-ready-{name}")
            self._running[name] = task
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
                await asyncio.shield(task)
        except TimeoutError:
            return f"no answer within {CHECK_TIMEOUT_SECONDS:g} s"
        except Exception as exc:  # any failure of a check means "down"
            return str(getattr(exc, "message", "") or exc or type(exc).__name__)
        return ""

    async def _run(self, name: str) -> None:
        if await self._checks[name]() is False:
            raise RuntimeError("does not answer")
