"""Database apps from service templates on a real Docker engine and a real registry (Debian's
docker-registry on loopback): created without a repository, deployed through the seed's
`POST /api/deployment/add`, the pull in the log, stop-first, the data directory kept across
redeploys and an upgrade, the generated password in no answer, frame or log."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from quart import Quart
from quart.testing import QuartClient

from controller.config import Settings, TemplateSettings
from controller.runtime.naming import database_network
from controller.store.models import Deployment, EnvVar, Status
from tests.support.api import assert_error, create_web_app, wait_terminal
from tests.support.docker_objects import remove_app_objects
from tests.support.engine import Scratch
from tests.support.images import PG_DATA, Api, run_in, stages, watch, write_catalogue
from tests.support.ports import free_port
from tests.support.registry import Registry, push_standin_db
from tests.support.repos import GitRepo

pytestmark = pytest.mark.slow

# The seed documents these keys of the object POST /api/deployment/add answers.
SEED_ADD_KEYS = {"id", "app_id", "commit_hash", "commit_message", "status", "stage", "progress"}
TEMPLATES = {"postgres", "mysql", "mariadb", "redis", "mongodb"}


@pytest.fixture
def settings(settings: Settings, tmp_path: Path, registry: Registry, scratch: Scratch) -> Settings:
    """The suite's settings, with the postgres template pointed at this run's stand-in."""
    path = write_catalogue(tmp_path / "catalogue.toml", registry, scratch.run_id)
    return settings.model_copy(update={"templates": TemplateSettings(catalogue_file=str(path))})


async def deploy(api: Api, app: Quart, app_id: int, **extra: str) -> tuple[Deployment, list[str]]:
    """Add a deployment, watch its socket to the end; the row and the stages it reported."""
    added = await api.ok("POST", "/api/deployment/add", {"appId": app_id, **extra})
    assert set(added) >= SEED_ADD_KEYS and added["status"] == "pending"
    frames = await watch(api, added["id"])
    return await wait_terminal(app, added["id"]), stages(frames)


async def test_a_template_database_deploys_and_keeps_its_data(
    app: Quart,
    client: QuartClient,
    admin: dict[str, str],
    registry: Registry,
    scratch: Scratch,
    app_name: str,
    docker_client: docker.DockerClient,
) -> None:
    api = Api(client, admin)
    digests = {
        tag: await asyncio.to_thread(
            push_standin_db, docker_client, registry, scratch.root, scratch.run_id, tag, PG_DATA
        )
        for tag in ("1", "2")
    }
    listed = await api.data("GET", "/api/templates")
    assert {t["name"] for t in listed} >= TEMPLATES
    postgres = next(t for t in listed if t["name"] == "postgres")
    assert postgres["image"] == f"{registry.host}/{scratch.run_id}/postgres:1"
    assert postgres["data_dir"] == PG_DATA and postgres["health_check"] == "command"

    public_port = free_port()
    created = await api.data(
        "POST",
        "/api/apps/create",
        {"name": app_name, "appType": "database", "templateName": "postgres",
         "publicPort": public_port},
    )  # fmt: skip
    assert created["git_repository"] == "" and created["port"] == 5432
    assert created["volumes"] == [
        {"name": "data", "mount_path": PG_DATA, "docker_volume": f"fogbank-{app_name}-data"}
    ]
    password = (await EnvVar.get(app_id=created["id"], key="POSTGRES_PASSWORD")).value
    assert len(password) >= 24

    first, first_stages = await deploy(api, app, created["id"])
    assert first.status is Status.SUCCESS, first.error_message
    # No repository: no cloning_repo; the pull is building_image; databases stop first.
    assert first_stages == ["building_image", "stopping_old", "starting_new", "completed"]
    assert first.image_digest == digests["1"]
    assert first.commit_hash == digests["1"].removeprefix("sha256:")[:40]
    assert first.image_ref == first.commit_message == f"{registry.host}/{scratch.run_id}/postgres:1"
    log = await api.ok("GET", f"/api/deployment/logs/{first.id}")
    assert f"Pulling image {first.image_ref}" in log and "Cloning" not in log
    assert f"Pulled {first.image_ref} at {digests['1']}" in log
    assert "Pull complete" in log and "Health check passed" in log

    # The stand-in answers on the public port (it echoes), and gets its data directory.
    reader, writer = await asyncio.open_connection("127.0.0.1", public_port)
    writer.write(b"ping\n")
    assert await asyncio.wait_for(reader.readline(), 5) == b"ping\n"
    writer.close()
    run_in(docker_client, first.container_id, f"echo row-1 >> {PG_DATA}/rows")

    for _ in range(3):
        again, again_stages = await deploy(api, app, created["id"])
        assert again.status is Status.SUCCESS, again.error_message
        assert again_stages == ["building_image", "stopping_old", "starting_new", "completed"]
    upgrade_ref = f"{registry.host}/{scratch.run_id}/postgres:2"
    upgraded, _ = await deploy(api, app, created["id"], image=upgrade_ref)
    assert upgraded.status is Status.SUCCESS, upgraded.error_message
    assert (upgraded.image_digest, upgraded.image_ref) == (digests["2"], upgrade_ref)
    assert (await api.data("POST", "/api/apps/getById", {"appId": created["id"]}))[
        "image"
    ] == upgrade_ref
    assert run_in(docker_client, upgraded.container_id, f"cat {PG_DATA}/rows") == "row-1\n"
    boots = run_in(docker_client, upgraded.container_id, f"cat {PG_DATA}/boots").split()
    assert boots == ["1", "1", "1", "1", "2"]
    volumes = docker_client.volumes.list(filters={"label": f"fogbank.app={app_name}"})
    assert [v.name for v in volumes] == [f"fogbank-{app_name}-data"]

    # A release that prints its password and dies: failed at starting_new, the password masked
    # in the container output copied to the log, the previous release started again.
    await asyncio.to_thread(
        push_standin_db, docker_client, registry, scratch.root, scratch.run_id, "leaky", PG_DATA,
        leaky=True,
    )  # fmt: skip
    leaky, _ = await deploy(
        api, app, created["id"], image=f"{registry.host}/{scratch.run_id}/postgres:leaky"
    )
    assert (leaky.status, leaky.stage) == (Status.FAILED, "starting_new")
    leaky_log = await api.ok("GET", f"/api/deployment/logs/{leaky.id}")
    assert "[container] starting with password ********" in leaky_log
    assert docker_client.containers.get(upgraded.container_id).status == "running"

    info = await api.data("POST", "/api/apps/connection", {"appId": created["id"]})
    assert info["password"] == "********"
    assert info["url"] == f"postgresql://postgres:********@{app_name}:5432/app"
    assert (info["host"], info["port"], info["user"], info["database"]) == (
        app_name, 5432, "postgres", "app",
    )  # fmt: skip
    envs = await api.data("POST", "/api/apps/envs/get", {"appId": created["id"]})
    assert {e["key"]: e["value"] for e in envs}["POSTGRES_PASSWORD"] == "********"
    await api.ok("POST", "/api/deployment/getByAppId", {"appId": created["id"]})
    await api.ok("GET", "/api/apps/getAll")
    for deployment in await Deployment.filter(app_id=created["id"]):
        await api.ok("GET", f"/api/deployment/logs/{deployment.id}")
    logs_dir = app.extensions["fogbank"].settings.logs_dir
    on_disk = [p.read_text() for p in logs_dir.rglob("*.log")]
    assert on_disk and api.answers
    assert not [text for text in api.answers + on_disk if password in text]


async def test_unknown_template_is_refused_naming_the_field(
    app: Quart, client: QuartClient, admin: dict[str, str]
) -> None:
    response = await client.post(
        "/api/apps/create",
        json={"name": "nodb", "appType": "database", "templateName": "oracle"},
        headers=admin,
    )
    body = await assert_error(response, 422)
    assert body["message"].startswith("templateName 'oracle' is not in the catalogue")
    web = await client.post(
        "/api/apps/create",
        json={"name": "nodb", "appType": "web", "templateName": "postgres"},
        headers=admin,
    )
    assert "templateName" in (await assert_error(web, 422))["message"]
    assert (await client.get("/api/apps/getAll", headers=admin)).status_code == 200


@pytest.fixture
def linked_names(app_name: str, docker_client: docker.DockerClient) -> Iterator[tuple[str, str]]:
    """Names of a database app and of the app linked to it; their Docker objects are removed
    afterwards."""
    names = (f"{app_name}-db", f"{app_name}-web")
    yield names
    remove_app_objects(docker_client, list(names))


async def test_a_linked_app_reaches_the_database_by_name(
    app: Quart,
    client: QuartClient,
    admin: dict[str, str],
    registry: Registry,
    scratch: Scratch,
    linked_names: tuple[str, str],
    web_repo: GitRepo,
    docker_client: docker.DockerClient,
) -> None:
    api = Api(client, admin)
    db_name, web_name = linked_names
    await asyncio.to_thread(
        push_standin_db, docker_client, registry, scratch.root, scratch.run_id, "1", PG_DATA
    )
    database = await api.data(
        "POST",
        "/api/apps/create",
        {"name": db_name, "appType": "database", "templateName": "postgres"},
    )
    db_deployment, _ = await deploy(api, app, database["id"])
    assert db_deployment.status is Status.SUCCESS, db_deployment.error_message
    password = (await EnvVar.get(app_id=database["id"], key="POSTGRES_PASSWORD")).value

    web = await create_web_app(client, admin, web_name, web_repo, linkDatabase=database["id"])
    assert web["link_database"] == database["id"]
    envs = {e["key"]: e for e in await api.data("POST", "/api/apps/envs/get", {"appId": web["id"]})}
    assert envs["DATABASE_HOST"]["value"] == db_name
    assert envs["DATABASE_PORT"]["value"] == "5432"
    for secret in ("DATABASE_PASSWORD", "DATABASE_URL"):
        assert (envs[secret]["value"], envs[secret]["is_secret"]) == ("********", True)
    web_deployment, _ = await deploy(api, app, web["id"])
    assert web_deployment.status is Status.SUCCESS, web_deployment.error_message
    container = docker_client.containers.get(web_deployment.container_id)
    env = dict(item.split("=", 1) for item in container.attrs["Config"]["Env"])
    assert env["DATABASE_PASSWORD"] == password
    assert env["DATABASE_URL"] == f"postgresql://postgres:{password}@{db_name}:5432/app"
    # Through the database's own network, by its name (the stand-in echoes).
    echoed = run_in(
        docker_client, web_deployment.container_id, f"echo hello | nc -w 3 {db_name} 5432"
    )
    assert echoed == "hello\n"
    assert database_network(db_name) in container.attrs["NetworkSettings"]["Networks"]

    refused = await client.delete("/api/apps/delete", json={"appId": database["id"]}, headers=admin)
    assert web_name in (await assert_error(refused, 409, "DATABASE_IN_USE"))["message"]
    await api.ok("PUT", "/api/apps/update", {"appId": web["id"], "linkDatabase": None})
    keys = {e["key"] for e in await api.data("POST", "/api/apps/envs/get", {"appId": web["id"]})}
    assert not {key for key in keys if key.startswith("DATABASE_")}
    await api.ok("DELETE", "/api/apps/delete", {"appId": web["id"]})
    await api.ok("DELETE", "/api/apps/delete", {"appId": database["id"], "deleteVolumes": True})
    assert not docker_client.networks.list(names=[database_network(db_name)])
    assert not docker_client.volumes.list(filters={"label": f"fogbank.app={db_name}"})
    assert not [text for text in api.answers if password in text]
