"""`fogbank edge run|stop|status`: the edge process outside fogbank (controller/edge/runner.py).

`run` is what fogbank-edge.service starts (Type=notify: ready once both Caddy layers answer);
without systemd, `fogbank serve` starts the same runner detached. `stop` is the deliberate
teardown: nothing else stops the edge, fogbank's own stop included."""

from __future__ import annotations

import asyncio
import sys

from api.systemd import notify
from controller.config import Settings
from controller.edge import daemon
from controller.edge.admin import AdminApi
from controller.edge.layout import EdgeLayout
from controller.edge.runner import EdgeRunner


def _managed(settings: Settings) -> EdgeLayout | None:
    if not settings.edge.manage:
        print(
            "fogbank: edge.manage is false: the edge is a Caddy you run yourself", file=sys.stderr
        )
        return None
    return EdgeLayout.of(settings)


async def run(settings: Settings) -> int:
    layout = _managed(settings)
    if layout is None:
        return 2
    too_long = layout.paths.too_long()
    if too_long is not None:
        print(f"fogbank: unix socket path {too_long} is too long", file=sys.stderr)
        return 2
    await asyncio.to_thread(daemon.prepare_directory, layout)
    lock = await asyncio.to_thread(daemon.hold_lock, layout.paths.directory)
    if lock is None:
        pid = daemon.runner_pid(layout.paths.directory)
        print(f"fogbank: an edge runner already runs here (pid {pid})", file=sys.stderr)
        return 1
    runner = EdgeRunner(
        layout.paths.directory, settings.edge.caddy_binary, settings.edge.drain_seconds + 3.0
    )

    def ready() -> None:
        notify("READY=1")

    return await runner.run(on_ready=ready)


async def stop(settings: Settings) -> int:
    layout = _managed(settings)
    if layout is None:
        return 2
    stopped = await daemon.stop_edge(layout)
    for what in stopped:
        print(f"stopped {what}")
    if not stopped:
        print(f"no edge process runs on {layout.paths.directory}")
    return 0


async def status(settings: Settings) -> int:
    layout = _managed(settings)
    if layout is None:
        return 2
    pids = await asyncio.to_thread(daemon.edge_pids, layout)
    answering = 0
    sockets = {"switch": layout.paths.switch_admin, "front": layout.paths.front_admin}
    for name in ("runner", *daemon.LAYERS):
        line = f"{name}: " + (f"pid {pids[name]}" if name in pids else "not running")
        if name in sockets:
            admin = AdminApi(name, socket=sockets[name])
            up = await admin.answers()
            await admin.aclose()
            answering += up
            line += ", admin API " + ("answers" if up else "does not answer")
        print(line)
    return 0 if answering == len(sockets) and "runner" in pids else 1
