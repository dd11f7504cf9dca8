"""Drift self-heal against a real Docker engine and a real Caddy: what is changed by hand behind
fogbank's back is put back by the reconcile job, and the app's event log says so."""

from __future__ import annotations

import asyncio
import time

import docker
import httpx
import pytest
from quart import Quart
from quart.testing import QuartClient

from controller.config import Settings
from controller.store.models import Deployment
from tests.support.api import services_of
from tests.support.deployed import DeployedWebApp

pytestmark = pytest.mark.slow

RECONCILE_SECONDS = 1.0


@pytest.fixture
def settings(settings: Settings) -> Settings:
    controller = settings.controller.model_copy(
        update={"reconcile_interval_seconds": RECONCILE_SECONDS}
    )
    return settings.model_copy(update={"controller": controller})


async def serving(port: int, expected: str, timeout_seconds: float) -> float:
    """Seconds until `expected` is served on the port; fails after the timeout."""
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() - started < timeout_seconds:
            try:
                if (await http.get(f"http://127.0.0.1:{port}/")).text == expected:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{expected!r} not served on {port} within {timeout_seconds} s")


async def app_state(client: QuartClient, headers: dict[str, str], app_id: int) -> dict[str, str]:
    response = await client.post("/api/apps/getById", json={"appId": app_id}, headers=headers)
    data: dict[str, str] = (await response.get_json())["data"]
    return data


async def events(client: QuartClient, headers: dict[str, str], app_id: int) -> str:
    response = await client.post("/api/apps/events", json={"appId": app_id}, headers=headers)
    return "\n".join((await response.get_json())["data"])


async def test_drift_is_repaired(
    app: Quart,
    client: QuartClient,
    deployed_web_app: DeployedWebApp,
    docker_client: docker.DockerClient,
) -> None:
    web = deployed_web_app
    port = web.port
    await serving(port, "version one\n", 5)
    await asyncio.sleep(RECONCILE_SECONDS * 2)
    state = await app_state(client, web.headers, web.app_id)
    assert (state["sync"], state["health"]) == ("synced", "healthy")

    # 1. Container removed by hand: recreated from the active image.
    active = await Deployment.get(id=web.deployment_id)
    docker_client.containers.get(active.container_id).remove(force=True)
    recovered = await serving(port, "version one\n", RECONCILE_SECONDS + 15)
    print(f"container removed by hand: serving again after {recovered:.2f} s")
    assert "is missing; repairing" in await events(client, web.headers, web.app_id)

    # 2. Stopped by hand: started again. Stopped through the API: left stopped.
    active = await Deployment.get(id=web.deployment_id)
    docker_client.containers.get(active.container_id).stop(timeout=1)
    await serving(port, "version one\n", RECONCILE_SECONDS + 15)
    stop = await client.post(
        "/api/apps/container/stop", json={"appId": web.app_id}, headers=web.headers
    )
    assert stop.status_code == 200
    await asyncio.sleep(RECONCILE_SECONDS * 3)
    assert not docker_client.containers.get(active.container_id).attrs["State"]["Running"]
    start = await client.post(
        "/api/apps/container/start", json={"appId": web.app_id}, headers=web.headers
    )
    assert start.status_code == 200
    await serving(port, "version one\n", 10)

    # 3. Image deleted and container removed: rebuilt from the commit.
    active = await Deployment.get(id=web.deployment_id)
    docker_client.containers.get(active.container_id).remove(force=True)
    docker_client.images.remove(active.image_tag, force=True)
    await serving(port, "version one\n", RECONCILE_SECONDS + 60)
    assert "is missing: rebuilding" in await events(client, web.headers, web.app_id)

    # 4. Edge config wiped by hand (through the front's admin socket): re-applied.
    edge = services_of(app).controller.edge
    socket = edge.layout.paths.front_admin
    transport = httpx.AsyncHTTPTransport(uds=str(socket))
    async with httpx.AsyncClient(transport=transport, base_url="http://caddy") as http:
        wiped = await http.post(
            "/load", json={"admin": {"listen": f"unix/{socket}", "origins": ["caddy"]}}
        )
        assert wiped.status_code == 200
    assert await edge.drifted()
    await serving(port, "version one\n", RECONCILE_SECONDS + 10)
    state = await app_state(client, web.headers, web.app_id)
    assert state["sync"] == "synced"


async def test_deleting_an_app_while_its_container_is_repaired_leaves_nothing_behind(
    app: Quart,
    client: QuartClient,
    deployed_web_app: DeployedWebApp,
    docker_client: docker.DockerClient,
) -> None:
    """A repair rebuilding and recreating the container while the app is deleted: the delete
    waits for it, so it neither fails on a network "with active endpoints" nor leaves the new
    container behind."""
    web = deployed_web_app
    drift = services_of(app).controller.drift
    for _ in range(100):  # the first deployment's stabilization: it owns the container till then
        if drift.runs.for_app(web.app_id) is None:
            break
        await asyncio.sleep(0.1)
    active = await Deployment.get(id=web.deployment_id)
    docker_client.containers.get(active.container_id).remove(force=True)
    docker_client.images.remove(active.image_tag, force=True)  # a rebuild: a repair of seconds
    repair = asyncio.create_task(drift.reconcile_all())
    await asyncio.sleep(0)  # the repair starts first, as a scheduled pass would
    deleted = await client.delete(
        "/api/apps/delete", json={"appId": web.app_id}, headers=web.headers
    )
    await repair
    assert deleted.status_code == 200, await deleted.get_json()
    repairs = drift.metrics.drift_repairs
    assert (repairs.value("repaired"), repairs.value("failed")) == (1, 0)
    label = f"fogbank.app={web.name}"
    assert docker_client.containers.list(all=True, filters={"label": label}) == []
    assert docker_client.networks.list(names=[f"fogbank-net-{web.name}"]) == []
