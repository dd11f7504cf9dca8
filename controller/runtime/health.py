"""The health gate: a candidate container must answer before it may serve.

Checked from the host over the container's port published on 127.0.0.1: HTTP GET of the health
path until a 2xx/3xx for web apps, a TCP connect for the others.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable

import httpx

from controller.errors import FogbankError
from controller.runtime.engine import Engine

LOOPBACK = "127.0.0.1"
# Probes speak plain HTTP to 127.0.0.1, never TLS, but httpx builds an SSL context per client
# and its default one loads the whole CA bundle on the event loop. This one has no trust
# anchors: free to build, and any TLS it were ever used for would fail verification.
_NO_TLS = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


class HealthCheckFailed(FogbankError):
    code = "HEALTH_CHECK_FAILED"


async def probe_http(port: int, path: str, timeout_seconds: float) -> str | None:
    """None when healthy, else a short reason."""
    try:
        async with httpx.AsyncClient(timeout=timeout_seconds, verify=_NO_TLS) as client:
            response = await client.get(f"http://{LOOPBACK}:{port}{path}")
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}"
    if 200 <= response.status_code < 400:
        return None
    return f"HTTP {response.status_code}"


async def probe_tcp(port: int, timeout_seconds: float) -> str | None:
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(LOOPBACK, port), timeout=timeout_seconds
        )
    except (OSError, TimeoutError) as exc:
        return f"{type(exc).__name__}"
    writer.close()
    await writer.wait_closed()
    return None


async def wait_healthy(
    engine: Engine,
    container_id: str,
    *,
    host_port: int,
    http_path: str | None,
    command: bool = False,
    deadline_seconds: float,
    interval_seconds: float,
    on_attempt: Callable[[int, str], Awaitable[None]],
) -> None:
    """Return once the container answers (or, with `command`, once Docker reports its health
    command passed); raise HealthCheckFailed at the deadline or when it stops running."""
    started = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        state = await engine.inspect(container_id)
        if state is None or not state.running:
            code = "unknown" if state is None else state.exit_code
            raise HealthCheckFailed(f"container exited before becoming healthy (exit code {code})")
        per_try = max(0.2, min(interval_seconds * 2, 5.0))
        if command:
            reason = None if state.health == "healthy" else f"health command: {state.health}"
        elif http_path is not None:
            reason = await probe_http(host_port, http_path, per_try)
        else:
            reason = await probe_tcp(host_port, per_try)
        if reason is None:
            return
        elapsed = time.monotonic() - started
        await on_attempt(attempt, reason)
        if elapsed >= deadline_seconds:
            if command:
                target = "the health command"
            else:
                probe = f"GET {http_path}" if http_path is not None else "TCP connect"
                target = f"{probe} on port {host_port}"
            raise HealthCheckFailed(
                f"health check failed: {target} did not succeed within "
                f"{deadline_seconds:g} s (last: {reason})"
            )
        await asyncio.sleep(interval_seconds)
