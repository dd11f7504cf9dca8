"""fogbank login, logout, whoami: the server and token the other client commands use."""

from __future__ import annotations

import socket
import sys
from typing import Annotated

import typer

from api.cli import credentials
from api.cli.context import CLIENT_PANEL, JsonOption, PlainOption, api, output
from api.cli.credentials import Target
from api.cli.errors import USAGE, CliError
from api.cli.http import Api


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel=CLIENT_PANEL)(login)
    app.command(rich_help_panel=CLIENT_PANEL)(logout)
    app.command(rich_help_panel=CLIENT_PANEL)(whoami)


def login(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="The server, e.g. http://127.0.0.1:8080")],
    username: Annotated[str | None, typer.Option("--username", "-u")] = None,
    token: Annotated[
        str | None, typer.Option("--token", help="Use this API token instead of a password.")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    plain: PlainOption = False,
) -> None:
    """Log in and keep an API token in ~/.config/fogbank/credentials (mode 0600)."""
    out = output(ctx, plain)
    url = credentials.normal_url(url)
    if token is not None:
        target = Target(url, token.strip())
        with Api(target) as client:
            user = client.call("GET", "/api/auth/me")
    else:
        name = username or out.prompt("Username")
        secret = sys.stdin.readline().rstrip("\n") if password_stdin else None
        if secret is None:
            secret = out.prompt("Password", secret=True)
        target, user = _token_for(url, name, secret)
    path = credentials.save(target)
    out.line(f"logged in to {url} as {user['username']} ({user['role']}); token saved in {path}")


def _token_for(url: str, username: str, password: str) -> tuple[Target, dict[str, str]]:
    """Log in with the password (a session), create an API token with it, end the session."""
    with Api(Target(url, "")) as client:
        user = client.call("POST", "/api/auth/login", {"username": username, "password": password})
        name = f"fogbank CLI on {socket.gethostname()}"[:64]
        created = client.call("POST", "/api/tokens/create", {"name": name})
        client.call("POST", "/api/auth/logout")
    token_id = created.get("id")
    return Target(url, created["token"], token_id if isinstance(token_id, int) else None), user


def logout(ctx: typer.Context, plain: PlainOption = False) -> None:
    """Revoke the saved token on the server (when it supports that) and forget it here."""
    out = output(ctx, plain)
    saved = credentials.load_saved()
    if saved is None:
        raise CliError("not logged in: no credentials file", USAGE)
    revoked = False
    if saved.token_id is not None:
        with Api(saved) as client:
            client.call("DELETE", "/api/tokens/revoke", {"tokenId": saved.token_id})
            revoked = True
    credentials.forget()
    if revoked:
        out.line(f"logged out of {saved.url}: token revoked and forgotten")
    else:
        out.line(
            f"logged out of {saved.url}: token forgotten here; it stays valid on the server "
            "until revoked (fogbank tokens revoke)"
        )


def whoami(ctx: typer.Context, json_out: JsonOption = False, plain: PlainOption = False) -> None:
    """Who the saved or given token belongs to, and on which server."""
    out = output(ctx, plain)
    with api() as client:
        user = client.call("GET", "/api/auth/me")
        if json_out:
            out.json(user)
            return
        out.line(f"{user['username']} ({user['role']}) on {client.url}")
