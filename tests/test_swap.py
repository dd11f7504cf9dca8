"""Start-first swaps through the real Caddy edge under steady load: a bad release never replaces
a good one, and a crash after the switch sends traffic back at once."""

from __future__ import annotations

import asyncio
import time

import docker
import httpx
import pytest
from quart import Quart
from quart.testing import QuartClient

from controller.store.models import Deployment, Status
from tests.support.api import add_deployment, create_web_app, wait_terminal
from tests.support.deployed import DeployedWebApp
from tests.support.docker_objects import deployment_containers
from tests.support.load import SteadyLoad
from tests.support.ports import free_port
from tests.support.repos import GitRepo

pytestmark = pytest.mark.slow

NEVER_HEALTHY = """FROM scratch
COPY busybox /bin/busybox
COPY www /www
CMD ["/bin/busybox", "httpd", "-f", "-p", "3999", "-h", "/www"]
"""

# Serves (httpd daemonises), then the container's main process exits 3 s later.
DIES_AFTER_3S = """FROM scratch
COPY busybox /bin/busybox
COPY www /www
CMD ["/bin/busybox", "sh", "-c", "/bin/busybox httpd -p 3000 -h /www; /bin/busybox sleep 3; exit 3"]
"""


async def test_unhealthy_release_never_takes_traffic(
    app: Quart,
    client: QuartClient,
    deployed_web_app: DeployedWebApp,
    docker_client: docker.DockerClient,
) -> None:
    web = deployed_web_app
    port = web.port

    web.repo.commit("never healthy", {"Dockerfile": NEVER_HEALTHY, "www/index.html": "bad\n"})
    await client.put(
        "/api/apps/update",
        json={"appId": web.app_id, "healthTimeoutSeconds": 3},
        headers=web.headers,
    )
    url = f"http://127.0.0.1:{port}/"
    async with SteadyLoad(url, clients=10, expect=frozenset({"version one\n"})) as load:
        bad = await add_deployment(client, web.headers, web.app_id)
        result = await wait_terminal(app, bad["id"])
    assert (result.status, result.stage) == (Status.FAILED, "starting_new")
    print(f"unhealthy release: {len(load.samples)} requests, {len(load.failures)} failed")
    assert len(load.samples) > 50
    assert load.failures == []
    assert load.bodies() == {"version one\n"}
    assert deployment_containers(docker_client, web.name, bad["id"]) == []
    active = await Deployment.get(app_id=web.app_id, is_active=True)
    assert active.id == web.deployment_id


async def test_start_first_swap_drops_nothing(
    app: Quart,
    client: QuartClient,
    deployed_web_app: DeployedWebApp,
) -> None:
    web = deployed_web_app
    port = web.port
    versions = frozenset({"version one\n", "version 2\n", "version 3\n"})
    async with SteadyLoad(f"http://127.0.0.1:{port}/", clients=20, expect=versions) as load:
        for version in (2, 3):
            web.repo.commit(f"v{version}", {"www/index.html": f"version {version}\n"})
            deployed = await add_deployment(client, web.headers, web.app_id)
            done = await wait_terminal(app, deployed["id"])
            assert done.status is Status.SUCCESS, done.error_message
            stages = [
                line for line in (await _log(client, web.headers, deployed["id"])).splitlines()
            ]
            assert any("Traffic switched" in line for line in stages)
    assert load.failures == []
    assert {"version one\n", "version 3\n"} <= load.bodies()


@pytest.mark.web_app(stabilizationSeconds=10)
async def test_crash_after_switch_goes_back_at_once(
    app: Quart,
    client: QuartClient,
    deployed_web_app: DeployedWebApp,
) -> None:
    web = deployed_web_app
    port = web.port
    web.repo.commit("dies", {"Dockerfile": DIES_AFTER_3S, "www/index.html": "doomed\n"})
    bodies = frozenset({"version one\n", "doomed\n"})
    async with SteadyLoad(f"http://127.0.0.1:{port}/", clients=4, expect=bodies) as load:
        doomed = await add_deployment(client, web.headers, web.app_id)
        result = await wait_terminal(app, doomed["id"])
        await asyncio.sleep(0.5)
    assert result.status is Status.FAILED
    assert result.error_message.startswith("crashed after switch"), result.error_message
    active = await Deployment.get(app_id=web.app_id, is_active=True)
    assert active.id == web.deployment_id
    samples = sorted(load.samples, key=lambda s: s.started)
    served_new = [s for s in samples if s.body == "doomed\n"]
    assert served_new, "the new version should have served before it died"
    after = [s for s in samples if s.started > served_new[-1].started]
    back = next(s for s in after if s.body == "version one\n")
    outage = back.started - served_new[-1].started
    print(f"crash after switch: old version served again {outage:.2f} s after the last new answer")
    assert outage < 2.0, f"old version back after {outage:.2f} s"
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"http://127.0.0.1:{port}/")).text == "version one\n"


async def _log(client: QuartClient, headers: dict[str, str], deployment_id: int) -> str:
    response = await client.get(f"/api/deployment/logs/{deployment_id}", headers=headers)
    return await response.get_data(as_text=True)


async def test_rollback_reuses_the_image(
    app: Quart,
    client: QuartClient,
    deployed_web_app: DeployedWebApp,
) -> None:
    web = deployed_web_app
    port = web.port
    web.repo.commit("v2", {"www/index.html": "version two\n"})
    second = await add_deployment(client, web.headers, web.app_id)
    assert (await wait_terminal(app, second["id"])).status is Status.SUCCESS

    started = time.monotonic()
    response = await client.post(
        "/api/deployment/rollback", json={"deploymentId": web.deployment_id}, headers=web.headers
    )
    assert response.status_code == 200, await response.get_data(as_text=True)
    queued = (await response.get_json())["data"]
    assert queued["triggered_by"] == "rollback"
    assert queued["rolled_back_from"] == second["id"]
    assert queued["commit_hash"] == web.commit_hash
    async with httpx.AsyncClient() as http:
        while (await http.get(f"http://127.0.0.1:{port}/")).text != "version one\n":
            assert time.monotonic() - started < 10, "old content not served within 10 s"
            await asyncio.sleep(0.05)
    served = time.monotonic() - started
    print(f"rollback: old content served {served:.2f} s after the request")
    assert served < 10, f"rollback served the old content after {served:.1f} s"
    done = await wait_terminal(app, queued["id"])
    assert done.status is Status.SUCCESS, done.error_message
    log = await _log(client, web.headers, queued["id"])
    assert "Reusing image" in log and "Cloning repository" not in log
    replaced = await Deployment.get(id=second["id"])
    assert replaced.status is Status.ROLLED_BACK and not replaced.is_active
    again = await client.post(
        "/api/deployment/rollback", json={"deploymentId": queued["id"]}, headers=web.headers
    )
    assert again.status_code == 409  # already the active one


# Appends one line per start to a file on the data volume and serves that file over TCP 3000.
DATABASE_LIKE = """FROM scratch
COPY busybox /bin/busybox
CMD ["/bin/busybox", "sh", "-c", "/bin/busybox date >> /data/starts; exec /bin/busybox httpd -f -p 3000 -h /data"]
"""


async def test_database_app_keeps_its_volume_across_redeploys(
    app: Quart,
    client: QuartClient,
    admin: dict[str, str],
    web_repo: GitRepo,
    app_name: str,
    docker_client: docker.DockerClient,
) -> None:
    web_repo.commit("database", {"Dockerfile": DATABASE_LIKE})
    port = free_port()
    created = await create_web_app(
        client, admin, app_name, web_repo, publicPort=port, appType="database"
    )
    assert created["update_order"] == "start-first"  # ignored: database apps always stop-first
    for round_number in range(1, 4):
        web_repo.commit(f"round {round_number}", {"notes.txt": str(round_number)})
        deployed = await add_deployment(client, admin, created["id"])
        done = await wait_terminal(app, deployed["id"])
        assert done.status is Status.SUCCESS, done.error_message
        log = await _log(client, admin, deployed["id"])
        assert log.index("Stopping previous container") < log.index("Starting new container")
    async with httpx.AsyncClient() as http:
        starts = (await http.get(f"http://127.0.0.1:{port}/starts")).text.splitlines()
    assert len(starts) == 3, starts
