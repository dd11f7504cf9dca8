"""Builds are bounded: an endless RUN step fails the deployment at the time limit (the host and
the serving version are fine), and over-long output lines are cut with a marker."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from quart import Quart
from quart.testing import QuartClient

from controller.config import Settings
from controller.store.models import TERMINAL, Deployment, Status
from tests.support.api import add_deployment, create_web_app, wait_terminal
from tests.support.docker_objects import run_containers
from tests.support.repos import GitRepo

pytestmark = pytest.mark.slow

BUILD_LIMIT_SECONDS = 4


@pytest.fixture
def settings(settings: Settings) -> Settings:
    build = settings.build.model_copy(
        update={"timeout_seconds": BUILD_LIMIT_SECONDS, "max_line_chars": 200}
    )
    return settings.model_copy(update={"build": build})


async def test_endless_build_step_fails_at_the_limit(
    app: Quart,
    client: QuartClient,
    admin: dict[str, str],
    web_repo: GitRepo,
    app_name: str,
    build_run_id: str,
) -> None:
    created = await create_web_app(client, admin, app_name, web_repo)
    web_repo.commit(
        "endless",
        {
            # The label marks the build's own containers as this test's (see build_run_id).
            "Dockerfile": f"FROM scratch\nLABEL fogbank.test.run={build_run_id}\n"
            "COPY busybox /bin/busybox\nCOPY nonce /nonce\n"
            'RUN ["/bin/busybox", "sh", "-c", "/bin/busybox printf \'%0500d\\\\n\' 7; '
            'while true; do :; done"]\n',
            "nonce": uuid.uuid4().hex,
        },
    )
    started = time.monotonic()
    endless = await add_deployment(client, admin, created["id"])

    def busy() -> list[str]:
        return run_containers(build_run_id, "while true")

    seen: list[str] = []  # the label finds the step's container (else the check below is void)
    while not seen and (await Deployment.get(id=endless["id"])).status not in TERMINAL:
        seen = await asyncio.to_thread(busy)
        await asyncio.sleep(0.1)
    result = await wait_terminal(app, endless["id"])
    elapsed = time.monotonic() - started
    assert (result.status, result.stage) == (Status.FAILED, "building_image")
    assert "build.timeout_seconds" in result.error_message
    assert elapsed < BUILD_LIMIT_SECONDS + 10
    log = await (await client.get(f"/api/deployment/logs/{endless['id']}", headers=admin)).get_data(
        as_text=True
    )
    assert "[line cut: 300 more chars]" in log
    assert seen, "the endless build step's container was never seen"

    # dockerd aborts the step when fogbank hangs up; give it a moment to reap the container.
    for _ in range(50):
        if not busy():
            break
        await asyncio.sleep(0.2)
    assert busy() == [], "the endless build step is still running"
