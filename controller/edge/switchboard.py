"""Where each app's traffic goes. The edge always gets the whole desired config (DB truth plus
the candidates being switched to), computed and applied under one lock, so two deployments of
different apps never undo each other's switch."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from controller.edge.layout import Route
from controller.edge.routing import desired_routes
from controller.errors import FogbankError
from controller.telemetry.metrics import Metrics


class RouteSink(Protocol):
    async def apply(self, routes: Sequence[Route]) -> None: ...

    async def drifted(self) -> bool: ...


class Switchboard:
    def __init__(self, edge: RouteSink, metrics: Metrics | None = None) -> None:
        self._edge = edge
        self._metrics = metrics or Metrics()
        self._overrides: dict[int, tuple[int, ...]] = {}
        self._lock = asyncio.Lock()

    async def point(self, app_id: int, upstream_port: int, *more_ports: int) -> None:
        """Send the app's traffic to `upstream_port` (a candidate not yet active), or spread it
        over it and `more_ports` (an app's Swarm tasks)."""
        async with self._lock:
            self._overrides[app_id] = (upstream_port, *more_ports)
            try:
                await self._edge.apply(await desired_routes(self._overrides))
            except FogbankError:
                self._metrics.edge_switches.inc("failed")
                raise
            self._metrics.edge_switches.inc("switched")

    async def release(self, app_id: int) -> None:
        """Drop the app's override: traffic follows its active deployment again."""
        async with self._lock:
            self._overrides.pop(app_id, None)
            await self._edge.apply(await desired_routes(self._overrides))

    async def in_sync(self) -> bool:
        """Whether the edge still holds the routes last applied."""
        return not await self._edge.drifted()

    async def refresh(self) -> None:
        """Re-apply the desired config (after a start, a domain change or drift)."""
        async with self._lock:
            await self._edge.apply(await desired_routes(self._overrides))
