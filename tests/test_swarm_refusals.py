"""On `runtime.backend = "swarm"` image and template apps, volumes and database links are
refused with the reason (Swarm here pulls no image references and has no volumes or database
networks): at the API before anything is stored, and at deploy time for an app that got them
before the backend was Swarm. Removing `Sources.check_backend` fails the first two tests;
removing the check in SwarmSwapper._push fails the last."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from quart import Quart
from quart.testing import QuartClient

from controller.config import (
    Settings,
)
from controller.store.models import App, Status
from tests.support.api import add_deployment, assert_error, create_web_app, wait_terminal
from tests.support.repos import GitRepo
from tests.support.swarm import remove_services, swarm_settings

pytestmark = pytest.mark.slow

UPLOADS = {"name": "uploads", "mountPath": "/www/uploads"}


@pytest.fixture
def settings(tmp_path: Path, swarm_registry: str) -> Settings:
    return swarm_settings(tmp_path, swarm_registry, replicas=1)


@pytest.fixture
def app_name(docker_client: docker.DockerClient, app_name: str) -> Iterator[str]:
    yield app_name
    remove_services(docker_client, [app_name])


@pytest.mark.parametrize(
    ("field", "extra"),
    [
        ("image", {"image": "127.0.0.1:5999/web:1", "port": 3000}),
        ("templateName", {"appType": "database", "templateName": "postgres"}),
        ("volumes", {"volumes": [UPLOADS], "port": 3000}),
    ],
)
async def test_created_image_template_and_volume_apps_are_refused(
    client: QuartClient,
    admin: dict[str, str],
    web_repo: GitRepo,
    app_name: str,
    field: str,
    extra: dict[str, Any],
) -> None:
    body = {"name": app_name, **extra}
    if field == "volumes":  # a web app built from its repository, with a volume
        body["gitRepository"] = web_repo.url
    answer = await client.post("/api/apps/create", json=body, headers=admin)
    refused = await assert_error(answer, 422, "NOT_ON_SWARM")
    assert refused["message"].startswith(f"{field}: ")
    assert "do not run on Swarm yet" in refused["message"]
    assert not await App.filter(name=app_name).exists()


async def test_volumes_added_to_a_web_app_are_refused(
    client: QuartClient, admin: dict[str, str], web_repo: GitRepo, app_name: str
) -> None:
    created = await create_web_app(client, admin, app_name, web_repo)
    body = {"appId": created["id"], "volumes": [UPLOADS]}
    answer = await client.put("/api/apps/update", json=body, headers=admin)
    await assert_error(answer, 422, "NOT_ON_SWARM")
    assert (await App.get(id=created["id"])).volumes == []


async def test_an_app_with_volumes_from_before_swarm_fails_its_deploy_with_the_reason(
    app: Quart,
    client: QuartClient,
    admin: dict[str, str],
    web_repo: GitRepo,
    app_name: str,
    docker_client: docker.DockerClient,
) -> None:
    created = await create_web_app(client, admin, app_name, web_repo)
    # As if set while runtime.backend was "docker": the database holds it, the API refuses it.
    await App.filter(id=created["id"]).update(volumes=[{"name": "uploads", "mount_path": "/u"}])
    started = await add_deployment(client, admin, created["id"])
    done = await wait_terminal(app, started["id"], timeout_seconds=180)
    assert done.status is Status.FAILED
    assert "volumes and database links do not run on Swarm yet" in (done.error_message or "")
    assert docker_client.services.list(filters={"label": f"fogbank.app={app_name}"}) == []
