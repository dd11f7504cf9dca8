"""What the image, template and volume tests share: a catalogue file that points the postgres
template at the test registry, a recording API caller (to show a secret is in no answer), the
frames of a deployment's socket, and commands run in a container."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
from quart.testing import QuartClient
from quart.testing.connections import WebsocketDisconnectError

from tests.support.registry import Registry

PG_DATA = "/var/lib/postgresql/data"
WATCH_TIMEOUT_SECONDS = 120


def write_catalogue(path: Path, registry: Registry, run_id: str) -> Path:
    """A `templates.catalogue_file` that overrides the packaged postgres entry: the stand-in
    image of this run in the test registry, and a health command run in the container."""
    path.write_text(
        "[postgres]\n"
        f'image = "{registry.host}/{run_id}/postgres"\n'
        'tag = "1"\n'
        f'health_command = ["/bin/busybox", "test", "-f", "{PG_DATA}/boots"]\n'
    )
    return path


@dataclass
class Api:
    """Calls the API with one set of headers and keeps the text of every answer."""

    client: QuartClient
    headers: dict[str, str]
    answers: list[str] = field(default_factory=list)

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        response = await self.client.open(path, method=method, json=body, headers=self.headers)
        text = await response.get_data(as_text=True)
        self.answers.append(text)
        return response.status_code, json.loads(text) if text.startswith(("{", "[")) else text

    async def ok(self, method: str, path: str, body: Any = None) -> Any:
        status, answer = await self.call(method, path, body)
        assert status in (200, 201), answer
        return answer

    async def data(self, method: str, path: str, body: Any = None) -> Any:
        return (await self.ok(method, path, body))["data"]


async def watch(api: Api, deployment_id: int) -> list[dict[str, Any]]:
    """Every frame of the deployment's socket until the server closes it (1000)."""
    frames: list[dict[str, Any]] = []
    path = f"/ws/deployment/logs?deploymentId={deployment_id}"
    async with api.client.websocket(path, headers=api.headers) as ws:
        try:
            async with asyncio.timeout(WATCH_TIMEOUT_SECONDS):
                while True:
                    raw = await ws.receive()
                    api.answers.append(str(raw))
                    frames.append(json.loads(raw))
        except WebsocketDisconnectError as closed:
            assert closed.args[0] == 1000
    return frames


def stages(frames: list[dict[str, Any]]) -> list[str]:
    """The stages the status frames went through, in order, each once."""
    seen: list[str] = []
    for frame in frames:
        stage = frame["data"].get("stage") if frame["type"] == "status" else None
        if stage and (not seen or seen[-1] != stage):
            seen.append(stage)
    return seen


def run_in(client: docker.DockerClient, container_id: str, script: str) -> str:
    """`sh -c script` in a running container (busybox); its output. Fails on a non-zero exit."""
    code, output = client.containers.get(container_id).exec_run(
        ["/bin/busybox", "sh", "-c", script]
    )
    assert isinstance(output, bytes)
    text = output.decode(errors="replace")
    assert code == 0, text
    return text
