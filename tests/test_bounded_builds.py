"""Builds are bounded: an endless RUN step fails the deployment at the time limit (the host and
the serving version are fine), and over-long output lines are cut with a marker."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import replace

import docker
import pytest
from quart import Quart
from quart.testing import QuartClient

from controller.config import Settings
from controller.store.models import Status
from tests.conftest import GitRepo, create_web_app, wait_terminal
from tests.test_deploy_flow import add

BUILD_LIMIT_SECONDS = 4


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(
        settings,
        build=replace(settings.build, timeout_seconds=BUILD_LIMIT_SECONDS, max_line_chars=200),
    )


async def test_endless_build_step_fails_at_the_limit(
    app: Quart,
    client: QuartClient,
    admin: dict[str, str],
    web_repo: GitRepo,
    app_name: str,
    docker_client: docker.DockerClient,
) -> None:
    created = await create_web_app(client, admin, app_name, web_repo)
    web_repo.commit(
        "endless",
        {
            "Dockerfile": "FROM scratch\nCOPY busybox /bin/busybox\nCOPY nonce /nonce\n"
            'RUN ["/bin/busybox", "sh", "-c", "/bin/busybox printf \'%0500d\\\\n\' 7; '
            'while true; do :; done"]\n',
            "nonce": uuid.uuid4().hex,
        },
    )
    started = time.monotonic()
    endless = await add(client, admin, created["id"])
    result = await wait_terminal(app, endless["id"])
    elapsed = time.monotonic() - started
    assert (result.status, result.stage) == (Status.FAILED, "building_image")
    assert "build.timeout_seconds" in result.error_message
    assert elapsed < BUILD_LIMIT_SECONDS + 10
    log = await (await client.get(f"/api/deployment/logs/{endless['id']}", headers=admin)).get_data(
        as_text=True
    )
    assert "[line cut: 300 more chars]" in log

    def busy() -> list[str]:
        return [
            str(c.id)
            for c in docker_client.containers.list(all=True)
            if "while true" in str(c.attrs["Config"]["Cmd"])
        ]

    # dockerd aborts the step when fogbank hangs up; give it a moment to reap the container.
    for _ in range(50):
        if not busy():
            break
        await asyncio.sleep(0.2)
    assert busy() == [], "the endless build step is still running"
