"""The whole path on a real Docker engine and real git repositories: a commit becomes a running
container, with the seed's API, history, logs and live WebSocket."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import docker
import httpx
import pytest
from quart import Quart
from quart.testing import QuartClient
from quart.testing.connections import WebsocketDisconnectError

from controller.store.models import Deployment, Status
from tests.support.api import add_deployment, create_web_app, wait_terminal
from tests.support.deployed import DeployedWebApp
from tests.support.docker_objects import deployment_containers
from tests.support.ports import free_port
from tests.support.repos import GitRepo

pytestmark = pytest.mark.slow

SEED_ADD_KEYS = {
    "id",
    "app_id",
    "commit_hash",
    "commit_message",
    "status",
    "stage",
    "progress",
    "created_at",
}


async def fetch(port: int) -> str:
    async with httpx.AsyncClient(timeout=5) as http:
        response = await http.get(f"http://127.0.0.1:{port}/")
    response.raise_for_status()
    return response.text


async def watch(
    client: QuartClient, headers: dict[str, str], deployment_id: int, after: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """Every frame of the deployment's socket until the server closes it; and the close code."""
    frames: list[dict[str, Any]] = []
    path = f"/ws/deployment/logs?deploymentId={deployment_id}&after={after}"
    async with client.websocket(path, headers=headers) as ws:
        try:
            async with asyncio.timeout(120):
                while True:
                    frames.append(json.loads(await ws.receive()))
        except WebsocketDisconnectError as closed:
            return frames, int(closed.args[0])
    raise AssertionError("unreachable")


async def test_commit_to_running_container_and_second_commit(
    app: Quart, client: QuartClient, admin: dict[str, str], web_repo: GitRepo, app_name: str
) -> None:
    port = free_port()
    created = await create_web_app(client, admin, app_name, web_repo, publicPort=port)
    head = web_repo.git("rev-parse", "HEAD")

    first = await add_deployment(client, admin, created["id"])
    assert set(first) >= SEED_ADD_KEYS
    assert (first["status"], first["stage"], first["progress"]) == ("pending", "", 0)
    assert first["commit_hash"] == head and re.fullmatch(r"[0-9a-f]{40}", head)
    # The add names the branch head with ls-remote; the worker fetches and fills these in.
    assert (first["commit_message"], first["commit_author"]) == ("", "")
    assert first["created_at"].endswith("Z")

    frames, code = await watch(client, admin, first["id"])
    assert code == 1000
    statuses = [(f["data"]["status"], f["data"]["stage"]) for f in frames if f["type"] == "status"]
    for expected in [
        ("building", "cloning_repo"),
        ("building", "building_image"),
        ("deploying", "starting_new"),
        ("success", "completed"),
    ]:
        assert expected in statuses, statuses
    assert statuses[-1] == ("success", "completed")
    progress = [f["data"]["progress"] for f in frames if f["type"] == "status"]
    assert progress == sorted(progress) and progress[-1] == 100
    lines = [f["data"]["line"] for f in frames if f["type"] == "log"]
    assert any(line.startswith("Step 1/") for line in lines), lines
    seqs = [f["data"]["seq"] for f in frames if f["type"] == "log"]
    assert seqs == list(range(1, len(seqs) + 1))
    assert await fetch(port) == "version one\n"

    second_sha = web_repo.commit("second version", {"www/index.html": "version two\n"})
    second = await add_deployment(client, admin, created["id"])
    assert second["commit_hash"] == second_sha
    done = await wait_terminal(app, second["id"])
    assert done.status is Status.SUCCESS, done.error_message
    assert await fetch(port) == "version two\n"

    listing = await client.post(
        "/api/deployment/getByAppId", json={"appId": created["id"]}, headers=admin
    )
    body = await listing.get_json()
    assert body["success"] is True and body["message"]
    history = body["data"]
    assert [d["id"] for d in history] == [second["id"], first["id"]]
    assert [d["deployment_number"] for d in history] == [2, 1]
    assert [d["is_active"] for d in history] == [True, False]
    assert [d["commit_message"] for d in history] == ["second version", "first version"]
    assert all(d["commit_author"] for d in history)
    assert history[0]["duration"] is not None and history[0]["image_tag"].endswith(
        f":{second['id']}"
    )

    page = await client.post(
        "/api/deployment/getByAppId",
        json={"appId": created["id"], "limit": 1, "before": second["id"]},
        headers=admin,
    )
    assert [d["id"] for d in (await page.get_json())["data"]] == [first["id"]]

    text = await client.get(f"/api/deployment/logs/{second['id']}", headers=admin)
    assert text.content_type.startswith("text/plain")
    assert "Step 1/" in await text.get_data(as_text=True)
    as_json = await client.get(
        f"/api/deployment/logs/{second['id']}", headers={**admin, "Accept": "application/json"}
    )
    assert (await as_json.get_json())["data"]["deployment"]["id"] == second["id"]

    # Resume: ?after=N gives lines N+1.. only, then the final status and close 1000.
    resumed, code = await watch(client, admin, second["id"], after=3)
    resumed_seqs = [f["data"]["seq"] for f in resumed if f["type"] == "log"]
    assert resumed_seqs[0] == 4 and resumed_seqs == sorted(set(resumed_seqs))
    assert code == 1000


async def test_failures_keep_the_previous_version_serving(
    app: Quart,
    client: QuartClient,
    deployed_web_app: DeployedWebApp,
    docker_client: docker.DockerClient,
) -> None:
    web = deployed_web_app
    port = web.port
    assert await fetch(port) == "version one\n"

    # A broken Dockerfile: failed at building_image, quoting docker's error.
    web.repo.commit(
        "broken build",
        {"Dockerfile": 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "false"]\n'},
    )
    broken = await add_deployment(client, web.headers, web.app_id)
    frames, _ = await watch(client, web.headers, broken["id"])
    failed = await Deployment.get(id=broken["id"])
    assert (failed.status, failed.stage) == (Status.FAILED, "building_image")
    assert "non-zero code" in failed.error_message, failed.error_message
    types = [f["type"] for f in frames]
    assert "error" in types and types[-1] == "status"
    assert types.index("error") < len(types) - 1
    assert await fetch(port) == "version one\n"

    # A container that never answers on its port: failed at starting_new, removed, its output kept.
    web.repo.commit(
        "never healthy",
        {
            "Dockerfile": "FROM scratch\nCOPY busybox /bin/busybox\nCOPY www /www\n"
            'CMD ["/bin/busybox", "sh", "-c", "echo booting-marker; exec /bin/busybox httpd -f -p 3999 -h /www"]\n'
        },
    )
    update = await client.put(
        "/api/apps/update",
        json={"appId": web.app_id, "healthTimeoutSeconds": 3},
        headers=web.headers,
    )
    assert update.status_code == 200
    unhealthy = await add_deployment(client, web.headers, web.app_id)
    result = await wait_terminal(app, unhealthy["id"])
    assert (result.status, result.stage) == (Status.FAILED, "starting_new")
    assert "health check failed" in result.error_message
    leftovers = deployment_containers(docker_client, web.name, unhealthy["id"])
    assert leftovers == []
    log = await client.get(f"/api/deployment/logs/{unhealthy['id']}", headers=web.headers)
    assert "booting-marker" in await log.get_data(as_text=True)
    assert await fetch(port) == "version one\n"

    active = await Deployment.filter(app_id=web.app_id, is_active=True)
    assert [d.id for d in active] == [web.deployment_id]


async def test_twenty_concurrent_adds(
    app: Quart, client: QuartClient, admin: dict[str, str], web_repo: GitRepo, app_name: str
) -> None:
    port = free_port()
    created = await create_web_app(client, admin, app_name, web_repo, publicPort=port)
    first_batch = await asyncio.gather(
        *[add_deployment(client, admin, created["id"]) for _ in range(10)]
    )
    newest_sha = web_repo.commit("newest", {"www/index.html": "newest\n"})
    second_batch = await asyncio.gather(
        *[add_deployment(client, admin, created["id"]) for _ in range(10)]
    )
    made = [*first_batch, *second_batch]
    numbers = sorted(
        d["deployment_number"] for d in (await Deployment.filter(app_id=created["id"]).values())
    )
    assert numbers == list(range(1, 21))
    assert len({d["id"] for d in made}) == 20
    last = max(made, key=lambda d: d["id"])
    assert last["commit_hash"] == newest_sha
    done = await wait_terminal(app, last["id"])
    assert done.status is Status.SUCCESS, done.error_message
    for deployment in made:
        await wait_terminal(app, deployment["id"])
    assert await fetch(port) == "newest\n"
    rows = await Deployment.filter(app_id=created["id"])
    stopped = [d for d in rows if d.status is Status.STOPPED]
    assert stopped, "older pending deployments should have been superseded"
    assert all(d.error_message.startswith("superseded by deployment #") for d in stopped)
    assert [d.id for d in rows if d.is_active] == [last["id"]]
    assert all(d.status in (Status.SUCCESS, Status.STOPPED) for d in rows)
