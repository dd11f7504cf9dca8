"""The `fogbank` command's tree: client commands (talk to a server over its API) and server
commands (run on the fogbank host), grouped apart in --help."""

from __future__ import annotations

from importlib import metadata
from typing import Annotated

import typer

from api.cli import server
from api.cli.context import PlainOption, State

HELP = """fogbank: a git push (or `fogbank deploy`) becomes a safe, visible deployment.

The client commands talk to a server named by `fogbank login URL`, or FOGBANK_URL and
FOGBANK_TOKEN. Exit codes: 0 done, 1 failed, 2 stopped or superseded, 3 cannot reach the server
or not authenticated, 4 role too low, 64 wrong usage, 130 interrupted."""


def version() -> str:
    try:
        return metadata.version("fogbank")
    except metadata.PackageNotFoundError:
        return "(not installed: run scripts/venv)"


def _print_version(wanted: bool) -> None:
    if wanted:
        print(f"fogbank {version()}")
        raise typer.Exit()


def root(
    ctx: typer.Context,
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="Print the version."
        ),
    ] = False,
    plain: PlainOption = False,
) -> None:
    ctx.obj = State(plain=plain)


def build(*, client: bool = True) -> typer.Typer:
    """The command tree; without the client commands (`client=False`) for `fogbank serve`,
    whose long-lived process then never imports them (nor rich, which only they use)."""
    app = typer.Typer(
        name="fogbank",
        help=HELP,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode="markdown",
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(root)
    if client:
        from api.cli.commands import (  # noqa: PLC0415 - see the docstring
            apps,
            deploys,
            info,
            logs,
            session,
            settings,
            tokens,
        )

        for module in (session, apps, deploys, logs, settings, tokens, info):
            module.register(app)
    server.register(app)
    return app
