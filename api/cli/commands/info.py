"""fogbank events APP (drift found and repaired), fogbank webhook APP (what GitHub's "Add
webhook" form asks for; admin) and fogbank instances (who shares the database; admin)."""

from __future__ import annotations

from typing import Annotated

import typer

from api.cli.context import CLIENT_PANEL, JsonOption, PlainOption, api, output


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel=CLIENT_PANEL)(events)
    app.command(rich_help_panel=CLIENT_PANEL)(webhook)
    app.command(rich_help_panel=CLIENT_PANEL)(instances)


def events(
    ctx: typer.Context,
    app: Annotated[str, typer.Argument(help="The app's name or id.")],
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 100,
    json_out: JsonOption = False,
    plain: PlainOption = False,
) -> None:
    """The app's event log (drift found and repaired), newest last."""
    out = output(ctx, plain)
    with api() as client:
        found = client.call(
            "POST", "/api/apps/events", {"appId": client.app(app)["id"], "limit": limit}
        )
    if json_out:
        out.json(found)
        return
    for line in found:
        out.line(str(line))


def webhook(
    ctx: typer.Context,
    app: Annotated[str, typer.Argument(help="The app's name or id.")],
    json_out: JsonOption = False,
    plain: PlainOption = False,
) -> None:
    """The payload URL and secret to paste into GitHub (admin)."""
    out = output(ctx, plain)
    with api() as client:
        found = client.call("POST", "/api/apps/webhook", {"appId": client.app(app)["id"]})
    if json_out:
        out.json(found)
        return
    out.fields(
        [
            ("Payload URL", found["payloadUrl"]),
            ("Content type", found["contentType"]),
            ("Secret", found["secret"]),
            ("Events", ", ".join(found["events"])),
        ]
    )


def instances(ctx: typer.Context, json_out: JsonOption = False, plain: PlainOption = False) -> None:
    """The fogbank instances sharing the database: alive, leader, which one answered (admin)."""
    out = output(ctx, plain)
    with api() as client:
        found = client.call("GET", "/api/instances")
    if json_out:
        out.json(found)
        return
    headers = ["name", "api address", "alive", "leader", "answering", "heartbeat"]
    keys = ("name", "api_address", "alive", "leader", "answering", "heartbeat_at")
    out.table(headers, [[row.get(key) for key in keys] for row in found])
