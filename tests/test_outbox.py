"""The outbox against a local server that plays GitHub's REST API (GitHub.com cannot be reached
from here; tests/support/fake_remote.py records every request and answers as GitHub documents,
or as the test queues): retries with backoff, rate limits, permanent failures in the app's
event log, order per key, and nothing lost when the courier stops in the middle. Real SQLite."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.store.models import App, Deployment, Stage, Status, Trigger
from controller.store.reporting import GithubLink, MessageState, OutboxMessage
from tests.support.fake_remote import Canned, FakeRemote, start_fake_remote
from tests.support.outbox import TOKEN, Parts, make_parts, reporting_settings, running_parts

pytestmark = pytest.mark.slow  # retries and a rate limit wait whole seconds

SHA = "a" * 40


@pytest.fixture
def fake() -> Iterator[FakeRemote]:
    remote = start_fake_remote()
    yield remote
    remote.stop()


@pytest.fixture
async def parts(tmp_path: Path, fake: FakeRemote) -> AsyncIterator[Parts]:
    async with running_parts(reporting_settings(tmp_path, fake.url)) as running:
        yield running


async def deployment(number: int = 1, sha: str = SHA, **fields: Any) -> Deployment:
    app = await App.get_or_none(name="web")
    if app is None:
        # Its git URL is on github.com, which the fake API at 127.0.0.1 is not: the app names
        # its repository on that GitHub itself, as for a mirror.
        app = await App.create(name="web", git_repository="https://github.com/Acme/Web.git")
        await GithubLink.create(app_id=app.id, repository="acme/web")
    return await Deployment.create(
        app_id=app.id, deployment_number=number, commit_hash=sha, triggered_by=Trigger.WEBHOOK,
        **fields,
    )  # fmt: skip


async def until_done(message_id: int, timeout_seconds: float = 30) -> OutboxMessage:
    async with asyncio.timeout(timeout_seconds):
        while True:
            message = await OutboxMessage.get(id=message_id)
            if message.state is not MessageState.PENDING:
                return message
            await asyncio.sleep(0.05)


async def test_a_status_is_posted_as_github_documents(parts: Parts, fake: FakeRemote) -> None:
    queued = await deployment()
    await parts.notices.reload()  # the app exists now: it reports to acme/web
    await parts.notices.queued([(queued.id, queued.app_id, 1, SHA)])
    (message,) = await OutboxMessage.all()
    assert (await until_done(message.id)).state is MessageState.DELIVERED
    (request,) = fake.seen()
    # https://docs.github.com/en/rest/commits/statuses#create-a-commit-status
    assert (request.method, request.path) == ("POST", f"/repos/acme/web/statuses/{SHA}")
    assert request.headers["accept"] == "application/vnd.github+json"
    assert request.headers["x-github-api-version"] == "2022-11-28"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["user-agent"].startswith("fogbank")
    body = request.json()
    assert body["state"] == "pending" and body["context"] == "fogbank/web"
    assert body["description"] == "Queued as deployment #1"
    assert body["target_url"].endswith(f"/api/deployment/logs/{queued.id}")


async def test_500_three_times_then_201_is_delivered_once_after_backing_off(
    parts: Parts, fake: FakeRemote
) -> None:
    fake.answer_next(Canned(500), Canned(502), Canned(500))
    queued = await deployment()
    await parts.notices.reload()  # the app exists now: it reports to acme/web
    await parts.notices.queued([(queued.id, queued.app_id, 1, SHA)])
    (message,) = await OutboxMessage.all()
    done = await until_done(message.id)
    assert done.state is MessageState.DELIVERED and done.attempts == 4
    answers = fake.seen(f"/repos/acme/web/statuses/{SHA}")
    assert [r.status for r in answers] == [500, 502, 500, 201]
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(answers)]
    # retry_base_seconds 0.2: waits of 0.2, 0.4 and 0.8 s (exponential backoff).
    for gap, least in zip(gaps, (0.2, 0.4, 0.8), strict=True):
        assert gap >= least * 0.9, gaps
    failures = [line for line in parts.events.recent("web") if "failed (HTTP 5" in line]
    assert len(failures) == 3 and "attempt 1 of 10" in failures[0]
    assert parts.metrics.outbox_deliveries.value("github", "retry") == 3
    assert parts.metrics.outbox_deliveries.value("github", "delivered") == 1


async def test_a_rate_limit_is_waited_out_until_its_reset(parts: Parts, fake: FakeRemote) -> None:
    reset = int(time.time()) + 2
    fake.answer_next(
        Canned(
            403,
            {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
            '{"message": "API rate limit exceeded"}',
        )
    )
    first, second = await deployment(1, "1" * 40), await deployment(2, "2" * 40)
    await parts.notices.reload()
    await parts.notices.queued([(first.id, first.app_id, 1, "1" * 40)])
    await parts.notices.queued([(second.id, second.app_id, 2, "2" * 40)])
    seen = await fake.until(lambda requests: sum(r.status == 201 for r in requests) == 2)
    assert [r.status for r in seen] == [403, 201, 201]
    # Nothing at all went to GitHub before the reset time it named.
    assert all(r.at >= reset for r in seen[1:]), [r.at - reset for r in seen]
    messages = await OutboxMessage.all().order_by("id")
    assert [m.attempts for m in messages] == [1, 1]  # a rate limit uses up no attempt
    assert any("waiting until" in line for line in parts.events.recent("web"))


async def test_a_refused_message_fails_at_once_into_the_event_log(
    parts: Parts, fake: FakeRemote
) -> None:
    fake.answer_next(Canned(422, body='{"message": "No commit found for SHA"}'))
    queued = await deployment()
    await parts.notices.reload()  # the app exists now: it reports to acme/web
    await parts.notices.queued([(queued.id, queued.app_id, 1, SHA)])
    (message,) = await OutboxMessage.all()
    done = await until_done(message.id)
    assert done.state is MessageState.FAILED and done.attempts == 1
    assert "HTTP 422" in done.last_error
    (line,) = parts.events.recent("web")
    assert 'failed after 1 attempt(s): HTTP 422: {"message": "No commit found for SHA"}' in line


async def test_messages_of_one_commit_go_in_order_behind_a_retry(
    parts: Parts, fake: FakeRemote
) -> None:
    fake.answer_next(Canned(503))
    queued = await deployment()
    await parts.notices.reload()  # the app exists now: it reports to acme/web
    await parts.notices.queued([(queued.id, queued.app_id, 1, SHA)])
    queued.status, queued.stage = Status.BUILDING, Stage.CLONING_REPO
    await parts.notices.stage(queued, first=True)
    queued.status, queued.stage, queued.duration = Status.SUCCESS, Stage.COMPLETED, 3
    await parts.notices.finished(queued)
    seen = await fake.until(lambda requests: sum(r.status == 201 for r in requests) == 3)
    states = [(r.status, r.json()["state"]) for r in seen]
    assert states == [(503, "pending"), (201, "pending"), (201, "pending"), (201, "success")]
    assert seen[-1].json()["description"] == "Deployed #1 in 3 s"


async def test_a_courier_stopped_mid_retry_loses_nothing(tmp_path: Path, fake: FakeRemote) -> None:
    settings = reporting_settings(tmp_path, fake.url, retry_base_seconds=1.0)
    fake.answer_next(Canned(500))
    async with running_parts(settings) as parts:
        queued = await deployment()
        await parts.notices.reload()
        await parts.notices.queued([(queued.id, queued.app_id, 1, SHA)])
        await fake.until(lambda requests: len(requests) == 1)
        await parts.courier.stop(5)  # as at shutdown: the message is still pending
        (message,) = await OutboxMessage.all()
        assert message.state is MessageState.PENDING and message.attempts == 1
        again = make_parts(settings)  # a new process's courier, same database
        await again.notices.reload()
        again.courier.start()
        try:
            done = await until_done(message.id)
        finally:
            await again.courier.stop(5)
    assert done.state is MessageState.DELIVERED and done.attempts == 2
    assert [r.status for r in fake.seen()] == [500, 201]
