"""SIGKILL of the controller during each stage, 3 times each, under steady load on the serving
version: after each restart nothing is left non-terminal, the interrupted deployment is failed
("interrupted") and re-queued, and no request failed during the whole run; at the end no orphan
container, image or build directory is left.

How each stage is reliably hit: cloning_repo by running the server through the test-only
launcher tests/support/paused_serve.py, which holds each deployment 4 s after it enters that
stage (a local export is too quick to hit by timing);
building_image runs `sleep 6`; starting_new has a container that listens only after 6 s;
stopping_old is the 10 s safety window after the switch.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.support.load import SteadyLoad
from tests.support.ports import free_port
from tests.support.repos import GitRepo
from tests.support.server import Server, prepare_server, wait_until

pytestmark = pytest.mark.slow

pytestmark = pytest.mark.slow

ROUNDS = 3
BASE_DOCKERFILE = """FROM scratch
COPY busybox /bin/busybox
COPY www /www
"""
SERVE = 'CMD ["/bin/busybox", "httpd", "-f", "-p", "3000", "-h", "/www"]\n'
STAGE_DOCKERFILES = {
    "cloning_repo": BASE_DOCKERFILE + SERVE,
    "building_image": BASE_DOCKERFILE + 'RUN ["/bin/busybox", "sleep", "6"]\n' + SERVE,
    "starting_new": BASE_DOCKERFILE
    + 'CMD ["/bin/busybox", "sh", "-c", "/bin/busybox sleep 6; exec /bin/busybox httpd -f -p 3000 -h /www"]\n',
    "stopping_old": BASE_DOCKERFILE + SERVE,
}
TERMINAL = {"success", "failed", "stopped", "rolled_back"}
# The test-only launcher that holds every deployment 4 s in cloning_repo.
HOLD_IN_CLONING_REPO = (
    "-m",
    "tests.support.paused_serve",
    "--stage",
    "cloning_repo",
    "--seconds",
    "4",
)


@pytest.fixture
def crash_server(tmp_path: Path) -> Server:
    server = prepare_server(tmp_path, {"controller": {"workers": 1}}, client_name="t")
    server.launcher = HOLD_IN_CLONING_REPO
    return server


def rows(server: Server, app_id: int) -> dict[int, dict[str, Any]]:
    return {int(d["id"]): d for d in server.deployments(app_id)}


@pytest.mark.timeout(900)
async def test_sigkill_in_every_stage(
    crash_server: Server, web_repo: GitRepo, app_name: str, docker_client: docker.DockerClient
) -> None:
    server = crash_server
    public_port = free_port()
    recoveries: list[float] = []
    try:
        server.start()
        app = server.call(
            "POST",
            "/api/apps/create",
            {
                "name": app_name,
                "gitRepository": web_repo.url,
                "port": 3000,
                "publicPort": public_port,
                "stabilizationSeconds": 10,
                "healthTimeoutSeconds": 30,
            },
        )["data"]
        first = server.call("POST", "/api/deployment/add", {"appId": app["id"]})
        await asyncio.to_thread(
            wait_until,
            lambda: rows(server, app["id"])[first["id"]]["status"] == "success" or None,
            120,
            "first deploy",
        )
        async with SteadyLoad(f"http://127.0.0.1:{public_port}/", clients=6) as load:
            for stage, dockerfile in STAGE_DOCKERFILES.items():
                for round_number in range(ROUNDS):
                    recoveries.append(
                        await crash_once(
                            server, web_repo, app["id"], stage, dockerfile, round_number
                        )
                    )
        assert len(load.samples) > 500
        assert load.failures == [], load.failures[:5]
        statuses = {d["status"] for d in rows(server, app["id"]).values()}
        assert statuses <= TERMINAL
        # No orphans: one container (the active one), images only of successful deployments,
        # no build directory.
        containers = docker_client.containers.list(
            all=True, filters={"label": f"fogbank.app={app_name}"}
        )
        active = [d for d in rows(server, app["id"]).values() if d["is_active"]]
        assert [c.labels["fogbank.deployment"] for c in containers] == [str(active[0]["id"])]
        images = docker_client.images.list(filters={"label": f"fogbank.app={app_name}"})
        image_owners = {
            rows(server, app["id"]).get(int(i.labels["fogbank.deployment"]), {}).get("status")
            for i in images
        }
        assert image_owners <= {"success", "rolled_back"}, image_owners
        builds = server.config.parent / "data" / "builds"
        assert list(builds.iterdir()) == []
        print(
            f"\n{len(recoveries)} crashes, {len(load.samples)} requests, {len(load.failures)} "
            f"failed; restart-to-redeployed seconds: {[round(r, 1) for r in recoveries]}"
        )
        assert server.terminate() == 0
    finally:
        server.stop_quietly()


async def crash_once(
    server: Server, repo: GitRepo, app_id: int, stage: str, dockerfile: str, round_number: int
) -> float:
    """Deploy a commit built to linger in `stage`, SIGKILL the controller there, restart it and
    wait for the re-queued deployment; returns restart-to-success seconds."""
    content = f"{stage} {round_number}\n"
    repo.commit(
        f"{stage} {round_number}",
        {"Dockerfile": dockerfile, "www/index.html": content, "nonce": uuid.uuid4().hex},
    )
    queued = server.call("POST", "/api/deployment/add", {"appId": app_id})

    def in_stage() -> bool | None:
        row = rows(server, app_id)[queued["id"]]
        assert row["status"] not in TERMINAL, f"{stage}: ended {row['status']} before the kill"
        return row["stage"] == stage or None

    await asyncio.to_thread(wait_until, in_stage, 60, f"stage {stage}")
    if stage == "stopping_old":
        await asyncio.sleep(1)  # inside the safety window: the new version serves
    server.kill()
    started = time.monotonic()
    await asyncio.to_thread(server.start)
    after = rows(server, app_id)
    interrupted = after[queued["id"]]
    assert interrupted["status"] == "failed", interrupted
    assert "interrupted" in interrupted["error_message"]
    assert all(
        row["status"] in TERMINAL | {"pending", "building", "deploying"} for row in after.values()
    )
    retry = max(after)
    assert retry != queued["id"] and after[retry]["commit_hash"] == queued["commit_hash"]

    def retried() -> dict[str, Any] | None:
        row = rows(server, app_id)[retry]
        return row if row["status"] in TERMINAL else None

    done = await asyncio.to_thread(wait_until, retried, 120, f"re-queued {stage} deploy")
    assert done["status"] == "success", done
    return time.monotonic() - started
