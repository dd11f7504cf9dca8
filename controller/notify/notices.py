"""Turns what happens to deployments and apps into outbox rows, without ever waiting on the
outside world: a dict lookup decides whether anybody listens (routing.py), then one insert,
in the caller's transaction when there is one (the door's). The courier sends them."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from controller.config import GithubSettings, Settings
from controller.notify.events import (
    Event,
    Links,
    commit_state,
    deployment_facts,
    deployment_state,
    describe,
    final_event,
    headline,
)
from controller.notify.routing import GithubRoute, Routing, load_routing
from controller.store.bulk import insert_rows
from controller.store.models import App, Deployment, Domain, Status
from controller.store.reporting import Channel, OutboxMessage
from controller.store.timefmt import iso_now, utcnow

Row = dict[str, Any]


def public_base_url(settings: Settings) -> str:
    """Where people reach fogbank: server.public_url once the edge work adds it, else the
    address the API listens on."""
    public: str = getattr(settings.server, "public_url", "") or ""
    return public.rstrip("/") or f"http://{settings.server.host}:{settings.server.port}"


class Notices:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.links = Links(public_base_url(settings))
        self.routing = Routing()
        self.wake: Callable[[], None] = lambda: None  # the courier's, once it exists

    @property
    def github_settings(self) -> GithubSettings:
        return self._settings.github

    async def reload(self) -> None:
        """Read who listens again (after a change to apps, GitHub links or targets)."""
        self.routing = await load_routing(self._settings.github)

    def wants(self, app_id: int) -> bool:
        return self.routing.wants(app_id)

    # Deployments ---------------------------------------------------------------------------

    async def queued(self, deployments: Sequence[tuple[int, int, int, str]]) -> None:
        """(id, app id, number, commit) of each new request: GitHub hears `pending`, and gets
        a GitHub deployment when the app asks for those."""
        rows: list[Row] = []
        for deployment_id, app_id, number, sha in deployments:
            route = self.routing.github.get(app_id)
            if route is None:
                continue
            queued = Deployment(
                id=deployment_id, app_id=app_id, deployment_number=number, commit_hash=sha
            )
            rows += self._github_rows(route, queued, created=True)
        await self._write(rows)

    async def superseded(self, app_id: int, reason: str) -> None:
        """Pending requests of the app just stopped with `reason` (in the same transaction)."""
        if app_id not in self.routing.github:
            return
        stopped = await Deployment.filter(
            app_id=app_id, status=Status.STOPPED, error_message=reason
        )
        rows: list[Row] = []
        for deployment in stopped:
            rows += self._github_rows(self.routing.github[app_id], deployment)
        await self._write(rows)

    async def stage(self, deployment: Deployment, *, first: bool) -> None:
        """The deployment entered a stage (its first one when `first`)."""
        route = self.routing.github.get(deployment.app_id)
        if route is not None:
            rows = self._github_rows(route, deployment, deployment_status=first)
            await self._write(rows)

    async def finished(self, deployment: Deployment) -> None:
        """The deployment reached its final status."""
        rows: list[Row] = []
        route = self.routing.github.get(deployment.app_id)
        if route is not None:
            rows += self._github_rows(
                route, deployment, environment_url=await self._app_url(deployment)
            )
        event = final_event(deployment)
        if event is not None:
            rows += self._target_rows(deployment.app_id, event, deployment, "")
        await self._write(rows)

    async def replaced(self, previous: Deployment, by: Deployment) -> None:
        """`by` went live in place of `previous` (a rollback when `by` is one)."""
        rows: list[Row] = []
        route = self.routing.github.get(previous.app_id)
        if route is not None and route.deployments:
            rows.append(
                self._deployment_status(
                    route, previous, "inactive", f"Replaced by deployment #{by.deployment_number}"
                )
            )
        if previous.status is Status.ROLLED_BACK:
            detail = f"back to deployment #{by.deployment_number}"
            rows += self._target_rows(previous.app_id, Event.ROLLED_BACK, previous, detail)
        await self._write(rows)

    # Apps and targets ----------------------------------------------------------------------

    async def drift_repaired(self, app_id: int, detail: str) -> None:
        await self._write(self._target_rows(app_id, Event.DRIFT_REPAIRED, None, detail))

    async def test(self, target_id: int, app_id: int | None, kind: Channel, who: str) -> int:
        """A test notification to one target, whatever events it subscribes to; its row id."""
        row = self._notification(target_id, app_id, kind, Event.TEST, None, f"sent by {who}")
        await self._write([row])
        found = await OutboxMessage.filter(key=row["key"]).order_by("-id").first()
        assert found is not None
        return found.id

    # Rows ----------------------------------------------------------------------------------

    def _github_rows(
        self,
        route: GithubRoute,
        deployment: Deployment,
        *,
        created: bool = False,
        deployment_status: bool = True,
        environment_url: str = "",
    ) -> list[Row]:
        rows: list[Row] = []
        description = describe(deployment)
        url = self.links.deployment(deployment.id)
        app = self.routing.names.get(deployment.app_id, str(deployment.app_id))
        if route.commit_statuses:
            payload = {
                "repository": route.repository,
                "sha": deployment.commit_hash,
                "state": commit_state(deployment),
                "description": description,
                "context": f"fogbank/{app}",
                "target_url": url,
            }
            rows.append(
                self._github(
                    deployment,
                    "commit_status",
                    payload,
                    f"status:{deployment.app_id}:{deployment.commit_hash}",
                )
            )
        if route.deployments and created:
            payload = {
                "repository": route.repository,
                "ref": deployment.commit_hash,
                "environment": app,
                "description": f"fogbank deployment #{deployment.deployment_number}",
            }
            rows.append(self._github(deployment, "deployment", payload, f"deploy:{deployment.id}"))
        elif route.deployments and deployment_status:
            state = deployment_state(deployment)
            rows.append(
                self._deployment_status(route, deployment, state, description, environment_url)
            )
        return rows

    def _deployment_status(
        self,
        route: GithubRoute,
        deployment: Deployment,
        state: str,
        description: str,
        environment_url: str = "",
    ) -> Row:
        payload = {
            "repository": route.repository,
            "state": state,
            "description": description,
            "log_url": self.links.deployment(deployment.id),
            "environment": self.routing.names.get(deployment.app_id, str(deployment.app_id)),
        }
        if environment_url:
            payload["environment_url"] = environment_url
        return self._github(deployment, "deployment_status", payload, f"deploy:{deployment.id}")

    def _github(
        self, deployment: Deployment, action: str, payload: dict[str, Any], key: str
    ) -> Row:
        return {
            "channel": Channel.GITHUB,
            "action": action,
            "key": key,
            "app_id": deployment.app_id,
            "app_name": self.routing.names.get(deployment.app_id, ""),
            "deployment_id": deployment.id,
            "payload": json.dumps(payload),
        }

    def _target_rows(
        self, app_id: int, event: Event, deployment: Deployment | None, detail: str
    ) -> list[Row]:
        return [
            self._notification(target.id, app_id, target.kind, event, deployment, detail)
            for target in self.routing.targets_for(app_id, event)
        ]

    def _notification(
        self,
        target_id: int,
        app_id: int | None,
        kind: Channel,
        event: Event,
        deployment: Deployment | None,
        detail: str,
    ) -> Row:
        app = self.routing.names.get(app_id, "") if app_id is not None else ""
        facts = deployment_facts(deployment, self.links) if deployment is not None else None
        payload = {
            "event": str(event),
            "message": headline(event, app, facts, detail),
            "app": {"id": app_id, "name": app} if app_id is not None else None,
            "deployment": facts,
            "detail": detail,
            "timestamp": iso_now(),
        }
        return {
            "channel": kind,
            "action": "notify",
            "key": f"target:{target_id}",
            "app_id": app_id,
            "app_name": app,
            "target_id": target_id,
            "deployment_id": deployment.id if deployment is not None else None,
            "payload": json.dumps(payload),
        }

    async def _write(self, rows: list[Row]) -> None:
        if not rows:
            return
        await insert_rows(OutboxMessage, rows, next_attempt_at=utcnow())
        self.wake()

    async def _app_url(self, deployment: Deployment) -> str:
        """The app's address for a GitHub deployment's environment_url: its first domain on the
        edge, else its publicPort."""
        route = self.routing.github.get(deployment.app_id)
        if route is None or not route.deployments or deployment.status is not Status.SUCCESS:
            return ""
        edge = self._settings.edge
        domain = await Domain.filter(app_id=deployment.app_id).order_by("id").first()
        if domain is not None:
            port = "" if edge.http_port == 80 else f":{edge.http_port}"
            return f"http://{domain.hostname}{port}"
        app = await App.get_or_none(id=deployment.app_id)
        if app is None or app.public_port is None:
            return ""
        host = self.links.base_url.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
        return f"http://{host}:{app.public_port}"
