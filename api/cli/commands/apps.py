"""fogbank apps [list], apps show|create|update|delete: an app is named by its name or its id."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from api.cli.context import CLIENT_PANEL, JsonOption, PlainOption, api, output
from api.cli.errors import USAGE, CliError

apps = typer.Typer(
    help="List apps; show, create, update and delete them.",
    no_args_is_help=False,
    invoke_without_command=True,
)

SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="FIELD=VALUE",
        help="Any field of the API in camelCase (repeatable); VALUE is JSON when it parses "
        "(3000, true, null), else text.",
    ),
]
COLUMNS = ("id", "name", "app_type", "git_branch", "public_port", "sync", "health")


def register(app: typer.Typer) -> None:
    app.add_typer(apps, name="apps", rich_help_panel=CLIENT_PANEL)


@apps.callback()
def list_apps(ctx: typer.Context, json_out: JsonOption = False, plain: PlainOption = False) -> None:
    """Every app (a table), or with a subcommand: show, create, update, delete."""
    if ctx.invoked_subcommand is not None:
        return
    out = output(ctx, plain)
    with api() as client:
        found: list[dict[str, Any]] = client.call("GET", "/api/apps/getAll")
    if json_out:
        out.json(found)
        return
    headers = ["id", "name", "type", "branch", "public port", "sync", "health"]
    out.table(headers, [[row.get(key) for key in COLUMNS] for row in found])


@apps.command()
def show(
    ctx: typer.Context, app: str, json_out: JsonOption = False, plain: PlainOption = False
) -> None:
    """One app with its settings, sync and health."""
    out = output(ctx, plain)
    with api() as client:
        found = client.call("POST", "/api/apps/getById", {"appId": client.app(app)["id"]})
    if json_out:
        out.json(found)
        return
    out.fields(list(found.items()))


@apps.command()
def create(
    ctx: typer.Context,
    name: str,
    repo: Annotated[str | None, typer.Option("--repo", help="The git repository URL.")] = None,
    branch: Annotated[str | None, typer.Option("--branch")] = None,
    app_type: Annotated[str | None, typer.Option("--type", help="web, service or database")] = None,
    port: Annotated[int | None, typer.Option("--port", help="The container's port.")] = None,
    public_port: Annotated[
        int | None, typer.Option("--public-port", help="The loopback port the edge serves on.")
    ] = None,
    settings: SetOption = None,
    json_out: JsonOption = False,
    plain: PlainOption = False,
) -> None:
    """Create an app (admin)."""
    out = output(ctx, plain)
    body: dict[str, Any] = {"name": name}
    body.update(_given(repo, branch, app_type, port, public_port))
    body.update(parse_settings(settings))
    with api() as client:
        created = client.call("POST", "/api/apps/create", body)
    if json_out:
        out.json(created)
        return
    out.line(f"created app {created['name']} (id {created['id']})")


@apps.command()
def update(
    ctx: typer.Context,
    app: str,
    repo: Annotated[str | None, typer.Option("--repo")] = None,
    branch: Annotated[str | None, typer.Option("--branch")] = None,
    port: Annotated[int | None, typer.Option("--port")] = None,
    public_port: Annotated[int | None, typer.Option("--public-port")] = None,
    settings: SetOption = None,
    json_out: JsonOption = False,
    plain: PlainOption = False,
) -> None:
    """Change an app's settings (admin); only those given change."""
    out = output(ctx, plain)
    changes = {**_given(repo, branch, None, port, public_port), **parse_settings(settings)}
    if not changes:
        raise CliError("nothing to change: give --repo, --branch, --port or --set", USAGE)
    with api() as client:
        updated = client.call(
            "PUT", "/api/apps/update", {"appId": client.app(app)["id"], **changes}
        )
    if json_out:
        out.json(updated)
        return
    out.line(f"updated app {updated['name']}: {', '.join(sorted(changes))}")


@apps.command()
def delete(
    ctx: typer.Context,
    app: str,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
    plain: PlainOption = False,
) -> None:
    """Delete an app with its containers, images and logs (admin)."""
    out = output(ctx, plain)
    with api() as client:
        found = client.app(app)
        if not yes:
            if out.plain:
                raise CliError("give --yes to delete without a question (no terminal)", USAGE)
            answer = out.prompt(f"Delete app {found['name']} and everything it runs? Type its name")
            if answer.strip() != found["name"]:
                raise CliError("not deleted", USAGE)
        client.call("DELETE", "/api/apps/delete", {"appId": found["id"]})
    out.line(f"deleted app {found['name']}")


def _given(
    repo: str | None, branch: str | None, app_type: str | None, port: int | None, public: int | None
) -> dict[str, Any]:
    fields = {
        "gitRepository": repo,
        "gitBranch": branch,
        "appType": app_type,
        "port": port,
        "publicPort": public,
    }
    return {key: value for key, value in fields.items() if value is not None}


def parse_settings(settings: list[str] | None) -> dict[str, Any]:
    """`--set field=value` pairs as API fields."""
    fields: dict[str, Any] = {}
    for item in settings or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise CliError(f"--set wants FIELD=VALUE, not {item!r}", USAGE)
        try:
            fields[key.strip()] = json.loads(raw)
        except ValueError:
            fields[key.strip()] = raw
    return fields
