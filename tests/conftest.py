"""Shared fixtures: real settings in a tmp dir, the real app lifespan, real git repositories and
a real Docker engine (a failure, not a skip, when FOGBANK_TEST_REQUIRE_DOCKER=1)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import docker
import pytest
from quart import Quart
from quart.testing import QuartClient

from api.app import create_app
from api.services import Services
from controller.config import GitSettings, Settings, StorageSettings
from controller.store.models import TERMINAL, Deployment, Status

BUSYBOX = Path("/bin/busybox")
REQUIRE_DOCKER = os.environ.get("FOGBANK_TEST_REQUIRE_DOCKER") == "1"

# The Engine tests' fixtures (docker_engine, scratch, httpd_image), shared by two modules.
pytest_plugins = ["tests.engine_support"]
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.com",
}

HTTPD_DOCKERFILE = """FROM scratch
COPY busybox /bin/busybox
COPY www /www
CMD ["/bin/busybox", "httpd", "-f", "-p", "3000", "-h", "/www"]
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    """The real engine. Missing daemon: fail under FOGBANK_TEST_REQUIRE_DOCKER=1, else skip."""
    try:
        client = docker.from_env(timeout=10)
        client.ping()
    except docker.errors.DockerException as exc:
        message = f"Docker engine not reachable: {exc}"
        if REQUIRE_DOCKER:
            pytest.fail(message + " (FOGBANK_TEST_REQUIRE_DOCKER=1)")
        pytest.skip(message)
    if not BUSYBOX.exists():
        pytest.fail("/bin/busybox is missing: install Debian's busybox-static")
    yield client
    client.close()


@dataclass
class GitRepo:
    path: Path

    @property
    def url(self) -> str:
        return f"file://{self.path}"

    def git(self, *args: str) -> str:
        result = subprocess.run(
            ["git", *args],
            cwd=self.path,
            env={**os.environ, **GIT_ENV},
            check=True,
            capture_output=True,
            text=True,
        )
        return result.stdout.strip()

    def write(self, relative: str, content: str) -> None:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)

    def commit(self, message: str, files: dict[str, str] | None = None) -> str:
        for relative, content in (files or {}).items():
            self.write(relative, content)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")


def make_web_repo(path: Path, content: str = "version one\n") -> GitRepo:
    """A repository whose Dockerfile serves www/ with busybox httpd on port 3000."""
    path.mkdir(parents=True)
    repo = GitRepo(path)
    repo.git("init", "-q", "-b", "main")
    shutil.copy(BUSYBOX, path / "busybox")
    repo.commit(
        "first version",
        {"Dockerfile": HTTPD_DOCKERFILE, "www/index.html": content, ".dockerignore": "*.md\n"},
    )
    return repo


@pytest.fixture
def web_repo(tmp_path: Path) -> GitRepo:
    return make_web_repo(tmp_path / "repo")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    base = Settings()
    return replace(
        base,
        storage=StorageSettings(data_dir=tmp_path / "data"),
        git=GitSettings(allow_local=True, timeout_seconds=60),
        # Each test its own Caddy on free loopback ports.
        edge=replace(base.edge, admin_url=f"http://127.0.0.1:{free_port()}", http_port=free_port()),
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Quart]:
    quart_app = create_app(settings)
    async with quart_app.test_app():
        yield quart_app


@pytest.fixture
def client(app: Quart) -> QuartClient:
    return QuartClient(app)


def clear_cookies(client: QuartClient) -> None:
    assert client.cookie_jar is not None
    client.cookie_jar.clear()


def services_of(app: Quart) -> Services:
    found: Services = app.extensions["fogbank"]
    return found


async def signup_admin(client: QuartClient) -> dict[str, str]:
    """The first user (admin) through the API; returns Bearer headers of a fresh token."""
    response = await client.post(
        "/api/auth/signup", json={"username": "admin", "password": "correct horse"}
    )
    assert response.status_code == 201, await response.get_data(as_text=True)
    token = await client.post("/api/tokens/create", json={"name": "tests"})
    assert token.status_code == 201
    raw = (await token.get_json())["data"]["token"]
    clear_cookies(client)
    return {"Authorization": f"Bearer {raw}"}


@pytest.fixture
async def admin(client: QuartClient) -> dict[str, str]:
    return await signup_admin(client)


def unique_name(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def app_name(docker_client: docker.DockerClient) -> Iterator[str]:
    """A unique app name; every container and image labelled with it is removed afterwards."""
    name = unique_name()
    yield name
    for container in docker_client.containers.list(
        all=True, filters={"label": f"fogbank.app={name}"}
    ):
        container.remove(force=True)
    for image in docker_client.images.list(filters={"label": f"fogbank.app={name}"}):
        docker_client.images.remove(str(image.id), force=True)
    for volume in docker_client.volumes.list(filters={"name": f"fogbank-{name}-"}):
        volume.remove(force=True)


async def create_web_app(
    client: QuartClient, headers: dict[str, str], name: str, repo: GitRepo, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "gitRepository": repo.url,
        "port": 3000,
        "healthTimeoutSeconds": 10,
        "stabilizationSeconds": 1,  # keeps the suite fast; tests of the window set their own
    }
    body.update(extra)
    response = await client.post("/api/apps/create", json=body, headers=headers)
    assert response.status_code == 201, await response.get_data(as_text=True)
    data: dict[str, Any] = (await response.get_json())["data"]
    return data


async def wait_terminal(app: Quart, deployment_id: int, timeout_seconds: float = 120) -> Deployment:
    """Wait, on the event bus, until the deployment reaches a terminal status."""
    import asyncio

    bus = services_of(app).controller.bus
    with bus.subscribe(deployment_id) as subscription:
        deployment = await Deployment.get(id=deployment_id)
        async with asyncio.timeout(timeout_seconds):
            while deployment.status not in TERMINAL:
                event = await subscription.queue.get()
                if event.type == "status" and Status(event.data["status"]) in TERMINAL:
                    break
    return await Deployment.get(id=deployment_id)
