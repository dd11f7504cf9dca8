"""Database apps from service templates: the fields and env vars a template gives a new app (its
password generated and stored as a secret), the connection info other apps use (password
masked in every answer), and linking an app to a database (`linkDatabase`)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from controller.apps.templates import PLACEHOLDER, Catalogue, Template
from controller.errors import Conflict, ValidationFailed
from controller.events.deployment_logs import MASK
from controller.store.models import App, AppType, EnvVar

PASSWORD_BYTES = 24
# The env vars a linked app receives; the password and the URL (which holds it) are secrets.
LINK_PREFIX = "DATABASE_"
LINK_KEYS = ("URL", "HOST", "PORT", "USER", "NAME", "PASSWORD")
SECRET_LINK_KEYS = {"URL", "PASSWORD"}


@dataclass(frozen=True)
class NewEnv:
    key: str
    value: str
    is_secret: bool


def template_of(catalogue: Catalogue, name: str) -> Template:
    template = catalogue.get(name)
    if template is None:
        known = ", ".join(catalogue.names())
        raise ValidationFailed(f"templateName '{name[:80]}' is not in the catalogue ({known})")
    return template


def from_template(
    template: Template, fields: dict[str, Any]
) -> tuple[dict[str, Any], list[NewEnv]]:
    """The app's fields with the template's defaults under what the user gave, and its env
    vars (a fresh password). Its data directory is the volume `data`."""
    password = secrets.token_urlsafe(PASSWORD_BYTES)
    volumes = [{"name": "data", "mount_path": template.data_dir}]
    volumes += [v for v in fields.get("volumes", []) if v["name"] != "data"]
    merged = {
        "image": template.reference,
        "port": template.port,
        **fields,
        "volumes": volumes,
        "health_command": [template.fill(part, "") for part in template.health_command],
        "command": list(template.command),
    }
    envs = [
        NewEnv(key, template.fill(value, password), "{password}" in value)
        for key, value in template.env.items()
    ]
    return merged, envs


def connection_url(template: Template, password: str, host: str, port: int) -> str:
    values = {
        "user": template.user,
        "password": password,
        "database": template.database,
        "host": host,
        "port": str(port),
    }
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], template.url)


async def _credentials(app: App, catalogue: Catalogue) -> tuple[Template, str]:
    if app.app_type is not AppType.DATABASE or not app.template_name:
        raise Conflict(
            f"app '{app.name}' is not a database app from a template", code="NOT_A_DATABASE"
        )
    template = catalogue.get(app.template_name)
    if template is None:
        raise Conflict(
            f"template '{app.template_name}' of app '{app.name}' is no longer in the catalogue",
            code="TEMPLATE_GONE",
        )
    env = await EnvVar.get_or_none(app_id=app.id, key=template.password_env)
    return template, env.value if env is not None else ""


async def connection_info(app: App, catalogue: Catalogue) -> dict[str, Any]:
    """Where and how to reach a database app, with its password masked. `host` is the name
    linked apps reach it by; `public_address` is the host's loopback port, when it has one."""
    template, _ = await _credentials(app, catalogue)
    return {
        "app_id": app.id,
        "template": template.name,
        "host": app.name,
        "port": app.port,
        "user": template.user,
        "database": template.database,
        "password": MASK,
        "url": connection_url(template, MASK, app.name, app.port),
        "public_address": f"127.0.0.1:{app.public_port}" if app.public_port else None,
        "env_prefix": LINK_PREFIX,
    }


async def link_envs(database: App, catalogue: Catalogue) -> list[NewEnv]:
    """The env vars an app linked to `database` receives (the password and URL as secrets)."""
    template, password = await _credentials(database, catalogue)
    values = {
        "URL": connection_url(template, password, database.name, database.port),
        "HOST": database.name,
        "PORT": str(database.port),
        "USER": template.user,
        "NAME": template.database,
        "PASSWORD": password,
    }
    return [NewEnv(LINK_PREFIX + key, values[key], key in SECRET_LINK_KEYS) for key in LINK_KEYS]


async def apply_link(app: App, database_id: int | None, catalogue: Catalogue) -> None:
    """Link `app` to the database app `database_id` (its env vars written, effective at the
    next deploy), or unlink it (None: those env vars removed)."""
    if database_id is None:
        if app.linked_database_id is not None:
            keys = [LINK_PREFIX + key for key in LINK_KEYS]
            await EnvVar.filter(app_id=app.id, key__in=keys).delete()
        app.linked_database_id = None
        return
    database = await App.get_or_none(id=database_id)
    if database is None:
        raise ValidationFailed(f"linkDatabase: app {database_id} does not exist")
    if database.id == app.id or app.app_type is AppType.DATABASE:
        raise ValidationFailed("linkDatabase: a database app cannot be linked to a database")
    try:
        envs = await link_envs(database, catalogue)
    except Conflict as exc:
        raise ValidationFailed(f"linkDatabase: {exc.message}") from exc
    for env in envs:
        await EnvVar.update_or_create(
            defaults={"value": env.value, "is_secret": env.is_secret, "is_build_arg": False},
            app_id=app.id,
            key=env.key,
        )
    app.linked_database_id = database.id


async def linked_apps(database: App) -> list[str]:
    """Names of the apps linked to `database`."""
    return [
        str(n)
        for n in await App.filter(linked_database_id=database.id).values_list("name", flat=True)
    ]
