"""A real `fogbank serve` process: its log in JSON (every line parses, a deployment's lines carry
its id and app, the access log carries the request id the answer's header named), and its
outbox across a kill -9: GitHub's answers fail until the process is gone, and after the restart
every status is delivered. A local server plays GitHub's REST API (tests/support/fake_remote.py;
GitHub.com cannot be reached from here)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from tests.support.fake_remote import Canned, FakeRemote, start_fake_remote
from tests.support.ports import free_port
from tests.support.repos import GitRepo
from tests.support.server import Server, prepare_server, wait_until

pytestmark = pytest.mark.slow

TOKEN = "ghp_server_reporting_token"
FINAL = ("success", "failed", "stopped")


@pytest.fixture
def fake() -> Iterator[FakeRemote]:
    remote = start_fake_remote()
    yield remote
    remote.stop()


def deploy(server: Server, repo: GitRepo, name: str) -> tuple[int, dict[str, Any]]:
    """Create the app, deploy it, wait for the final status; (app id, deployment)."""
    app = server.call(
        "POST",
        "/api/apps/create",
        {"name": name, "gitRepository": repo.url, "port": 3000, "publicPort": free_port(),
         "stabilizationSeconds": 1},
    )["data"]  # fmt: skip
    queued = server.call("POST", "/api/deployment/add", {"appId": app["id"]})

    def finished() -> dict[str, Any] | None:
        row = {d["id"]: d for d in server.deployments(app["id"])}[queued["id"]]
        return row if row["status"] in FINAL else None

    return app["id"], wait_until(finished, 90, "the deployment")


def test_json_log_lines_carry_the_deployment_and_the_request_id(
    tmp_path: Path, web_repo: GitRepo, app_name: str, docker_client: docker.DockerClient
) -> None:
    server = prepare_server(tmp_path, {"log": {"format": "json"}})
    try:
        server.start()
        _, done = deploy(server, web_repo, app_name)
        assert done["status"] == "success"
        answer = httpx.get(
            f"{server.base}/api/apps/getAll", headers={"Authorization": f"Bearer {server.token}"}
        )
        request_id = answer.headers["x-request-id"]
        assert answer.status_code == 200 and len(request_id) == 16
        assert server.terminate() == 0
    finally:
        server.stop_quietly()
    lines = server.log_path.read_text().splitlines()
    assert len(lines) > 10
    records = [json.loads(line) for line in lines]  # every line is JSON
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    ours = [r for r in records if r.get("deployment_id") == done["id"]]
    stages = [r["message"] for r in ours if r["logger"] == "controller.deploy.progress"]
    assert (
        stages[0].startswith("deployment #1 cloning_repo") and stages[-1] == "deployment #1 success"
    )
    assert all(r["app"] == app_name for r in ours)
    # Every line the pipeline logged is about a deployment and says which.
    pipeline = [r for r in records if r["logger"].startswith("controller.deploy.")]
    assert pipeline and all(
        "deployment_id" in r for r in pipeline if r["logger"] != "controller.deploy.recovery"
    )
    (access,) = [
        r for r in records if r["logger"] == "fogbank.access" and r.get("request_id") == request_id
    ]
    assert (access["method"], access["path"], access["status"], access["user"]) == (
        "GET",
        "/api/apps/getAll",
        200,
        "admin",
    )
    assert access["duration_ms"] >= 0


def test_a_kill_9_in_the_middle_loses_no_github_status(
    tmp_path: Path,
    web_repo: GitRepo,
    app_name: str,
    docker_client: docker.DockerClient,
    fake: FakeRemote,
) -> None:
    server = prepare_server(
        tmp_path,
        {
            "github": {"api_url": fake.url, "token": TOKEN, "request_interval_seconds": 0},
            "notify": {"retry_base_seconds": 0.5, "retry_max_seconds": 1},
        },
    )
    fake.answer_next(*[Canned(503)] * 1000)  # GitHub is down until the process is killed
    try:
        server.start()
        app_id = server.call("POST", "/api/apps/create", {"name": app_name, "gitRepository": web_repo.url, "port": 3000, "publicPort": free_port(), "stabilizationSeconds": 1})["data"]["id"]  # fmt: skip
        server.call("PUT", "/api/apps/github/update", {"appId": app_id, "repository": "acme/web"})
        queued = server.call("POST", "/api/deployment/add", {"appId": app_id})

        def finished() -> dict[str, Any] | None:
            row = {d["id"]: d for d in server.deployments(app_id)}[queued["id"]]
            return row if row["status"] in FINAL else None

        assert wait_until(finished, 90, "the deployment")["status"] == "success"
        fake.wait_for(lambda seen: len(seen) >= 2, 30)  # it has been trying
        server.kill()
        db = sqlite3.connect(tmp_path / "data" / "fogbank.db")
        pending = db.execute(
            "SELECT COUNT(*) FROM outbox_message WHERE state = 'pending'"
        ).fetchone()[0]
        db.close()
        assert pending >= 5  # queued, four stages, success: all still to send
        with fake.lock:
            fake.canned.clear()  # GitHub is back
        tried = len(fake.seen())
        server.start()
        sha = queued["commit_hash"]
        seen = fake.wait_for(
            lambda s: any(r.status == 201 and r.json()["state"] == "success" for r in s), 60
        )
        delivered = [r.json() for r in seen[tried:] if r.status == 201]
        assert [d["state"] for d in delivered][-1] == "success"
        assert delivered[0]["description"] == "Queued as deployment #1"
        assert len(delivered) == pending and all(
            r.path == f"/repos/acme/web/statuses/{sha}" for r in seen
        )
        db = sqlite3.connect(tmp_path / "data" / "fogbank.db")
        states = db.execute("SELECT state, COUNT(*) FROM outbox_message GROUP BY state").fetchall()
        db.close()
        assert states == [("delivered", pending)]
        assert server.terminate() == 0
    finally:
        server.stop_quietly()
