"""Failed logins from one address at a concurrency, and latency samples of other requests meanwhile:
shared by tests/test_server_security.py (which asserts the answers) and bench/login_flood.py
(which prints the latencies)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterable

import httpx


async def failed_logins(
    base: str,
    usernames: Iterable[str],
    concurrency: int,
    password: str = "wrong password",  # noqa: S107
) -> Counter[int]:
    """POST /api/auth/login for each username (a wrong password), `concurrency` at a time; how
    many answers had each status."""
    statuses: Counter[int] = Counter()
    pending = list(usernames)
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:

        async def worker() -> None:
            while pending:
                name = pending.pop()
                answer = await client.post(
                    "/api/auth/login", json={"username": name, "password": password}
                )
                statuses[answer.status_code] += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return statuses


async def latencies(
    base: str,
    path: str,
    stop: asyncio.Event,
    *,
    headers: dict[str, str] | None = None,
    pause: float = 0.005,
) -> list[float]:
    """GET `path` one request after another until `stop`; each one's seconds."""
    found: list[float] = []
    async with httpx.AsyncClient(base_url=base, timeout=30, headers=headers) as client:
        while not stop.is_set():
            started = time.perf_counter()
            answer = await client.get(path)
            found.append(time.perf_counter() - started)
            assert answer.status_code == 200, answer.text
            await asyncio.sleep(pause)
    return found


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
