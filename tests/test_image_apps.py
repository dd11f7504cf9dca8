"""Apps deployed from prebuilt images in a real loopback registry: start-first tag changes under
load, rollback to the previous digest, registry credentials (per app, global, wrong), the poll
that follows a tag's digest, and drift repair that pulls the digest again."""

from __future__ import annotations

import asyncio
import time

import docker
import httpx
import pytest
from quart import Quart
from quart.testing import QuartClient

from controller.config import Settings
from controller.store.models import Deployment, Status, Trigger
from tests.support.api import assert_error, services_of, wait_terminal
from tests.support.engine import Scratch
from tests.support.images import Api, stages, watch
from tests.support.load import SteadyLoad
from tests.support.ports import free_port
from tests.support.registry import Registry, push_web

pytestmark = pytest.mark.slow


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """No scheduled drift pass: the poll test runs one itself, and a scheduled pass beside it
    (the scheduler runs its own one at a time, not a test's) could recreate the container the
    test's pass just started, leaving the edge on a port that closed until the next pass."""
    controller = settings.controller.model_copy(update={"reconcile_interval_seconds": 86_400})
    return settings.model_copy(update={"controller": controller})


async def fetch(port: int) -> str:
    async with httpx.AsyncClient(timeout=5) as http:
        return (await http.get(f"http://127.0.0.1:{port}/")).text


async def create_image_app(api: Api, name: str, image: str, **extra: object) -> dict[str, object]:
    body = {"name": name, "image": image, "port": 3000, "healthTimeoutSeconds": 10,
            "stabilizationSeconds": 1, **extra}  # fmt: skip
    created: dict[str, object] = await api.data("POST", "/api/apps/create", body)
    return created


async def deploy(api: Api, app: Quart, app_id: object, **extra: str) -> Deployment:
    added = await api.ok("POST", "/api/deployment/add", {"appId": app_id, **extra})
    return await wait_terminal(app, added["id"])


async def test_tag_changes_under_load_and_rollback(
    app: Quart,
    client: QuartClient,
    admin: dict[str, str],
    registry: Registry,
    scratch: Scratch,
    app_name: str,
    docker_client: docker.DockerClient,
) -> None:
    api = Api(client, admin)
    repository = f"{registry.host}/{scratch.run_id}/web"
    digests = {
        tag: await asyncio.to_thread(
            push_web, docker_client, registry, scratch.root, scratch.run_id, tag
        )
        for tag in ("1", "2", "3", "4")
    }
    port = free_port()
    created = await create_image_app(api, app_name, f"{repository}:1", publicPort=port)
    assert created["git_repository"] == "" and created["image"] == f"{repository}:1"
    refused = await client.post(
        "/api/deployment/add", json={"appId": created["id"], "commitHash": "abcdef1"}, headers=admin
    )
    assert (await assert_error(refused, 422))["message"].startswith("commitHash: ")
    first = await deploy(api, app, created["id"])
    assert first.status is Status.SUCCESS, first.error_message
    assert first.image_digest == digests["1"]
    assert first.commit_hash == digests["1"].removeprefix("sha256:")[:40]
    assert await fetch(port) == "release 1\n"

    async with SteadyLoad(f"http://127.0.0.1:{port}/", clients=10) as load:
        await asyncio.sleep(0.5)
        for tag in ("2", "3", "4"):
            added = await api.ok(
                "POST",
                "/api/deployment/add",
                {"appId": created["id"], "image": f"{repository}:{tag}"},
            )
            frames = await watch(api, added["id"])
            done = await wait_terminal(app, added["id"])
            assert done.status is Status.SUCCESS, done.error_message
            assert done.image_digest == digests[tag]
            # start-first: the new container passed its health gate before the old one stopped
            assert stages(frames) == ["building_image", "starting_new", "stopping_old", "completed"]
        await asyncio.sleep(0.5)
    print(f"\n{len(load.samples)} requests during 3 tag changes, {len(load.failures)} failed")
    assert load.samples and load.failures == []
    assert {"release 1\n", "release 2\n", "release 3\n", "release 4\n"} <= load.bodies()
    assert await fetch(port) == "release 4\n"
    # What fogbank pulled is held by its own labelled images only (retention frees it).
    assert docker_client.images.list(name=repository) == []

    # Rollback to the deployment of tag 3: its digest, its retained image, no pull.
    target = await Deployment.get(app_id=created["id"], image_digest=digests["3"])
    started = time.monotonic()
    rollback = await api.data("POST", "/api/deployment/rollback", {"deploymentId": target.id})
    back = await wait_terminal(app, rollback["id"])
    elapsed = time.monotonic() - started
    print(f"rollback to the previous digest: {elapsed:.1f} s (stabilizationSeconds 1)")
    assert back.status is Status.SUCCESS, back.error_message
    assert (back.triggered_by, back.image_digest) == (Trigger.ROLLBACK, digests["3"])
    assert back.image_ref == f"{repository}:3"
    assert await fetch(port) == "release 3\n"
    app_row = await api.data("POST", "/api/apps/getById", {"appId": created["id"]})
    assert app_row["image"] == f"{repository}:3"
    rollback_log = await api.ok("GET", f"/api/deployment/logs/{back.id}")
    assert "Reusing image" in rollback_log and "Pulling" not in rollback_log

    # With its image pruned, a rollback pulls exactly the digest (not whatever the tag is now).
    await asyncio.to_thread(
        push_web, docker_client, registry, scratch.root, scratch.run_id, "2"
    )  # tag 2 now names another image
    older = await Deployment.get(app_id=created["id"], image_digest=digests["2"])
    docker_client.images.remove(older.image_tag, force=True)
    again = await api.data("POST", "/api/deployment/rollback", {"deploymentId": older.id})
    pulled = await wait_terminal(app, again["id"])
    assert pulled.status is Status.SUCCESS, pulled.error_message
    assert pulled.image_digest == digests["2"]
    assert f"{repository}@{digests['2']}" in await api.ok(
        "GET", f"/api/deployment/logs/{pulled.id}"
    )
    assert await fetch(port) == "release 2\n"


async def test_registry_credentials(
    app: Quart,
    client: QuartClient,
    admin: dict[str, str],
    auth_registry: Registry,
    scratch: Scratch,
    app_name: str,
    docker_client: docker.DockerClient,
) -> None:
    api = Api(client, admin)
    ((user, password),) = auth_registry.users.items()
    image = f"{auth_registry.host}/{scratch.run_id}/web:1"
    await asyncio.to_thread(
        push_web, docker_client, auth_registry, scratch.root, scratch.run_id, "1"
    )
    port = free_port()
    created = await create_image_app(
        api, app_name, image, publicPort=port, registryUsername=user,
        registryPassword="not-the-password",
    )  # fmt: skip
    assert created["registry_password"] == "********"  # write-only: masked when set
    wrong = await deploy(api, app, created["id"])
    assert (wrong.status, wrong.stage) == (Status.FAILED, "building_image")
    assert wrong.error_message == (f"pulling {image} failed: unauthorized: authentication required")
    await api.ok("PUT", "/api/apps/update", {"appId": created["id"], "registryPassword": password})
    right = await deploy(api, app, created["id"])
    assert right.status is Status.SUCCESS, right.error_message
    assert await fetch(port) == "release 1\n"
    # Sealed at rest: the database file and its write-ahead log hold no plain password.
    data_dir = services_of(app).settings.storage.data_dir
    raw = b"".join(path.read_bytes() for path in data_dir.glob("fogbank.db*"))
    assert raw and password.encode() not in raw and b"not-the-password" not in raw

    # Global credentials serve an app without its own; their password is never answered.
    await api.ok(
        "PUT", "/api/apps/update",
        {"appId": created["id"], "registryUsername": "", "registryPassword": ""},
    )  # fmt: skip
    anonymous = await deploy(api, app, created["id"])
    assert anonymous.status is Status.FAILED
    assert anonymous.error_message.endswith("no basic auth credentials")
    stored = await api.data(
        "POST",
        "/api/registries/create",
        {"registry": auth_registry.host, "username": user, "password": password},
    )
    assert stored == {**stored, "registry": auth_registry.host, "username": user}
    await assert_error(
        await client.post(
            "/api/registries/create",
            json={"registry": auth_registry.host, "username": user, "password": password},
            headers=admin,
        ),
        409,
    )
    await assert_error(
        await client.post(
            "/api/registries/create",
            json={"registry": "not a host", "username": user, "password": password},
            headers=admin,
        ),
        422,
    )
    raw = b"".join(path.read_bytes() for path in data_dir.glob("fogbank.db*"))
    assert password.encode() not in raw
    global_ok = await deploy(api, app, created["id"])
    assert global_ok.status is Status.SUCCESS, global_ok.error_message
    await api.ok("GET", "/api/registries/getAll")
    await api.ok("POST", "/api/apps/getById", {"appId": created["id"]})
    for deployment in (wrong, right, anonymous, global_ok):
        await api.ok("GET", f"/api/deployment/logs/{deployment.id}")
    assert not [text for text in api.answers if password in text]
    await api.ok("DELETE", "/api/registries/delete", {"registryId": stored["id"]})


async def test_poll_follows_the_tag_digest(
    app: Quart,
    client: QuartClient,
    admin: dict[str, str],
    registry: Registry,
    scratch: Scratch,
    app_name: str,
    docker_client: docker.DockerClient,
) -> None:
    api = Api(client, admin)
    image = f"{registry.host}/{scratch.run_id}/web:stable"
    first_digest = await asyncio.to_thread(
        push_web, docker_client, registry, scratch.root, scratch.run_id, "stable"
    )
    port = free_port()
    # Polled by hand below; the interval only switches polling on.
    created = await create_image_app(
        api, app_name, image, publicPort=port, pollIntervalSeconds=3600
    )
    first = await deploy(api, app, created["id"])
    assert first.status is Status.SUCCESS, first.error_message
    controller = services_of(app).controller
    assert await controller.poll(int(str(created["id"]))) is None  # the digest is deployed

    # The same tag, a new image: the poll requests exactly the new digest, once.
    second_digest = await asyncio.to_thread(
        push_web, docker_client, registry, scratch.root, scratch.run_id, "stable", "release 2b\n"
    )
    assert second_digest != first_digest
    outcome = await controller.poll(int(str(created["id"])))
    assert outcome is not None
    assert await controller.poll(int(str(created["id"]))) is None  # already pending
    polled = await wait_terminal(app, outcome.id)
    assert polled.status is Status.SUCCESS, polled.error_message
    assert (polled.triggered_by, polled.image_digest) == (Trigger.POLL, second_digest)
    assert await fetch(port) == "release 2b\n"
    assert await controller.poll(int(str(created["id"]))) is None

    # Drift: the container and its image gone, repair pulls exactly the digest it ran (not the
    # image the tag names meanwhile).
    await asyncio.to_thread(
        push_web, docker_client, registry, scratch.root, scratch.run_id, "stable", "release 3c\n"
    )
    docker_client.containers.get(polled.container_id).remove(force=True)
    docker_client.images.remove(polled.image_tag, force=True)
    await controller.drift.reconcile_all()
    assert await fetch(port) == "release 2b\n"
    events = controller.app_event_log(app_name, 10)
    assert any(f"image {polled.image_tag} is missing: pulling it again" in e for e in events)
