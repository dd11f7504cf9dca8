"""fogbank env APP [list|set|unset] and fogbank domains APP [list|add|remove]."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from api.cli.context import CLIENT_PANEL, JsonOption, PlainOption, api, output
from api.cli.errors import FAILED, USAGE, CliError
from api.cli.http import Api

env = typer.Typer(help="An app's environment variables (secret values never shown).")
domains = typer.Typer(help="The host names the edge routes to an app.")
AppArgument = Annotated[str, typer.Argument(help="The app's name or id.")]


def register(app: typer.Typer) -> None:
    app.add_typer(env, name="env", rich_help_panel=CLIENT_PANEL)
    app.add_typer(domains, name="domains", rich_help_panel=CLIENT_PANEL)


def _app_of(ctx: typer.Context) -> str:
    parent = ctx.parent if ctx.parent is not None else ctx
    return str(parent.params["app"])


@env.callback(invoke_without_command=True)
def env_main(
    ctx: typer.Context, app: AppArgument, json_out: JsonOption = False, plain: PlainOption = False
) -> None:
    """List the app's variables, or: set K=V [--secret] [--build-arg], unset K."""
    if ctx.invoked_subcommand is None:
        _list_env(ctx, app, json_out, plain)


@env.command("list")
def env_list(ctx: typer.Context, json_out: JsonOption = False, plain: PlainOption = False) -> None:
    """The app's variables; secret values show as ********."""
    _list_env(ctx, _app_of(ctx), json_out, plain)


def _list_env(ctx: typer.Context, app: str, json_out: bool, plain: bool) -> None:
    out = output(ctx, plain)
    with api() as client:
        found = _envs(client, client.app(app)["id"])
    if json_out:
        out.json(found)
        return
    flags = {True: "yes", False: ""}
    rows = [[e["key"], e["value"], flags[e["is_secret"]], flags[e["is_build_arg"]]] for e in found]
    out.table(["key", "value", "secret", "build arg"], rows)


@env.command("set")
def env_set(
    ctx: typer.Context,
    pairs: Annotated[
        list[str], typer.Argument(help="KEY=VALUE, or KEY alone to type or pipe the value.")
    ],
    secret: Annotated[bool | None, typer.Option("--secret/--no-secret")] = None,
    build_arg: Annotated[bool | None, typer.Option("--build-arg/--no-build-arg")] = None,
    plain: PlainOption = False,
) -> None:
    """Add or change variables (admin). A secret's value is best typed or piped (KEY alone):
    on the command line it lands in the shell's history and the process list."""
    out = output(ctx, plain)
    with api() as client:
        app_id = client.app(_app_of(ctx))["id"]
        existing = {e["key"]: e for e in _envs(client, app_id)}
        for pair in pairs:
            key, sep, value = pair.partition("=")
            if not sep:
                value = _read_value(out.plain, key)
            elif secret:
                out.note(f"{key}: the value was on the command line (history, ps); next time "
                         f"give the key alone and type or pipe it")  # fmt: skip
            fields: dict[str, Any] = {"value": value}
            if secret is not None:
                fields["isSecret"] = secret
            if build_arg is not None:
                fields["isBuildArg"] = build_arg
            if key in existing:
                client.call(
                    "PUT", "/api/apps/envs/update", {"envId": existing[key]["id"], **fields}
                )
                out.line(f"updated {key}")
            else:
                client.call(
                    "POST", "/api/apps/envs/create", {"appId": app_id, "key": key, **fields}
                )
                out.line(f"added {key}")
    out.note("the app's running container keeps its old environment until the next deploy")


def _read_value(plain: bool, key: str) -> str:
    if sys.stdin.isatty() and not plain:
        import getpass  # noqa: PLC0415 - only when a person types a value

        return getpass.getpass(f"Value of {key}: ")
    if sys.stdin.isatty():
        raise CliError(f"{key}: give KEY=VALUE or pipe the value (no terminal to ask on)", USAGE)
    return sys.stdin.read().removesuffix("\n")


@env.command("unset")
def env_unset(
    ctx: typer.Context, keys: Annotated[list[str], typer.Argument()], plain: PlainOption = False
) -> None:
    """Remove variables (admin)."""
    out = output(ctx, plain)
    with api() as client:
        existing = {e["key"]: e for e in _envs(client, client.app(_app_of(ctx))["id"])}
        for key in keys:
            if key not in existing:
                raise CliError(f"no variable {key}", FAILED)
            client.call("DELETE", "/api/apps/envs/delete", {"envId": existing[key]["id"]})
            out.line(f"removed {key}")


def _envs(client: Api, app_id: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = client.call("POST", "/api/apps/envs/get", {"appId": app_id})
    return found


@domains.callback(invoke_without_command=True)
def domains_main(
    ctx: typer.Context, app: AppArgument, json_out: JsonOption = False, plain: PlainOption = False
) -> None:
    """List the app's domains, or: add HOST, remove HOST."""
    if ctx.invoked_subcommand is None:
        _list_domains(ctx, app, json_out, plain)


@domains.command("list")
def domains_list(
    ctx: typer.Context, json_out: JsonOption = False, plain: PlainOption = False
) -> None:
    """The app's domains."""
    _list_domains(ctx, _app_of(ctx), json_out, plain)


def _list_domains(ctx: typer.Context, app: str, json_out: bool, plain: bool) -> None:
    out = output(ctx, plain)
    with api() as client:
        found = _domains(client, client.app(app)["id"])
    if json_out:
        out.json(found)
        return
    out.table(
        ["id", "hostname", "created"], [[d["id"], d["hostname"], d["created_at"]] for d in found]
    )


@domains.command("add")
def domains_add(ctx: typer.Context, hostname: str, plain: PlainOption = False) -> None:
    """Route a host name to the app (admin)."""
    out = output(ctx, plain)
    with api() as client:
        body = {"appId": client.app(_app_of(ctx))["id"], "hostname": hostname}
        created = client.call("POST", "/api/apps/domains/create", body)
    out.line(f"added {created['hostname']}")


@domains.command("remove")
def domains_remove(ctx: typer.Context, hostname: str, plain: PlainOption = False) -> None:
    """Stop routing a host name to the app (admin)."""
    out = output(ctx, plain)
    with api() as client:
        found = {d["hostname"]: d for d in _domains(client, client.app(_app_of(ctx))["id"])}
        if hostname not in found:
            raise CliError(f"no domain {hostname}", FAILED)
        client.call("DELETE", "/api/apps/domains/delete", {"domainId": found[hostname]["id"]})
    out.line(f"removed {hostname}")


def _domains(client: Api, app_id: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = client.call("POST", "/api/apps/domains/get", {"appId": app_id})
    return found
