"""Latest wins, through the one door, for every trigger: a newer request of an app cancels its
older build still in progress (a push or poll only when it is a newer commit), and nothing of the
cancelled build ever serves. Real Docker, real git repositories, the real app lifespan and
Caddy; GitHub.com is the one thing faked (deliveries built from its payloads, signed, posted to
the receiver)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import docker
import httpx
import pytest
from quart import Quart
from quart.testing import QuartClient

from controller.store.models import Deployment, Stage, Status
from tests.support.api import add_deployment, services_of, wait_terminal
from tests.support.deployed import DeployedWebApp
from tests.support.docker_objects import deployment_containers
from tests.support.github import Hook, deliver, hook_of, push
from tests.support.repos import GitRepo

# Polling stays out of the way unless a test polls by hand.
pytestmark = [pytest.mark.slow, pytest.mark.web_app(pollIntervalSeconds=86400)]

# A build whose RUN step takes 6 s (the nonce defeats the layer cache).
SLOW_DOCKERFILE = """FROM scratch
COPY busybox /bin/busybox
COPY nonce /nonce
RUN ["/bin/busybox", "sleep", "6"]
COPY www /www
CMD ["/bin/busybox", "httpd", "-f", "-p", "3000", "-h", "/www"]
"""
QUICK_DOCKERFILE = """FROM scratch
COPY busybox /bin/busybox
COPY www /www
CMD ["/bin/busybox", "httpd", "-f", "-p", "3000", "-h", "/www"]
"""


@dataclass
class Served:
    """Every distinct body the app's public port answered while the test ran."""

    port: int
    bodies: set[str]


@contextlib.asynccontextmanager
async def watching(port: int) -> AsyncIterator[Served]:
    served = Served(port, set())

    async def sample() -> None:
        async with httpx.AsyncClient(timeout=2) as http:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    served.bodies.add((await http.get(f"http://127.0.0.1:{port}/")).text)
                await asyncio.sleep(0.05)

    task = asyncio.create_task(sample())
    try:
        yield served
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def wait_stage(app: Quart, deployment_id: int, stage: Stage) -> None:
    with services_of(app).controller.bus.subscribe(deployment_id) as subscription:
        deployment = await Deployment.get(id=deployment_id)
        async with asyncio.timeout(60):
            while deployment.stage != stage:
                event = await subscription.queue.get()
                if event.type == "status" and event.data["stage"] == stage:
                    return


async def stopped_within(app: Quart, deployment_id: int) -> tuple[Deployment, float]:
    """Wait for the deployment to end; (its row, seconds from now until it ended)."""
    started = time.monotonic()
    row = await wait_terminal(app, deployment_id, timeout_seconds=30)
    return row, time.monotonic() - started


def slow_commit(repo: GitRepo, label: str) -> str:
    return repo.commit(
        label,
        {"Dockerfile": SLOW_DOCKERFILE, "www/index.html": f"{label}\n", "nonce": uuid.uuid4().hex},
    )


def quick_commit(repo: GitRepo, label: str) -> str:
    return repo.commit(label, {"Dockerfile": QUICK_DOCKERFILE, "www/index.html": f"{label}\n"})


@dataclass
class Deployed:
    app_id: int
    name: str
    port: int
    hook: Hook
    first_id: int


@pytest.fixture
async def deployed(app: Quart, client: QuartClient, deployed_web_app: DeployedWebApp) -> Deployed:
    """A web app on a public port, deployed twice (a rollback target), serving version two."""
    web = deployed_web_app
    quick_commit(web.repo, "version two")
    added = await add_deployment(client, web.headers, web.app_id)
    second = await wait_terminal(app, added["id"])
    assert second.status is Status.SUCCESS, second.error_message
    hook = await hook_of(client, web.headers, web.app_id)
    return Deployed(web.app_id, web.name, web.port, hook, web.deployment_id)


async def pushed(client: QuartClient, repo: GitRepo, hook: Hook, sha: str) -> dict[str, Any]:
    response = await deliver(client, push(repo.url, "main", sha, sha[:7]), hook)
    assert response.status_code == 200, await response.get_data(as_text=True)
    [entry] = (await response.get_json())["data"]["deployments"]
    return dict(entry)


async def test_a_push_cancels_the_older_push_still_building_and_nothing_of_it_serves(
    app: Quart,
    client: QuartClient,
    web_repo: GitRepo,
    deployed: Deployed,
    docker_client: docker.DockerClient,
) -> None:
    c = slow_commit(web_repo, "commit C")
    async with watching(deployed.port) as served:
        older = await pushed(client, web_repo, deployed.hook, c)
        await wait_stage(app, older["deploymentId"], Stage.BUILDING_IMAGE)
        await asyncio.sleep(2.5)  # C's 6 s RUN step is under way
        d = quick_commit(web_repo, "commit D")
        newer = await pushed(client, web_repo, deployed.hook, d)
        row, seconds = await stopped_within(app, older["deploymentId"])
        print(f"C stopped {seconds:.2f} s after D's delivery")
        assert row.status is Status.STOPPED
        assert row.error_message == f"superseded by deployment #{newer['deploymentNumber']}"
        assert seconds < 2
        final = await wait_terminal(app, newer["deploymentId"])
        assert final.status is Status.SUCCESS, final.error_message
        assert final.commit_hash == d
        await asyncio.sleep(0.3)  # a few more samples of what serves now
    assert deployment_containers(docker_client, deployed.name, older["deploymentId"]) == []
    assert "commit C\n" not in served.bodies
    assert served.bodies == {"version two\n", "commit D\n"}


async def test_a_commit_polling_discovers_cancels_the_older_build(
    app: Quart,
    client: QuartClient,
    web_repo: GitRepo,
    deployed: Deployed,
    docker_client: docker.DockerClient,
) -> None:
    controller = services_of(app).controller
    slow_commit(web_repo, "commit C")
    async with watching(deployed.port) as served:
        older = await controller.poll(deployed.app_id)
        assert older is not None
        await wait_stage(app, older.id, Stage.BUILDING_IMAGE)
        await asyncio.sleep(2.5)
        d = quick_commit(web_repo, "commit D")
        newer = await controller.poll(deployed.app_id)
        assert newer is not None
        row, seconds = await stopped_within(app, older.id)
        print(f"C stopped {seconds:.2f} s after the poll found D")
        assert row.status is Status.STOPPED
        assert row.error_message == f"superseded by deployment #{newer.deployment_number}"
        assert seconds < 2
        final = await wait_terminal(app, newer.id)
        assert final.status is Status.SUCCESS and final.commit_hash == d
        await asyncio.sleep(0.3)
    assert deployment_containers(docker_client, deployed.name, older.id) == []
    assert served.bodies == {"version two\n", "commit D\n"}


async def test_an_older_commit_never_cancels_a_newer_build(
    app: Quart, client: QuartClient, web_repo: GitRepo, deployed: Deployed
) -> None:
    c = quick_commit(web_repo, "commit C")
    d = slow_commit(web_repo, "commit D")  # D is newer than C
    newer = await pushed(client, web_repo, deployed.hook, d)
    await wait_stage(app, newer["deploymentId"], Stage.BUILDING_IMAGE)
    late = await pushed(client, web_repo, deployed.hook, c)  # an old push arrives late
    final = await wait_terminal(app, newer["deploymentId"])
    assert final.status is Status.SUCCESS, final.error_message
    assert final.commit_hash == d
    stale = await wait_terminal(app, late["deploymentId"])
    assert stale.status is Status.STOPPED
    assert stale.error_message == (
        f"commit {c[:7]} is older than the active deployment's commit {d[:7]}"
    )


Trigger = Callable[[QuartClient, dict[str, str], GitRepo, Deployed, Quart], Awaitable[int]]


async def by_manual_add(
    client: QuartClient, admin: dict[str, str], repo: GitRepo, deployed: Deployed, app: Quart
) -> int:
    quick_commit(repo, "manual")
    response = await client.post(
        "/api/deployment/add", json={"appId": deployed.app_id}, headers=admin
    )
    assert response.status_code == 200
    deployment_id: int = (await response.get_json())["id"]
    return deployment_id


async def by_rollback(
    client: QuartClient, admin: dict[str, str], repo: GitRepo, deployed: Deployed, app: Quart
) -> int:
    response = await client.post(
        "/api/deployment/rollback", json={"deploymentId": deployed.first_id}, headers=admin
    )
    assert response.status_code == 200, await response.get_data(as_text=True)
    deployment_id: int = (await response.get_json())["data"]["id"]
    return deployment_id


async def by_webhook(
    client: QuartClient, admin: dict[str, str], repo: GitRepo, deployed: Deployed, app: Quart
) -> int:
    entry = await pushed(client, repo, deployed.hook, quick_commit(repo, "pushed"))
    deployment_id: int = entry["deploymentId"]
    return deployment_id


async def by_poll(
    client: QuartClient, admin: dict[str, str], repo: GitRepo, deployed: Deployed, app: Quart
) -> int:
    quick_commit(repo, "polled")
    outcome = await services_of(app).controller.poll(deployed.app_id)
    assert outcome is not None
    return outcome.id


@pytest.mark.parametrize("trigger", [by_manual_add, by_rollback, by_webhook, by_poll])
async def test_every_trigger_goes_through_the_one_door(
    app: Quart,
    client: QuartClient,
    admin: dict[str, str],
    web_repo: GitRepo,
    deployed: Deployed,
    trigger: Trigger,
) -> None:
    """Each trigger's request is numbered after the others, supersedes what is pending and
    cancels the running build: behaviour only the door has."""
    slow_commit(web_repo, "slow")
    response = await client.post(
        "/api/deployment/add", json={"appId": deployed.app_id}, headers=admin
    )
    running: int = (await response.get_json())["id"]
    await wait_stage(app, running, Stage.BUILDING_IMAGE)
    newer_id = await trigger(client, admin, web_repo, deployed, app)
    newer = await Deployment.get(id=newer_id)
    assert newer.deployment_number == 4  # two deployed, the slow one, this one
    row, seconds = await stopped_within(app, running)
    assert row.status is Status.STOPPED, row.error_message
    assert row.error_message == f"superseded by deployment #{newer.deployment_number}"
    assert seconds < 5
    final = await wait_terminal(app, newer_id)
    assert final.status is Status.SUCCESS, final.error_message
