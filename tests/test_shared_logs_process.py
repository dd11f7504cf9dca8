"""Two real `fogbank serve` processes on one PostgreSQL: a WebSocket on the instance that did
not build a deployment follows the build, line by line while it runs (the builder announces
each batch with NOTIFY, the watcher's instance republishes it), and after that instance restarts
the watcher resumes with ?after= and gets exactly the rest: no gap, no duplicate.

The watcher's instance comes back while the build still runs: with instance leases its start-up
recovery leaves the other instance's build alone, and the resumed socket follows it live to its
end."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.support.repos import GitRepo
from tests.support.server import Server, TomlValue, prepare_server, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("db_backend", ["postgres"], indirect=True)]

PHASE_LINES = 30
SECOND_PHASE_LINES = 100  # 20 s: longer than the watcher's instance takes to restart
# Two RUN steps that print a line every 0.2 s.
TALKING_DOCKERFILE = """FROM scratch
COPY busybox /bin/busybox
COPY nonce /nonce
RUN ["/bin/busybox", "sh", "-c", "i=1; while [ $i -le {n} ]; do echo first $i; sleep 0.2; i=$((i+1)); done"]
RUN ["/bin/busybox", "sh", "-c", "i=1; while [ $i -le {m} ]; do echo second $i; sleep 0.2; i=$((i+1)); done"]
COPY www /www
CMD ["/bin/busybox", "httpd", "-f", "-p", "3000", "-h", "/www"]
""".replace("{n}", str(PHASE_LINES)).replace("{m}", str(SECOND_PHASE_LINES))


def instance(root: Path, database_url: str, key_file: Path, username: str) -> Server:
    sections: dict[str, dict[str, TomlValue]] = {
        "database": {"url": database_url},
        "security": {"key_file": str(key_file)},  # one key: sealed values are shared too
        # Drift repair of one instance must not act on the other's app during the test.
        "controller": {"workers": 1, "reconcile_interval_seconds": 3600},
    }
    root.mkdir()
    return prepare_server(root, sections, username=username)


def log_file(server: Server, deployment_id: int) -> Path:
    return server.config.parent / "data" / "logs" / "deployments" / f"{deployment_id}.log"


class Watcher:
    """One WebSocket at a time on a deployment, remembering every frame of every connection."""

    def __init__(self, server: Server, deployment_id: int) -> None:
        self.server = server
        self.deployment_id = deployment_id
        self.connections: list[list[dict[str, Any]]] = []
        self.close_codes: list[int | None] = []

    @property
    def last_seq(self) -> int:
        seqs = [f["data"]["seq"] for c in self.connections for f in c if f["type"] == "log"]
        return max(seqs, default=0)

    async def follow(self, after: int, reached: tuple[str, asyncio.Event] | None = None) -> None:
        """Read frames until the server closes; `reached` is set when its line arrives."""
        url = f"ws://127.0.0.1:{self.server.port}/ws/deployment/logs"
        url += f"?deploymentId={self.deployment_id}&after={after}&token={self.server.token}"
        frames: list[dict[str, Any]] = []
        self.connections.append(frames)
        async with websockets.connect(url, max_size=None) as socket:
            try:
                async for raw in socket:
                    frame = json.loads(raw)
                    frames.append(frame)
                    if reached is not None and frame["data"].get("line") == reached[0]:
                        reached[1].set()
            except websockets.ConnectionClosed:
                pass
            self.close_codes.append(socket.close_code)


def deployment_row(server: Server, app_id: int, deployment_id: int) -> dict[str, Any]:
    return next(d for d in server.deployments(app_id) if d["id"] == deployment_id)


async def test_a_watcher_on_the_other_instance_follows_the_build_and_resumes(
    tmp_path: Path, database_url: str, web_repo: GitRepo, app_name: str
) -> None:
    key_file = tmp_path / "secrets.key"
    a = instance(tmp_path / "a", database_url, key_file, "admin")
    b = instance(tmp_path / "b", database_url, key_file, "admin_b")
    web_repo.commit("talking build", {"Dockerfile": TALKING_DOCKERFILE, "nonce": uuid.uuid4().hex})
    try:
        await asyncio.to_thread(a.start)
        await asyncio.to_thread(b.start)
        app = a.call("POST", "/api/apps/create", {"name": app_name, "gitRepository": web_repo.url,
                                                  "port": 3000, "stabilizationSeconds": 1})["data"]  # fmt: skip
        deployment_id = int(a.call("POST", "/api/deployment/add", {"appId": app["id"]})["id"])

        # Whichever instance claimed it builds it (it holds the log file); watch on the other.
        def builder() -> tuple[Server, Server] | None:
            for one, other in ((a, b), (b, a)):
                if log_file(one, deployment_id).exists():
                    return one, other
            return None

        built_on, watched_on = await asyncio.to_thread(wait_until, builder, 60, "a claim")
        watcher = Watcher(watched_on, deployment_id)
        # Live: lines of the first step reach the other instance while the build prints them.
        reached = asyncio.Event()
        following = asyncio.create_task(watcher.follow(0, (f"first {PHASE_LINES // 2}", reached)))
        await asyncio.wait_for(reached.wait(), 90)
        assert deployment_row(built_on, app["id"], deployment_id)["status"] == "building"

        # The watcher's instance goes away mid-build: its socket closes 1001...
        assert await asyncio.to_thread(watched_on.terminate) == 0
        await asyncio.wait_for(following, 30)
        assert watcher.close_codes == [1001]
        seen_before = watcher.last_seq

        # ... and comes back while the build still runs: the socket resumes where it was.
        await asyncio.to_thread(watched_on.start)
        await asyncio.wait_for(watcher.follow(seen_before), 120)
        assert watcher.close_codes == [1001, 1000]
        resumed_status = watcher.connections[1][0]
        assert resumed_status["type"] == "status" and resumed_status["data"]["status"] == "building"
        assert deployment_row(built_on, app["id"], deployment_id)["status"] == "success"

        full_log = built_on.call_text(f"/api/deployment/logs/{deployment_id}").splitlines()
        first, resumed = watcher.connections
        lines = [
            (f["data"]["seq"], f["data"]["line"]) for f in first + resumed if f["type"] == "log"
        ]
        assert lines == list(enumerate(full_log, start=1))  # every line once, in order
        assert 0 < seen_before < len(full_log) and f"second {SECOND_PHASE_LINES}" in full_log
        assert resumed[-1]["type"] == "status" and resumed[-1]["data"]["status"] == "success"
        # The other instance has no file of it: it reads the same log from the database.
        assert not log_file(watched_on, deployment_id).exists()
        assert (
            watched_on.call_text(f"/api/deployment/logs/{deployment_id}").splitlines() == full_log
        )
        built = "a" if built_on is a else "b"
        print(
            f"\nbuilt on {built}; {len(full_log)} log lines; {seen_before} live before the restart,"
        )
        print(f"{len(lines) - seen_before} after it with ?after={seen_before}")
    finally:
        for server in (b, a):
            server.stop_quietly()
