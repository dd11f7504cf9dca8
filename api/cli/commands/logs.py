"""fogbank logs (a deployment's build log) and app-logs (what the app's container prints), each
once or followed (-f) through dropped connections and server restarts."""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

from api.cli.context import CLIENT_PANEL, JsonOption, PlainOption, api, output
from api.cli.errors import INTERRUPTED
from api.cli.follow import AppLogPosition, Frame, follow
from api.cli.watch import watch

FollowOption = Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines.")]
DURATION = re.compile(r"^(\d+)([smhd])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel=CLIENT_PANEL)(logs)
    app.command(name="app-logs", rich_help_panel=CLIENT_PANEL)(app_logs)


def logs(
    ctx: typer.Context,
    deployment: Annotated[int, typer.Argument(help="The deployment id.")],
    follow_it: FollowOption = False,
    json_out: JsonOption = False,
    plain: PlainOption = False,
) -> None:
    """A deployment's build log; with -f, follow it to the end (exit code as deploy's). With
    -f --json, each socket frame as one JSON line."""
    out = output(ctx, plain)
    with api() as client:
        if not follow_it:
            if json_out:
                out.json(client.call("GET", f"/api/deployment/logs/{deployment}"))
            else:
                sys.stdout.write(client.text(f"/api/deployment/logs/{deployment}"))
            return
        found = {"id": deployment}
        code = watch(client, out, found, "", json_frames=json_out, stages_apart=True)
    raise typer.Exit(code)


def app_logs(
    ctx: typer.Context,
    app: Annotated[str, typer.Argument(help="The app's name or id.")],
    follow_it: FollowOption = False,
    tail: Annotated[int, typer.Option("--tail", min=0, max=5000, help="Last lines first.")] = 100,
    since: Annotated[
        str | None, typer.Option("--since", help="An ISO-8601 time, or an age: 30s, 10m, 2h, 1d.")
    ] = None,
    timestamps: Annotated[bool, typer.Option("--timestamps", "-t")] = False,
    json_out: JsonOption = False,
    plain: PlainOption = False,
) -> None:
    """What the app's serving container prints (secrets masked); with -f, follow it, also into
    the next deployment's container."""
    out = output(ctx, plain)
    when = since_time(since)
    with api() as client:
        found = client.app(app)
        if not follow_it:
            params: dict[str, Any] = {"appId": found["id"], "tail": tail}
            if when:
                params["since"] = when
            data = client.call("GET", "/api/apps/logs", params=params)
            if json_out:
                out.json(data)
                return
            for line in data["lines"]:
                out.line(_shown(line, timestamps), style=_style(line["stream"]))
            return

        def show(frame: Frame) -> None:
            if json_out:
                out.json_line(frame)
            elif frame["type"] == "log":
                data = {**frame["data"], "timestamp": frame["timestamp"]}
                out.line(_shown(data, timestamps), style=_style(data["stream"]))
            elif frame["type"] == "status":
                out.note(f"-- {frame['data']['message']}")

        try:
            follow(client, "/ws/apps/logs", AppLogPosition(found["id"], tail, when), show, out.note)
        except KeyboardInterrupt:
            raise typer.Exit(INTERRUPTED) from None


def _shown(line: dict[str, Any], timestamps: bool) -> str:
    return f"{line['timestamp']} {line['line']}" if timestamps else str(line["line"])


def _style(stream: str) -> str | None:
    return "red" if stream == "stderr" else None


def since_time(since: str | None) -> str | None:
    """An ISO-8601 time as given, or an age (10m) as the UTC time that long ago."""
    if not since:
        return None
    age = DURATION.match(since.strip())
    if age is None:
        return since  # a time: the server checks it (ISO-8601 with a zone)
    delta = timedelta(**{UNITS[age.group(2)]: int(age.group(1))})
    return (datetime.now(UTC) - delta).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
