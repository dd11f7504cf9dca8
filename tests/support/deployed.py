"""A web app created through the API and deployed once, successfully: the starting point of the
tests that then push a change, break it, stop it or roll it back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from quart import Quart
from quart.testing import QuartClient

from controller.store.models import Status
from tests.support.api import add_deployment, create_web_app, wait_terminal
from tests.support.ports import free_port
from tests.support.repos import GitRepo


@dataclass(frozen=True)
class DeployedWebApp:
    app_id: int
    name: str
    repo: GitRepo
    deployment_id: int  # the first deployment, active
    commit_hash: str  # what it deployed
    headers: dict[str, str]  # an admin's Bearer token
    public_port: int | None

    @property
    def port(self) -> int:
        """The publicPort the edge serves the app on (the app must have one)."""
        assert self.public_port is not None, "this app was created without a publicPort"
        return self.public_port


async def deploy_web_app(
    app: Quart,
    client: QuartClient,
    headers: dict[str, str],
    name: str,
    repo: GitRepo,
    **extra: Any,
) -> DeployedWebApp:
    """Create the app (on a free publicPort unless `extra` sets `publicPort`, None for none),
    deploy the repository's head and wait for `success`."""
    fields: dict[str, Any] = {"publicPort": free_port(), **extra}
    if fields["publicPort"] is None:
        del fields["publicPort"]
    created = await create_web_app(client, headers, name, repo, **fields)
    first = await add_deployment(client, headers, created["id"])
    done = await wait_terminal(app, first["id"])
    assert done.status is Status.SUCCESS, done.error_message
    return DeployedWebApp(
        app_id=created["id"],
        name=name,
        repo=repo,
        deployment_id=first["id"],
        commit_hash=first["commit_hash"],
        headers=headers,
        public_port=created.get("public_port"),
    )
