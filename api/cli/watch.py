"""Waiting for a deployment the way `deploy`, `rollback` and `logs -f` do: its socket followed
(through reconnects) into the view or, with --json, silently; then the outcome as exit code."""

from __future__ import annotations

from typing import Any

import typer

from api.cli.deploy_view import DeploymentView
from api.cli.errors import INTERRUPTED, OK
from api.cli.follow import BuildLogPosition, Frame, follow
from api.cli.http import Api
from api.cli.output import Output

SOCKET = "/ws/deployment/logs"


def label_of(deployment: dict[str, Any], app_name: str) -> str:
    number = deployment.get("deployment_number")
    return f"{app_name} #{number}" if number else f"deployment {deployment['id']}"


def watch(
    client: Api,
    out: Output,
    deployment: dict[str, Any],
    app_name: str,
    *,
    json_out: bool = False,
    json_frames: bool = False,
    stages_apart: bool = False,
) -> int:
    """Follow the deployment to its end; print how it ended; its exit code. Ctrl-C detaches."""
    label = label_of(deployment, app_name)
    view = DeploymentView(out, label, quiet=json_out or json_frames, stages_apart=stages_apart)
    position = BuildLogPosition(deployment["id"])

    def show(frame: Frame) -> None:
        if json_frames:
            out.json_line(frame)
        view.show(frame)

    try:
        with view:
            follow(client, SOCKET, position, show, out.note)
    except KeyboardInterrupt:
        out.note(
            f"detached: {label} goes on on the server (`fogbank stop {deployment['id']}` stops it)"
        )
        raise typer.Exit(INTERRUPTED) from None
    code, summary = view.outcome()
    if json_out:
        out.json(client.deployment(deployment["id"]))
    elif not json_frames:
        report(out, view, code, summary)
    return code


def report(out: Output, view: DeploymentView, code: int, summary: str) -> None:
    if code == OK:
        out.line(summary, style="bold green")
        return
    out.note(f"fogbank: {summary}", style="bold red")
    if view.status.get("status") == "failed" and view.last_lines:
        out.note(f"--- last {len(view.last_lines)} log lines ---")
        for line in view.last_lines:
            out.note(line, style="")
