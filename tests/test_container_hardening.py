"""App containers as fogbank runs them: no raw sockets (NET_RAW dropped), no privilege gain
(no-new-privileges), a bounded number of processes (runtime.pids_limit), and each app on a
Docker network of its own. Real Docker, real apps deployed through the API (busybox images);
isolation is shown by `docker inspect`, without sending traffic to container addresses."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import docker
import pytest
from docker.models.containers import Container
from quart import Quart
from quart.testing import QuartClient

from controller.config import Settings
from controller.store.models import Status
from tests.support.api import add_deployment, unique_name, wait_terminal
from tests.support.deployed import DeployedWebApp, deploy_web_app
from tests.support.docker_objects import deployment_containers, remove_app_objects
from tests.support.repos import GitRepo, make_web_repo

pytestmark = pytest.mark.slow

PIDS_LIMIT = 64
BUSYBOX = "/bin/busybox"
# Starts sleepers until a fork fails (or 1,000 ran), writing how many it started after each.
FORK_BOMB = (
    "n=0; while [ $n -lt 1000 ]; do /bin/busybox sleep 4 & n=$((n+1)); echo $n > /forks; done"
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    runtime = settings.runtime.model_copy(update={"pids_limit": PIDS_LIMIT})
    return settings.model_copy(update={"runtime": runtime})


@pytest.fixture
def second_name(docker_client: docker.DockerClient) -> Iterator[str]:
    name = unique_name()
    yield name
    remove_app_objects(docker_client, [name])


def container_of(client: docker.DockerClient, web: DeployedWebApp) -> Container:
    [container] = deployment_containers(client, web.name, web.deployment_id)
    return container


async def run_in(container: Container, *command: str) -> tuple[int, str]:
    """Exit code and output of `command` run inside the container (docker exec)."""
    result = await asyncio.to_thread(container.exec_run, [BUSYBOX, *command])
    output = result.output
    assert isinstance(output, bytes) and result.exit_code is not None  # not streamed
    return result.exit_code, output.decode(errors="replace")


async def test_no_raw_sockets_no_privilege_gain_and_bounded_processes(
    deployed_web_app: DeployedWebApp, docker_client: docker.DockerClient
) -> None:
    """Protection: cap_drop, security_opt and pids_limit in runtime/create.py (each one
    removed fails its own assertion)."""
    container = container_of(docker_client, deployed_web_app)

    code, output = await run_in(container, "ping", "-c1", "-W1", "127.0.0.1")
    assert code != 0 and "permission denied" in output, output

    code, output = await run_in(container, "cat", "/proc/self/status")
    assert code == 0 and "\nNoNewPrivs:\t1\n" in output, output

    code, output = await run_in(container, "sh", "-c", FORK_BOMB)
    assert code != 0 and "can't fork" in output, output
    await asyncio.sleep(5)  # the sleepers are gone; reading the count needs a process too
    code, output = await run_in(container, "cat", "/forks")
    started = int(output.strip())
    # httpd, the init and the shell count too: it stopped below the limit, not at 1,000.
    assert code == 0 and PIDS_LIMIT // 2 < started < PIDS_LIMIT, output
    code, _ = await run_in(container, "true")
    assert code == 0  # and the container still works

    host = container.attrs["HostConfig"]
    assert host["PidsLimit"] == PIDS_LIMIT
    assert host["CapDrop"] == ["NET_RAW"]
    assert host["SecurityOpt"] == ["no-new-privileges:true"]


async def test_each_app_has_a_network_of_its_own_removed_with_it(
    app: Quart,
    client: QuartClient,
    admin: dict[str, str],
    deployed_web_app: DeployedWebApp,
    docker_client: docker.DockerClient,
    second_name: str,
    tmp_path: Any,
) -> None:
    """Protection: network=spec.network in runtime/create.py (without it both apps share
    Docker's default bridge)."""
    other = await deploy_web_app(app, client, admin, second_name, make_web_repo(tmp_path / "other"))
    attached: dict[str, set[str]] = {}
    for web in (deployed_web_app, other):
        container = container_of(docker_client, web)
        networks = set(container.attrs["NetworkSettings"]["Networks"])
        assert networks == {f"fogbank-net-{web.name}"}, networks
        attached[web.name] = networks
        [network] = docker_client.networks.list(names=[f"fogbank-net-{web.name}"])
        network.reload()
        assert network.attrs["Labels"] == {"fogbank.app": web.name}
        assert network.attrs["Driver"] == "bridge"
        members = set(network.attrs["Containers"])
        assert members == {container.id}  # the app's container and nothing else
    assert not attached[deployed_web_app.name] & attached[other.name]  # no network shared

    response = await client.delete("/api/apps/delete", json={"appId": other.app_id}, headers=admin)
    assert response.status_code == 200, await response.get_data(as_text=True)
    assert docker_client.networks.list(names=[f"fogbank-net-{other.name}"]) == []
    assert docker_client.networks.list(names=[f"fogbank-net-{deployed_web_app.name}"]) != []


async def test_a_redeploy_joins_the_same_network(
    app: Quart,
    client: QuartClient,
    admin: dict[str, str],
    deployed_web_app: DeployedWebApp,
    web_repo: GitRepo,
    docker_client: docker.DockerClient,
) -> None:
    web_repo.commit("two", {"www/index.html": "two\n"})
    second = await add_deployment(client, admin, deployed_web_app.app_id)
    done = await wait_terminal(app, second["id"])
    assert done.status is Status.SUCCESS, done.error_message
    [container] = deployment_containers(docker_client, deployed_web_app.name, done.id)
    assert set(container.attrs["NetworkSettings"]["Networks"]) == {
        f"fogbank-net-{deployed_web_app.name}"
    }
    named = docker_client.networks.list(names=[f"fogbank-net-{deployed_web_app.name}"])
    assert len([n for n in named if n.name == f"fogbank-net-{deployed_web_app.name}"]) == 1
