"""Reporting as users manage it: notification targets (per app or global), each app's GitHub
settings, and the test notification. Secrets (tokens, signing secrets, webhook URLs) are
write-only: stored, used, never answered."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from controller.errors import NotFound, ValidationFailed
from controller.notify.courier import Courier
from controller.notify.events import SUBSCRIBABLE
from controller.notify.notices import Notices
from controller.notify.routing import resolve_github
from controller.store.models import App
from controller.store.reporting import Channel, GithubLink, NotificationTarget, OutboxMessage

REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
EMAIL = re.compile(r"^[^@\s,<>]+@[^@\s,<>]+\.[^@\s,<>]+$")
SECRET_BYTES = 32
TARGET_KINDS = (Channel.WEBHOOK, Channel.SLACK, Channel.DISCORD, Channel.EMAIL)


def check_url(url: str) -> str:
    """An http(s) URL with a host and no credentials in it."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationFailed("'url' must be an http:// or https:// URL")
    if parts.username is not None or parts.fragment:
        raise ValidationFailed("'url' must not carry credentials or a #fragment")
    return url


def check_repository(name: str) -> str:
    if name and not REPOSITORY.fullmatch(name):
        raise ValidationFailed("'repository' must be owner/name")
    return name


def check_emails(addresses: list[str]) -> list[str]:
    for address in addresses:
        if not EMAIL.fullmatch(address):
            raise ValidationFailed(f"'emailTo': {address!r} is not an email address")
    return addresses


def check_events(events: list[str]) -> list[str]:
    unknown = sorted(set(events) - {str(event) for event in SUBSCRIBABLE})
    if unknown:
        raise ValidationFailed(f"'events': unknown {', '.join(unknown)}")
    return events


def masked_url(url: str) -> str:
    """Scheme and host only: the path of a Slack or Discord URL is its credential."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/********" if parts.netloc else ""


@dataclass(frozen=True)
class GithubView:
    """An app's GitHub reporting as answered: the token only as whether there is one."""

    app_id: int
    repository: str
    resolved_repository: str
    token_set: bool
    token_source: str  # "app", "global" or "none"
    commit_statuses: bool | None
    deployments: bool | None
    reporting: bool


class Reporting:
    def __init__(self, notices: Notices, courier: Courier) -> None:
        self.notices = notices
        self.courier = courier

    async def create_target(self, fields: dict[str, Any]) -> tuple[NotificationTarget, str]:
        """A new target; and its signing secret when fogbank made one (shown this once)."""
        kind = Channel(fields["kind"])
        made = ""
        if kind is Channel.WEBHOOK and not fields.get("secret"):
            made = fields["secret"] = secrets.token_hex(SECRET_BYTES)
        target = NotificationTarget(
            app_id=fields.get("app_id"),
            name=fields["name"],
            kind=kind,
            url=fields.get("url") or "",
            secret=fields.get("secret") or "",
            email_to=",".join(fields.get("email_to") or []),
            events=",".join(fields.get("events") or [str(event) for event in SUBSCRIBABLE]),
            enabled=fields.get("enabled", True),
        )
        _check_complete(target)
        await target.save()
        await self.notices.reload()
        return target, made

    async def update_target(
        self, target: NotificationTarget, fields: dict[str, Any]
    ) -> NotificationTarget:
        for name in ("name", "url", "secret", "enabled"):
            if name in fields:
                setattr(target, name, fields[name])
        if "email_to" in fields:
            target.email_to = ",".join(fields["email_to"])
        if "events" in fields:
            target.events = ",".join(fields["events"])
        _check_complete(target)
        await target.save()
        await self.notices.reload()
        return target

    async def delete_target(self, target: NotificationTarget) -> None:
        await target.delete()
        await self.notices.reload()

    async def test_target(self, target: NotificationTarget, who: str) -> OutboxMessage:
        """Send a test notification now; the message after its first attempt (or still
        pending after the timeout)."""
        message_id = await self.notices.test(target.id, target.app_id, target.kind, who)
        return await self.courier.attempted(message_id, self.courier.first_attempt_seconds)

    async def github_view(self, app: App) -> GithubView:
        link = await GithubLink.get_or_none(app_id=app.id)
        settings = self.notices.github_settings
        route = resolve_github(app, link, settings)
        own = bool(link and link.token)
        return GithubView(
            app_id=app.id,
            repository=link.repository if link else "",
            resolved_repository=route.repository if route else "",
            token_set=own or bool(settings.token),
            token_source="app" if own else ("global" if settings.token else "none"),
            commit_statuses=link.commit_statuses if link else None,
            deployments=link.deployments if link else None,
            reporting=route is not None,
        )

    async def update_github(self, app: App, fields: dict[str, Any]) -> GithubView:
        link, _ = await GithubLink.get_or_create(app_id=app.id)
        for name in ("token", "repository", "commit_statuses", "deployments"):
            if name in fields:  # None for the two switches: follow the global setting
                setattr(link, name, fields[name])
        await link.save()
        await self.notices.reload()
        return await self.github_view(app)


def _check_complete(target: NotificationTarget) -> None:
    if target.kind is Channel.EMAIL:
        if not target.email_to:
            raise ValidationFailed("an email target needs 'emailTo'")
    elif not target.url:
        raise ValidationFailed(f"a {target.kind} target needs 'url'")


async def find_target(target_id: int) -> NotificationTarget:
    target = await NotificationTarget.get_or_none(id=target_id)
    if target is None:
        raise NotFound(f"notification target {target_id} does not exist", code="TARGET_NOT_FOUND")
    return target
