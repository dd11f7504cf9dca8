"""Drift repair on Docker Swarm (`runtime.backend = "swarm"`), on a single-node Swarm of this
machine's engine with a throwaway `docker-registry` (tests/support/swarm.py): a service changed
by hand with the docker CLI (another image, more replicas, removed) is put back to the spec
fogbank gives its active deployment, the app's event log says so, and the app serves again.
Making `compare.differences` report nothing fails the first two tests; dropping the missing
service check in ServiceDrift.problem fails the third, as does dropping the in-flight guard
of DriftRepair.reconcile."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest
from quart import Quart
from quart.testing import QuartClient

from controller.config import (
    Settings,
)
from controller.store.models import Deployment, Status
from controller.upkeep.drift import DriftRepair
from tests.support.api import services_of
from tests.support.deployed import DeployedWebApp
from tests.support.load import SteadyLoad
from tests.support.repos import BUSYBOX
from tests.support.swarm import (
    REPLICAS,
    remove_services,
    running_tasks,
    service_attrs,
    swarm_settings,
)

pytestmark = pytest.mark.slow

HAND_MADE = """FROM scratch
COPY busybox /bin/busybox
COPY www /www
CMD ["/bin/busybox", "httpd", "-f", "-p", "3000", "-h", "/www"]
"""


@pytest.fixture
def settings(tmp_path: Path, swarm_registry: str) -> Settings:
    return swarm_settings(tmp_path, swarm_registry)


@pytest.fixture
def app_name(docker_client: docker.DockerClient, app_name: str) -> Iterator[str]:
    yield app_name
    remove_services(docker_client, [app_name])


def service_spec(client: docker.DockerClient, name: str) -> dict[str, Any]:
    spec: dict[str, Any] = service_attrs(client, name)["Spec"]
    return spec


def docker_cli(*args: str) -> None:
    """What an operator types; waits (`--detach=false`) until Swarm has carried it out."""
    subprocess.run(["docker", *args], check=True, capture_output=True, timeout=180)


async def events(client: QuartClient, headers: dict[str, str], app_id: int) -> str:
    response = await client.post("/api/apps/events", json={"appId": app_id}, headers=headers)
    return "\n".join((await response.get_json())["data"])


async def app_state(client: QuartClient, headers: dict[str, str], app_id: int) -> dict[str, str]:
    response = await client.post("/api/apps/getById", json={"appId": app_id}, headers=headers)
    data: dict[str, str] = (await response.get_json())["data"]
    return data


async def edge_answer(port: int) -> tuple[int, str]:
    async with httpx.AsyncClient(timeout=15) as http:
        answer = await http.get(f"http://127.0.0.1:{port}/")
    return answer.status_code, answer.text


async def settled_drift(app: Quart, app_id: int) -> DriftRepair:
    """Drift repair, once the first deployment's own run has let go of the app (till then
    a round leaves the app alone)."""
    drift = services_of(app).controller.drift
    for _ in range(300):
        if drift.runs.for_app(app_id) is None:
            return drift
        await asyncio.sleep(0.1)
    raise AssertionError("the first deployment did not end")


async def test_nothing_changed_nothing_repaired_then_a_hand_set_image_is_put_back(
    app: Quart,
    client: QuartClient,
    deployed_web_app: DeployedWebApp,
    docker_client: docker.DockerClient,
    swarm_registry: str,
    tmp_path: Path,
) -> None:
    web = deployed_web_app
    drift = await settled_drift(app, web.app_id)
    fogbank_spec = service_spec(docker_client, web.name)
    await drift.reconcile_all()  # a round on the untouched service: the engine's defaults
    state = await app_state(client, web.headers, web.app_id)
    assert (state["sync"], state["health"], state["sync_detail"]) == ("synced", "healthy", "")
    assert drift.metrics.drift_repairs.value("repaired") == 0

    # Someone runs another image (and a variable) on the service by hand.
    hand_made = hand_made_image(docker_client, tmp_path, web.name, swarm_registry)
    docker_cli(
        "service", "update", "--detach=false", "--image", hand_made,
        "--env-add", "BY_HAND=1", f"fogbank-{web.name}",
    )  # fmt: skip
    changed = service_spec(docker_client, web.name)["TaskTemplate"]["ContainerSpec"]
    assert changed["Image"].startswith(hand_made)
    await services_of(app).controller.replacer.refollow()  # as the last round would have
    assert await edge_answer(web.port) == (200, "by hand\n")

    async with SteadyLoad(f"http://127.0.0.1:{web.port}/", clients=10) as load:
        await drift.reconcile_all()
    print(f"swarm drift (image): {len(load.samples)} requests, {len(load.failures)} failed")
    back = service_spec(docker_client, web.name)["TaskTemplate"]["ContainerSpec"]
    wanted = fogbank_spec["TaskTemplate"]["ContainerSpec"]
    assert (back["Image"], back.get("Env")) == (wanted["Image"], wanted.get("Env"))
    assert {
        t["Spec"]["ContainerSpec"]["Image"] for t in running_tasks(docker_client, web.name)
    } == {wanted["Image"]}
    assert len(running_tasks(docker_client, web.name)) == REPLICAS
    assert load.failures == []
    assert set(s.body for s in sorted(load.samples, key=lambda s: s.started)[-20:]) == {
        "version one\n"
    }
    assert await edge_answer(web.port) == (200, "version one\n")
    problem = f"service fogbank-{web.name} differs from deployment #1 in image, env"
    log = await events(client, web.headers, web.app_id)
    assert f"drift: {problem}; repairing" in log
    assert f"repaired: {problem}" in log
    state = await app_state(client, web.headers, web.app_id)
    assert (state["sync"], state["health"]) == ("synced", "healthy")
    assert state["sync_detail"] == f"repaired: {problem}"
    assert drift.metrics.drift_repairs.value("repaired") == 1

    await drift.reconcile_all()  # put back: the next round finds nothing
    assert drift.metrics.drift_repairs.value("repaired") == 1


async def test_a_service_scaled_by_hand_gets_its_replicas_back(
    app: Quart,
    client: QuartClient,
    deployed_web_app: DeployedWebApp,
    docker_client: docker.DockerClient,
) -> None:
    web = deployed_web_app
    drift = await settled_drift(app, web.app_id)
    docker_cli("service", "scale", "--detach=false", f"fogbank-{web.name}=4")
    assert len(running_tasks(docker_client, web.name)) == 4

    await drift.reconcile_all()
    assert service_spec(docker_client, web.name)["Mode"]["Replicated"]["Replicas"] == REPLICAS
    assert len(running_tasks(docker_client, web.name)) == REPLICAS
    assert await edge_answer(web.port) == (200, "version one\n")
    problem = f"service fogbank-{web.name} differs from deployment #1 in replicas"
    assert f"repaired: {problem}" in await events(client, web.headers, web.app_id)
    assert drift.metrics.drift_repairs.value("repaired") == 1


async def test_a_removed_service_is_created_again_from_the_active_deployment(
    app: Quart,
    client: QuartClient,
    deployed_web_app: DeployedWebApp,
    docker_client: docker.DockerClient,
) -> None:
    web = deployed_web_app
    drift = await settled_drift(app, web.app_id)
    fogbank_spec = service_spec(docker_client, web.name)
    remove_services(docker_client, [web.name])
    assert docker_client.services.list(filters={"label": f"fogbank.app={web.name}"}) == []
    assert (await edge_answer(web.port))[0] == 502

    # While a deployment of the app is in flight (here: as another instance sharing the
    # database would show it) the deployment owns the service: the round leaves it alone.
    other = await Deployment.create(
        app_id=web.app_id, deployment_number=2, status=Status.DEPLOYING, instance="elsewhere"
    )
    await drift.reconcile_all()
    assert docker_client.services.list(filters={"label": f"fogbank.app={web.name}"}) == []
    assert "drift:" not in await events(client, web.headers, web.app_id)
    await other.delete()

    await drift.reconcile_all()
    again = service_spec(docker_client, web.name)
    image = again["TaskTemplate"]["ContainerSpec"]["Image"]
    assert image == fogbank_spec["TaskTemplate"]["ContainerSpec"]["Image"]
    assert again["Labels"] == fogbank_spec["Labels"]
    assert len(running_tasks(docker_client, web.name)) == REPLICAS
    assert await edge_answer(web.port) == (200, "version one\n")
    problem = f"service fogbank-{web.name} of deployment #1 is missing"
    log = await events(client, web.headers, web.app_id)
    assert f"drift: {problem}; repairing" in log
    assert f"repaired: {problem}" in log
    assert drift.metrics.drift_repairs.value("repaired") == 1


def hand_made_image(client: docker.DockerClient, root: Path, name: str, registry: str) -> str:
    """Another image (serving "by hand"), pushed to the registry; labelled as the app's so the
    app_name fixture removes it."""
    context = root / "hand-made"
    (context / "www").mkdir(parents=True)
    (context / "busybox").write_bytes(BUSYBOX.read_bytes())
    (context / "busybox").chmod(0o755)
    (context / "www" / "index.html").write_text("by hand\n")
    (context / "Dockerfile").write_text(HAND_MADE)
    repository = f"{registry}/hand-made/{name}"
    client.images.build(
        path=str(context),
        tag=f"{repository}:1",
        labels={"fogbank.app": name},
        rm=True,
        forcerm=True,
    )
    for line in client.api.push(repository, tag="1", stream=True, decode=True):
        assert "error" not in line, line
    return f"{repository}:1"
