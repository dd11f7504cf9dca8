"""Git polling, the fallback for missed webhooks: the compare logic, `git ls-remote` against real
repositories, the per-app APScheduler jobs, and the whole path on a real Docker engine (a commit
pushed while the server is stopped is deployed by polling after it starts)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from quart.testing import QuartClient

from api.app import create_app
from controller.config import Settings
from controller.deploy.requests import RequestDoor
from controller.errors import GitError, ValidationFailed
from controller.source.mirror import GitSync
from controller.store.models import App, Deployment, Status, Trigger
from controller.upkeep.polling import (
    SYNC_JOB_ID,
    Poller,
    check_interval,
    jitter_seconds,
    job_id,
    known_commits,
    needs_deploy,
    poll_app,
)
from tests.support.api import create_web_app, services_of, signup_admin, unique_name, wait_terminal
from tests.support.fakes import IdleWorkers
from tests.support.ports import free_port
from tests.support.repos import GitRepo

AUTHOR = "Test Author <author@example.com>"


@pytest.fixture
def git(tmp_path: Path) -> GitSync:
    return GitSync(tmp_path / "mirrors", allow_local=True, timeout_seconds=30)


def test_compare_and_jitter() -> None:
    assert needs_deploy("b" * 40, set())
    assert needs_deploy("b" * 40, {"a" * 40})
    assert not needs_deploy("b" * 40, {"a" * 40, "b" * 40})
    assert [jitter_seconds(s) for s in (10, 60, 600, 86400)] == [1, 6, 60, 300]
    for ok in (0, 10, 86400):
        assert check_interval(ok) == ok
    for bad in (-1, 1, 9, 86401):
        with pytest.raises(ValidationFailed):
            check_interval(bad)


async def _deployment(app: App, sha: str, trigger: Trigger, **fields: Any) -> Deployment:
    number = await Deployment.filter(app_id=app.id).count() + 1
    return await Deployment.create(
        app_id=app.id, deployment_number=number, commit_hash=sha, triggered_by=trigger, **fields
    )


async def test_known_commits_are_the_active_and_the_newest_requested(db: None) -> None:
    app = await App.create(name="web", git_repository="file:///nowhere")
    a, b, w = "a" * 40, "b" * 40, "c" * 40
    assert await known_commits(app.id) == set()
    deployed = await _deployment(app, a, Trigger.WEBHOOK, status=Status.SUCCESS, is_active=True)
    assert await known_commits(app.id) == {a}
    # A failed head is not retried every interval.
    await _deployment(app, b, Trigger.POLL, status=Status.FAILED)
    assert await known_commits(app.id) == {a, b}
    # A rollback to w is not undone by redeploying the head it rolled back from.
    await Deployment.filter(id=deployed.id).update(is_active=False, status=Status.ROLLED_BACK)
    await _deployment(app, w, Trigger.ROLLBACK, status=Status.SUCCESS, is_active=True)
    assert await known_commits(app.id) == {w, b}


async def test_poll_app_enqueues_a_new_head_once(db: None, git: GitSync, web_repo: GitRepo) -> None:
    app = await App.create(name="web", git_repository=web_repo.url, poll_interval_seconds=10)
    workers = IdleWorkers()
    door = RequestDoor(git, workers).request
    polled = await poll_app(git, app.id, door)
    assert polled is not None and workers.wakes == 1
    first = await Deployment.get(id=polled.id)
    assert first.triggered_by is Trigger.POLL and first.status is Status.PENDING
    assert first.commit_hash == web_repo.git("rev-parse", "HEAD")
    assert (first.commit_message, first.commit_author) == ("first version", AUTHOR)
    assert await poll_app(git, app.id, door) is None  # already queued

    await Deployment.filter(id=first.id).update(status=Status.SUCCESS, is_active=True)
    second_sha = web_repo.commit("second version\n\nbody", {"www/index.html": "two\n"})
    polled = await poll_app(git, app.id, door)
    assert polled is not None
    second = await Deployment.get(id=polled.id)
    assert second.commit_hash == second_sha
    assert second.commit_message == "second version\n\nbody"
    assert await poll_app(git, app.id, door) is None
    assert workers.wakes == 2

    # Off: no interval, autoDeploy off, or no such app.
    web_repo.commit("third", {"www/index.html": "three\n"})
    await App.filter(id=app.id).update(poll_interval_seconds=0)
    assert await poll_app(git, app.id, door) is None
    await App.filter(id=app.id).update(poll_interval_seconds=10, auto_deploy=False)
    assert await poll_app(git, app.id, door) is None
    assert await poll_app(git, app.id + 100, door) is None


async def test_a_failing_remote_is_logged_not_raised(
    db: None, git: GitSync, caplog: pytest.LogCaptureFixture
) -> None:
    app = await App.create(
        name="gone", git_repository="file:///nonexistent/repo.git", poll_interval_seconds=10
    )
    door = RequestDoor(git, IdleWorkers()).request
    with pytest.raises(GitError):
        await poll_app(git, app.id, door)
    assert await Poller(git, door).poll(app.id) is None
    assert "polling app" in caplog.text
    assert not await Deployment.exists()


async def test_remote_head_is_safe_and_exact(
    tmp_path: Path, git: GitSync, web_repo: GitRepo
) -> None:
    head = web_repo.git("rev-parse", "HEAD")
    web_repo.git("branch", "feature/main")  # a ref whose name ends like the tracked one
    assert await git.remote_head(web_repo.url, "main") == head
    with pytest.raises(GitError, match="does not exist"):
        await git.remote_head(web_repo.url, "nope")
    with pytest.raises(GitError, match="not a valid branch name"):
        await git.remote_head(web_repo.url, "--upload-pack=touch /tmp/pwned")
    with pytest.raises(GitError, match="not a valid branch name"):
        await git.remote_head(web_repo.url, "a..b")
    strict = GitSync(tmp_path / "strict", allow_local=False, timeout_seconds=30)
    with pytest.raises(GitError):
        await strict.remote_head(web_repo.url, "main")
    with pytest.raises(GitError) as refused:
        await git.remote_head("https://user:hunter2@127.0.0.1:9/repo.git", "main")
    assert "hunter2" not in refused.value.message
    marker = tmp_path / "pwned"
    with pytest.raises(GitError):
        await git.remote_head(f"--upload-pack=touch {marker}", "main")
    assert not await asyncio.to_thread(marker.exists)


async def test_poller_keeps_one_jittered_job_per_polling_app(db: None, git: GitSync) -> None:
    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.start(paused=True)
    try:
        poller = Poller(git, RequestDoor(git, IdleWorkers()).request)
        poller.install(scheduler)
        sync = scheduler.get_job(SYNC_JOB_ID)
        assert sync is not None and sync.next_run_time <= datetime.now(UTC)

        polled = await App.create(name="a", git_repository="file:///a", poll_interval_seconds=60)
        await App.create(name="b", git_repository="file:///b")
        manual = await App.create(
            name="c", git_repository="file:///c", poll_interval_seconds=60, auto_deploy=False
        )
        await poller.sync_jobs()
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert set(jobs) == {SYNC_JOB_ID, job_id(polled.id)}
        trigger = jobs[job_id(polled.id)].trigger
        assert (trigger.interval.total_seconds(), trigger.jitter) == (60, 6)

        await App.filter(id=polled.id).update(poll_interval_seconds=3600)
        await App.filter(id=manual.id).update(auto_deploy=True)
        await poller.sync_jobs()
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert set(jobs) == {SYNC_JOB_ID, job_id(polled.id), job_id(manual.id)}
        assert jobs[job_id(polled.id)].trigger.interval.total_seconds() == 3600

        await App.filter(id=polled.id).update(poll_interval_seconds=0)
        await manual.delete()
        await poller.sync_jobs()
        assert {job.id for job in scheduler.get_jobs()} == {SYNC_JOB_ID}
    finally:
        scheduler.shutdown(wait=False)


@pytest.mark.slow
async def test_poll_interval_through_the_api(
    client: QuartClient, admin: dict[str, str], web_repo: GitRepo
) -> None:
    created = await create_web_app(client, admin, unique_name(), web_repo)
    assert created["poll_interval_seconds"] == 0
    for bad in (5, 86401, -10):
        response = await client.put(
            "/api/apps/update",
            json={"appId": created["id"], "pollIntervalSeconds": bad},
            headers=admin,
        )
        assert response.status_code == 422
    response = await client.put(
        "/api/apps/update", json={"appId": created["id"], "pollIntervalSeconds": 60}, headers=admin
    )
    assert (await response.get_json())["data"]["poll_interval_seconds"] == 60


async def _fetch(port: int) -> str:
    async with httpx.AsyncClient(timeout=5) as http:
        return (await http.get(f"http://127.0.0.1:{port}/")).text


@pytest.mark.slow
async def test_a_commit_pushed_while_stopped_is_deployed_by_polling_after_start(
    settings: Settings, web_repo: GitRepo, app_name: str
) -> None:
    interval = 10  # the smallest the API accepts
    port = free_port()
    first_run = create_app(settings)
    async with first_run.test_app():
        client = QuartClient(first_run)
        admin = await signup_admin(client)
        created = await create_web_app(
            client, admin, app_name, web_repo, publicPort=port, pollIntervalSeconds=interval
        )
        added = await client.post(
            "/api/deployment/add", json={"appId": created["id"]}, headers=admin
        )
        first = await wait_terminal(first_run, (await added.get_json())["id"])
        assert first.status is Status.SUCCESS, first.error_message
        assert await _fetch(port) == "version one\n"

    # The server is stopped: no webhook can arrive, nothing watches the repository.
    pushed = web_repo.commit("pushed while stopped", {"www/index.html": "while stopped\n"})

    second_run = create_app(settings)
    started = datetime.now(UTC)
    async with second_run.test_app():
        # Ids are sequential: the poll's deployment is the next one; its first status event
        # comes when a worker claims it.
        with services_of(second_run).controller.bus.subscribe(first.id + 1) as subscription:
            async with asyncio.timeout(interval + jitter_seconds(interval) + 15):
                await subscription.queue.get()
        found = await Deployment.get(id=first.id + 1)
        waited = (found.created_at - started).total_seconds()
        assert waited <= interval + jitter_seconds(interval) + 2, waited
        assert found.triggered_by is Trigger.POLL
        assert (found.commit_hash, found.commit_message) == (pushed, "pushed while stopped")
        done = await wait_terminal(second_run, found.id)
        assert done.status is Status.SUCCESS, done.error_message
        assert await _fetch(port) == "while stopped\n"
