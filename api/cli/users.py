"""`fogbank user list|create|disable|enable|delete|set-role|set-password` and `fogbank token
create`, on this host's database; their bodies are api/commands/users.py's (each change written
to the audit log)."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated

import typer

from api.cli.context import ConfigOption

ROLES = ("viewer", "deployer", "admin")  # controller.store.models.Role, without importing it
Body = Callable[[argparse.Namespace], Awaitable[int]]

UsernameArgument = Annotated[str, typer.Argument(help="The user's name.")]
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input.")
]


def register(app: typer.Typer, panel: str) -> None:
    user = typer.Typer(help="Manage users in this host's database.", no_args_is_help=True)
    token = typer.Typer(help="Manage API tokens in this host's database.", no_args_is_help=True)

    @user.command("list")
    def list_users(config: ConfigOption = None) -> None:
        """List users."""
        _run("list_users", config)

    @user.command("create")
    def create(
        username: Annotated[str, typer.Option("--username")],
        role: Annotated[str, typer.Option("--role", help="viewer, deployer or admin.")] = "viewer",
        password_stdin: PasswordStdin = False,
        config: ConfigOption = None,
    ) -> None:
        """Create a user."""
        _check_role(role)
        _run("create", config, username=username, role=role, password_stdin=password_stdin)

    for name, body, about in (
        ("disable", "disable", "Refuse the user's sessions and tokens."),
        ("enable", "enable", "Let a disabled user in again."),
        ("delete", "delete", "Delete the user with its sessions and tokens."),
    ):
        user.command(name, help=about)(_by_username(body))

    @user.command("set-password")
    def set_password(
        username: UsernameArgument,
        password_stdin: PasswordStdin = False,
        config: ConfigOption = None,
    ) -> None:
        """Set the password (the user's sessions end)."""
        _run("set_password", config, username=username, password_stdin=password_stdin)

    @user.command("set-role")
    def set_role(
        username: UsernameArgument,
        role: Annotated[str, typer.Argument(help="viewer, deployer or admin.")],
        config: ConfigOption = None,
    ) -> None:
        """Change the role (the user's sessions end)."""
        _check_role(role)
        _run("set_role", config, username=username, role=role)

    @token.command("create")
    def create_token(
        username: Annotated[str, typer.Option("--username")],
        name: Annotated[str, typer.Option("--name")],
        config: ConfigOption = None,
    ) -> None:
        """Create an API token for a user; printed once."""
        _run("create_token", config, username=username, name=name)

    app.add_typer(user, name="user", rich_help_panel=panel)
    app.add_typer(token, name="token", rich_help_panel=panel)


def _by_username(body: str) -> Callable[..., None]:
    def command(username: UsernameArgument, config: ConfigOption = None) -> None:
        _run(body, config, username=username)

    return command


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise typer.BadParameter(f"one of {', '.join(ROLES)}, not {role!r}", param_hint="role")


def _run(body: str, config: Path | None, **arguments: object) -> None:
    """Run the body of that name from api/commands/users.py with the database open."""
    from api.cli.server import in_database  # noqa: PLC0415
    from api.commands import users as bodies  # noqa: PLC0415 - imports the controller

    found: Body = getattr(bodies, body)
    args = argparse.Namespace(**arguments)
    raise typer.Exit(in_database(config, lambda: found(args)))
