"""Apps on Docker Swarm (`runtime.backend = "swarm"`) on a single-node Swarm of this machine's
engine, images through a throwaway `docker-registry`, traffic through the real Caddy edge:
start-first redeploys under load lose no request, and a never-healthy release is rolled back
by Swarm itself and reported failed at starting_new."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest
from quart import Quart
from quart.testing import QuartClient

from controller.config import (
    Settings,
)
from controller.deploy.recovery import _remove_orphans
from controller.store.models import Deployment, Status
from tests.support.api import (
    add_deployment,
    assert_error,
    create_web_app,
    services_of,
    wait_terminal,
)
from tests.support.deployed import DeployedWebApp
from tests.support.load import SteadyLoad
from tests.support.ports import free_port
from tests.support.repos import GitRepo
from tests.support.swarm import (
    REPLICAS,
    remove_services,
    running_tasks,
    service_attrs,
    swarm_settings,
)

pytestmark = pytest.mark.slow

# Listens on 3999 while the app's port (and health check) is 3000: never healthy.
NEVER_HEALTHY = """FROM scratch
COPY busybox /bin/busybox
COPY www /www
CMD ["/bin/busybox", "httpd", "-f", "-p", "3999", "-h", "/www"]
"""


@pytest.fixture
def settings(tmp_path: Path, swarm_registry: str) -> Settings:
    return swarm_settings(tmp_path, swarm_registry)


@pytest.fixture
def app_name(docker_client: docker.DockerClient, app_name: str) -> Iterator[str]:
    """conftest's app name; the app's service goes first (its tasks would come back)."""
    yield app_name
    remove_services(docker_client, [app_name])


@pytest.mark.web_app(memoryLimitMb=64, restartPolicy="on-failure:3", stabilizationSeconds=2)
async def test_start_first_redeploys_under_load_lose_nothing(
    app: Quart,
    client: QuartClient,
    deployed_web_app: DeployedWebApp,
    docker_client: docker.DockerClient,
) -> None:
    web = deployed_web_app
    spec = service_attrs(docker_client, web.name)["Spec"]
    assert spec["Mode"]["Replicated"]["Replicas"] == REPLICAS
    assert spec["UpdateConfig"]["Order"] == "start-first"
    assert spec["UpdateConfig"]["FailureAction"] == "rollback"
    template = spec["TaskTemplate"]
    assert template["Resources"]["Limits"]["MemoryBytes"] == 64 * 1024 * 1024
    policy = template["RestartPolicy"]
    assert (policy["Condition"], policy["MaxAttempts"]) == ("on-failure", 3)
    assert template["ContainerSpec"]["Healthcheck"]["Test"][0] == "CMD"
    assert len(running_tasks(docker_client, web.name)) == REPLICAS

    deployed: dict[int, int] = {}
    async with SteadyLoad(f"http://127.0.0.1:{web.port}/", clients=10) as load:
        for version in (2, 3, 4):
            web.repo.commit(f"version {version}", {"www/index.html": f"version {version}\n"})
            started = await add_deployment(client, web.headers, web.app_id)
            done = await wait_terminal(app, started["id"], timeout_seconds=180)
            assert done.status is Status.SUCCESS, done.error_message
            image = service_attrs(docker_client, web.name)["Spec"]["TaskTemplate"]["ContainerSpec"]
            assert f"/fogbank/{web.name}:{done.id}@sha256:" in image["Image"]
            deployed[version] = done.id
    failed = len(load.failures)
    print(f"swarm start-first: 3 redeploys, {len(load.samples)} requests, {failed} failed")
    assert len(load.samples) > 300
    assert load.failures == []
    assert {"version 2\n", "version 3\n", "version 4\n"} <= load.bodies()
    last = [s.body for s in sorted(load.samples, key=lambda s: s.started)[-20:]]
    assert set(last) == {"version 4\n"}
    tasks = running_tasks(docker_client, web.name)
    assert len(tasks) == REPLICAS
    active = await Deployment.get(app_id=web.app_id, is_active=True)
    ports = {p["PublishedPort"] for t in tasks for p in t["Status"]["PortStatus"]["Ports"]}
    assert active.host_port in ports

    # Rollback keeps its meaning: version 2's retained image, through the registry again.
    async with SteadyLoad(f"http://127.0.0.1:{web.port}/", clients=10) as back:
        response = await client.post(
            "/api/deployment/rollback", json={"deploymentId": deployed[2]}, headers=web.headers
        )
        assert response.status_code == 200
        rollback = (await response.get_json())["data"]
        done = await wait_terminal(app, rollback["id"], timeout_seconds=180)
    assert done.status is Status.SUCCESS, done.error_message
    print(f"swarm rollback: {len(back.samples)} requests, {len(back.failures)} failed")
    assert back.failures == []
    assert set(s.body for s in sorted(back.samples, key=lambda s: s.started)[-20:]) == {
        "version 2\n"
    }
    replaced = await Deployment.get(id=deployed[4])
    assert replaced.status is Status.ROLLED_BACK

    # Swarm replaces dead tasks on new ports; the edge follows them at the next drift round.
    await asyncio.to_thread(tasks_killed_and_replaced, docker_client, web.name)
    async with httpx.AsyncClient(timeout=15) as http:
        stale = await http.get(f"http://127.0.0.1:{web.port}/")
        assert stale.status_code == 502  # the edge still dials the dead tasks' ports
        await services_of(app).controller.replacer.refollow()
        fresh = await http.get(f"http://127.0.0.1:{web.port}/")
    assert (fresh.status_code, fresh.text) == (200, "version 2\n")


def tasks_killed_and_replaced(client: docker.DockerClient, name: str) -> None:
    def ports() -> set[int]:
        return {
            p["PublishedPort"]
            for t in running_tasks(client, name)
            for p in t["Status"]["PortStatus"]["Ports"]
        }

    before = ports()
    for task in running_tasks(client, name):
        client.api.kill(task["Status"]["ContainerStatus"]["ContainerID"])
    deadline = time.monotonic() + 60
    while len(running_tasks(client, name)) < REPLICAS:
        assert time.monotonic() < deadline, "Swarm did not replace the killed tasks"
        time.sleep(0.5)
    # New tasks, new ports (Docker may hand one of the freed ports out again).
    assert ports() != before


@pytest.mark.web_app(stabilizationSeconds=2)
async def test_never_healthy_release_is_rolled_back_by_swarm(
    app: Quart,
    client: QuartClient,
    deployed_web_app: DeployedWebApp,
    docker_client: docker.DockerClient,
) -> None:
    web = deployed_web_app
    good_image = service_attrs(docker_client, web.name)["Spec"]["TaskTemplate"]["ContainerSpec"]
    web.repo.commit("never healthy", {"Dockerfile": NEVER_HEALTHY, "www/index.html": "bad\n"})
    response = await client.put(
        "/api/apps/update",
        json={"appId": web.app_id, "healthTimeoutSeconds": 3},
        headers=web.headers,
    )
    assert response.status_code == 200
    async with SteadyLoad(f"http://127.0.0.1:{web.port}/", clients=10) as load:
        bad = await add_deployment(client, web.headers, web.app_id)
        result = await wait_terminal(app, bad["id"], timeout_seconds=180)
    print(
        f"swarm never-healthy: {result.status}/{result.stage}; "
        f"{len(load.samples)} requests, {len(load.failures)} failed"
    )
    assert (result.status, result.stage) == (Status.FAILED, "starting_new")
    assert "rolled the update back" in (result.error_message or "")
    service = service_attrs(docker_client, web.name)
    assert service["UpdateStatus"]["State"] == "rollback_completed"
    assert service["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] == good_image["Image"]
    assert load.failures == []
    assert load.bodies() == {"version one\n"}
    active = await Deployment.get(app_id=web.app_id, is_active=True)
    assert active.id == web.deployment_id

    # A controller restart's clean-up leaves the service's tasks alone (Swarm owns them).
    before = {t["ID"] for t in running_tasks(docker_client, web.name)}
    await _remove_orphans(services_of(app).controller.engine, drain_seconds=0)
    assert {t["ID"] for t in running_tasks(docker_client, web.name)} == before

    # Deleting the app removes its service, not only the containers Swarm would restart.
    response = await client.delete(
        "/api/apps/delete", json={"appId": web.app_id}, headers=web.headers
    )
    assert response.status_code == 200, await response.get_data(as_text=True)
    assert docker_client.services.list(filters={"label": f"fogbank.app={web.name}"}) == []


@pytest.mark.web_app(updateOrder="stop-first", stabilizationSeconds=1)
async def test_stop_first_update_keeps_the_seed_stage_order(
    app: Quart,
    client: QuartClient,
    deployed_web_app: DeployedWebApp,
    docker_client: docker.DockerClient,
) -> None:
    web = deployed_web_app
    web.repo.commit("version two", {"www/index.html": "version two\n"})
    started = await add_deployment(client, web.headers, web.app_id)
    done = await wait_terminal(app, started["id"], timeout_seconds=180)
    assert done.status is Status.SUCCESS, done.error_message
    service = service_attrs(docker_client, web.name)
    assert service["Spec"]["UpdateConfig"]["Order"] == "stop-first"
    assert service["UpdateStatus"]["State"] == "completed"
    logs = await client.get(f"/api/deployment/logs/{done.id}", headers=web.headers)
    text = await logs.get_data(as_text=True)
    assert text.index("Pushing the image") < text.index("Updating the service (stop-first)")
    async with httpx.AsyncClient(timeout=15) as http:
        answer = await http.get(f"http://127.0.0.1:{web.port}/")
    assert (answer.status_code, answer.text) == (200, "version two\n")
    # The container controls do not reach into a service: a clear 409, nothing stopped.
    stop = await client.post(
        "/api/apps/container/stop", json={"appId": web.app_id}, headers=web.headers
    )
    await assert_error(stop, 409, "NO_CONTAINER")
    assert len(running_tasks(docker_client, web.name)) == REPLICAS


async def test_a_service_app_is_refused_not_half_run(
    app: Quart,
    client: QuartClient,
    admin: dict[str, str],
    web_repo: GitRepo,
    app_name: str,
    docker_client: docker.DockerClient,
) -> None:
    """Its public port and data volume have no Swarm form yet: failed, with the reason."""
    created = await create_web_app(
        client, admin, app_name, web_repo, appType="service", publicPort=free_port()
    )
    started = await add_deployment(client, admin, created["id"])
    done = await wait_terminal(app, started["id"], timeout_seconds=180)
    assert done.status is Status.FAILED  # at stopping_old: service apps swap stop-first
    assert "service apps do not run on Swarm yet" in (done.error_message or "")
    assert docker_client.services.list(filters={"label": f"fogbank.app={app_name}"}) == []
