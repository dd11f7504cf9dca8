"""Where each app's traffic goes. The edge always gets the whole desired config (DB truth plus
the candidates being switched to, and the API over every instance), computed and applied by one
writer at a time: within this process under a lock, across instances sharing the edge under the
database's writer lock (controller/edge/overrides.py). So two deployments, of different apps or
on different instances, never undo each other's switch."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from typing import Protocol

from controller.edge import overrides
from controller.edge.layout import Route
from controller.edge.routing import desired_routes
from controller.errors import FogbankError
from controller.telemetry.metrics import Metrics


class RouteSink(Protocol):
    async def apply(self, routes: Sequence[Route], peers: Sequence[str] = ()) -> None: ...

    async def serves(self, routes: Sequence[Route], peers: Sequence[str] = ()) -> bool: ...


class Switchboard:
    def __init__(
        self,
        edge: RouteSink,
        metrics: Metrics | None = None,
        *,
        instance: str = "",
        api_address: str = "",
    ) -> None:
        self._edge = edge
        self._metrics = metrics or Metrics()
        self._instance = instance  # who sets the overrides (dropped when it dies)
        self._api_address = api_address  # this instance's own API, not one of its peers
        self._lock = asyncio.Lock()

    async def point(self, app_id: int, upstream_port: int, *more_ports: int) -> None:
        """Send the app's traffic to `upstream_port` (a candidate not yet active), or spread it
        over it and `more_ports` (an app's Swarm tasks)."""
        await overrides.put(app_id, (upstream_port, *more_ports), self._instance)
        try:
            await self._apply()
        except FogbankError:
            self._metrics.edge_switches.inc("failed")
            raise
        self._metrics.edge_switches.inc("switched")

    async def pointed(self, app_id: int) -> tuple[int, ...] | None:
        """The ports the app's traffic was pointed at (None: its active deployment's)."""
        return await overrides.ports_of(app_id)

    async def release(self, app_id: int) -> None:
        """Drop the app's override: traffic follows its active deployment again."""
        await overrides.drop(app_id)
        await self._apply()

    async def forget(self, instances: Collection[str] | None) -> None:
        """Drop the overrides these instances set (None: all; they stopped or died before
        releasing them), then point the edge at the active deployments again."""
        await overrides.drop_set_by(instances)
        await self._apply()

    async def in_sync(self) -> bool:
        """Whether the edge holds the routes it should now (whoever applied them last)."""
        async with self._lock, overrides.one_writer():
            routes, peers = await self._desired()
            return await self._edge.serves(routes, peers)

    async def refresh(self) -> None:
        """Re-apply the desired config (after a start, a domain change or drift)."""
        await self._apply()

    async def _apply(self) -> None:
        async with self._lock, overrides.one_writer():
            routes, peers = await self._desired()
            await self._edge.apply(routes, peers)

    async def _desired(self) -> tuple[list[Route], tuple[str, ...]]:
        routes = await desired_routes(await overrides.current())
        return routes, await overrides.peers(self._api_address)
