"""fogbank tokens [list], tokens create NAME, tokens revoke ID: the caller's API tokens (an
admin's: everyone's)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from api.cli.context import CLIENT_PANEL, JsonOption, PlainOption, api, output

tokens = typer.Typer(help="API tokens: list, create (shown once), revoke.")


def register(app: typer.Typer) -> None:
    app.add_typer(tokens, name="tokens", rich_help_panel=CLIENT_PANEL)


@tokens.callback(invoke_without_command=True)
def tokens_main(
    ctx: typer.Context, json_out: JsonOption = False, plain: PlainOption = False
) -> None:
    """List tokens (never their values), or: create NAME, revoke ID."""
    if ctx.invoked_subcommand is None:
        tokens_list(ctx, json_out, plain)


@tokens.command("list")
def tokens_list(
    ctx: typer.Context, json_out: JsonOption = False, plain: PlainOption = False
) -> None:
    """Your tokens (an admin's: everyone's), newest first."""
    out = output(ctx, plain)
    with api() as client:
        found: list[dict[str, Any]] = client.call("GET", "/api/tokens/getAll")
    if json_out:
        out.json(found)
        return
    keys = ("id", "name", "username", "created_at", "last_used_at", "expires_at")
    out.table(["id", "name", "user", "created", "last used", "expires"],
              [[t.get(key) for key in keys] for t in found])  # fmt: skip


@tokens.command("create")
def tokens_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="What it is for, e.g. ci.")],
    json_out: JsonOption = False,
    plain: PlainOption = False,
) -> None:
    """A new token with your role; printed once, on standard output alone."""
    out = output(ctx, plain)
    with api() as client:
        created: dict[str, Any] = client.call("POST", "/api/tokens/create", {"name": name})
    if json_out:
        out.json(created)
        return
    out.note(f"token {created['name']!r} created; it is shown only this once:")
    out.line(str(created["token"]))


@tokens.command("revoke")
def tokens_revoke(
    ctx: typer.Context,
    token_id: Annotated[int, typer.Argument(help="The token's id (fogbank tokens list).")],
    plain: PlainOption = False,
) -> None:
    """Revoke a token: its next request is refused."""
    out = output(ctx, plain)
    with api() as client:
        client.call("DELETE", "/api/tokens/revoke", {"tokenId": token_id})
    out.line(f"revoked token {token_id}")
