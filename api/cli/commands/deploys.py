"""fogbank deploy, rollback, stop, deployments: request deployments and wait for them."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from api.cli.context import CLIENT_PANEL, JsonOption, PlainOption, api, output
from api.cli.errors import FAILED, CliError
from api.cli.output import Output
from api.cli.watch import label_of, watch

NoWaitOption = Annotated[
    bool, typer.Option("--no-wait", help="Queue it and return; do not follow it.")
]
ROLLBACK_TARGETS = ("success", "rolled_back")


def register(app: typer.Typer) -> None:
    for command in (deploy, rollback, stop, deployments):
        app.command(rich_help_panel=CLIENT_PANEL)(command)


def deploy(
    ctx: typer.Context,
    app: Annotated[str, typer.Argument(help="The app's name or id.")],
    commit: Annotated[
        str | None, typer.Option("--commit", help="Deploy this commit (else the branch head).")
    ] = None,
    no_wait: NoWaitOption = False,
    json_out: JsonOption = False,
    plain: PlainOption = False,
) -> None:
    """Deploy an app and follow it: exit 0 success, 1 failed, 2 stopped or superseded."""
    out = output(ctx, plain)
    with api() as client:
        found = client.app(app)
        body: dict[str, Any] = {"appId": found["id"]}
        if commit:
            body["commitHash"] = commit
        queued: dict[str, Any] = client.call("POST", "/api/deployment/add", body)
        _queued_then_watch(client, out, queued, found["name"], no_wait=no_wait, json_out=json_out)


def rollback(
    ctx: typer.Context,
    app: Annotated[str, typer.Argument(help="The app's name or id.")],
    to: Annotated[
        int | None,
        typer.Option("--to", help="The deployment id to return to (else the one before)."),
    ] = None,
    no_wait: NoWaitOption = False,
    json_out: JsonOption = False,
    plain: PlainOption = False,
) -> None:
    """Return an app to an earlier successful deployment (by default the one before the active
    one), reusing its image; followed like deploy."""
    out = output(ctx, plain)
    with api() as client:
        found = client.app(app)
        target = to if to is not None else _previous(client.deployments(found["id"], 200))
        queued: dict[str, Any] = client.call(
            "POST", "/api/deployment/rollback", {"deploymentId": target}
        )
        _queued_then_watch(client, out, queued, found["name"], no_wait=no_wait, json_out=json_out)


def _previous(history: list[dict[str, Any]]) -> int:
    """The newest successful deployment older than the active one."""
    active = next((d for d in history if d["is_active"]), None)
    if active is None:
        raise CliError("nothing to roll back: the app has no active deployment", FAILED)
    for deployment in history:
        if deployment["id"] < active["id"] and deployment["status"] in ROLLBACK_TARGETS:
            return int(deployment["id"])
    raise CliError("nothing to roll back to: no earlier successful deployment", FAILED)


def _queued_then_watch(
    client: Any,
    out: Output,
    queued: dict[str, Any],
    app_name: str,
    *,
    no_wait: bool,
    json_out: bool,
) -> None:
    if no_wait:
        if json_out:
            out.json(queued)
        else:
            out.line(f"queued {label_of(queued, app_name)} (deployment id {queued['id']})")
        return
    if not json_out:
        commit = str(queued.get("commit_hash") or "")[:12]
        out.note(f"queued {label_of(queued, app_name)} (id {queued['id']}) of commit {commit}")
    raise typer.Exit(watch(client, out, queued, app_name, json_out=json_out))


def stop(
    ctx: typer.Context,
    deployment: Annotated[int, typer.Argument(help="The deployment id.")],
    json_out: JsonOption = False,
    plain: PlainOption = False,
) -> None:
    """Stop a deployment: pending at once, a build aborted; refused once traffic switched."""
    out = output(ctx, plain)
    with api() as client:
        stopped = client.call("POST", "/api/deployment/stop", {"deploymentId": deployment})
    if json_out:
        out.json(stopped)
        return
    out.line(f"deployment {deployment} is {stopped['status']}")


def deployments(
    ctx: typer.Context,
    app: Annotated[str, typer.Argument(help="The app's name or id.")],
    limit: Annotated[int, typer.Option("--limit", min=1, max=200)] = 20,
    json_out: JsonOption = False,
    plain: PlainOption = False,
) -> None:
    """An app's deployments, newest first."""
    out = output(ctx, plain)
    with api() as client:
        history = client.deployments(client.app(app)["id"], limit)
    if json_out:
        out.json(history)
        return
    rows = [
        [
            d["id"],
            f"#{d['deployment_number']}",
            str(d["commit_hash"])[:10],
            d["status"] + (" (active)" if d["is_active"] else ""),
            d["stage"],
            d["triggered_by"],
            d["created_at"],
            d["error_message"],
        ]
        for d in history
    ]
    out.table(["id", "#", "commit", "status", "stage", "trigger", "created", "error"], rows)
