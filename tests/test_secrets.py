"""A secret env value never shows: not in a deployment log, an API answer, a WebSocket frame, nor
the image's history or config. The test app prints it at run time (a failing health gate copies
its output into the deploy log) and its build prints a non-secret build arg, which is not masked:
only secrets are, and secrets are refused as build args."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import docker
import pytest
from quart import Quart
from quart.testing import QuartClient
from quart.testing.connections import WebsocketDisconnectError

from controller.events.deployment_logs import MASK
from controller.store.models import Deployment, Status
from tests.support.api import create_web_app, wait_terminal
from tests.support.repos import BUSYBOX, GitRepo

pytestmark = pytest.mark.slow

BUILD = """FROM scratch
COPY busybox /bin/busybox
COPY www /www
ARG SHOWN_ARG
RUN ["/bin/busybox", "sh", "-c", "echo build-arg=$SHOWN_ARG; echo build-secret=[$APP_SECRET]"]
"""
# Prints the secret on stdout and stderr, then serves on the wrong port: the health gate fails.
PRINT_AND_FAIL = 'CMD ["/bin/busybox", "sh", "-c", "echo run-secret=$APP_SECRET; echo err-secret=$APP_SECRET >&2; echo \\"$PEM_KEY\\"; exec /bin/busybox httpd -f -p 3999 -h /www"]\n'
# Passes the health gate, then dies inside the safety window, its last words being the secret:
# they reach the deployment's error_message and the WebSocket's error frame.
SERVE_THEN_CRASH = 'CMD ["/bin/busybox", "sh", "-c", "/bin/busybox httpd -p 3000 -h /www; sleep 2; echo crash-secret=$APP_SECRET; exit 3"]\n'
PRINT_AND_SERVE = 'CMD ["/bin/busybox", "sh", "-c", "echo run-secret=$APP_SECRET; exec /bin/busybox httpd -f -p 3000 -h /www"]\n'


def secret_repo(path: Path) -> GitRepo:
    path.mkdir(parents=True)
    repo = GitRepo(path)
    repo.git("init", "-q", "-b", "main")
    shutil.copy(BUSYBOX, path / "busybox")
    repo.commit("prints its secret", {"Dockerfile": BUILD + PRINT_AND_FAIL, "www/index.html": "ok"})
    return repo


async def watch(client: QuartClient, headers: dict[str, str], deployment_id: int) -> list[str]:
    """Every frame of the log socket until the server closes it."""
    frames: list[str] = []
    path = f"/ws/deployment/logs?deploymentId={deployment_id}"
    async with client.websocket(path, headers=headers) as ws:
        try:
            while True:
                frames.append(str(await ws.receive()))
        except WebsocketDisconnectError as closed:
            assert closed.args[0] == 1000
    assert frames
    return frames


async def deploy_watched(
    app: Quart, client: QuartClient, headers: dict[str, str], app_id: int
) -> tuple[int, list[str]]:
    added = await client.post("/api/deployment/add", json={"appId": app_id}, headers=headers)
    deployment_id: int = (await added.get_json())["id"]
    live = await watch(client, headers, deployment_id)
    await wait_terminal(app, deployment_id)
    return deployment_id, live


async def test_a_secret_appears_nowhere(
    app: Quart,
    client: QuartClient,
    admin: dict[str, str],
    tmp_path: Path,
    app_name: str,
    docker_client: docker.DockerClient,
) -> None:
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    # A multi-line secret with a trailing newline, as a pasted key file is: the container prints
    # it line by line, so each of its lines must be masked on its own.
    key_body = uuid.uuid4().hex * 2
    pem = f"-----BEGIN TEST KEY-----\n{key_body}\n-----END TEST KEY-----\n"
    repo = secret_repo(tmp_path / "repo")
    made = await create_web_app(client, admin, app_name, repo, healthTimeoutSeconds=2)
    app_id = made["id"]
    answers: list[str] = []

    async def call(method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = await client.open(path, method=method, json=body, headers=admin)
        answers.append(await response.get_data(as_text=True))
        return response

    env = {"appId": app_id, "key": "APP_SECRET", "value": secret, "isSecret": True}
    refused = await call("POST", "/api/apps/envs/create", {**env, "isBuildArg": True})
    assert refused.status_code == 422
    assert "cannot be a build arg" in (await refused.get_json())["message"]
    created = await call("POST", "/api/apps/envs/create", env)
    assert (await created.get_json())["data"]["value"] == MASK
    env_id = (await created.get_json())["data"]["id"]
    arg = {"appId": app_id, "key": "SHOWN_ARG", "value": "visible-arg", "isBuildArg": True}
    assert (await call("POST", "/api/apps/envs/create", arg)).status_code == 201
    pem_env = {"appId": app_id, "key": "PEM_KEY", "value": pem, "isSecret": True}
    assert (await call("POST", "/api/apps/envs/create", pem_env)).status_code == 201
    flip = await call("PUT", "/api/apps/envs/update", {"envId": env_id, "isBuildArg": True})
    assert flip.status_code == 422

    failed_id, failed_frames = await deploy_watched(app, client, admin, app_id)
    repo.commit("crashes after the switch", {"Dockerfile": BUILD + SERVE_THEN_CRASH})
    await call("PUT", "/api/apps/update", {"appId": app_id, "stabilizationSeconds": 15})
    crashed_id, crashed_frames = await deploy_watched(app, client, admin, app_id)
    repo.commit("serves", {"Dockerfile": BUILD + PRINT_AND_SERVE})
    await call("PUT", "/api/apps/update", {"appId": app_id, "stabilizationSeconds": 1})
    served_id, served_frames = await deploy_watched(app, client, admin, app_id)

    failed_log = await (await call("GET", f"/api/deployment/logs/{failed_id}")).get_data(
        as_text=True
    )
    # The mechanism at work: the container printed the secret and the log holds the mask; the
    # non-secret build arg shows; the secret never reached the build.
    assert f"run-secret={MASK}" in failed_log and f"err-secret={MASK}" in failed_log
    assert "build-arg=visible-arg" in failed_log
    assert "build-secret=[]" in failed_log
    assert (await Deployment.get(id=failed_id)).status is Status.FAILED
    crashed = await Deployment.get(id=crashed_id)
    assert crashed.status is Status.FAILED
    assert f"crash-secret={MASK}" in (crashed.error_message or "")
    assert (await Deployment.get(id=served_id)).status is Status.SUCCESS

    for path in ("/api/apps/getAll", f"/api/apps/container/status?appId={app_id}"):
        await call("GET", path)
    for path in ("/api/apps/getById", "/api/apps/envs/get", "/api/deployment/getByAppId"):
        await call("POST", path, {"appId": app_id})
    ids = (failed_id, crashed_id, served_id)
    for deployment_id in ids:
        await call("GET", f"/api/deployment/logs/{deployment_id}")
        response = await client.get(
            f"/api/deployment/logs/{deployment_id}",
            headers={**admin, "Accept": "application/json"},
        )
        answers.append(await response.get_data(as_text=True))
    replayed = [await watch(client, admin, i) for i in ids]

    everything = "\n".join(
        answers
        + failed_frames
        + crashed_frames
        + served_frames
        + [f for frames in replayed for f in frames]
    )
    assert MASK in everything
    assert secret not in everything
    assert key_body not in everything

    images = docker_client.images.list(filters={"label": f"fogbank.app={app_name}"})
    assert images
    for image in images:
        layers = json.dumps(image.history()) + json.dumps(image.attrs["Config"])
        assert "visible-arg" in layers or "SHOWN_ARG" in layers  # build args are in history
        assert secret not in layers and key_body not in layers
