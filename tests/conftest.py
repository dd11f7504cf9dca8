"""Shared fixtures: real settings in a tmp dir, the real app lifespan, real git repositories and
a real Docker engine (a failure, not a skip, when FOGBANK_TEST_REQUIRE_DOCKER=1). The helpers
they wrap live in tests/support/ (importable by bench/ too)."""

from __future__ import annotations

import asyncio
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, NoReturn

import docker
import pytest
from playwright.sync_api import Browser, sync_playwright
from quart import Quart
from quart.testing import QuartClient
from quart.testing import app as quart_testing

from api.app import create_app
from controller.config import (
    DatabaseSettings,
    EdgeSettings,
    GitSettings,
    Settings,
    StorageSettings,
)
from controller.errors import EngineError
from controller.runtime.engine import Engine
from tests.support.api import signup_admin, unique_name
from tests.support.browser import launch
from tests.support.dashboard import ADMIN, Dashboard
from tests.support.deployed import DeployedWebApp, deploy_web_app
from tests.support.docker_objects import remove_app_objects, remove_run_objects, run_images
from tests.support.edge import stop_edges_under
from tests.support.engine import Scratch, build_httpd_image
from tests.support.migrated import migrated_sqlite
from tests.support.ports import free_port
from tests.support.registry import Registry, start_registry
from tests.support.repos import BUSYBOX, GitRepo, make_web_repo
from tests.support.server import prepare_server
from tests.support.swarm import local_registry, swarm_manager

# The database backends (SQLite, and PostgreSQL for modules marked both_backends).
pytest_plugins = ["tests.support.databases"]

REQUIRE_DOCKER = os.environ.get("FOGBANK_TEST_REQUIRE_DOCKER") == "1"
# A test that asks for one of these is slow (Docker, or Caddy: the app's lifespan starts one):
# it must carry the `slow` marker, so `pytest -m "not slow"` stays the fast tier (checked at
# collection). A server process or an edge of its own is not seen here: mark those by hand.
SLOW_FIXTURES = frozenset(
    {
        "app",
        "docker_client",
        "docker_engine",
        "app_name",
        "scratch",
        "httpd_image",
        "deployed_web_app",
        "build_run_id",
        "dashboard",
        "browser",
        "registry",
        "auth_registry",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    unmarked = [
        item.nodeid
        for item in items
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ()))
        and item.get_closest_marker("slow") is None
    ]
    if unmarked:
        raise pytest.UsageError(
            "these tests use slow fixtures but are not marked slow: " + ", ".join(unmarked)
        )


def docker_missing(message: str) -> NoReturn:
    """Fail under FOGBANK_TEST_REQUIRE_DOCKER=1, else skip."""
    if REQUIRE_DOCKER:
        pytest.fail(f"{message} (FOGBANK_TEST_REQUIRE_DOCKER=1)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    """The real engine, through the docker SDK."""
    try:
        client = docker.from_env(timeout=10)
        client.ping()
    except docker.errors.DockerException as exc:
        docker_missing(f"Docker engine not reachable: {exc}")
    if not BUSYBOX.exists():
        pytest.fail("/bin/busybox is missing: install Debian's busybox-static")
    yield client
    client.close()


@pytest.fixture
async def docker_engine() -> AsyncIterator[Engine]:
    """A connected Engine (fogbank's adapter)."""
    engine = Engine()
    try:
        await engine.ping()
    except EngineError as err:
        await engine.close()
        docker_missing(f"Docker is not available: {err}")
    try:
        yield engine
    finally:
        await engine.close()


@pytest.fixture
async def scratch(docker_engine: Engine, tmp_path: Path) -> AsyncIterator[Scratch]:
    """Names and labels of this test's Docker objects; all of them are removed afterwards."""
    run = Scratch(run_id=uuid.uuid4().hex[:12], root=tmp_path)
    try:
        yield run
    finally:
        await asyncio.to_thread(remove_run_objects, run.run_id)
        left = await asyncio.to_thread(run_images, run.run_id)
        assert left == [], f"images left behind: {left}"


@pytest.fixture
async def httpd_image(docker_engine: Engine, scratch: Scratch) -> str:
    return await build_httpd_image(docker_engine, scratch)


@pytest.fixture
def web_repo(tmp_path: Path) -> GitRepo:
    return make_web_repo(tmp_path / "repo")


@pytest.fixture(autouse=True)
def _edge_teardown(tmp_path: Path) -> Iterator[None]:
    """fogbank leaves its edge running when it stops (by design: apps keep serving); after each
    test, every edge it started under this test's directory is stopped, as `fogbank edge stop`
    would."""
    yield
    stop_edges_under(tmp_path)


@pytest.fixture
def settings(tmp_path: Path, db_backend: str, request: pytest.FixtureRequest) -> Settings:
    """The test's settings; on PostgreSQL (both_backends) a fresh database of the cluster."""
    url = request.getfixturevalue("database_url") if db_backend == "postgres" else ""
    if db_backend == "sqlite":  # the default <data_dir>/fogbank.db, migrated already
        migrated_sqlite(
            request.getfixturevalue("sqlite_template"), tmp_path / "data" / "fogbank.db"
        )
    return Settings(
        storage=StorageSettings(data_dir=tmp_path / "data"),
        database=DatabaseSettings(url=url),
        git=GitSettings(allow_local=True, timeout_seconds=60),
        # Each test its own edge on free loopback ports (admin APIs: unix sockets in data_dir).
        edge=EdgeSettings(http_port=free_port(), https_port=free_port()),
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Quart]:
    quart_app = create_app(settings)
    # Start-up spawns the edge (a runner process and two Caddy layers): on a loaded 2-core
    # machine that can pass Quart's 6 s default.
    async with quart_testing.TestApp(quart_app, startup_timeout=60, shutdown_timeout=60):
        yield quart_app


@pytest.fixture
def client(app: Quart) -> QuartClient:
    return QuartClient(app)


@pytest.fixture
async def admin(client: QuartClient) -> dict[str, str]:
    return await signup_admin(client)


@pytest.fixture
def app_name(docker_client: docker.DockerClient) -> Iterator[str]:
    """A unique app name; every container, image and volume of that app is removed afterwards."""
    name = unique_name()
    yield name
    remove_app_objects(docker_client, [name])


@pytest.fixture
async def deployed_web_app(
    request: pytest.FixtureRequest,
    app: Quart,
    client: QuartClient,
    admin: dict[str, str],
    web_repo: GitRepo,
    app_name: str,
) -> DeployedWebApp:
    """`web_repo` as an app on a free publicPort, deployed once with success. More fields of
    `POST /api/apps/create` come from the test's marker: `@pytest.mark.web_app(
    stabilizationSeconds=10)` (`publicPort=None` for none)."""
    marker = request.node.get_closest_marker("web_app")
    extra: dict[str, Any] = dict(marker.kwargs) if marker else {}
    return await deploy_web_app(app, client, admin, app_name, web_repo, **extra)


@pytest.fixture
def build_run_id(docker_client: docker.DockerClient) -> Iterator[str]:
    """An id for `LABEL fogbank.test.run=<id>` early in a test's Dockerfile: the build's own
    containers and intermediate images then carry it, so the test finds those (and nothing of
    another suite on the daemon), and they are removed afterwards. What fogbank labels as the
    app's (`fogbank.app`) is left to the `app_name` fixture."""
    run_id = uuid.uuid4().hex[:12]
    yield run_id
    remove_run_objects(run_id, unless_label="fogbank.app")


@pytest.fixture(scope="module")
def dashboard(
    tmp_path_factory: pytest.TempPathFactory, docker_client: docker.DockerClient
) -> Iterator[Dashboard]:
    """A real `fogbank serve` with an admin and a viewer, for the browser tests of one module;
    the Docker objects of the apps they made are removed afterwards."""
    root = tmp_path_factory.mktemp("dashboard")
    server = prepare_server(root, {"deploy": {"stop_timeout_seconds": 1}}, username=ADMIN[0])
    found = Dashboard(server, root)
    found.add_viewer()
    server.start()
    try:
        yield found
    finally:
        server.stop()
        server.stop_quietly()
        remove_app_objects(docker_client, found.names)
        remove_run_objects(found.run_id, unless_label="fogbank.app")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium driven by Playwright (never a browser Playwright downloads). Per module:
    Playwright's sync API runs an event loop of its own while it is open, which the async tests
    of other modules must not meet."""
    with sync_playwright() as playwright:
        found = launch(playwright)
        try:
            yield found
        finally:
            found.close()


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A real registry (Debian's docker-registry) on a free loopback port, for the session."""
    found = start_registry(tmp_path_factory.mktemp("registry"))
    yield found
    found.stop()


@pytest.fixture(scope="session")
def swarm_registry(
    tmp_path_factory: pytest.TempPathFactory, docker_client: docker.DockerClient
) -> Iterator[str]:
    """This engine as a single-node Swarm manager (made one here only if it was not, and left
    again at the end) and a registry its services pull from, for the session; host:port."""
    with swarm_manager(docker_client), local_registry(tmp_path_factory.mktemp("swarm-reg")) as at:
        yield at


@pytest.fixture(scope="session")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A second registry whose every request needs the user `ci` and its password."""
    found = start_registry(
        tmp_path_factory.mktemp("auth-registry"), users={"ci": secrets.token_urlsafe(16)}
    )
    yield found
    found.stop()
