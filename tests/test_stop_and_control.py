"""Stopping deployments at each point, latest-wins cancellation, and container control."""

from __future__ import annotations

import asyncio
import time
import uuid

import docker
import httpx
from quart import Quart
from quart.testing import QuartClient

from controller.store.models import Deployment, Status
from tests.conftest import GitRepo, create_web_app, free_port, services_of, wait_terminal
from tests.test_deploy_flow import add

# The nonce file makes every test run's RUN step new to Docker's layer cache.
SLOW_BUILD = """FROM scratch
COPY busybox /bin/busybox
COPY nonce /nonce
RUN ["/bin/busybox", "sleep", "60"]
COPY www /www
CMD ["/bin/busybox", "httpd", "-f", "-p", "3000", "-h", "/www"]
"""


async def wait_stage(app: Quart, deployment_id: int, stage: str) -> None:
    with services_of(app).controller.bus.subscribe(deployment_id) as subscription:
        deployment = await Deployment.get(id=deployment_id)
        async with asyncio.timeout(60):
            while deployment.stage != stage:
                event = await subscription.queue.get()
                if event.type == "status" and event.data["stage"] == stage:
                    return


def build_containers(docker_client: docker.DockerClient) -> list[str]:
    """Containers running the slow RUN step (the legacy builder's intermediate containers)."""
    return [
        str(c.id)
        for c in docker_client.containers.list(all=True)
        if "sleep" in " ".join(c.attrs.get("Config", {}).get("Cmd") or [])
    ]


async def test_stop_pending_building_and_after_switch(
    app: Quart,
    client: QuartClient,
    admin: dict[str, str],
    web_repo: GitRepo,
    app_name: str,
    docker_client: docker.DockerClient,
) -> None:
    port = free_port()
    created = await create_web_app(
        client, admin, app_name, web_repo, publicPort=port, stabilizationSeconds=1
    )
    first = await add(client, admin, created["id"])
    assert (await wait_terminal(app, first["id"])).status is Status.SUCCESS

    # After the switch: 409.
    late = await client.post(
        "/api/deployment/stop", json={"deploymentId": first["id"]}, headers=admin
    )
    assert late.status_code == 409

    # During building_image: aborted, no build left running, the old version still serves.
    web_repo.commit(
        "slow", {"Dockerfile": SLOW_BUILD, "www/index.html": "slow\n", "nonce": uuid.uuid4().hex}
    )
    slow = await add(client, admin, created["id"])
    await wait_stage(app, slow["id"], "building_image")
    await asyncio.sleep(1)  # inside the 60 s RUN step
    started = time.monotonic()
    stopped = await client.post(
        "/api/deployment/stop", json={"deploymentId": slow["id"]}, headers=admin
    )
    assert stopped.status_code == 200, await stopped.get_data(as_text=True)
    body = (await stopped.get_json())["data"]
    assert body["status"] == "stopped" and body["stage"] == "building_image"
    assert body["error_message"] == "stopped by admin"
    took = time.monotonic() - started
    print(f"stop during building_image: stopped {took:.2f} s after the request")
    assert took < 2
    for _ in range(50):
        if not build_containers(docker_client):
            break
        await asyncio.sleep(0.2)
    assert build_containers(docker_client) == []
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"http://127.0.0.1:{port}/")).text == "version one\n"

    # Pending: stopped at once (the worker is kept busy by a slow build of the same app).
    blocker = await add(client, admin, created["id"])
    await wait_stage(app, blocker["id"], "building_image")
    pending = await add(client, admin, created["id"])
    # The newer request cancelled the older build (latest wins) ...
    blocked = await wait_terminal(app, blocker["id"])
    assert blocked.status is Status.STOPPED
    assert blocked.error_message == f"superseded by deployment #{pending['deployment_number']}"
    # ... and a stop of a queued or running one answers with its final state.
    answer = await client.post(
        "/api/deployment/stop", json={"deploymentId": pending["id"]}, headers=admin
    )
    assert answer.status_code == 200
    assert (await answer.get_json())["data"]["status"] == "stopped"
    again = await client.post(
        "/api/deployment/stop", json={"deploymentId": pending["id"]}, headers=admin
    )
    assert again.status_code == 409
    active = await Deployment.get(app_id=created["id"], is_active=True)
    assert active.id == first["id"]


async def test_container_start_stop_restart_status(
    app: Quart, client: QuartClient, admin: dict[str, str], web_repo: GitRepo, app_name: str
) -> None:
    port = free_port()
    created = await create_web_app(client, admin, app_name, web_repo, publicPort=port)
    none_yet = await client.post(
        "/api/apps/container/stop", json={"appId": created["id"]}, headers=admin
    )
    assert none_yet.status_code == 409
    first = await add(client, admin, created["id"])
    assert (await wait_terminal(app, first["id"])).status is Status.SUCCESS

    async def status() -> dict[str, object]:
        response = await client.get(
            f"/api/apps/container/status?appId={created['id']}", headers=admin
        )
        assert response.status_code == 200
        data: dict[str, object] = (await response.get_json())["data"]
        return data

    assert (await status())["running"] is True
    stop = await client.post(
        "/api/apps/container/stop", json={"appId": created["id"]}, headers=admin
    )
    assert stop.status_code == 200
    assert (await status())["running"] is False
    start = await client.post(
        "/api/apps/container/start", json={"appId": created["id"]}, headers=admin
    )
    assert (await start.get_json())["data"]["running"] is True
    restart = await client.post(
        "/api/apps/container/restart", json={"appId": created["id"]}, headers=admin
    )
    assert (await restart.get_json())["data"]["running"] is True
    async with httpx.AsyncClient() as http:
        for _ in range(50):
            try:
                if (await http.get(f"http://127.0.0.1:{port}/")).text == "version one\n":
                    break
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
        assert (await http.get(f"http://127.0.0.1:{port}/")).text == "version one\n"
