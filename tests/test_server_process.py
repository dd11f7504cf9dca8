"""`fogbank serve` as a real process: zero-config start, CLI users and tokens, and recovery after
`kill -9` in the middle of a build (on SQLite and on PostgreSQL)."""

from __future__ import annotations

import signal
import uuid
from pathlib import Path

import docker
import httpx
import pytest

from tests.support.ports import free_port
from tests.support.repos import GitRepo
from tests.support.server import Server, TomlValue, prepare_server, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.both_backends]

# The nonce file makes every run's RUN step new to Docker's layer cache.
SLOW_DOCKERFILE = """FROM scratch
COPY busybox /bin/busybox
COPY nonce /nonce
RUN ["/bin/busybox", "sleep", "5"]
COPY www /www
CMD ["/bin/busybox", "httpd", "-f", "-p", "3000", "-h", "/www"]
"""


def content(port: int) -> str:
    return httpx.get(f"http://127.0.0.1:{port}/", timeout=5).text


@pytest.fixture
def server(tmp_path: Path, db_backend: str, request: pytest.FixtureRequest) -> Server:
    sections: dict[str, dict[str, TomlValue]] = {"controller": {"workers": 1}}
    if db_backend == "postgres":
        sections["database"] = {"url": request.getfixturevalue("database_url")}
    made = prepare_server(tmp_path, sections)
    assert made.token.startswith("fbk_")
    return made


def test_zero_config_serve_uses_defaults(tmp_path: Path) -> None:
    """No config file, no environment: SQLite under ./data, listening on 127.0.0.1:8080."""
    with httpx.Client() as probe:
        try:
            probe.get("http://127.0.0.1:8080/", timeout=0.5)
        except httpx.ConnectError:
            pass
        else:
            pytest.fail("port 8080 is already in use on this machine; free it for this test")
    server = Server(tmp_path / "unused.toml", 8080, tmp_path / "server.log")
    try:
        server.start(cwd=tmp_path, use_config=False)
        assert (tmp_path / "data" / "fogbank.db").exists()
        assert httpx.get(f"{server.base}/api/apps/getAll").status_code == 401
        assert server.terminate() == 0
    finally:
        server.stop_quietly()


def test_kill_9_during_build_then_restart(
    server: Server, web_repo: GitRepo, app_name: str, docker_client: docker.DockerClient
) -> None:
    public_port = free_port()
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
            },
        )["data"]
        first = server.call("POST", "/api/deployment/add", {"appId": app["id"]})

        def finished(deployment_id: int) -> dict[str, object] | None:
            rows = {d["id"]: d for d in server.deployments(app["id"])}
            row = rows.get(deployment_id)
            return row if row and row["status"] in ("success", "failed", "stopped") else None

        assert wait_until(lambda: finished(first["id"]), 60, "first deploy")["status"] == "success"
        assert content(public_port) == "version one\n"

        slow_sha = web_repo.commit(
            "slow build",
            {
                "Dockerfile": SLOW_DOCKERFILE,
                "www/index.html": "version two\n",
                "nonce": uuid.uuid4().hex,
            },
        )
        second = server.call("POST", "/api/deployment/add", {"appId": app["id"]})

        def building() -> bool | None:
            rows = {d["id"]: d for d in server.deployments(app["id"])}
            return rows[second["id"]]["stage"] == "building_image" or None

        wait_until(building, 30, "building_image")
        server.kill()
        assert content(public_port) == "version one\n"  # the old version never stopped

        server.start()
        rows = {d["id"]: d for d in server.deployments(app["id"])}
        interrupted = rows[second["id"]]
        assert interrupted["status"] == "failed"
        assert "interrupted" in interrupted["error_message"]
        retry = max(rows.values(), key=lambda d: int(str(d["id"])))
        assert retry["id"] != second["id"] and retry["commit_hash"] == slow_sha
        assert retry["deployment_number"] == 3
        done = wait_until(lambda: finished(int(str(retry["id"]))), 90, "re-queued deploy")
        assert done["status"] == "success", done
        assert content(public_port) == "version two\n"

        left = docker_client.containers.list(all=True, filters={"label": f"fogbank.app={app_name}"})
        assert [c.labels["fogbank.deployment"] for c in left] == [str(retry["id"])]
        assert server.terminate() == 0
    finally:
        server.stop_quietly()


async def _watch_until_closed(url: str) -> tuple[list[dict[str, object]], int]:
    import json

    import websockets

    frames: list[dict[str, object]] = []
    async with websockets.connect(url) as socket:
        try:
            async for raw in socket:
                frames.append(json.loads(raw))
        except websockets.ConnectionClosed:
            pass
        assert socket.close_code is not None
        return frames, socket.close_code


@pytest.mark.parametrize(
    ("shutdown_timeout", "sleep_seconds", "expected"),
    [(30, 3, "success"), (1, 60, "failed")],
    ids=["finishes-within-bound", "interrupted-past-bound"],
)
async def test_sigterm_drains_then_exits_zero(
    tmp_path: Path,
    web_repo: GitRepo,
    app_name: str,
    shutdown_timeout: float,
    sleep_seconds: int,
    expected: str,
) -> None:
    import asyncio

    server = prepare_server(
        tmp_path, {"controller": {"shutdown_timeout_seconds": shutdown_timeout}}, client_name="t"
    )
    port = server.port
    web_repo.commit(
        "slow",
        {
            "Dockerfile": SLOW_DOCKERFILE.replace('"sleep", "5"', f'"sleep", "{sleep_seconds}"'),
            "nonce": uuid.uuid4().hex,
        },
    )
    try:
        server.start()
        app = server.call(
            "POST",
            "/api/apps/create",
            {
                "name": app_name,
                "gitRepository": web_repo.url,
                "port": 3000,
                "stabilizationSeconds": 1,
            },
        )["data"]
        queued = server.call("POST", "/api/deployment/add", {"appId": app["id"]})
        url = f"ws://127.0.0.1:{port}/ws/deployment/logs?deploymentId={queued['id']}&token={server.token}"
        watcher = asyncio.create_task(_watch_until_closed(url))

        def building() -> bool | None:
            rows = {d["id"]: d for d in server.deployments(app["id"])}
            return rows[queued["id"]]["stage"] == "building_image" or None

        await asyncio.to_thread(wait_until, building, 30, "building_image")
        assert server.process is not None
        server.process.send_signal(signal.SIGTERM)
        frames, code = await asyncio.wait_for(watcher, 60)
        exit_code = await asyncio.to_thread(server.process.wait, 60)
        assert exit_code == 0
        statuses = [f for f in frames if f["type"] == "status"]
        final = statuses[-1]["data"]
        assert isinstance(final, dict)
        assert final["status"] == expected, final
        if expected == "failed":
            assert "interrupted" in str(final["error_message"])
            # Re-queued for the next start.
            server.start()
            rows = server.deployments(app["id"])
            assert rows[0]["commit_hash"] == queued["commit_hash"] and rows[0]["id"] != queued["id"]
            server.call("POST", "/api/deployment/stop", {"deploymentId": rows[0]["id"]})
            assert server.terminate() == 0
        else:
            assert code == 1000
    finally:
        server.stop_quietly()
