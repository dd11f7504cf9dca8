"""Deployment logs and events shared between instances on one PostgreSQL: what one instance's
bus publishes is written to the database and announced with NOTIFY, and another instance's relay
republishes it, in order, exactly once, and re-listens (with a `resync`) when its connection is
lost. Two buses with their own announcer and relay in one process stand for two instances: the
connections and the database are real."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tortoise import connections

from controller.config import Settings
from controller.deploy.queue import CommitRef, enqueue
from controller.events import shared_log
from controller.events.bus import Event, Subscription
from controller.events.deployment_logs import DeploymentLogs
from controller.events.relay import Relay
from controller.events.shared_bus import Announcer, SharedBus
from controller.events.sharing import EventSharing
from controller.store.db import close_database, open_database
from controller.store.models import App, Deployment, Trigger
from tests.support.sealing import fresh_sealer

pytestmark = pytest.mark.parametrize("db_backend", ["postgres"], indirect=True)

WAIT_SECONDS = 20.0


@dataclass
class Instance:
    bus: SharedBus
    announcer: Announcer
    relay: Relay


@pytest.fixture
async def instances(database_url: str) -> AsyncIterator[tuple[Instance, Instance]]:
    await open_database(database_url, fresh_sealer())
    made: list[Instance] = []
    for _ in range(2):
        bus = SharedBus()
        made.append(Instance(bus, Announcer(bus), Relay(database_url, bus)))
    for instance in made:
        instance.announcer.start()
        instance.relay.start()
    try:
        for instance in made:
            await asyncio.wait_for(instance.relay.connected.wait(), WAIT_SECONDS)
        yield made[0], made[1]
    finally:
        for instance in made:
            await instance.announcer.stop(5.0)
            await instance.relay.stop()
        await close_database()


async def new_deployment_id() -> int:
    app = await App.create(name=f"shared{id(object())}")
    return (await enqueue(app, CommitRef("a" * 40), Trigger.MANUAL)).id


async def take_until_final(subscription: Subscription) -> list[Event]:
    taken: list[Event] = []
    async with asyncio.timeout(WAIT_SECONDS):
        while not taken or taken[-1].data.get("status") != "success":
            await subscription.queue.wait()
            taken.extend(subscription.queue.take_all())
    return taken


def status(name: str) -> Event:
    return Event("status", {"status": name, "message": name})


async def test_lines_and_statuses_reach_the_other_instance_in_order_once(
    instances: tuple[Instance, Instance], tmp_path: Path
) -> None:
    a, b = instances
    deployment_id = await new_deployment_id()
    logs = DeploymentLogs(tmp_path / "a", a.bus)
    with b.bus.subscribe(deployment_id) as on_b, a.bus.subscribe(deployment_id) as on_a:
        a.bus.publish(deployment_id, status("building"))
        for number in range(1, 1201):
            logs.append(deployment_id, f"line {number}")
            if number % 400 == 0:
                await asyncio.sleep(0)  # some batches on their own, some together
        a.bus.publish(deployment_id, status("success"))
        seen_on_b = await take_until_final(on_b)
        await asyncio.sleep(0.5)  # time for an echo of A's own notices, which must not come
        seen_on_a = on_a.queue.take_all()
    for seen in (seen_on_b, seen_on_a):
        assert [e.type for e in seen] == ["status"] + ["log"] * 1200 + ["status"]
        assert [e.data["seq"] for e in seen[1:-1]] == list(range(1, 1201))
        assert [e.data["line"] for e in seen[1:-1]] == [f"line {n}" for n in range(1, 1201)]
    assert [e.data["status"] for e in (seen_on_b[0], seen_on_b[-1])] == ["building", "success"]


async def test_another_instance_reads_the_log_from_the_database(
    instances: tuple[Instance, Instance], tmp_path: Path, settings: Settings
) -> None:
    a, _ = instances
    deployment_id = await new_deployment_id()
    DeploymentLogs(tmp_path / "a", a.bus).append(
        deployment_id, "\n".join(f"line {n}" for n in range(1, 2501))
    )
    await a.announcer.stop(10.0)  # everything written
    # B has no file of this deployment: pages of the database, bounded, in order.
    sharing = EventSharing(settings.database_url, tmp_path / "b", None)  # no file of it here
    pages = [page async for page in sharing.chunks(deployment_id, 1000)]
    assert [len(page) for page in pages] == [1000, 500]
    assert [seq for page in pages for seq, _ in page] == list(range(1001, 2501))
    assert (await sharing.text(deployment_id)).splitlines() == [f"line {n}" for n in range(1, 2501)]
    tail = "\n".join(f"line {n}" for n in range(2491, 2501))
    assert await sharing.tail(deployment_id, 10) == (tail, 2490)


async def test_a_lost_listening_connection_is_reopened_and_watchers_resync(
    instances: tuple[Instance, Instance],
) -> None:
    a, b = instances
    deployment_id = await new_deployment_id()
    with b.bus.subscribe(deployment_id) as on_b:
        b.relay.connected.clear()
        killed = await connections.get("default").execute_query_dict(
            "SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND query ILIKE 'LISTEN%'"
        )
        assert len(killed) == 2  # A's and B's listening connections
        await asyncio.wait_for(b.relay.connected.wait(), WAIT_SECONDS)
        assert b.relay.connections == 2
        a.bus.publish(deployment_id, status("success"))
        seen = await take_until_final(on_b)
    assert [e.type for e in seen] == ["resync", "status"]


async def test_an_event_too_long_for_a_notice_is_cut_not_lost(
    instances: tuple[Instance, Instance],
) -> None:
    a, b = instances
    deployment_id = await new_deployment_id()
    long_error = "é" * 20_000  # 40 kB in UTF-8: five times what a NOTIFY may carry
    with b.bus.subscribe(deployment_id) as on_b, a.bus.subscribe(deployment_id) as on_a:
        a.bus.publish(deployment_id, Event("error", {"message": long_error}))
        a.bus.publish(deployment_id, status("success"))
        seen = await take_until_final(on_b)
        await asyncio.sleep(0.2)
        # The instance that had the error keeps it whole.
        assert on_a.queue.take_all()[0].data == {"message": long_error}
    assert [e.type for e in seen] == ["error", "status"]
    message = seen[0].data["message"]
    assert message.endswith("… [cut]") and long_error.startswith(message[: -len("… [cut]")])
    assert len(message.encode()) < shared_log.MAX_PAYLOAD_BYTES


async def test_a_line_whose_seq_is_taken_is_skipped_and_the_rest_still_flows(
    instances: tuple[Instance, Instance], tmp_path: Path
) -> None:
    """Two writers of one log (another instance failing this one's build at its start-up):
    the second line 1 is not shared, and does not block what follows."""
    a, b = instances
    deployment_id = await new_deployment_id()
    DeploymentLogs(tmp_path / "a", a.bus).append(deployment_id, "from a")
    await asyncio.sleep(0.5)
    with a.bus.subscribe(deployment_id) as on_a:
        DeploymentLogs(tmp_path / "b", b.bus).append(deployment_id, "from b")
        b.bus.publish(deployment_id, status("success"))
        seen = await take_until_final(on_a)
    # B's notice of line 1 is read back from the database: A's own line, never B's.
    assert [(e.type, e.data.get("line")) for e in seen] == [("log", "from a"), ("status", None)]
    lines = [line async for page in shared_log.pages(deployment_id) for line in page]
    assert lines == [(1, "from a")]


async def test_a_relay_far_behind_drops_its_notices_and_watchers_resync(
    instances: tuple[Instance, Instance], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Notices waiting to be relayed are bounded: past the bound they are dropped and the
    watchers read the database instead (here the bound is 0, so any notice waiting is past it)."""
    a, b = instances
    monkeypatch.setattr("controller.events.relay.MAX_WAITING_NOTICES", 0)
    deployment_id = await new_deployment_id()
    with b.bus.subscribe(deployment_id) as on_b:
        a.bus.publish(deployment_id, status("success"))
        async with asyncio.timeout(WAIT_SECONDS):
            await on_b.queue.wait()
        await asyncio.sleep(0.2)
        seen = on_b.queue.take_all()
    assert [e.type for e in seen] == ["resync"]


async def test_shared_lines_are_masked_and_go_with_their_deployment(
    instances: tuple[Instance, Instance], tmp_path: Path
) -> None:
    """A secret is masked before the line is written anywhere, the table too; deleting the
    deployment (retention, app deletion) deletes its lines."""
    a, _ = instances
    deployment_id = await new_deployment_id()
    logs = DeploymentLogs(tmp_path / "a", a.bus)
    logs.open(deployment_id, secrets=["hunter2-secret-value"])
    logs.append(deployment_id, "token=hunter2-secret-value done")
    await a.announcer.stop(10.0)
    lines = [line async for page in shared_log.pages(deployment_id) for line in page]
    assert lines == [(1, "token=******** done")]
    await Deployment.filter(id=deployment_id).delete()
    assert [page async for page in shared_log.pages(deployment_id)] == []


async def test_an_apps_watchers_hear_of_deployments_requested_on_another_instance(
    instances: tuple[Instance, Instance],
) -> None:
    a, b = instances
    app = await App.create(name="feed")
    with b.bus.subscribe_app(app.id) as on_b:
        a.bus.publish_app(app.id, Event("deployment", {"deploymentId": 7, "status": "pending"}))
        async with asyncio.timeout(WAIT_SECONDS):
            await on_b.queue.wait()
        seen = on_b.queue.take_all()
    assert [(e.type, e.data) for e in seen] == [
        ("deployment", {"deploymentId": 7, "status": "pending"})
    ]


async def test_an_instance_taking_over_a_log_continues_its_seqs(
    instances: tuple[Instance, Instance], tmp_path: Path
) -> None:
    """Takeover (controller/deploy/recovery.py) appends to a log another instance wrote: the
    log is first copied from the table, so the new line gets the next seq and reaches the
    table and the other instances' watchers."""
    a, b = instances
    deployment_id = await new_deployment_id()
    DeploymentLogs(tmp_path / "a", a.bus).append(deployment_id, "one\ntwo\nthree")
    await asyncio.sleep(0.5)
    logs_b = shared_log.SharedDeploymentLogs(tmp_path / "b", b.bus)
    with a.bus.subscribe(deployment_id) as on_a:
        await logs_b.adopt(deployment_id)
        logs_b.append(deployment_id, "ERROR: interrupted: instance a stopped answering")
        b.bus.publish(deployment_id, status("success"))
        seen = await take_until_final(on_a)
    assert [(e.type, e.data.get("seq")) for e in seen] == [("log", 4), ("status", None)]
    lines = [line async for page in shared_log.pages(deployment_id) for line in page]
    assert [seq for seq, _ in lines] == [1, 2, 3, 4]
    assert logs_b.read(deployment_id) == lines  # B's file holds the whole log
