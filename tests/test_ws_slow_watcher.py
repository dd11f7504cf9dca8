"""WebSocket back-pressure: a watcher that falls a whole queue behind is dropped with 1013 (it
resumes with ?after=), never left holding an ever-growing backlog or silently missing lines; a
watcher that keeps up gets every line and the normal close."""

from __future__ import annotations

import json
from typing import Any

import pytest
from quart import Quart
from quart.testing import QuartClient
from quart.testing.connections import WebsocketDisconnectError

from controller.deploy.progress import status_data
from controller.events.bus import Event
from controller.store.models import App, Deployment, Status
from tests.support.api import services_of, unique_name

pytestmark = pytest.mark.slow

QUEUE_SIZE = 10_000  # EventBus's default bound per watcher


async def building_deployment() -> Deployment:
    app = await App.create(name=unique_name(), git_repository="https://example.com/r.git")
    return await Deployment.create(app=app, deployment_number=1, status=Status.BUILDING)


def publish_lines(app: Quart, deployment_id: int, count: int) -> None:
    # All at once, without yielding: the handler can take none of them out meanwhile, just as
    # when its sends are blocked on a watcher that stopped reading.
    bus = services_of(app).controller.bus
    for seq in range(1, count + 1):
        bus.publish(deployment_id, Event("log", {"line": f"line {seq}", "seq": seq}))


async def frames_until_closed(
    client: QuartClient, headers: dict[str, str], deployment_id: int, publish: Any
) -> tuple[list[dict[str, Any]], int]:
    frames: list[dict[str, Any]] = []
    path = f"/ws/deployment/logs?deploymentId={deployment_id}"
    async with client.websocket(path, headers=headers) as ws:
        frames.append(json.loads(await ws.receive()))  # the status frame: subscribed by now
        await publish()
        with pytest.raises(WebsocketDisconnectError) as closed:
            while True:
                frames.append(json.loads(await ws.receive()))
    return frames, int(closed.value.args[0])


async def test_a_watcher_a_whole_queue_behind_is_closed_1013(
    app: Quart, client: QuartClient, admin: dict[str, str]
) -> None:
    deployment = await building_deployment()

    async def overflow_then_finish() -> None:
        publish_lines(app, deployment.id, QUEUE_SIZE + 1)
        # Finished meanwhile: a close 1000 now would hide that it never got the last lines.
        deployment.status = Status.SUCCESS
        await deployment.save()
        services_of(app).controller.bus.publish(
            deployment.id, Event("status", status_data(deployment))
        )

    frames, code = await frames_until_closed(client, admin, deployment.id, overflow_then_finish)
    assert code == 1013
    seqs = [f["data"]["seq"] for f in frames if f["type"] == "log"]
    assert seqs == list(range(1, len(seqs) + 1))  # what it got is in order; it resumes after
    assert services_of(app).controller.bus.subscriber_count(deployment.id) == 0


async def test_a_watcher_within_its_queue_gets_every_line_and_close_1000(
    app: Quart, client: QuartClient, admin: dict[str, str]
) -> None:
    deployment = await building_deployment()

    async def burst_then_finish() -> None:
        publish_lines(app, deployment.id, QUEUE_SIZE - 1)
        deployment.status = Status.SUCCESS
        await deployment.save()
        services_of(app).controller.bus.publish(
            deployment.id, Event("status", status_data(deployment))
        )

    frames, code = await frames_until_closed(client, admin, deployment.id, burst_then_finish)
    assert code == 1000
    seqs = [f["data"]["seq"] for f in frames if f["type"] == "log"]
    assert seqs == list(range(1, QUEUE_SIZE))
    assert frames[-1]["type"] == "status" and frames[-1]["data"]["status"] == "success"
