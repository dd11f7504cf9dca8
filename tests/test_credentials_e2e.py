"""A repository credential given in gitRepository goes nowhere but to the git host: a real
`fogbank serve` deploys (real Docker build) from a loopback HTTPS git host (git http-backend
behind Basic auth, playing GitHub, tests/support/git_hosts.py) with
`https://<user>:<token>@.../team/app.git`, and not one byte of the user, the token or their Basic
encoding is in a viewer's getAll/getById, any WebSocket frame, the deployment log (API and file),
an error message, the server's own log, or the database file."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.support.git_hosts import GitHost, Tls, git, make_tls, serving
from tests.support.ports import free_port
from tests.support.repos import make_web_repo
from tests.support.server import Server, cli, prepare_server, wait_until

pytestmark = pytest.mark.slow

USER = "fbk-e2e-user"
TOKEN = "ghp_E2eT0kenNeverShown9f3a"
BASIC = "Basic " + base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()
CREDENTIAL_BYTES = (USER, TOKEN, BASIC.split()[1])


@pytest.fixture
def tls(tmp_path: Path) -> Tls:
    return make_tls(tmp_path / "tls")


@pytest.fixture
def server(tmp_path: Path, tls: Tls, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    # git in the server's children trusts the loopback host's certificate.
    monkeypatch.setenv("GIT_SSL_CAINFO", str(tls.cert))
    (tmp_path / "fogbank").mkdir()
    found = prepare_server(tmp_path / "fogbank")
    try:
        yield found
    finally:
        found.stop_quietly()


def clean(where: str, text: str | bytes) -> None:
    data = text.encode() if isinstance(text, str) else text
    for secret in CREDENTIAL_BYTES:
        assert secret.encode() not in data, f"{secret!r} found in {where}"


async def frames_until_closed(url: str, token: str) -> list[str]:
    frames: list[str] = []
    async with connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        try:
            async with asyncio.timeout(240):
                while True:
                    frame = await ws.recv()
                    frames.append(frame if isinstance(frame, str) else frame.decode())
        except ConnectionClosed:
            pass
    return frames


def test_a_repository_credential_shows_in_no_answer_frame_or_log(
    tmp_path: Path, server: Server, tls: Tls, app_name: str, docker_client: docker.DockerClient
) -> None:
    repo = make_web_repo(tmp_path / "repo")
    served = tmp_path / "served"
    (served / "team").mkdir(parents=True)
    git(tmp_path, "clone", "--quiet", "--bare", str(repo.path), str(served / "team" / "app.git"))
    cli("user", "create", "--username", "viewer", "--role", "viewer", "--password-stdin",
        config=server.config, stdin="a long password\n")  # fmt: skip
    viewer = cli("token", "create", "--username", "viewer", "--name", "v", config=server.config)
    with serving(GitHost(backend_root=served, authorization=BASIC), tls) as host:
        server.start()
        url = host.url("team/app.git", userinfo=f"{USER}:{TOKEN}@")
        body = {"name": app_name, "gitRepository": url, "port": 3000, "publicPort": free_port()}
        created = server.call("POST", "/api/apps/create", body)
        app_id = created["data"]["id"]
        first = server.call("POST", "/api/deployment/add", {"appId": app_id})
        ws = f"ws://127.0.0.1:{server.port}/ws/deployment/logs?deploymentId={first['id']}"
        frames = asyncio.run(frames_until_closed(ws, viewer))
        done = wait_until(
            lambda: next((d for d in server.deployments(app_id) if d["status"] == "success"), None),
            60,
            "the deployment's success",
        )
        assert done["id"] == first["id"]
        assert host.seen and all(seen.authorization == BASIC for seen in host.seen)

        # A wrong token: the fetch fails and its error message is shown (422).
        wrong = host.url("team/app.git", userinfo=f"{USER}:wrong-{TOKEN}@")
        server.call("PUT", "/api/apps/update", {"appId": app_id, "gitRepository": wrong})
        failed = httpx.post(
            f"{server.base}/api/deployment/add",
            json={"appId": app_id},
            headers={"Authorization": f"Bearer {server.token}"},
            timeout=60,
        )
        as_viewer = {"Authorization": f"Bearer {viewer}"}
        answers = [
            httpx.get(f"{server.base}/api/apps/getAll", headers=as_viewer, timeout=30),
            httpx.post(
                f"{server.base}/api/apps/getById", json={"appId": app_id}, headers=as_viewer
            ),
            httpx.get(f"{server.base}/api/deployment/logs/{first['id']}", headers=as_viewer),
            httpx.post(
                f"{server.base}/api/deployment/getByAppId",
                json={"appId": app_id},
                headers=as_viewer,
            ),
        ]
        server.stop()

    # The add names the branch head with ls-remote, which the wrong token fails.
    assert failed.status_code == 422
    assert "cannot list the branches of https://127.0.0.1:" in failed.text
    assert [answer.status_code for answer in answers] == [200] * 4
    shown = answers[1].json()["data"]
    assert shown["git_repository"] == host.url("team/app.git")
    assert shown["git_has_credentials"] is True
    assert any('"type": "log"' in frame for frame in frames) and len(frames) > 10
    assert json.loads(frames[-1])["data"]["status"] == "success"
    data = server.config.parent / "data"
    logs = sorted((data / "logs").rglob("*.log"))
    assert logs, "no deployment log on disk"
    clean("the 422 answer", failed.text)
    for answer in answers:
        clean(str(answer.request.url), answer.text)
    clean("the WebSocket frames", "\n".join(frames))
    for path in logs:
        clean(str(path), path.read_bytes())
    clean("the server's log", server.log_path.read_bytes())
    for path in data.glob("fogbank.db*"):
        clean(str(path), path.read_bytes())
