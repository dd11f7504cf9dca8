"""Ordering: an older commit never replaces a newer one already deployed. Real git repositories
and a real database (SQLite and PostgreSQL); GitHub.com is the one thing faked (deliveries are
built from its real payloads and handed to the dispatcher directly, as the reception does once
verified)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from controller.deploy.requests import RequestDoor
from controller.deploy.staleness import stale_reason
from controller.errors import GitError
from controller.source.mirror import GitSync
from controller.store.models import App, Deployment, Status, Trigger, WebhookDelivery
from tests.support.fakes import IdleWorkers
from tests.support.github import push, signed
from tests.support.repos import GitRepo
from webhooks.dispatch import Delivery, handle, receive

pytestmark = pytest.mark.both_backends


@pytest.fixture
def git(tmp_path: Path) -> GitSync:
    return GitSync(tmp_path / "mirrors", allow_local=True, timeout_seconds=30)


@pytest.fixture
def history(tmp_path: Path) -> tuple[GitRepo, list[str], str]:
    """main: a -> b -> c; side: a -> d (diverged). Returns the repo, [a, b, c] and d."""
    repo = GitRepo(tmp_path / "origin")
    repo.path.mkdir()
    repo.git("init", "-q", "-b", "main")
    line = [repo.commit(name, {"file.txt": name}) for name in ("a", "b", "c")]
    repo.git("checkout", "-q", "-b", "side", line[0])
    side = repo.commit("d", {"file.txt": "d"})
    repo.git("checkout", "-q", "main")
    return repo, line, side


async def test_is_ancestor_in_the_mirror(
    git: GitSync, history: tuple[GitRepo, list[str], str]
) -> None:
    repo, (a, b, c), d = history
    assert not await git.is_ancestor("web", a, c)  # no mirror yet: nothing is known
    await git.resolve("web", repo.url, "main")
    await git.resolve("web", repo.url, "side")
    assert await git.is_ancestor("web", a, c)
    assert await git.is_ancestor("web", b, c)
    assert await git.is_ancestor("web", a[:12], c)
    assert await git.is_ancestor("web", c, c)  # the same commit counts (not strict)
    assert not await git.is_ancestor("web", c, a)
    assert not await git.is_ancestor("web", d, c)
    assert not await git.is_ancestor("web", c, d)
    assert await git.is_ancestor("web", a, d)
    assert not await git.is_ancestor("web", "e" * 40, c)  # never fetched
    with pytest.raises(GitError):
        await git.is_ancestor("web", "--all", c)


async def _deployment(app: App, sha: str, trigger: Trigger, **fields: Any) -> Deployment:
    number = await Deployment.filter(app_id=app.id).count() + 1
    return await Deployment.create(
        app_id=app.id, deployment_number=number, commit_hash=sha, triggered_by=trigger, **fields
    )


async def test_stale_reason_for_automatic_deployments_of_older_commits(
    db: None, git: GitSync, history: tuple[GitRepo, list[str], str]
) -> None:
    repo, (a, b, c), d = history
    app = await App.create(name="web", git_repository=repo.url)
    await git.resolve("web", repo.url, "main")
    await git.resolve("web", repo.url, "side")

    old = await _deployment(app, a, Trigger.WEBHOOK)
    assert await stale_reason(git, app, old) is None  # nothing active yet

    await _deployment(app, c, Trigger.MANUAL, status=Status.SUCCESS, is_active=True)
    for trigger in (Trigger.WEBHOOK, Trigger.POLL):
        for older in (a, b):
            candidate = await _deployment(app, older, trigger)
            assert await stale_reason(git, app, candidate) == (
                f"commit {older[:7]} is older than the active deployment's commit {c[:7]}"
            )
    # Going back on purpose is allowed.
    for trigger in (Trigger.MANUAL, Trigger.ROLLBACK):
        assert await stale_reason(git, app, await _deployment(app, a, trigger)) is None
    # The same commit again, a newer one, and a diverged one (force-push) are not stale.
    e = repo.commit("e", {"file.txt": "e"})
    await git.resolve("web", repo.url, "main")
    for sha in (c, e, d):
        assert await stale_reason(git, app, await _deployment(app, sha, Trigger.WEBHOOK)) is None


async def test_a_late_redelivery_of_an_old_push_is_recorded_then_found_stale(
    db: None, git: GitSync, history: tuple[GitRepo, list[str], str]
) -> None:
    repo, (a, _, c), _ = history
    app = await App.create(name="web", git_repository=repo.url, webhook_secret="s3cret")

    async def deliver(sha: str, delivery_id: str) -> Deployment:
        body, headers = signed(push(repo.url, "main", sha, sha[:7]), "s3cret", delivery=delivery_id)
        delivery = Delivery("push", delivery_id, headers["X-Hub-Signature-256"], body)
        # As webhooks/reception.py hands it over once the app's secret verified it.
        received = receive(delivery, app_name="web")
        answer = await handle(received, request=RequestDoor(git, IdleWorkers()).request)
        assert answer.status == 200
        [entry] = answer.data["deployments"]
        return await Deployment.get(id=entry["deploymentId"])

    newest = await deliver(c, "delivery-new")
    await git.resolve("web", repo.url, "main")  # what the pipeline's clone stage does
    await Deployment.filter(id=newest.id).update(status=Status.SUCCESS, is_active=True)

    late = await deliver(a, "delivery-late")  # another delivery id, an old `after`
    assert await WebhookDelivery.filter(delivery_id="web/delivery-late").exists()  # per URL
    assert await stale_reason(git, app, late) == (
        f"commit {a[:7]} is older than the active deployment's commit {c[:7]}"
    )
