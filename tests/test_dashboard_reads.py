"""What the dashboard reads and how it spells it, on real SQLite: each app with its active and
newest deployment and the status a person sees, history pages, the deployment to follow live,
who asked for a deployment, when each stage began, and the pages' wording (ages, durations,
triggers, stage timings, where to go after logging in)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from api.pages.present import age, duration, first_line, stage_timings, trigger_text
from api.pages.site import safe_next
from controller.apps.overview import app_summaries, app_summary, history, live_one
from controller.config import Settings
from controller.deploy.progress import Tracker
from controller.deploy.queue import CommitRef, NewDeployment, enqueue_many
from controller.events.bus import EventBus
from controller.events.deployment_logs import DeploymentLogs
from controller.notify.notices import Notices
from controller.store.models import App, Deployment, Stage, Status, Trigger
from controller.telemetry.metrics import Metrics

SHA = "b" * 40


async def add(app: App, status: Status, *, active: bool = False, by: str = "") -> Deployment:
    (made,) = await enqueue_many(
        [NewDeployment(app.id, CommitRef(SHA, "msg", "A <a@x>"), Trigger.MANUAL, requested_by=by)]
    )
    await Deployment.filter(id=made.id).update(status=status, is_active=active)
    return await Deployment.get(id=made.id)


async def test_each_app_with_its_active_and_newest_deployment(db: None) -> None:
    running = await App.create(name="b-running")
    await add(running, Status.SUCCESS, active=True)
    newest_failed = await add(running, Status.FAILED)
    failed = await App.create(name="c-failed")
    await add(failed, Status.FAILED)
    deploying = await App.create(name="a-deploying")
    await add(deploying, Status.BUILDING)
    stopped = await App.create(name="d-stopped", container_stopped=True)
    await add(stopped, Status.SUCCESS, active=True)
    await App.create(name="e-new")

    found = {s.app["name"]: s for s in await app_summaries()}
    assert list(found) == ["a-deploying", "b-running", "c-failed", "d-stopped", "e-new"]
    statuses = {name: s.status for name, s in found.items()}
    assert statuses == {
        "a-deploying": "deploying",
        "b-running": "running",  # the newest failed, the active one still serves
        "c-failed": "failed",
        "d-stopped": "stopped",
        "e-new": "not deployed",
    }
    assert found["b-running"].newest is not None
    assert found["b-running"].newest["id"] == newest_failed.id
    assert found["b-running"].active is not None and found["b-running"].active["is_active"]
    one = await app_summary(running.id)
    assert one is not None and one.status == "running"
    assert await app_summary(9999) is None


async def test_history_pages_newest_first_and_the_one_to_follow(db: None) -> None:
    app = await App.create(name="web")
    made = [await add(app, Status.SUCCESS) for _ in range(5)]
    first = await history(app.id, 2)
    assert [row["id"] for row in first] == [made[4].id, made[3].id]
    older = await history(app.id, 2, before=first[-1]["id"])
    assert [row["id"] for row in older] == [made[2].id, made[1].id]
    assert live_one(first) is None
    pending = await add(app, Status.PENDING)
    assert live_one(await history(app.id, 10)) == (await history(app.id, 1))[0]
    await Deployment.filter(id=made[4].id).update(status=Status.BUILDING)
    followed = live_one(await history(app.id, 10))
    assert followed is not None and followed["id"] == made[4].id  # running beats waiting
    assert pending.status is Status.PENDING


async def test_who_asked_and_when_each_stage_began_are_kept(db: None, tmp_path: Path) -> None:
    app = await App.create(name="web")
    deployment = await add(app, Status.PENDING, by="alice")
    assert deployment.requested_by == "alice" and deployment.stage_times == {}
    bus = EventBus()
    logs = DeploymentLogs(tmp_path / "logs", bus)
    tracker = Tracker(deployment, logs, bus, Notices(Settings()), Metrics())
    await tracker.enter(Stage.CLONING_REPO, "Cloning")
    await tracker.enter(Stage.BUILDING_IMAGE, "Building")
    await tracker.enter(Stage.CLONING_REPO, "again")  # the first entry counts
    await tracker.succeed("done")
    stored = await Deployment.get(id=deployment.id)
    assert list(stored.stage_times) == ["cloning_repo", "building_image"]
    began = [datetime.fromisoformat(v.replace("Z", "+00:00")) for v in stored.stage_times.values()]
    assert began == sorted(began)
    rows = stage_timings(stored.stage_times, stored.created_at, stored.finished_at)
    assert [row.stage for row in rows] == ["queued", "cloning_repo", "building_image"]
    assert all(row.took != "running" for row in rows)


def test_stage_timings_from_the_recorded_moments() -> None:
    start = datetime(2025, 1, 1, 10, 0, 0, tzinfo=UTC)
    times = {"building_image": "2025-01-01T10:00:03.500Z", "cloning_repo": "2025-01-01T10:00:01Z"}
    rows = stage_timings(times, start, start + timedelta(seconds=65))
    assert [(r.stage, r.took) for r in rows] == [
        ("queued", "1 s"),
        ("cloning_repo", "2.5 s"),
        ("building_image", "1 min 2 s"),
    ]
    assert stage_timings(times, start, None)[-1].took == "running"
    assert stage_timings({"cloning_repo": "garbage"}, start, None) == []


def test_how_pages_spell_things() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert age(now - timedelta(seconds=3), now) == "just now"
    assert age(now - timedelta(seconds=42), now) == "42 s ago"
    assert age(now - timedelta(minutes=5), now) == "5 min ago"
    assert age(now - timedelta(hours=3), now) == "3 h ago"
    assert age(now - timedelta(days=2), now) == "2 d ago"
    assert (duration(None), duration(42), duration(185), duration(7300)) == (
        "\N{EN DASH}",
        "42 s",
        "3 min 5 s",
        "2 h 1 min",
    )
    assert first_line("fix it\n\nlong body") == "fix it"
    row = {"triggered_by": "webhook", "requested_by": "", "commit_author": "Jane <j@x>"}
    assert trigger_text(row) == "webhook: push by Jane"
    assert trigger_text({**row, "triggered_by": "manual", "requested_by": "bob"}) == "manual by bob"
    assert trigger_text({**row, "triggered_by": "poll"}) == "poll"


@pytest.mark.parametrize(
    ("asked", "goes"),
    [
        ("/apps/3?before=9", "/apps/3?before=9"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_after_login_only_a_path_of_this_server(asked: str | None, goes: str) -> None:
    assert safe_next(asked) == goes
