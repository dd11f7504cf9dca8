"""Server commands for running a host: `fogbank edge run|stop|status` (the edge that outlives
fogbank), `fogbank backup PATH` and `fogbank restore PATH`. Their bodies are in api/commands/
(edge.py, backup.py); here only the command tree.

Like api/cli/server.py, nothing here imports the server at the top, so --help works anywhere."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from api.cli.context import ConfigOption
from api.cli.server import run_server_command

if TYPE_CHECKING:
    from controller.config import Settings

PathArgument = Annotated[Path, typer.Argument(help="The archive (tar.gz).")]


def register(app: typer.Typer, panel: str) -> None:
    edge = typer.Typer(
        help="The edge (Caddy) that holds the public listeners and outlives fogbank.",
        no_args_is_help=True,
    )

    @edge.command("run")
    def run(config: ConfigOption = None) -> None:
        """Run the edge in the foreground (what fogbank-edge.service starts)."""
        raise typer.Exit(run_server_command(config, _edge("run")))

    @edge.command("stop")
    def stop(config: ConfigOption = None) -> None:
        """Stop the edge: every app and domain stops answering."""
        raise typer.Exit(run_server_command(config, _edge("stop")))

    @edge.command("status")
    def status(config: ConfigOption = None) -> None:
        """The edge's processes and whether their admin APIs answer (exit 1 if not)."""
        raise typer.Exit(run_server_command(config, _edge("status")))

    @app.command("backup", rich_help_panel=panel)
    def backup(path: PathArgument, config: ConfigOption = None) -> None:
        """Archive the database (online, consistent), the logs and the secrets key."""

        async def body(settings: Settings) -> int:
            from api.commands import backup as bodies  # noqa: PLC0415 - see the docstring

            return await bodies.backup(settings, path)

        raise typer.Exit(run_server_command(config, body))

    @app.command("restore", rich_help_panel=panel)
    def restore(
        path: PathArgument,
        force: Annotated[
            bool, typer.Option("--force", help="Replace an existing database.")
        ] = False,
        config: ConfigOption = None,
    ) -> None:
        """Put a backup in place (fogbank stopped)."""

        async def body(settings: Settings) -> int:
            from api.commands import backup as bodies  # noqa: PLC0415 - see the docstring

            return await bodies.restore(settings, path, force=force)

        raise typer.Exit(run_server_command(config, body))

    app.add_typer(edge, name="edge", rich_help_panel=panel)


def _edge(name: str) -> Callable[[Settings], Coroutine[Any, Any, int]]:
    async def body(settings: Settings) -> int:
        from api.commands import edge as bodies  # noqa: PLC0415 - see the module docstring

        command = {"run": bodies.run, "stop": bodies.stop, "status": bodies.status}[name]
        return await command(settings)

    return body
