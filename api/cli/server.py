"""The server-side commands: `serve`, and the frame the others run in (settings, logging, the
database). They work on this host's settings and database, not through the API.

GitPython raises at import on a host without git, so nothing here imports the server at the top:
the app (which does) is imported only when `serve` runs, and --help and --version work anywhere.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from api.cli import users
from api.cli.context import SERVER_PANEL, ConfigOption

if TYPE_CHECKING:
    from controller.config import Settings

WEBSOCKET_PING_SECONDS = 30.0
HTTP_GRACE_SECONDS = 5.0
# A refused setting or data directory: one line and exit status 2, as always for `serve` (units
# and scripts rely on it; the client commands' 2, "stopped", never comes from here).
REFUSED = 2


def register(app: typer.Typer) -> None:
    from api.cli import operations  # noqa: PLC0415 - it imports run_server_command from here

    app.command(rich_help_panel=SERVER_PANEL)(serve)
    users.register(app, SERVER_PANEL)
    operations.register(app, SERVER_PANEL)


def serve(config: ConfigOption = None) -> None:
    """Run the API, the workers and the scheduler."""
    raise typer.Exit(run_server_command(config, _serve, serving=True))


def run_server_command(
    config: Path | None,
    body: Callable[[Settings], Coroutine[Any, Any, int]],
    *,
    serving: bool = False,
) -> int:
    """Load the settings, set up logging, run `body` on the configured event loop; a
    FogbankError is one line and exit status 2."""
    from api import runtime  # noqa: PLC0415 - see the module docstring
    from controller.config import load_settings  # noqa: PLC0415
    from controller.errors import FogbankError  # noqa: PLC0415
    from controller.telemetry.logsetup import configure_logging  # noqa: PLC0415

    try:
        settings = load_settings(config)
        configure_logging(settings.log)  # log.format and log.level (controller/telemetry)
        if serving:
            return runtime.run(body(settings), settings.server.event_loop)
        return asyncio.run(body(settings))
    except FogbankError as exc:
        print(f"fogbank: {exc.message}", file=sys.stderr)
        return REFUSED


def in_database(config: Path | None, work: Callable[[], Awaitable[int]]) -> int:
    """Run `work` with this host's database open (its data directory checked first)."""

    async def body(settings: Settings) -> int:
        from controller.store import datadir  # noqa: PLC0415 - see the module docstring
        from controller.store.db import close_database, open_database  # noqa: PLC0415

        sealer = await asyncio.to_thread(datadir.prepare, settings)
        await open_database(settings.database_url, sealer)
        try:
            return await work()
        finally:
            await close_database()

    return run_server_command(config, body)


async def _serve(settings: Settings) -> int:
    from hypercorn.asyncio import serve as hypercorn_serve  # noqa: PLC0415
    from hypercorn.config import Config  # noqa: PLC0415

    from api import runtime, systemd  # noqa: PLC0415 - see the module docstring
    from api.app import create_app, drain  # noqa: PLC0415
    from controller.apps.templates import Catalogue  # noqa: PLC0415
    from controller.store import datadir  # noqa: PLC0415

    # A bad template catalogue is a settings error: refused here, by name, before serving.
    Catalogue.load(settings.templates.catalogue_file)
    # The data directory's modes and the key, checked before serving: a refusal is one line
    # and exit status 2, like a bad setting (start-up checks them again).
    await asyncio.to_thread(datadir.prepare, settings)
    app = create_app(settings)

    @app.before_serving
    async def settle() -> None:
        # Registered after create_app's own start-up, so it runs once the database, the edge
        # and the workers are up: what exists now lives as long as the process.
        runtime.settle_garbage_collector()

    config = Config()
    config.bind = [f"{settings.server.host}:{settings.server.port}"]
    config.websocket_ping_interval = WEBSOCKET_PING_SECONDS
    # drain() has already let deployments finish and closed the sockets: HTTP requests still
    # in flight get a few seconds more.
    config.graceful_timeout = HTTP_GRACE_SECONDS
    config.accesslog = None  # api/access.py writes the access log, with the request id
    # Hypercorn's own messages go through fogbank's handler (its format, text or JSON).
    config.errorlog = logging.getLogger("hypercorn.error")
    signalled = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, signalled.set)

    async def shutdown_trigger() -> None:
        # Hypercorn awaits this once its sockets listen: the moment systemd may call us ready.
        systemd.notify("READY=1")
        await signalled.wait()
        systemd.notify("STOPPING=1")
        logging.getLogger(__name__).info("shutting down: draining deployments and sockets")
        await drain(app)

    await hypercorn_serve(app, config, shutdown_trigger=shutdown_trigger)
    return 0
