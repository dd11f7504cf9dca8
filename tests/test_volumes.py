"""Volumes for any app, on a real Docker engine: a web app's named volume keeps its files across
deploys and a rollback, is listed in the app's answer, and outlives the app unless deleting asks
for it (`docker volume ls` is the witness)."""

from __future__ import annotations

import subprocess

import docker
import httpx
import pytest
from quart import Quart
from quart.testing import QuartClient

from controller.store.models import Deployment, Status
from tests.support.api import assert_error, wait_terminal
from tests.support.deployed import DeployedWebApp
from tests.support.images import Api, run_in

pytestmark = pytest.mark.slow

UPLOADS = {"name": "uploads", "mountPath": "/www/uploads"}


async def get(port: int, path: str) -> tuple[int, str]:
    async with httpx.AsyncClient(timeout=5) as http:
        response = await http.get(f"http://127.0.0.1:{port}{path}")
    return response.status_code, response.text


def volumes_of(app_name: str) -> list[str]:
    """The app's volumes as `docker volume ls` lists them (by the label fogbank puts on them)."""
    listed = subprocess.run(
        ["docker", "volume", "ls", "--filter", f"label=fogbank.app={app_name}", "--format",
         "{{.Name}}"],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    return sorted(listed.stdout.split())


async def active(app_id: int) -> Deployment:
    return await Deployment.get(app_id=app_id, is_active=True)


@pytest.mark.web_app(volumes=[UPLOADS])
async def test_a_volume_survives_deploys_rollback_and_app_deletion(
    app: Quart,
    client: QuartClient,
    deployed_web_app: DeployedWebApp,
    docker_client: docker.DockerClient,
) -> None:
    api = Api(client, deployed_web_app.headers)
    web = deployed_web_app
    docker_name = f"fogbank-{web.name}-uploads"
    shown = await api.data("POST", "/api/apps/getById", {"appId": web.app_id})
    assert shown["volumes"] == [
        {"name": "uploads", "mount_path": "/www/uploads", "docker_volume": docker_name}
    ]
    assert volumes_of(web.name) == [docker_name]
    refused = await client.post(
        "/api/deployment/add",
        json={"appId": web.app_id, "image": "registry.example.com/a:1"},
        headers=web.headers,
    )
    assert (await assert_error(refused, 422))["message"].startswith("image: ")
    first = await active(web.app_id)
    run_in(docker_client, first.container_id, "echo kept > /www/uploads/note.txt")
    assert await get(web.port, "/uploads/note.txt") == (200, "kept\n")

    for version in ("two", "three"):
        web.repo.commit(f"version {version}", {"www/index.html": f"version {version}\n"})
        added = await api.ok("POST", "/api/deployment/add", {"appId": web.app_id})
        done = await wait_terminal(app, added["id"])
        assert done.status is Status.SUCCESS, done.error_message
        assert await get(web.port, "/") == (200, f"version {version}\n")
        assert await get(web.port, "/uploads/note.txt") == (200, "kept\n")
    back = await api.data("POST", "/api/deployment/rollback", {"deploymentId": web.deployment_id})
    assert (await wait_terminal(app, back["id"])).status is Status.SUCCESS
    assert await get(web.port, "/") == (200, "version one\n")
    assert await get(web.port, "/uploads/note.txt") == (200, "kept\n")

    # Deleted without deleteVolumes: the volume stays, and a new app of the name finds it.
    deleted = await api.data("DELETE", "/api/apps/delete", {"appId": web.app_id})
    assert (deleted["volumes_kept"], deleted["volumes_removed"]) == ([docker_name], [])
    print(f"\ndocker volume ls after delete: {volumes_of(web.name)}")
    assert volumes_of(web.name) == [docker_name]
    again = await api.data(
        "POST",
        "/api/apps/create",
        {"name": web.name, "gitRepository": web.repo.url, "port": 3000,
         "publicPort": web.port, "volumes": [UPLOADS], "stabilizationSeconds": 1},
    )  # fmt: skip
    added = await api.ok("POST", "/api/deployment/add", {"appId": again["id"]})
    assert (await wait_terminal(app, added["id"])).status is Status.SUCCESS
    assert await get(web.port, "/uploads/note.txt") == (200, "kept\n")
    gone = await api.data(
        "DELETE", "/api/apps/delete", {"appId": again["id"], "deleteVolumes": True}
    )
    assert (gone["volumes_kept"], gone["volumes_removed"]) == ([], [docker_name])
    print(f"docker volume ls after delete with deleteVolumes: {volumes_of(web.name)}")
    assert volumes_of(web.name) == []


async def test_volume_settings_are_checked(
    app: Quart, client: QuartClient, admin: dict[str, str]
) -> None:
    base = {"name": "vols", "gitRepository": "https://example.com/acme/vols.git"}
    for volumes, field in [
        ([{"name": "Data", "mountPath": "/data"}], "name"),
        ([{"name": "data", "mountPath": "data"}], "mountPath"),
        ([{"name": "data", "mountPath": "/"}], "mountPath"),
        ([{"name": "data", "mountPath": "/a/../etc"}], "mountPath"),
        ([{"name": "data", "mountPath": "/a:/b"}], "mountPath"),
        ([{"name": "a", "mountPath": "/a"}, {"name": "a", "mountPath": "/b"}], "name"),
        ([{"name": "a", "mountPath": "/a"}, {"name": "b", "mountPath": "/a/"}], "mountPath"),
        ([{"name": "a", "mountPath": "/a", "mode": "ro"}], "mode"),
    ]:
        response = await client.post(
            "/api/apps/create", json={**base, "volumes": volumes}, headers=admin
        )
        body = await assert_error(response, 422)
        assert field in body["message"], (volumes, body["message"])
    made = await client.post(
        "/api/apps/create",
        json={**base, "volumes": [{"name": "data", "mountPath": "/srv/data/"}]},
        headers=admin,
    )
    assert made.status_code == 201, await made.get_data(as_text=True)
    assert (await made.get_json())["data"]["volumes"][0]["mount_path"] == "/srv/data"
