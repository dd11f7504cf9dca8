"""What the Engine tests share: a connected Engine, per-test names, labels and build contexts
(scratch images with a static busybox), and cleanup of everything a test made.

Every test labels what it makes with `fogbank.test=1` and its own `fogbank.test.run=<uuid>`
(also as a LABEL in each Dockerfile, so intermediate images and build containers carry it) and
the `scratch` fixture removes all of it afterwards. tests/conftest.py registers this module as a
plugin, so its fixtures reach every test module.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
import httpx
import pytest

from controller.build.docker import docker_build
from controller.errors import EngineError
from controller.runtime.engine import Engine

BUSYBOX = Path("/bin/busybox")
HTTPD = '["/bin/busybox", "httpd", "-f", "-p", "3000", "-h", "/www"]'


@pytest.fixture
async def docker_engine() -> AsyncIterator[Engine]:
    """A connected Engine; fails instead of skipping when FOGBANK_TEST_REQUIRE_DOCKER=1."""
    engine = Engine()
    try:
        await engine.ping()
    except EngineError as err:
        await engine.close()
        if os.environ.get("FOGBANK_TEST_REQUIRE_DOCKER") == "1":
            pytest.fail(f"Docker is required (FOGBANK_TEST_REQUIRE_DOCKER=1): {err}")
        pytest.skip(f"Docker is not available: {err}")
    try:
        yield engine
    finally:
        await engine.close()


@dataclass(frozen=True)
class Scratch:
    """Names, labels and a build context unique to one test."""

    run_id: str
    root: Path

    @property
    def labels(self) -> dict[str, str]:
        return {"fogbank.test": "1", "fogbank.test.run": self.run_id}

    def tag(self, suffix: str = "app") -> str:
        return f"fogbank-test/{suffix}:{self.run_id}"

    def name(self, suffix: str = "app") -> str:
        return f"fogbank-test-{self.run_id}-{suffix}"

    def context(self, steps: str, files: dict[str, str] | None = None) -> Path:
        """A build context: busybox, `files` and a Dockerfile FROM scratch ending in `steps`."""
        context = self.root / uuid.uuid4().hex
        context.mkdir()
        shutil.copy2(BUSYBOX, context / "busybox")
        for name, content in (files or {}).items():
            (context / name).parent.mkdir(parents=True, exist_ok=True)
            (context / name).write_text(content)
        (context / "Dockerfile").write_text(
            f"FROM scratch\nLABEL fogbank.test.run={self.run_id}\n"
            f"COPY busybox /bin/busybox\n{steps}\n"
        )
        return context


def remove_everything_labelled(run_id: str) -> None:
    """Remove containers and images (intermediate ones too) of one test run."""
    client = docker.from_env()
    label: dict[str, str | list[str] | bool] = {"label": f"fogbank.test.run={run_id}"}
    try:
        for container in client.containers.list(all=True, filters=label, ignore_removed=True):
            container.remove(force=True)
        # children are newer than their parents: remove newest first, repeat for stragglers
        for _ in range(5):
            images = client.images.list(all=True, filters=label)
            if not images:
                break
            for image in sorted(images, key=lambda i: str(i.attrs["Created"]), reverse=True):
                try:
                    client.images.remove(str(image.id), force=True)
                except docker.errors.APIError:
                    continue
    finally:
        client.close()


@pytest.fixture
async def scratch(docker_engine: Engine, tmp_path: Path) -> AsyncIterator[Scratch]:
    run = Scratch(run_id=uuid.uuid4().hex[:12], root=tmp_path)
    try:
        yield run
    finally:
        await asyncio.to_thread(remove_everything_labelled, run.run_id)
        leftovers = docker.from_env()
        try:
            left = leftovers.images.list(
                all=True, filters={"label": f"fogbank.test.run={run.run_id}"}
            )
        finally:
            leftovers.close()
        assert left == [], f"images left behind: {left}"


class Lines:
    """An on_line sink that records each line with the time it arrived."""

    def __init__(self) -> None:
        self.received: list[tuple[float, str]] = []

    async def __call__(self, line: str) -> None:
        self.received.append((time.monotonic(), line))

    @property
    def text(self) -> list[str]:
        return [line for _, line in self.received]


async def build(
    engine: Engine,
    scratch: Scratch,
    context: Path,
    lines: Lines | None = None,
    buildargs: dict[str, str] | None = None,
) -> str:
    return await docker_build(
        engine,
        context,
        dockerfile="Dockerfile",
        tag=scratch.tag(),
        labels=scratch.labels,
        buildargs=buildargs or {},
        on_line=lines or Lines(),
    )


@pytest.fixture
async def httpd_image(docker_engine: Engine, scratch: Scratch) -> str:
    context = scratch.context(
        f"COPY www /www\nEXPOSE 3000\nCMD {HTTPD}", files={"www/index.html": "hello fogbank\n"}
    )
    await build(docker_engine, scratch, context)
    return scratch.tag()


def raw_attrs(container_id: str) -> dict[str, Any]:
    client = docker.from_env()
    try:
        return client.containers.get(container_id).attrs
    finally:
        client.close()


async def get_when_ready(url: str, timeout_seconds: float = 10) -> str:
    """GET `url` until the server accepts the connection (httpd starts asynchronously)."""
    deadline = time.monotonic() + timeout_seconds
    async with httpx.AsyncClient(timeout=2) as client:
        while True:
            try:
                response = await client.get(url)
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)
                continue
            assert response.status_code == 200
            return response.text
