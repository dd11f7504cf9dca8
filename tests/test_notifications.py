"""Notification targets end to end from the outbox: a local receiver plays the generic webhook
endpoint, Slack and Discord (none can be reached from here; tests/support/fake_remote.py), and
aiosmtpd is a real SMTP server on 127.0.0.1. Signatures are checked with the same verifier
fogbank uses for GitHub's X-Hub-Signature-256."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller as SmtpController
from aiosmtpd.handlers import Sink

from controller.store.models import App, Deployment, Stage, Status, Trigger
from controller.store.reporting import MessageState, OutboxMessage
from tests.support.fake_remote import Canned, FakeRemote, start_fake_remote
from tests.support.outbox import Parts, reporting_settings, running_parts
from tests.support.ports import free_port
from webhooks.signature import verify

pytestmark = pytest.mark.slow  # a server thread and an SMTP server per test


class Inbox(Sink):
    """aiosmtpd handler keeping every message it is sent."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        return "250 OK"


@pytest.fixture
def fake() -> Iterator[FakeRemote]:
    remote = start_fake_remote()
    yield remote
    remote.stop()


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    server = SmtpController(inbox, hostname="127.0.0.1", port=port)
    server.start()
    yield inbox, port
    server.stop()


@pytest.fixture
async def parts(tmp_path: Path, fake: FakeRemote, smtp: tuple[Inbox, int]) -> AsyncIterator[Parts]:
    settings = reporting_settings(
        tmp_path, fake.url, smtp_host="127.0.0.1", smtp_port=smtp[1], smtp_security="none"
    )
    async with running_parts(settings) as running:
        yield running


async def finished(status: Status, error: str = "", number: int = 1) -> Deployment:
    app = await App.get_or_none(name="shop") or await App.create(
        name="shop", git_repository="https://git.example.com/shop.git"
    )
    return await Deployment.create(
        app_id=app.id, deployment_number=number, commit_hash="c" * 40,
        triggered_by=Trigger.WEBHOOK, status=status, stage=Stage.BUILDING_IMAGE,
        error_message=error,
    )  # fmt: skip


async def settled() -> list[OutboxMessage]:
    async with asyncio.timeout(30):
        while await OutboxMessage.filter(state=MessageState.PENDING).exists():  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    return await OutboxMessage.all().order_by("id")


async def test_a_signed_webhook_for_a_failure_and_nothing_for_a_success_to_failures_only(
    parts: Parts, fake: FakeRemote
) -> None:
    app = await App.create(name="shop", git_repository="https://git.example.com/shop.git")
    failures, secret = await parts.reporting.create_target(
        {"app_id": app.id, "name": "ops", "kind": "webhook", "url": f"{fake.url}/failures",
         "events": ["deployment.failed"]}
    )  # fmt: skip
    everything, _ = await parts.reporting.create_target(
        {"app_id": app.id, "name": "all", "kind": "webhook", "url": f"{fake.url}/all",
         "secret": "a shared secret of the receiver"}
    )  # fmt: skip
    assert len(secret) == 64  # made by fogbank, shown this once
    failed = await finished(Status.FAILED, "build failed: step 2/3 exited 1")
    await parts.notices.finished(failed)
    await parts.notices.finished(await finished(Status.SUCCESS, number=2))
    await settled()
    (failure,) = fake.seen("/failures")
    assert verify(failure.body, failure.headers["x-fogbank-signature-256"], [secret])
    assert not verify(failure.body, failure.headers["x-fogbank-signature-256"], ["other"])
    body = failure.json()
    assert (
        body["event"] == "deployment.failed" and failure.headers["x-fogbank-event"] == body["event"]
    )
    assert body["app"] == {"id": app.id, "name": "shop"}
    assert body["deployment"]["id"] == failed.id
    assert body["deployment"]["error_message"] == "build failed: step 2/3 exited 1"
    assert "failed at building_image: build failed" in body["message"]
    # The other target hears both: the success did go out, just not to `failures`.
    assert [r.json()["event"] for r in fake.seen("/all")] == [
        "deployment.failed",
        "deployment.succeeded",
    ]
    assert verify(
        fake.seen("/all")[1].body,
        fake.seen("/all")[1].headers["x-fogbank-signature-256"],
        ["a shared secret of the receiver"],
    )
    assert failures.id != everything.id


async def test_slack_discord_and_email_each_get_their_own_shape(
    parts: Parts, fake: FakeRemote, smtp: tuple[Inbox, int]
) -> None:
    app = await App.create(name="shop", git_repository="https://git.example.com/shop.git")
    for kind in ("slack", "discord"):
        await parts.reporting.create_target(
            {"app_id": app.id, "name": kind, "kind": kind, "url": f"{fake.url}/{kind}"}
        )
    await parts.reporting.create_target(
        {"app_id": None, "name": "mail", "kind": "email", "email_to": ["ops@example.com"],
         "events": ["drift.repaired"]}
    )  # fmt: skip
    await parts.notices.drift_repaired(app.id, "container of deployment #3 is exited")
    messages = await settled()
    assert {m.state for m in messages} == {MessageState.DELIVERED}
    (slack,) = fake.seen("/slack")
    assert slack.json() == {"text": "shop: drift repaired: container of deployment #3 is exited"}
    (discord,) = fake.seen("/discord")
    assert discord.json()["content"].startswith("shop: drift repaired")
    inbox, _ = smtp
    (raw,) = inbox.messages
    mail = message_from_bytes(raw)
    assert mail["To"] == "ops@example.com"
    assert mail["Subject"] == "[fogbank] shop: drift repaired: container of deployment #3 is exited"


async def test_the_test_notification_reports_how_its_first_try_went(
    parts: Parts, fake: FakeRemote
) -> None:
    target, _ = await parts.reporting.create_target(
        {"name": "global hook", "kind": "webhook", "url": f"{fake.url}/hook"}
    )
    sent = await parts.reporting.test_target(target, "admin")
    assert (sent.state, sent.attempts) == (MessageState.DELIVERED, 1)
    assert json.loads(fake.seen("/hook")[0].body)["event"] == "test"
    fake.answer_next(Canned(404, body="no such hook"))
    refused = await parts.reporting.test_target(target, "admin")
    assert refused.state is MessageState.FAILED and refused.last_error == "HTTP 404: no such hook"
    assert "failed after 1 attempt(s): HTTP 404" in parts.events.recent("_notify")[-1]
