"""The Caddy edge: routes applied through Caddy's admin API (/load, loopback or a private unix
socket only) and, with edge.manage, our own two-layer Caddy (see controller/edge_config.py),
each process supervised: restarted with backoff, booting with the last applied routes. A Caddy
left running by a fogbank that was killed is adopted, so traffic never depends on fogbank."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from controller.config import EdgeSettings
from controller.edge.caddy import CaddyProcess, config_bytes
from controller.edge.config import (
    NOT_ROUTED,
    Route,
    SwitchSockets,
    caddy_config,
    front_config,
    switch_config,
)
from controller.errors import EdgeError

__all__ = ["NOT_ROUTED", "Edge", "EdgeUnreachable", "Route", "caddy_config"]

log = logging.getLogger(__name__)

PING_TIMEOUT_SECONDS = 2.0
RESTART_BACKOFF_SECONDS = (0.5, 30.0)  # first pause, longest pause
STABLE_SECONDS = 30.0  # up this long: the next crash restarts after the first pause again
UNIX_PATH_MAX = 107


class EdgeUnreachable(EdgeError):
    """Caddy's admin API did not answer (as opposed to refusing a config)."""


@dataclass
class _Layer:
    name: str
    admin: httpx.AsyncClient
    config: Callable[[Sequence[Route]], dict[str, Any]]
    process: CaddyProcess | None


class Edge:
    """Applies routes to Caddy; with settings.manage also runs and supervises that Caddy."""

    def __init__(self, settings: EdgeSettings, directory: Path) -> None:
        self.settings = settings
        # Absolute: Caddy runs in its own working directory (a relative data_dir broke it).
        self.directory = directory.resolve()
        directory = self.directory
        self.sockets = SwitchSockets(directory / "switch.sock", directory / "switch-admin.sock")
        self._routes: tuple[Route, ...] = ()
        self._start_error = ""
        self._lock = asyncio.Lock()
        self._layers: list[_Layer] = []
        self._supervisors: list[asyncio.Task[None]] = []

    @property
    def routes(self) -> tuple[Route, ...]:
        """The routes Caddy was last given (also what a restarted Caddy boots with)."""
        return self._routes

    @property
    def pids(self) -> tuple[int, ...]:
        """Our running Caddy processes (managed: the switch, then the front)."""
        running = (layer.process.pid for layer in self._layers if layer.process is not None)
        return tuple(pid for pid in running if pid is not None)

    async def start(self) -> None:
        """Managed: adopt the Caddy a killed fogbank left here, or launch ours, and supervise it;
        raises EdgeError (naming the log) if the first launch fails, while supervision keeps
        retrying with backoff. Otherwise: check that the Caddy at edge.admin_url answers."""
        if self._layers:
            raise EdgeError("the edge is already started")
        try:
            await self._start()
        except EdgeError as exc:
            self._start_error = exc.message
            raise
        self._start_error = ""

    async def _start(self) -> None:
        self._layers = self._make_layers()
        if not self.settings.manage:
            if not await self.ping():
                raise EdgeError(
                    f"no Caddy admin API answers at {self.settings.admin_url}: start Caddy there "
                    "or set edge.manage = true"
                )
            return
        for path in (self.sockets.listen, self.sockets.admin):
            if len(str(path).encode()) > UNIX_PATH_MAX:
                raise EdgeError(f"unix socket path {path} is too long: shorten storage.data_dir")
        adopted = [await self._adopt(layer) for layer in self._layers]
        if not adopted[-1] and await self._answers(self._layers[-1]):
            await self.stop()  # never send our routes to somebody else's Caddy
            raise EdgeError(
                f"something already answers at {self.settings.admin_url} (another Caddy?): stop "
                "it, change edge.admin_url, or set edge.manage = false to use it"
            )
        loop = asyncio.get_running_loop()
        readies: list[asyncio.Future[None]] = []
        for layer, left_running in zip(self._layers, adopted, strict=True):
            ready: asyncio.Future[None] = loop.create_future()
            readies.append(ready)
            self._supervisors.append(
                asyncio.create_task(
                    self._supervise(layer, ready, left_running), name=f"fogbank-edge-{layer.name}"
                )
            )
        outcomes = await asyncio.gather(*readies, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def stop(self) -> None:
        """Stop supervising, then stop our Caddy (SIGTERM, bounded wait, SIGKILL)."""
        supervisors, self._supervisors = self._supervisors, []
        for task in supervisors:
            task.cancel()
        if supervisors:
            await asyncio.wait(supervisors)
        layers, self._layers = self._layers, []
        for layer in reversed(layers):  # the front first: clients see a closed port, not a 502
            if layer.process is not None:
                await layer.process.terminate()
            await layer.admin.aclose()

    async def apply(self, routes: Sequence[Route]) -> None:
        """Give Caddy exactly these routes. If Caddy refuses them, the previous routes stay (in
        Caddy and in `routes`); if it cannot be reached (EdgeUnreachable), they become what a
        restarted Caddy boots with. Both raise EdgeError."""
        async with self._lock:
            await self._load(tuple(routes))

    async def apply_latest(self, compute: Callable[[], Awaitable[Sequence[Route]]]) -> None:
        """Compute the routes and apply them under one lock, so two concurrent callers can never
        apply their answers out of order (an older, stale set last)."""
        async with self._lock:
            await self._load(tuple(await compute()))

    async def drifted(self) -> bool:
        """Whether a layer's live config differs from the routes last applied (someone changed
        Caddy by hand, or it lost its config). Unreachable counts as drifted."""
        async with self._lock:
            for layer in self._layers:
                try:
                    response = await layer.admin.get("/config/", timeout=PING_TIMEOUT_SECONDS)
                except httpx.HTTPError:
                    return True
                expected = json.loads(config_bytes(layer.config(self._routes)))
                if response.status_code != 200 or response.json() != expected:
                    return True
        return False

    async def ping(self) -> bool:
        """Whether every admin API of the edge answers."""
        if not self._layers:
            return False
        for layer in self._layers:
            if not await self._answers(layer):
                return False
        return True

    def _make_layers(self) -> list[_Layer]:
        timeout = httpx.Timeout(self.settings.drain_seconds + 10.0)
        front_admin = httpx.AsyncClient(base_url=self.settings.admin_url, timeout=timeout)
        if not self.settings.manage:
            return [_Layer("caddy", front_admin, lambda r: caddy_config(r, self.settings), None)]
        binary, stop_seconds = self.settings.caddy_binary, self.settings.drain_seconds + 3.0
        switch_admin = httpx.AsyncClient(
            base_url="http://caddy",  # the Host the switch's admin API allows
            transport=httpx.AsyncHTTPTransport(uds=str(self.sockets.admin)),
            timeout=timeout,
        )
        return [
            _Layer(
                "switch",
                switch_admin,
                lambda r: switch_config(r, self.settings, self.sockets),
                CaddyProcess(
                    binary, self.directory, name="switch", stop_timeout_seconds=stop_seconds
                ),
            ),
            _Layer(
                "front",
                front_admin,
                lambda r: front_config(r, self.settings, self.sockets),
                CaddyProcess(
                    binary, self.directory, name="caddy", stop_timeout_seconds=stop_seconds
                ),
            ),
        ]

    async def _answers(self, layer: _Layer) -> bool:
        try:
            response = await layer.admin.get("/config/", timeout=PING_TIMEOUT_SECONDS)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def _load(self, routes: tuple[Route, ...]) -> None:
        if not self._layers:
            why = f": {self._start_error}" if self._start_error else ""
            raise EdgeError(f"the edge (Caddy) is not running{why}")
        # Every config first: a port clash fails before anything changes.
        configs = [(layer, layer.config(routes)) for layer in self._layers]
        loaded: list[_Layer] = []
        try:
            for layer, config in configs:  # the switch first: a new entry finds its route
                await self._post(layer, config)
                loaded.append(layer)
        except EdgeUnreachable:
            self._routes = routes
            raise
        except EdgeError:
            for layer in loaded:  # back to the previous routes, so the layers agree
                try:
                    await self._post(layer, layer.config(self._routes))
                except EdgeError as exc:
                    log.error("edge: could not restore the %s routes: %s", layer.name, exc.message)
            raise
        self._routes = routes
        log.info("edge: %d route(s) applied", len(routes))

    async def _post(self, layer: _Layer, config: dict[str, Any]) -> None:
        try:
            response = await layer.admin.post(
                "/load", content=config_bytes(config), headers={"Content-Type": "application/json"}
            )
        except httpx.HTTPError as exc:
            raise EdgeUnreachable(
                f"Caddy's admin API ({layer.name}) is unreachable: {exc or type(exc).__name__}"
            ) from exc
        if response.status_code != 200:
            raise EdgeError(f"Caddy ({layer.name}) refused the routes: {_reason(response)}")

    async def _adopt(self, layer: _Layer) -> bool:
        """Whether this layer's Caddy, left running by a previous fogbank here, is ours now."""
        assert layer.process is not None
        if not await layer.process.adopt():
            return False
        if await self._answers(layer):
            log.warning("edge: adopted Caddy (%s) pid %s", layer.name, layer.process.pid)
            return True
        await layer.process.terminate()  # alive but deaf: replace it
        return False

    async def _supervise(
        self, layer: _Layer, ready: asyncio.Future[None], adopted: bool = False
    ) -> None:
        process = layer.process
        assert process is not None
        loop = asyncio.get_running_loop()
        shortest, longest = RESTART_BACKOFF_SECONDS
        pause = shortest
        while True:
            try:
                if adopted:
                    adopted = False  # it keeps the routes it runs until the next apply
                else:
                    async with self._lock:
                        await process.launch(
                            layer.config(self._routes), lambda: self._answers(layer)
                        )
            except EdgeError as exc:
                if not ready.done():
                    ready.set_exception(exc)
                log.error("edge: %s; retrying in %g s", exc.message, pause)
            except Exception as exc:
                # The loop boundary: log, keep supervising.
                if not ready.done():
                    ready.set_exception(EdgeError(f"Caddy ({layer.name}) did not start: {exc}"))
                log.exception(
                    "edge: launching Caddy (%s) failed; retrying in %g s", layer.name, pause
                )
            else:
                if ready.done():
                    log.warning(
                        "edge: Caddy (%s) restarted, %d route(s)", layer.name, len(self._routes)
                    )
                else:
                    ready.set_result(None)
                    log.info(
                        "edge: Caddy (%s) pid %s, log %s", layer.name, process.pid, process.log_path
                    )
                up_since = loop.time()
                code = await process.wait()
                if loop.time() - up_since > STABLE_SECONDS:
                    pause = shortest
                log.error(
                    "edge: Caddy (%s) exited with code %s; restarting in %g s (log: %s)",
                    layer.name,
                    code,
                    pause,
                    process.log_path,
                )
            await asyncio.sleep(pause)  # stop() cancels this task; nothing else ends it
            pause = min(pause * 2, longest)


def _reason(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return f"{body['error'].strip()} (HTTP {response.status_code})"
    return f"HTTP {response.status_code}: {response.text[:300]}"
