"""fogbank's handle on the edge: routes applied through Caddy's admin API (/load) and, for our
own two-layer Caddy (edge.manage), written to each layer's config file, which that layer boots
from, so a restarted Caddy keeps its routes.

The edge runs apart from fogbank (controller/edge/runner.py): start() finds it, or starts it
detached when none runs (edge.spawn; under systemd its own unit runs it), and stop() only lets
go of it. Apps keep serving while fogbank stops, crashes or is upgraded."""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from controller.edge import daemon
from controller.edge.admin import AdminApi, EdgeUnreachable
from controller.edge.caddy import config_bytes, log_tail, write_private
from controller.edge.config import caddy_config, front_config, switch_config
from controller.edge.layout import EdgeLayout, Route
from controller.errors import EdgeError

__all__ = ["Edge", "EdgeUnreachable", "Route"]

log = logging.getLogger(__name__)

READY_TIMEOUT_SECONDS = 20.0
READY_POLL_SECONDS = 0.1


@dataclass
class _Layer:
    name: str
    admin: AdminApi
    config: Callable[[Sequence[Route], EdgeLayout], dict[str, Any]]
    persist: bool  # our own Caddy boots from this layer's config file


class Edge:
    """Applies routes to Caddy; with settings.manage, to our own runner's two layers."""

    def __init__(
        self, layout: EdgeLayout, *, ready_timeout_seconds: float = READY_TIMEOUT_SECONDS
    ) -> None:
        self.layout = layout
        self.ready_timeout_seconds = ready_timeout_seconds
        self.settings = layout.settings
        self.directory = layout.paths.directory
        self._routes: tuple[Route, ...] = ()
        self._peers: tuple[str, ...] = ()
        self._start_error = ""
        self._lock = asyncio.Lock()
        self._layers: list[_Layer] = []

    @property
    def routes(self) -> tuple[Route, ...]:
        """The routes Caddy was last given (also what a restarted Caddy boots with)."""
        return self._routes

    @property
    def pids(self) -> tuple[int, ...]:
        """Our running Caddy processes (managed: the switch, then the front)."""
        if not self.settings.manage:
            return ()
        found = daemon.edge_pids(self.layout)
        return tuple(found[layer] for layer in daemon.LAYERS if layer in found)

    async def start(self) -> None:
        """Managed: find the edge runner, or start one (edge.spawn), and wait until both layers
        answer; raises EdgeError naming the log when they do not. Otherwise: check that the
        Caddy at edge.admin_url answers."""
        if self._layers:
            raise EdgeError("the edge is already started")
        try:
            await self._start()
        except EdgeError as exc:
            self._start_error = exc.message
            raise
        self._start_error = ""

    async def stop(self) -> None:
        """Let go of the edge; it keeps serving (`fogbank edge stop` is the teardown)."""
        layers, self._layers = self._layers, []
        for layer in layers:
            await layer.admin.aclose()
        if layers and self.settings.manage:
            running = await asyncio.to_thread(daemon.edge_pids, self.layout)
            log.info(
                "edge: keeps running and serving (%s); `fogbank edge stop` stops it",
                ", ".join(f"{name} pid {pid}" for name, pid in running.items()) or "not running",
            )

    async def apply(self, routes: Sequence[Route], peers: Sequence[str] = ()) -> None:
        """Give Caddy exactly these routes, and the API balanced over this instance and `peers`
        (other instances sharing the edge). If Caddy refuses them, the previous routes stay (in
        Caddy and in `routes`); if it cannot be reached (EdgeUnreachable), they become what a
        restarted Caddy boots with. Both raise EdgeError."""
        async with self._lock:
            await self._load(tuple(routes), tuple(peers))

    async def drifted(self) -> bool:
        """Whether a layer's live config differs from the routes last applied (someone changed
        Caddy by hand, or it lost its config). Unreachable counts as drifted."""
        return not await self.serves(self._routes, self._peers)

    async def serves(self, routes: Sequence[Route], peers: Sequence[str] = ()) -> bool:
        """Whether every layer's live config is the one for these routes and peers (what another
        instance sharing the edge may have applied since). Unreachable counts as not."""
        layout = self.layout.with_peers(tuple(peers))
        async with self._lock:
            for layer in self._layers:
                if not await layer.admin.runs(layer.config(routes, layout)):
                    return False
        return True

    async def ping(self) -> bool:
        """Whether every admin API of the edge answers."""
        if not self._layers:
            return False
        for layer in self._layers:
            if not await layer.admin.answers():
                return False
        return True

    async def _start(self) -> None:
        self._layers = self._make_layers()
        if not self.settings.manage:
            if not await self.ping():
                raise EdgeError(
                    f"no Caddy admin API answers at {self.settings.admin_url}: start Caddy there "
                    "or set edge.manage = true"
                )
            return
        await self._bring_up()

    async def _bring_up(self) -> None:
        """The managed edge's directory, then its runner: refused with a clear EdgeError when
        a socket path cannot be bound."""
        too_long = self.layout.paths.too_long()
        if too_long is not None:
            raise EdgeError(f"unix socket path {too_long} is too long: shorten storage.data_dir")
        await asyncio.to_thread(daemon.prepare_directory, self.layout)
        await self._reach_runner()

    async def _reach_runner(self) -> None:
        """Start the runner if none holds the directory (and edge.spawn allows), then wait
        until both layers answer."""
        runner = await asyncio.to_thread(daemon.runner_pid, self.directory)
        if runner is None and self.settings.spawn:
            if shutil.which(self.settings.caddy_binary) is None:
                raise EdgeError(
                    f"Caddy binary '{self.settings.caddy_binary}' not found: install Debian's "
                    "caddy, set edge.caddy_binary, or set edge.manage = false to use a Caddy you "
                    "run yourself"
                )
            await asyncio.to_thread(daemon.spawn, self.layout)
            log.info("edge: started the edge runner (log %s)", self.directory / daemon.LOG_FILE)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.ready_timeout_seconds
        while not await self.ping():
            if loop.time() > deadline:
                raise EdgeError(self._not_answering())
            await asyncio.sleep(READY_POLL_SECONDS)

    def _not_answering(self) -> str:
        where = "fogbank-edge.service (or `fogbank edge run`)"
        if self.settings.spawn:
            where = f"the edge runner (log {self.directory / daemon.LOG_FILE})"
        tails = "".join(
            f"; {layer}: {tail}"
            for layer in daemon.LAYERS
            if (tail := log_tail(self.directory / f"{layer}.stderr"))
        )
        return (
            f"the edge did not answer within {self.ready_timeout_seconds:g} s: is {where} running?"
            f"{tails}"
        )

    def _make_layers(self) -> list[_Layer]:
        timeout = self.settings.drain_seconds + 10.0
        if not self.settings.manage:
            admin = AdminApi("caddy", url=self.settings.admin_url, timeout=timeout)
            return [_Layer("caddy", admin, caddy_config, persist=False)]
        paths = self.layout.paths
        return [
            _Layer(
                "switch",
                AdminApi("switch", socket=paths.switch_admin, timeout=timeout),
                switch_config,
                persist=True,
            ),
            _Layer(
                "front",
                AdminApi("front", socket=paths.front_admin, timeout=timeout),
                front_config,
                persist=True,
            ),
        ]

    async def _load(self, routes: tuple[Route, ...], peers: tuple[str, ...]) -> None:
        if not self._layers:
            why = f": {self._start_error}" if self._start_error else ""
            raise EdgeError(f"the edge (Caddy) is not running{why}")
        layout, before = self.layout.with_peers(peers), self.layout.with_peers(self._peers)
        # Every config first: a port clash fails before anything changes.
        configs = [(layer, layer.config(routes, layout)) for layer in self._layers]
        loaded: list[_Layer] = []
        try:
            for layer, config in configs:  # the switch first: a new entry finds its route
                await self._post(layer, config)
                loaded.append(layer)
        except EdgeUnreachable:
            self._routes, self._peers = routes, peers
            for layer, config in configs[len(loaded) :]:
                if layer.persist:  # what it boots with when the runner starts it again
                    await self._persist(layer, config)
            raise
        except EdgeError:
            for layer in loaded:  # back to the previous routes, so the layers agree
                try:
                    await self._post(layer, layer.config(self._routes, before))
                except EdgeError as exc:
                    log.error("edge: could not restore the %s routes: %s", layer.name, exc.message)
            raise
        self._routes, self._peers = routes, peers
        log.info("edge: %d route(s) applied", len(routes))

    async def _post(self, layer: _Layer, config: dict[str, Any]) -> None:
        try:
            await layer.admin.load(config)
        except EdgeUnreachable:
            if not (self.settings.manage and self.settings.spawn):
                raise
            # The runner may be gone (killed while fogbank ran): start it and try once more.
            if await asyncio.to_thread(daemon.runner_pid, self.directory) is not None:
                raise
            log.warning("edge: no runner and %s does not answer; starting the runner", layer.name)
            await self._bring_up()
            await layer.admin.load(config)
        if layer.persist:
            await self._persist(layer, config)

    async def _persist(self, layer: _Layer, config: dict[str, Any]) -> None:
        path = self.layout.paths.config(layer.name)
        await asyncio.to_thread(write_private, path, config_bytes(config))
