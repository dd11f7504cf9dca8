"""Deliveries that arrive together are written together (webhooks/intake.py), and each still
gets exactly the answer it would get alone. Real app lifespan, real SQLite and PostgreSQL, real git
repositories; GitHub.com is the one thing faked (its real payloads, re-aimed and signed here)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import pytest
from quart import Quart
from quart.testing import QuartClient

from controller.config import GithubSettings, Settings
from controller.errors import ServiceUnavailable
from controller.store.models import App, Deployment, WebhookDelivery
from tests.support.api import create_web_app, services_of, unique_name
from tests.support.github import hook_of, push, signed
from tests.support.repos import GitRepo, make_web_repo
from webhooks.dispatch import Delivery, Received, receive
from webhooks.intake import DeliveryIntake

pytestmark = [pytest.mark.slow, pytest.mark.both_backends]

GLOBAL_SECRET = "global-webhook-secret"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # No workers: what is checked is what the deliveries queued, not what got built. A config
    # cannot say this (controller.workers is at least 1); model_copy does not validate.
    controller = settings.controller.model_copy(update={"workers": 0})
    github = GithubSettings(webhook_secret=GLOBAL_SECRET)
    return settings.model_copy(update={"github": github, "controller": controller})


async def test_a_burst_of_mixed_deliveries_is_batched_and_each_gets_its_own_answer(
    app: Quart, client: QuartClient, admin: dict[str, str], web_repo: GitRepo, tmp_path: Any
) -> None:
    other_repo = make_web_repo(tmp_path / "other")
    first = await create_web_app(client, admin, unique_name(), web_repo)
    second = await create_web_app(client, admin, unique_name(), web_repo)  # same repo + branch
    third = await create_web_app(client, admin, unique_name(), other_repo)
    # A commit per push: a push of a commit already queued creates nothing new.
    shas = [web_repo.commit(f"c{n}", {"www/index.html": f"{n}\n"}) for n in range(25)]
    other_shas = [other_repo.commit(f"o{n}", {"www/index.html": f"o{n}\n"}) for n in range(8)]
    secret = other_secret = GLOBAL_SECRET  # the global URL: github.webhook_secret signs
    third_hook = await hook_of(client, admin, third["id"])
    requests: list[tuple[str, str, bytes, dict[str, str]]] = []  # expectation, path, body, headers

    def add(expect: str, payload: dict[str, Any], key: str, delivery: str | None = None) -> None:
        body, headers = signed(payload, key, delivery=delivery)
        requests.append((expect, "/webhooks/github", body, headers))

    for n in range(24):
        add("deploy-both", push(web_repo.url, "main", shas[n], f"push {n}"), secret)
    for n in range(8):
        add("deploy-third", push(other_repo.url, "main", other_shas[n], f"other {n}"), other_secret)
    for n in range(5):  # an app's own secret does not sign on the global URL
        add("unsigned", push(web_repo.url, "main", shas[0], f"forged {n}"), third_hook.secret)
    for _ in range(4):  # one delivery sent four times at once
        add("twin", push(web_repo.url, "main", shas[24], "twin"), secret, delivery="twin-1")
    for n in range(3):
        add("ignored", push(web_repo.url, "nobody-tracks", shas[0], f"b {n}"), secret)
    broken = push(web_repo.url, "main", shas[0], "no after")
    del broken["after"]
    add("bad", broken, secret)

    for n in range(3):  # the third app's own URL and secret: that app only
        sha = other_repo.commit(f"p{n}", {"www/index.html": f"p{n}\n"})
        body, headers = signed(push(other_repo.url, "main", sha, f"own {n}"), third_hook.secret)
        requests.append(("deploy-third", third_hook.path, body, headers))

    intake = services_of(app).intake
    batches_before = intake.batches
    responses = await asyncio.gather(
        *[client.post(path, data=body, headers=headers) for _, path, body, headers in requests]
    )
    answers = [(await r.get_json(), r.status_code) for r in responses]

    by_kind: dict[str, list[tuple[dict[str, Any], int]]] = {}
    for (expect, _, _, _), answer in zip(requests, answers, strict=True):
        by_kind.setdefault(expect, []).append(answer)
    assert {status for _, status in by_kind["deploy-both"]} == {200}
    assert {status for _, status in by_kind["deploy-third"]} == {200}
    assert {(b["error"], s) for b, s in by_kind["unsigned"]} == {("UNAUTHORIZED", 401)}
    assert {(b["error"], s) for b, s in by_kind["bad"]} == {("BAD_REQUEST", 400)}
    assert all(s == 202 and "nobody-tracks" in b["message"] for b, s in by_kind["ignored"])
    twins = by_kind["twin"]
    assert len({json.dumps(b, sort_keys=True) for b, _ in twins}) == 1 and twins[0][1] == 200

    # Every accepted push got its own deployments, of its own commit, in its own answer.
    claimed: list[int] = []
    for (expect, _, body, _), (answer, _) in zip(requests, answers, strict=True):
        if not expect.startswith("deploy") or expect == "twin":
            continue
        sent = json.loads(body)
        made = answer["data"]["deployments"]
        wanted = [first["id"], second["id"]] if expect == "deploy-both" else [third["id"]]
        assert [entry["appId"] for entry in made] == wanted
        for entry in made:
            row = await Deployment.get(id=entry["deploymentId"])
            assert row.commit_hash == sent["after"]
            assert row.commit_message == sent["head_commit"]["message"]
            assert row.deployment_number == entry["deploymentNumber"]
            claimed.append(row.id)
    claimed += [entry["deploymentId"] for entry in twins[0][0]["data"]["deployments"]]
    assert len(claimed) == len(set(claimed)) == 24 * 2 + 8 + 3 + 2

    # Numbers per app stay gapless and unique; the counters agree.
    for created, expected in ((first, 25), (second, 25), (third, 11)):
        rows = await Deployment.filter(app_id=created["id"]).values_list(
            "deployment_number", flat=True
        )
        numbers = sorted(int(str(number)) for number in rows)
        assert numbers == list(range(1, expected + 1))
        assert (await App.get(id=created["id"])).deployment_counter == expected
    assert await Deployment.all().count() == 61

    # Recorded: accepted and ignored deliveries (the twin once); not the 401s or the 400.
    recorded = Counter(await WebhookDelivery.all().values_list("status_code", flat=True))
    assert recorded == Counter({200: 24 + 8 + 3 + 1, 202: 3})
    # They were written in fewer transactions than there were deliveries.
    assert 0 < intake.batches - batches_before < len(requests)


async def test_closing_answers_what_is_waiting_then_refuses_with_503(
    app: Quart, client: QuartClient, admin: dict[str, str], web_repo: GitRepo
) -> None:
    created = await create_web_app(client, admin, unique_name(), web_repo)
    hook = await hook_of(client, admin, created["id"])
    head = web_repo.git("rev-parse", "HEAD")
    intake = DeliveryIntake(request=services_of(app).controller.request_deployments)
    intake.start()

    commits = [web_repo.commit(f"n{n}", {"www/index.html": f"{n}\n"}) for n in range(10)]

    def delivery(n: int) -> Delivery:
        sha = commits[n] if n < len(commits) else head
        body, headers = signed(push(web_repo.url, "main", sha, f"n{n}"), hook.secret)
        return Delivery("push", headers["X-GitHub-Delivery"], headers["X-Hub-Signature-256"], body)

    def received(n: int) -> Received:  # as the reception hands it over, once verified
        return receive(delivery(n), created["name"])

    waiting = [asyncio.ensure_future(intake.submit(received(n))) for n in range(10)]
    await asyncio.sleep(0)  # they are queued before the close begins
    await intake.close(timeout_seconds=30)
    answers = await asyncio.gather(*waiting)
    assert [a.status for a in answers] == [200] * 10
    assert await Deployment.filter(app_id=created["id"]).count() == 10
    with pytest.raises(ServiceUnavailable):
        await intake.submit(received(99))

    # Through the route: a server that is shutting down says so in the envelope.
    await services_of(app).intake.close(timeout_seconds=30)
    body, headers = signed(push(web_repo.url, "main", head, "late"), hook.secret)
    response = await client.post(hook.path, data=body, headers=headers)
    assert response.status_code == 503
    assert (await response.get_json())["error"] == "SERVICE_UNAVAILABLE"
    assert await Deployment.filter(app_id=created["id"]).count() == 10
