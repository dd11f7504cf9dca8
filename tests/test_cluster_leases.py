"""Instance leases and the upkeep leader on a real database (SQLite and PostgreSQL): heartbeat
rows, which instances count as dead, the compare-and-set leader lease, and takeover of a dead
instance's in-flight work exactly once."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from controller.cluster import leases
from controller.cluster.member import UPKEEP_LEASE, Member
from controller.config import ClusterSettings, Settings, StorageSettings
from controller.deploy.progress import Tracker
from controller.deploy.queue import CommitRef, claim_next, enqueue, fail_interrupted
from controller.errors import Conflict
from controller.events.bus import EventBus
from controller.events.deployment_logs import DeploymentLogs
from controller.notify.notices import Notices
from controller.store.cluster import Instance, Lease
from controller.store.models import App, Deployment, Stage, Status, Trigger
from controller.store.timefmt import utcnow
from controller.telemetry.metrics import Metrics

SHA = "b" * 40
pytestmark = pytest.mark.both_backends


async def expire(name: str) -> None:
    """The instance's lease ran out (as if it stopped beating a lease ago)."""
    await Instance.filter(name=name).update(lease_until=utcnow() - timedelta(seconds=1))


async def claimed_by(instance: str, app_name: str) -> Deployment:
    app = await App.create(name=app_name)
    await enqueue(app, CommitRef(SHA), Trigger.MANUAL)
    claim = await claim_next(set(), instance)
    assert claim is not None and claim.deployment.app_id == app.id
    return claim.deployment


async def test_a_claim_records_its_instance(db: None) -> None:
    deployment = await claimed_by("alpha", "one")
    await deployment.refresh_from_db()
    assert deployment.status is Status.BUILDING and deployment.instance == "alpha"


async def test_renew_fails_once_another_process_took_the_name(db: None) -> None:
    await leases.register("alpha", "first", 30)
    assert await leases.renew("alpha", "first", 30)
    await leases.register("alpha", "second", 30)  # a restart of alpha
    assert not await leases.renew("alpha", "first", 30)
    assert await leases.renew("alpha", "second", 30)


async def test_only_instances_without_a_live_lease_are_dead(db: None) -> None:
    await leases.register("alpha", "t1", 30)
    await leases.register("beta", "t2", 30)
    await claimed_by("alpha", "one")
    await claimed_by("beta", "two")
    await claimed_by("gamma", "three")  # no lease row at all
    assert await leases.dead_holders("beta") == ["gamma"]
    await expire("alpha")
    assert await leases.dead_holders("beta") == ["alpha", "gamma"]
    # Its own work is never another's to take over, expired or not.
    await expire("beta")
    assert await leases.dead_holders("beta") == ["alpha", "gamma"]
    await leases.release("alpha", "t1")
    assert await leases.dead_holders("gamma") == ["alpha", "beta"]


async def test_two_takeovers_fail_each_deployment_once(db: None) -> None:
    dead = [await claimed_by("alpha", f"app-{n}") for n in range(6)]
    alive = await claimed_by("beta", "other")
    results = await asyncio.gather(*[fail_interrupted(["alpha"], "gone") for _ in range(4)])
    failed = sorted(d.id for result in results for d in result)
    assert failed == sorted(d.id for d in dead)
    for deployment in dead:
        await deployment.refresh_from_db()
        assert (deployment.status, deployment.error_message) == (Status.FAILED, "gone")
    await alive.refresh_from_db()
    assert alive.status is Status.BUILDING


async def test_the_upkeep_lease_has_one_holder_until_it_runs_out(db: None) -> None:
    holders = await asyncio.gather(*[leases.hold("upkeep", f"i{n}", 30) for n in range(8)])
    winners = [f"i{n}" for n, until in enumerate(holders) if until is not None]
    assert len(winners) == 1
    leader = winners[0]
    other = "i1" if leader != "i1" else "i2"
    assert await leases.hold("upkeep", other, 30) is None
    assert await leases.hold("upkeep", leader, 30) is not None  # renewed by its holder
    await Lease.filter(name="upkeep").update(lease_until=utcnow() - timedelta(seconds=1))
    assert await leases.hold("upkeep", other, 30) is not None
    assert await leases.hold("upkeep", leader, 30) is None
    assert (await Lease.get(name="upkeep")).holder == other


async def test_members_hand_over_leadership_and_work(db: None) -> None:
    taken: list[list[str]] = []

    async def take_over(holders: list[str]) -> None:
        taken.append(holders)
        await fail_interrupted(holders, "gone")

    settings = ClusterSettings(lease_seconds=30, heartbeat_seconds=10)
    alpha = Member("alpha", settings, take_over)
    beta = Member("beta", settings, take_over)
    await alpha.join()
    await beta.join()
    assert alpha.leads() and not beta.leads()
    running = await claimed_by("alpha", "one")
    await beta.beat()
    assert not beta.leads() and taken == []  # alpha's lease is live: nothing is touched
    await running.refresh_from_db()
    assert running.status is Status.BUILDING
    await expire("alpha")
    await Lease.filter(name=UPKEEP_LEASE).update(lease_until=utcnow() - timedelta(seconds=1))
    await beta.beat()
    assert beta.leads() and taken == [["alpha"]]
    assert (await Deployment.get(id=running.id)).status is Status.FAILED
    await beta.stop()  # hands the lease back: alpha leads again at its next beat
    await leases.register("alpha", "restarted", 30)
    assert await leases.hold(UPKEEP_LEASE, "alpha", 30) is not None


def test_the_default_instance_name_follows_the_data_dir(tmp_path: Path) -> None:
    def named(data_dir: Path, **cluster: object) -> str:
        return Settings(
            storage=StorageSettings(data_dir=data_dir),
            cluster=ClusterSettings.model_validate(cluster),
        ).instance_name

    assert named(tmp_path / "one") == named(tmp_path / "one")  # a restart keeps its name
    assert named(tmp_path / "one") != named(tmp_path / "two")
    assert named(tmp_path / "one", instance="edge-1") == "edge-1"
    with pytest.raises(ValidationError, match="at most half"):
        ClusterSettings(lease_seconds=3, heartbeat_seconds=2)
    with pytest.raises(ValidationError):
        ClusterSettings(instance="has space")


async def test_a_run_taken_over_elsewhere_stops_writing_its_row(db: None, tmp_path: Path) -> None:
    """An instance whose lease lapsed while it ran a deployment (another failed it meanwhile):
    its next stage refuses to start and its final status does not overwrite the row."""
    deployment = await claimed_by("alpha", "one")
    bus = EventBus()
    tracker = Tracker(deployment, DeploymentLogs(tmp_path / "logs", bus), bus,
                      Notices(Settings()), Metrics())  # fmt: skip
    await tracker.enter(Stage.CLONING_REPO, "Cloning")
    assert [d.id for d in await fail_interrupted(["alpha"], "gone")] == [deployment.id]
    with pytest.raises(Conflict) as refused:
        await tracker.enter(Stage.BUILDING_IMAGE, "Building")
    assert refused.value.code == "TAKEN_OVER"
    await tracker.fail(refused.value.message)
    stored = await Deployment.get(id=deployment.id)
    assert (stored.status, stored.stage, stored.error_message) == (
        Status.FAILED, Stage.CLONING_REPO, "gone"
    )  # fmt: skip
