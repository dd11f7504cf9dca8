"""Stopping deployments at each point, latest-wins cancellation, and container control."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest
from quart import Quart
from quart.testing import QuartClient

from controller.store.models import Deployment, Status
from tests.support.api import add_deployment, create_web_app, services_of, wait_terminal
from tests.support.deployed import DeployedWebApp
from tests.support.docker_objects import run_containers
from tests.support.ports import free_port
from tests.support.repos import GitRepo

pytestmark = pytest.mark.slow

# The nonce file makes every test run's RUN step new to Docker's layer cache; the label, set
# before the RUN step, marks the build's own containers as this test's (see build_run_id).
SLOW_BUILD = """FROM scratch
LABEL fogbank.test.run={run_id}
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


def build_containers(run_id: str) -> list[str]:
    """This test's containers running the slow RUN step (the legacy builder's intermediate
    containers), found by the label its Dockerfile sets: other suites share the daemon."""
    return run_containers(run_id, "sleep")


async def test_stop_pending_building_and_after_switch(
    app: Quart,
    client: QuartClient,
    deployed_web_app: DeployedWebApp,
    build_run_id: str,
) -> None:
    web = deployed_web_app
    port = web.port

    # After the switch: 409.
    late = await client.post(
        "/api/deployment/stop", json={"deploymentId": web.deployment_id}, headers=web.headers
    )
    assert late.status_code == 409

    # During building_image: aborted, no build left running, the old version still serves.
    web.repo.commit(
        "slow",
        {
            "Dockerfile": SLOW_BUILD.format(run_id=build_run_id),
            "www/index.html": "slow\n",
            "nonce": uuid.uuid4().hex,
        },
    )
    slow = await add_deployment(client, web.headers, web.app_id)
    await wait_stage(app, slow["id"], "building_image")
    await asyncio.sleep(1)  # inside the 60 s RUN step
    for _ in range(150):  # the label finds the step's container (else the check below is void)
        if await asyncio.to_thread(build_containers, build_run_id):
            break
        await asyncio.sleep(0.2)
    assert build_containers(build_run_id), "the slow RUN step's container was never seen"
    started = time.monotonic()
    stopped = await client.post(
        "/api/deployment/stop", json={"deploymentId": slow["id"]}, headers=web.headers
    )
    assert stopped.status_code == 200, await stopped.get_data(as_text=True)
    body = (await stopped.get_json())["data"]
    assert body["status"] == "stopped" and body["stage"] == "building_image"
    assert body["error_message"] == "stopped by admin"
    took = time.monotonic() - started
    print(f"stop during building_image: stopped {took:.2f} s after the request")
    assert took < 2
    for _ in range(50):
        if not build_containers(build_run_id):
            break
        await asyncio.sleep(0.2)
    assert build_containers(build_run_id) == []
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"http://127.0.0.1:{port}/")).text == "version one\n"

    # Pending: stopped at once (the worker is kept busy by a slow build of the same app).
    blocker = await add_deployment(client, web.headers, web.app_id)
    await wait_stage(app, blocker["id"], "building_image")
    pending = await add_deployment(client, web.headers, web.app_id)
    # The newer request cancelled the older build (latest wins) ...
    blocked = await wait_terminal(app, blocker["id"])
    assert blocked.status is Status.STOPPED
    assert blocked.error_message == f"superseded by deployment #{pending['deployment_number']}"
    # ... and a stop of a queued or running one answers with its final state.
    answer = await client.post(
        "/api/deployment/stop", json={"deploymentId": pending["id"]}, headers=web.headers
    )
    assert answer.status_code == 200
    assert (await answer.get_json())["data"]["status"] == "stopped"
    again = await client.post(
        "/api/deployment/stop", json={"deploymentId": pending["id"]}, headers=web.headers
    )
    assert again.status_code == 409
    active = await Deployment.get(app_id=web.app_id, is_active=True)
    assert active.id == web.deployment_id


async def test_container_start_stop_restart_status(
    app: Quart, client: QuartClient, admin: dict[str, str], web_repo: GitRepo, app_name: str
) -> None:
    port = free_port()
    created = await create_web_app(client, admin, app_name, web_repo, publicPort=port)
    none_yet = await client.post(
        "/api/apps/container/stop", json={"appId": created["id"]}, headers=admin
    )
    assert none_yet.status_code == 409
    first = await add_deployment(client, admin, created["id"])
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
