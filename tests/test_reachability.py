"""Only commits a branch reaches are deployed: a pushed or polled commit must be on the tracked
branch when it is built (checked at cloning_repo), and a deployer's commitHash on some branch
(422 otherwise; admins may override). Real git repositories with a pull request ref
(refs/pull/1/head, as GitHub keeps one), real app lifespan, a real worker; GitHub.com is the one
thing faked (its real payloads, re-aimed and signed here)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from quart import Quart
from quart.testing import QuartClient

from controller.accounts import auth
from controller.config import Settings
from controller.deploy.workers import WorkerPool
from controller.store.models import Deployment, Role, Stage, Status, Trigger
from tests.support.api import (
    add_deployment,
    assert_error,
    create_web_app,
    services_of,
    wait_terminal,
)
from tests.support.github import answer_of, deliver, hook_of, push
from tests.support.repos import GitRepo

pytestmark = pytest.mark.slow


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # No workers of the app's own: each test starts one when what it checks is in place.
    controller = settings.controller.model_copy(update={"workers": 0})  # a config cannot say 0
    return settings.model_copy(update={"controller": controller})


def pull_request(repo: GitRepo) -> str:
    """A commit only refs/pull/1/head reaches (its branch deleted, as a fork's would be)."""
    repo.git("checkout", "-q", "-b", "contributor")
    sha = repo.commit("a pull request", {"www/index.html": "from a pull request\n"})
    repo.git("update-ref", "refs/pull/1/head", sha)
    repo.git("checkout", "-q", "main")
    repo.git("branch", "-q", "-D", "contributor")
    return sha


@asynccontextmanager
async def a_worker(app: Quart) -> AsyncIterator[None]:
    """One worker on the controller's own pipeline, from now until the block ends."""
    found = services_of(app).controller
    pool = WorkerPool(
        found.workers.pipeline, found.logs, found.bus, workers=1, shutdown_timeout_seconds=30
    )
    pool.start()
    pool.wake()
    try:
        yield
    finally:
        await pool.stop()


async def refused_at_cloning(app: Quart, deployment_id: int) -> Deployment:
    """The deployment, once a worker ran it: failed at cloning_repo, nothing built."""
    async with a_worker(app):
        done = await wait_terminal(app, deployment_id)
    assert (done.status, done.stage) == (Status.FAILED, Stage.CLONING_REPO), done.error_message
    assert not done.image_tag  # no image was made for it
    return done


async def test_a_pushed_pull_request_head_is_refused_before_building(
    app: Quart, client: QuartClient, admin: dict[str, str], web_repo: GitRepo, app_name: str
) -> None:
    """Protection: reachability.check_pushed at cloning_repo (without it the head builds)."""
    created = await create_web_app(client, admin, app_name, web_repo)
    pr = pull_request(web_repo)
    # An admin deployed the pull request's head on purpose once: it is in the app's mirror now.
    pinned = await add_deployment(
        client, admin, created["id"], commitHash=pr, allowUnreachable=True
    )
    assert pinned["commit_hash"] == pr
    stopped = await client.post(
        "/api/deployment/stop", json={"deploymentId": pinned["id"]}, headers=admin
    )
    assert stopped.status_code == 200  # never built; only its commit stays in the mirror
    # A push to main naming that commit (signed with the app's own secret): queued, since the
    # receiver does no git work ...
    hook = await hook_of(client, admin, created["id"])
    answer = await answer_of(await deliver(client, push(web_repo.url, "main", pr, "pr"), hook), 200)
    [entry] = answer["data"]["deployments"]
    # ... and refused by the pipeline, before any build.
    done = await refused_at_cloning(app, entry["deploymentId"])
    assert done.triggered_by is Trigger.WEBHOOK
    assert done.error_message == (
        f"commit {pr[:12]} is not on branch 'main' of the repository; pushes and polls deploy "
        "only commits the tracked branch reaches (not a pull request's head)"
    )
    log = await services_of(app).controller.log_text(done.id)
    assert "Building Docker image" not in log and "Checked out commit" not in log


async def test_a_polled_commit_force_pushed_away_is_refused_before_building(
    app: Quart, client: QuartClient, admin: dict[str, str], web_repo: GitRepo, app_name: str
) -> None:
    """Protection: reachability.check_pushed at cloning_repo, for polls too."""
    created = await create_web_app(
        client, admin, app_name, web_repo, pollIntervalSeconds=3600, autoDeploy=True
    )
    head = web_repo.commit("polled", {"www/index.html": "polled\n"})
    outcome = await services_of(app).controller.poll(created["id"])
    assert outcome is not None
    # Before a worker builds it, main is force-pushed back; a pull request keeps the commit.
    web_repo.git("update-ref", "refs/pull/1/head", head)
    web_repo.git("reset", "-q", "--hard", "HEAD~1")
    done = await refused_at_cloning(app, outcome.id)
    assert done.triggered_by is Trigger.POLL and done.commit_hash == head
    assert f"commit {head[:12]} is not on branch 'main'" in (done.error_message or "")


async def test_a_deployers_commit_hash_must_be_on_a_branch(
    client: QuartClient, admin: dict[str, str], web_repo: GitRepo, app_name: str
) -> None:
    """Protection: reachability.check_named at the door (without it the commit is queued)."""
    created = await create_web_app(client, admin, app_name, web_repo)
    web_repo.git("checkout", "-q", "-b", "side")
    side = web_repo.commit("side work", {"www/index.html": "side\n"})
    web_repo.git("checkout", "-q", "main")
    pr = pull_request(web_repo)
    deployer = await auth.create_user("deployer", "a long password", Role.DEPLOYER)
    headers = {"Authorization": f"Bearer {await auth.create_api_token(deployer, 'ci')}"}

    async def add(body: dict[str, Any], as_: dict[str, str]) -> Any:
        return await client.post(
            "/api/deployment/add", json={"appId": created["id"], **body}, headers=as_
        )

    for commit in (pr, pr[:12]):
        refused = await assert_error(await add({"commitHash": commit}, headers), 422)
        assert refused["error"] == "COMMIT_UNREACHABLE" and "commitHash" in refused["message"]
    assert await Deployment.filter(app_id=created["id"]).count() == 0
    # A commit on another branch is fine; the branch head too.
    assert (await add({"commitHash": side}, headers)).status_code == 200
    # Only admins may override, and only for a commit they name.
    await assert_error(await add({"commitHash": pr, "allowUnreachable": True}, headers), 403)
    await assert_error(await add({"allowUnreachable": True}, admin), 422)
    overridden = await add({"commitHash": pr, "allowUnreachable": True}, admin)
    assert overridden.status_code == 200 and (await overridden.get_json())["commit_hash"] == pr
    # Now in the mirror, the pull request's head is still refused to a deployer.
    await assert_error(await add({"commitHash": pr}, headers), 422, "COMMIT_UNREACHABLE")
    assert await Deployment.filter(app_id=created["id"]).count() == 2
