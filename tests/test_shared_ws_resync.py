"""The deployment socket of an instance whose relay lost notices (its listening connection was
down while another instance wrote lines) catches up from the database when the relay listens
again: every line once, in order, then the final status. Instance A is a SharedBus with its
announcer in this process, on the same PostgreSQL database as the app under test (B)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as QuartClient

from controller.deploy.queue import CommitRef, enqueue
from controller.events import shared_log
from controller.events.bus import Event
from controller.events.deployment_logs import DeploymentLogs
from controller.events.shared_bus import Announcer, SharedBus
from controller.store.models import App, Deployment, Status, Trigger
from tests.support.api import services_of

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("db_backend", ["postgres"], indirect=True)]

WAIT_SECONDS = 20.0


@pytest.fixture
async def other_instance() -> AsyncIterator[SharedBus]:
    bus = SharedBus()
    announcer = Announcer(bus)
    announcer.start()
    yield bus
    await announcer.stop(5.0)


async def building_deployment() -> int:
    """A deployment another instance is building (not pending: this one's workers leave it)."""
    app = await App.create(name="resync")
    deployment = await enqueue(app, CommitRef("a" * 40), Trigger.MANUAL)
    await Deployment.filter(id=deployment.id).update(status=Status.BUILDING)
    return deployment.id


async def written(deployment_id: int, lines: int) -> None:
    """Until the database holds `lines` lines of the deployment."""
    async with asyncio.timeout(WAIT_SECONDS):
        while True:
            count = sum([len(page) async for page in shared_log.pages(deployment_id)])
            if count >= lines:
                return
            await asyncio.sleep(0.05)


async def test_a_socket_catches_up_after_its_relay_missed_notices(
    app: Quart,
    client: QuartClient,
    admin: dict[str, str],
    other_instance: SharedBus,
    tmp_path: Path,
) -> None:
    relay = services_of(app).controller.sharing.relay
    assert relay is not None
    await asyncio.wait_for(relay.connected.wait(), WAIT_SECONDS)
    deployment_id = await building_deployment()
    logs = DeploymentLogs(tmp_path / "a", other_instance)
    frames: list[dict[str, Any]] = []

    async def receive_logs(up_to: int) -> None:
        async with asyncio.timeout(WAIT_SECONDS):
            while not frames or frames[-1].get("data", {}).get("seq") != up_to:
                frames.append(json.loads(await ws.receive()))

    path = f"/ws/deployment/logs?deploymentId={deployment_id}"
    async with client.websocket(path, headers=admin) as ws:
        frames.append(json.loads(await ws.receive()))  # the status frame
        for number in range(1, 11):
            logs.append(deployment_id, f"line {number}")
        await receive_logs(10)  # live, through the relay

        await relay.stop()  # notices sent now reach nobody here
        for number in range(11, 21):
            logs.append(deployment_id, f"line {number}")
        await written(deployment_id, 20)
        relay.start()
        await asyncio.wait_for(relay.connected.wait(), WAIT_SECONDS)
        assert relay.connections == 2
        await receive_logs(20)  # from the database, on the relay's resync

        for number in range(21, 26):
            logs.append(deployment_id, f"line {number}")
        await Deployment.filter(id=deployment_id).update(status=Status.SUCCESS)
        other_instance.publish(deployment_id, Event("status", {"status": "success"}))
        async with asyncio.timeout(WAIT_SECONDS):
            while frames[-1]["type"] != "status" or frames[-1]["data"]["status"] != "success":
                frames.append(json.loads(await ws.receive()))
    seqs = [f["data"]["seq"] for f in frames if f["type"] == "log"]
    assert seqs == list(range(1, 26))
    assert [f["data"]["line"] for f in frames if f["type"] == "log"][-1] == "line 25"


async def test_a_socket_that_missed_the_end_sends_the_rest_before_the_final_status(
    app: Quart,
    client: QuartClient,
    admin: dict[str, str],
    other_instance: SharedBus,
    tmp_path: Path,
) -> None:
    """No notice comes at all (the relay is stopped): the socket's periodic re-check finds the
    deployment finished and sends the lines it has not sent, then the final status."""
    relay = services_of(app).controller.sharing.relay
    assert relay is not None
    deployment_id = await building_deployment()
    logs = DeploymentLogs(tmp_path / "a", other_instance)
    for number in range(1, 6):
        logs.append(deployment_id, f"line {number}")
    await written(deployment_id, 5)
    frames: list[dict[str, Any]] = []
    path = f"/ws/deployment/logs?deploymentId={deployment_id}"
    async with client.websocket(path, headers=admin) as ws:
        async with asyncio.timeout(WAIT_SECONDS):
            while len(frames) < 6:  # the status frame and the backlog
                frames.append(json.loads(await ws.receive()))
        await relay.stop()
        for number in range(6, 11):
            logs.append(deployment_id, f"line {number}")
        await written(deployment_id, 10)
        await Deployment.filter(id=deployment_id).update(status=Status.SUCCESS)
        async with asyncio.timeout(WAIT_SECONDS):
            while frames[-1]["type"] != "status" or frames[-1]["data"]["status"] != "success":
                frames.append(json.loads(await ws.receive()))
    assert [f["data"]["seq"] for f in frames if f["type"] == "log"] == list(range(1, 11))
