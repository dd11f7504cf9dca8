"""The edge runner (`fogbank edge run`, or `python -m controller.edge` started by fogbank): runs
the two Caddy layers and keeps them running. A layer that exits is started again with backoff
from its config file (the last config fogbank applied, so its routes survive); a Caddy a previous
runner left running is adopted, not replaced. Only SIGTERM or SIGINT stops it, and then it stops
both layers, the front first. fogbank's own stop, crash or upgrade never reaches it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from controller.edge.admin import AdminApi
from controller.edge.caddy import CaddyProcess
from controller.edge.daemon import LAYERS, PID_FILE
from controller.edge.layout import EdgePaths
from controller.errors import EdgeError

log = logging.getLogger(__name__)

RESTART_BACKOFF_SECONDS = (0.5, 30.0)  # first pause, longest pause
STABLE_SECONDS = 30.0  # up this long: the next crash restarts after the first pause again


@dataclass
class _Layer:
    process: CaddyProcess
    admin: AdminApi
    up: asyncio.Event = field(default_factory=asyncio.Event)


class EdgeRunner:
    def __init__(self, directory: Path, caddy_binary: str, stop_timeout_seconds: float) -> None:
        self.paths = EdgePaths(directory.resolve())
        sockets = {"switch": self.paths.switch_admin, "front": self.paths.front_admin}
        self._layers = [
            _Layer(
                CaddyProcess(
                    caddy_binary,
                    self.paths.directory,
                    name=name,
                    stop_timeout_seconds=stop_timeout_seconds,
                ),
                AdminApi(name, socket=sockets[name]),
            )
            for name in LAYERS
        ]

    async def run(self, on_ready: Callable[[], None] | None = None) -> int:
        """Until SIGTERM/SIGINT; `on_ready` once both layers answered (systemd's READY=1)."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        pid_file = self.paths.directory / PID_FILE
        await asyncio.to_thread(pid_file.write_text, f"{os.getpid()}\n")
        tasks = [
            asyncio.create_task(self._supervise(layer), name=f"fogbank-edge-{layer.process.name}")
            for layer in self._layers
        ]
        tasks.append(asyncio.create_task(self._announce(on_ready), name="fogbank-edge-ready"))
        try:
            await stop.wait()
            log.info("edge: stopping (%s)", self.describe())
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for layer in reversed(self._layers):  # the front first: clients see a closed port
                await layer.process.terminate()
                await layer.admin.aclose()
            with contextlib.suppress(FileNotFoundError):
                await asyncio.to_thread(pid_file.unlink)
        return 0

    async def _announce(self, on_ready: Callable[[], None] | None) -> None:
        for layer in self._layers:
            await layer.up.wait()
        log.info("edge: ready (%s)", self.describe())
        if on_ready is not None:
            on_ready()

    def describe(self) -> str:
        return ", ".join(f"{layer.process.name} pid {layer.process.pid}" for layer in self._layers)

    async def _supervise(self, layer: _Layer) -> None:
        process = layer.process
        loop = asyncio.get_running_loop()
        shortest, longest = RESTART_BACKOFF_SECONDS
        pause = shortest
        adopted = await process.adopt()
        if adopted and not await layer.admin.answers():
            await process.terminate()  # alive but deaf: replace it
            adopted = False
        while True:
            try:
                if adopted:
                    adopted = False
                    log.warning("edge: adopted Caddy (%s) pid %s", process.name, process.pid)
                else:
                    await process.launch(layer.admin.answers)
                    log.info("edge: Caddy (%s) pid %s", process.name, process.pid)
            except EdgeError as exc:
                log.error("edge: %s; retrying in %g s", exc.message, pause)
            except Exception:
                # The loop boundary: log, keep supervising.
                log.exception(
                    "edge: starting Caddy (%s) failed; retrying in %g s", process.name, pause
                )
            else:
                layer.up.set()
                up_since = loop.time()
                code = await process.wait()
                if loop.time() - up_since > STABLE_SECONDS:
                    pause = shortest
                log.error(
                    "edge: Caddy (%s) exited with code %s; restarting in %g s (see %s)",
                    process.name,
                    code,
                    pause,
                    process.stderr_path,
                )
            await asyncio.sleep(pause)  # run() cancels this task; nothing else ends it
            pause = min(pause * 2, longest)
