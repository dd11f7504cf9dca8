"""What the Engine tests share: per-test names, labels and build contexts (scratch images with
a static busybox), a line recorder for builds, and raw reads of what Docker holds.

Every test labels what it makes with `fogbank.test=1` and its own `fogbank.test.run=<uuid>`
(also as a LABEL in each Dockerfile, so intermediate images and build containers carry it); the
`scratch` fixture (tests/conftest.py) removes all of it afterwards (tests/support/docker_objects.py).
"""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import httpx

from controller.build.docker import docker_build
from controller.runtime.engine import Engine
from tests.support.repos import BUSYBOX

HTTPD = '["/bin/busybox", "httpd", "-f", "-p", "3000", "-h", "/www"]'


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


async def build_httpd_image(engine: Engine, scratch: Scratch) -> str:
    """An image serving "hello fogbank" with busybox httpd on port 3000; its tag."""
    context = scratch.context(
        f"COPY www /www\nEXPOSE 3000\nCMD {HTTPD}", files={"www/index.html": "hello fogbank\n"}
    )
    await build(engine, scratch, context)
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
