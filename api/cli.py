"""The `fogbank` command: serve, user list|create|disable|enable|delete|set-role|set-password,
token create, edge run|stop|status, backup, restore; --help and --version. Bodies beyond serving
live in api/commands/.

GitPython raises at import on a host without git, so nothing here imports it at the top: the
app (which does) is imported only when `serve` runs, and --help and --version work anywhere.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from importlib import metadata
from pathlib import Path
from typing import Any

from hypercorn.asyncio import serve
from hypercorn.config import Config

from api import runtime, systemd
from api.commands import backup as backup_commands
from api.commands import edge as edge_commands
from api.commands import users as user_bodies
from controller.accounts import auth
from controller.config import Settings, load_settings
from controller.errors import FogbankError
from controller.store import datadir
from controller.store.db import close_database, open_database
from controller.store.models import Role, User
from controller.telemetry.logsetup import configure_logging

WEBSOCKET_PING_SECONDS = 30.0
HTTP_GRACE_SECONDS = 5.0


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config)
        configure_logging(settings.log)  # log.format and log.level (controller/telemetry)
        command: Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]] = args.run
        if command is _serve:
            return runtime.run(command(settings, args), settings.server.event_loop)
        return asyncio.run(command(settings, args))
    except FogbankError as exc:
        print(f"fogbank: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fogbank", description="GitOps deployment controller")
    parser.add_argument("--version", action="version", version=f"fogbank {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve_cmd = commands.add_parser("serve", help="run the API, the workers and the scheduler")
    serve_cmd.add_argument(
        "--config",
        type=Path,
        default=None,
        help="TOML settings file (default: $FOGBANK_CONFIG, else built-in defaults)",
    )
    serve_cmd.set_defaults(run=_serve)

    user = commands.add_parser("user", help="manage users")
    user_commands = user.add_subparsers(dest="user_command", required=True)
    create_user = user_commands.add_parser("create", help="create a user")
    create_user.add_argument("--username", required=True)
    create_user.add_argument("--role", choices=user_bodies.ROLES, default=Role.VIEWER.value)
    create_user.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    create_user.set_defaults(body=user_bodies.create)
    user_bodies.add_arguments(user_commands)
    for sub in user_commands.choices.values():
        sub.add_argument("--config", type=Path, default=None)
        sub.set_defaults(run=_user_command)

    token = commands.add_parser("token", help="manage API tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    create_token = token_commands.add_parser("create", help="create an API token, printed once")
    create_token.add_argument("--config", type=Path, default=None)
    create_token.add_argument("--username", required=True)
    create_token.add_argument("--name", required=True)
    create_token.set_defaults(run=_create_token)

    edge = commands.add_parser("edge", help="the edge (Caddy) that outlives fogbank")
    edge_subcommands = edge.add_subparsers(dest="edge_command", required=True)
    for name, body, about in (
        ("run", edge_commands.run, "run the edge in the foreground (fogbank-edge.service)"),
        ("stop", edge_commands.stop, "stop the edge: every app and domain stops answering"),
        ("status", edge_commands.status, "the edge's processes and whether they answer"),
    ):
        sub = edge_subcommands.add_parser(name, help=about)
        sub.add_argument("--config", type=Path, default=None)
        sub.set_defaults(run=lambda settings, _, body=body: body(settings))

    backup = commands.add_parser("backup", help="archive the database, logs and key file")
    backup.add_argument("path", type=Path, help="the archive to write (tar.gz)")
    backup.add_argument("--config", type=Path, default=None)
    backup.set_defaults(run=lambda settings, args: backup_commands.backup(settings, args.path))
    restore = commands.add_parser("restore", help="put a backup in place (fogbank stopped)")
    restore.add_argument("path", type=Path, help="an archive written by `fogbank backup`")
    restore.add_argument("--force", action="store_true", help="replace an existing database")
    restore.add_argument("--config", type=Path, default=None)
    restore.set_defaults(
        run=lambda settings, args: backup_commands.restore(settings, args.path, force=args.force)
    )
    return parser


def _version() -> str:
    try:
        return metadata.version("fogbank")
    except metadata.PackageNotFoundError:
        return "(not installed: run scripts/venv)"


async def _serve(settings: Settings, _: argparse.Namespace) -> int:
    from api.app import create_app, drain  # noqa: PLC0415 - GitPython: see the module docstring

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

    await serve(app, config, shutdown_trigger=shutdown_trigger)
    return 0


async def _with_database(settings: Settings, work: Callable[[], Awaitable[int]]) -> int:
    sealer = await asyncio.to_thread(datadir.prepare, settings)
    await open_database(settings.database_url, sealer)
    try:
        return await work()
    finally:
        await close_database()


async def _user_command(settings: Settings, args: argparse.Namespace) -> int:
    return await _with_database(settings, lambda: args.body(args))


async def _create_token(settings: Settings, args: argparse.Namespace) -> int:
    async def work() -> int:
        user = await User.get_or_none(username=args.username)
        if user is None:
            print(f"fogbank: no user named {args.username}", file=sys.stderr)
            return 1
        print(await auth.create_api_token(user, args.name))
        await user_bodies.record("tokens.create", user.username, f"name={args.name}")
        return 0

    return await _with_database(settings, work)


if __name__ == "__main__":
    sys.exit(main())
