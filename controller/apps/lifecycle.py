"""App lifecycle beyond plain rows: creating with defaults checked (a repository, an image, or a
database template), and deleting with everything the app owns (containers, images, mirror,
logs; its volumes only when asked)."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from controller.apps import database, validation
from controller.apps.templates import Catalogue
from controller.deploy.queue import stop_pending
from controller.errors import Conflict, FogbankError, ValidationFailed
from controller.events.deployment_logs import DeploymentLogs
from controller.runtime import networks, volumes
from controller.runtime.engine import Engine
from controller.runtime.naming import app_labels, app_network
from controller.source.access import generate_deploy_key, split_credentials
from controller.source.mirror import GitSync
from controller.store.models import IN_FLIGHT, App, AppType, Deployment, Domain, EnvVar

log = logging.getLogger(__name__)
# The field that links an app to a database app (its id, or None to unlink).
LINK = "link_database"


async def create_app(fields: dict[str, Any], catalogue: Catalogue) -> App:
    """Insert an app from already validated fields; names are unique. A database app with a
    `template_name` gets the template's image, port, data volume, health command and env vars
    (its password generated, stored as a secret)."""
    fields = dict(fields)
    link = fields.pop(LINK, None)
    envs: list[database.NewEnv] = []
    if fields.get("template_name"):
        template = database.template_of(catalogue, fields["template_name"])
        if fields.get("app_type", AppType.WEB) is not AppType.DATABASE:
            raise ValidationFailed("templateName: only database apps come from a template")
        if fields.get("git_repository"):
            raise ValidationFailed("templateName: a template app has no gitRepository")
        fields, envs = database.from_template(template, fields)
    if "volumes" in fields:
        fields["volumes"] = validation.volumes(fields["volumes"])
    if fields.get("git_repository") and fields.get("image"):
        raise ValidationFailed("gitRepository and image: an app has one or the other")
    if not fields.get("git_repository") and not fields.get("image"):
        raise ValidationFailed("gitRepository is required (or image, or a database templateName)")
    if await App.filter(name=fields["name"]).exists():
        raise Conflict(f"an app named '{fields['name']}' already exists", code="APP_EXISTS")
    await _check_public_port(fields.get("public_port"), None)
    fields = _credentials_apart(fields, None)
    private, public = generate_deploy_key(fields["name"])
    try:
        async with in_transaction():
            app = await App.create(
                **fields,
                webhook_secret=secrets.token_hex(32),
                deploy_key=private,
                deploy_public_key=public,
            )
            for env in envs:
                await EnvVar.create(app=app, key=env.key, value=env.value, is_secret=env.is_secret)
            if link is not None:
                await database.apply_link(app, link, catalogue)
                await app.save(update_fields=["linked_database_id", "updated_at"])
    except IntegrityError as exc:
        raise Conflict(
            f"an app named '{fields['name']}' already exists", code="APP_EXISTS"
        ) from exc
    return app


async def update_app(app: App, fields: dict[str, Any], catalogue: Catalogue) -> App:
    """Change settings (effective at the next deployment); the name, the kind of source and the
    template stay as created."""
    fields = dict(fields)
    if "name" in fields and fields["name"] != app.name:
        raise ValidationFailed("name cannot be changed (containers and images are named after it)")
    if "template_name" in fields and fields["template_name"] != app.template_name:
        raise ValidationFailed("templateName cannot be changed")
    if fields.get("image") and not app.image:
        raise ValidationFailed(f"image: app '{app.name}' builds from its repository")
    if "git_repository" in fields and app.image:
        raise ValidationFailed(f"gitRepository: app '{app.name}' deploys an image")
    if "volumes" in fields and app.template_name:  # a template's data volume stays
        data = [v for v in app.volumes if v["name"] == "data"]
        fields["volumes"] = data + [v for v in fields["volumes"] if v["name"] != "data"]
    if "volumes" in fields:
        fields["volumes"] = validation.volumes(fields["volumes"])
    if "public_port" in fields:
        await _check_public_port(fields["public_port"], app.id)
    fields = _credentials_apart(fields, app)
    async with in_transaction():
        if LINK in fields:
            await database.apply_link(app, fields.pop(LINK), catalogue)
        for key, value in fields.items():
            setattr(app, key, value)
        await app.save()
    return app


def _credentials_apart(fields: dict[str, Any], app: App | None) -> dict[str, Any]:
    """The repository URL without credentials, and the credentials apart (sealed when saved).
    An update that sends back the URL as shown (without credentials) keeps the stored ones; a
    different URL without credentials has none (they never follow a URL to another host)."""
    if "git_repository" not in fields:
        return fields
    url, credential = split_credentials(fields["git_repository"])
    if not credential and app is not None and url == app.git_repository:
        credential = app.git_credential
    return {**fields, "git_repository": url, "git_credential": credential}


async def rotate_deploy_key(app: App) -> App:
    """A new deploy key pair for the app (the old public key stops working where it was added)."""
    app.deploy_key, app.deploy_public_key = generate_deploy_key(app.name)
    await app.save(update_fields=["deploy_key", "deploy_public_key", "updated_at"])
    return app


async def _check_public_port(port: int | None, app_id: int | None) -> None:
    if port is None:
        return
    clash = await App.filter(public_port=port).exclude(id=app_id or 0).first()
    if clash is not None:
        raise Conflict(
            f"publicPort {port} is already used by app '{clash.name}'", code="PORT_IN_USE"
        )


async def delete_app(
    app: App, engine: Engine, git: GitSync, logs: DeploymentLogs, *, delete_volumes: bool = False
) -> list[str]:
    """Stop and remove the app's containers, images and network, its mirror and logs, then its
    rows. Its volumes are kept (a new app of the same name finds them) unless `delete_volumes`;
    the names of the volumes that were kept, or removed."""
    if await Deployment.filter(app_id=app.id, status__in=IN_FLIGHT).exists():
        raise Conflict("a deployment of this app is in progress; wait for it or stop it first")
    linked = await database.linked_apps(app)
    if linked:
        raise Conflict(
            f"apps {', '.join(linked)} are linked to this database; unlink them first",
            code="DATABASE_IN_USE",
        )
    await stop_pending(app.id, "app deleted")
    for container in await engine.containers(app_labels(app.name)):
        await engine.remove_container(container.id)
    if app.app_type is AppType.DATABASE:
        await networks.remove_database(engine, app.name)
    kept_or_removed = (
        await volumes.remove(engine, app.name)
        if delete_volumes
        else await volumes.existing(engine, app.name)
    )
    for image_id, _, _ in await engine.images(app_labels(app.name)):
        try:
            await engine.remove_image(image_id)
        except FogbankError as exc:
            log.warning("could not remove image %s: %s", image_id, exc.message)
    await engine.remove_network(app_network(app.name))
    await git.remove(app.name)
    for deployment in await Deployment.filter(app_id=app.id).only("id"):
        logs.delete(deployment.id)
    await app.delete()
    return kept_or_removed


async def add_domain(app: App, hostname: str) -> Domain:
    """A host name (validated) the edge routes to `app`; unique across apps."""
    hostname = validation.hostname(hostname)
    if app.app_type != AppType.WEB:
        raise ValidationFailed(
            f"domains route HTTP to web apps; {app.name} is a {app.app_type} app"
        )
    if await Domain.filter(hostname=hostname).exists():
        raise Conflict(f"domain '{hostname}' is already in use", code="DOMAIN_EXISTS")
    try:
        return await Domain.create(app=app, hostname=hostname)
    except IntegrityError as exc:  # a concurrent create of the same name won the race
        raise Conflict(f"domain '{hostname}' is already in use", code="DOMAIN_EXISTS") from exc
