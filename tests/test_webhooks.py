"""The GitHub receiver end to end: real app lifespan, real SQLite and PostgreSQL, real git
repositories and, for the exact-commit deploy, a real Docker engine. GitHub.com itself is the one thing faked: its
deliveries are its real payloads (tests/fixtures/github) re-aimed at local repositories and
signed here."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from quart import Quart
from quart.testing import QuartClient

from controller.config import GithubSettings, Settings
from controller.store.models import Deployment, Status, Trigger, WebhookDelivery
from tests.support.api import create_web_app, unique_name, wait_terminal
from tests.support.github import answer_of, deletion, deliver, hook_of, load, push, signed
from tests.support.ports import free_port
from tests.support.repos import GitRepo

pytestmark = [pytest.mark.slow, pytest.mark.both_backends]

GLOBAL_SECRET = "global-webhook-secret"


@pytest.fixture
def workers() -> int:
    # Most check what is queued; one runs workers. 0 (refused in a config) via model_copy.
    return 0


@pytest.fixture
def max_body_bytes() -> int:
    return GithubSettings().max_body_bytes


@pytest.fixture
def settings(settings: Settings, workers: int, max_body_bytes: int) -> Settings:
    controller = settings.controller.model_copy(update={"workers": workers})
    github = GithubSettings(webhook_secret=GLOBAL_SECRET, max_body_bytes=max_body_bytes)
    return settings.model_copy(update={"github": github, "controller": controller})


async def create_app(client: QuartClient, admin: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await client.post(
        "/api/apps/create", json={"name": unique_name(), **body}, headers=admin
    )
    assert response.status_code == 201, await response.get_data(as_text=True)
    data: dict[str, Any] = (await response.get_json())["data"]
    return data


@pytest.mark.parametrize(
    "fixture",
    ["push.json", "push-1.json", "push-with-organization.json", "push-with-installation.json"],
)
async def test_each_tag_deletion_fixture_is_ignored(
    client: QuartClient, admin: dict[str, str], fixture: str
) -> None:
    # The fixtures as GitHub sent them, for an app tracking that repository in ssh form.
    app = await create_app(client, admin, gitRepository="git@github.com:Codertocat/Hello-World.git")
    response = await deliver(client, load(fixture), await hook_of(client, admin, app["id"]))
    body = await answer_of(response, 202)
    reason = "tag refs/tags/simple-tag is not deployed; only branches are"
    assert body["success"] is True and body["message"] == reason
    assert body["data"]["ignored"] == reason and body["data"]["deployments"] == []
    assert body["data"]["event"] == "push"
    assert await Deployment.all().count() == 0
    assert await WebhookDelivery.all().count() == 1


async def test_deletion_skip_markers_untracked_branch_and_other_events_are_ignored(
    client: QuartClient, admin: dict[str, str], web_repo: GitRepo
) -> None:
    created = await create_web_app(client, admin, unique_name(), web_repo)
    hook = await hook_of(client, admin, created["id"])
    head = web_repo.git("rev-parse", "HEAD")
    cases = [
        (
            deletion(web_repo.url, "main"),
            "push",
            "branch 'main' was deleted; there is nothing to deploy",
        ),
        (
            push(web_repo.url, "main", head, "docs only [skip deploy]"),
            "push",
            f"head commit {head[:7]} asks to skip deploys ([skip deploy])",
        ),
        (
            push(web_repo.url, "main", head, "WIP\n\n[Skip CI] please"),
            "push",
            f"head commit {head[:7]} asks to skip deploys ([skip ci])",
        ),
        (
            push(web_repo.url, "feature/x", head, "elsewhere"),
            "push",
            f"app '{created['name']}' does not track branch 'feature/x' of fogbank-tests/repo",
        ),
        (
            push(web_repo.url, "main", head, "an issue"),
            "issues",
            "event 'issues' is ignored; fogbank acts on push and ping",
        ),
    ]
    for payload, event, reason in cases:
        body = await answer_of(await deliver(client, payload, hook, event=event), 202)
        assert (body["message"], body["data"]["ignored"]) == (reason, reason)
    assert await Deployment.all().count() == 0
    assert await WebhookDelivery.all().count() == len(cases)


async def test_ping_answers_pong(client: QuartClient, admin: dict[str, str]) -> None:
    app = await create_app(client, admin, gitRepository="https://github.com/octocoders/hello-world")
    hook = await hook_of(client, admin, app["id"])
    body = await answer_of(await deliver(client, load("ping.json"), hook, event="ping"), 200)
    assert body["message"] == "pong"
    assert body["data"]["zen"] == load("ping.json")["zen"]
    assert body["data"]["hookId"] == 109948940

    # An organization hook has no repository: on the global URL only the global secret signs.
    organization = load("ping-with-organization.json")
    response = await deliver(client, organization, GLOBAL_SECRET, event="ping")
    assert (await answer_of(response, 200))["message"] == "pong"
    response = await deliver(client, organization, hook.secret, event="ping")
    await answer_of(response, 401)
    response = await deliver(client, load("ping-with-app_id.json"), GLOBAL_SECRET, event="ping")
    assert (await answer_of(response, 200))["message"] == "pong"
    assert await Deployment.all().count() == 0


async def test_every_app_tracking_the_repo_and_branch_deploys_the_pushed_commit(
    client: QuartClient, admin: dict[str, str], web_repo: GitRepo
) -> None:
    first = await create_web_app(client, admin, unique_name(), web_repo)
    # The same repository spelled as a path instead of a file:// URL.
    second = await create_app(client, admin, gitRepository=str(web_repo.path))
    other_branch = await create_web_app(client, admin, unique_name(), web_repo, gitBranch="dev")
    manual_only = await create_web_app(client, admin, unique_name(), web_repo, autoDeploy=False)
    sha = web_repo.commit("Ship it\n\nwith a body", {"www/index.html": "two\n"})
    payload = push(
        web_repo.url, "main", sha, "Ship it\n\nwith a body", author=("Ada L", "ada@x.org")
    )

    # An app's own secret on its own URL reaches that app only: the one tracking "dev" stays.
    own = await deliver(client, payload, await hook_of(client, admin, other_branch["id"]))
    own_answer = await answer_of(own, 202)
    assert own_answer["message"] == (
        f"app '{other_branch['name']}' does not track branch 'main' of fogbank-tests/repo"
    )
    # The global secret deploys every auto-deploy app of the repository; the alias path works.
    response = await deliver(client, payload, GLOBAL_SECRET, path="/api/github/webhook")
    body = await answer_of(response, 200)
    assert body["message"] == f"queued 2 deployments of {sha[:7]} from branch 'main'"
    made = body["data"]["deployments"]
    assert [d["appId"] for d in made] == [first["id"], second["id"]]
    assert body["data"]["commit"] == sha and body["data"]["ignored"] is None

    for entry in made:
        deployment = await Deployment.get(id=entry["deploymentId"])
        assert deployment.app_id == entry["appId"]
        assert deployment.deployment_number == entry["deploymentNumber"] == 1
        assert deployment.triggered_by is Trigger.WEBHOOK
        assert deployment.status is Status.PENDING  # answered before any git or docker work
        assert deployment.commit_hash == sha
        assert deployment.commit_message == "Ship it\n\nwith a body"
        assert deployment.commit_author == "Ada L <ada@x.org>"
    for idle in (other_branch, manual_only):
        assert not await Deployment.filter(app_id=idle["id"]).exists()


async def test_auto_deploy_off_is_ignored_with_the_reason(
    client: QuartClient, admin: dict[str, str], web_repo: GitRepo
) -> None:
    manual = await create_web_app(client, admin, unique_name(), web_repo, autoDeploy=False)
    head = web_repo.git("rev-parse", "HEAD")
    response = await deliver(client, push(web_repo.url, "main", head, "x"), GLOBAL_SECRET)
    body = await answer_of(response, 202)
    assert body["message"] == f"autoDeploy is off for {manual['name']}; nothing was deployed"


async def test_the_same_delivery_twice_creates_one_deployment(
    client: QuartClient, admin: dict[str, str], web_repo: GitRepo
) -> None:
    created = await create_web_app(client, admin, unique_name(), web_repo)
    hook = await hook_of(client, admin, created["id"])
    head = web_repo.git("rev-parse", "HEAD")
    body, headers = signed(push(web_repo.url, "main", head, "first version"), hook.secret)

    once = await client.post(hook.path, data=body, headers=headers)
    again = await client.post(hook.path, data=body, headers=headers)
    assert once.status_code == again.status_code == 200
    assert await once.get_data() == await again.get_data()
    assert await Deployment.filter(app_id=created["id"]).count() == 1

    # The same commit under a fresh delivery id (a replayed capture): recorded, nothing new.
    body, headers = signed(push(web_repo.url, "main", head, "first version"), hook.secret)
    replayed = await client.post(hook.path, data=body, headers=headers)
    assert replayed.status_code == 202
    assert "already queued, running or active" in (await replayed.get_json())["message"]
    assert await Deployment.filter(app_id=created["id"]).count() == 1

    # Concurrent copies of one new delivery: still exactly one deployment, one answer.
    second = web_repo.commit("second version", {"www/index.html": "two\n"})
    body, headers = signed(push(web_repo.url, "main", second, "second version"), hook.secret)
    copies = await asyncio.gather(
        *[client.post(hook.path, data=body, headers=headers) for _ in range(8)]
    )
    answers = {await response.get_data() for response in copies}
    assert len(answers) == 1 and {r.status_code for r in copies} == {200}
    assert await Deployment.filter(app_id=created["id"]).count() == 2
    assert await WebhookDelivery.all().count() == 3


@pytest.mark.parametrize("max_body_bytes", [4096])
async def test_a_body_over_the_cap_is_413_and_writes_nothing(
    client: QuartClient, admin: dict[str, str], web_repo: GitRepo
) -> None:
    created = await create_web_app(client, admin, unique_name(), web_repo)
    hook = await hook_of(client, admin, created["id"])
    head = web_repo.git("rev-parse", "HEAD")
    payload = push(web_repo.url, "main", head, "big") | {"padding": "x" * 8192}
    body = await answer_of(await deliver(client, payload, hook), 413)
    assert body["error"] == "PAYLOAD_TOO_LARGE" and "4096 bytes" in body["message"]
    assert await WebhookDelivery.all().count() == 0
    assert await Deployment.all().count() == 0


async def test_malformed_bodies_are_400_and_write_nothing(
    client: QuartClient, admin: dict[str, str], web_repo: GitRepo
) -> None:
    created = await create_web_app(client, admin, unique_name(), web_repo)
    hook = await hook_of(client, admin, created["id"])
    no_after = push(web_repo.url, "main", "a" * 40, "x")
    del no_after["after"]
    for raw in (b'{"ref": ', b"[]", b"", b"\xff\xfe", json.dumps(no_after).encode()):
        body = await answer_of(await deliver(client, raw, hook), 400)
        assert body["error"] == "BAD_REQUEST" and body["success"] is False
    assert await WebhookDelivery.all().count() == 0
    assert await Deployment.all().count() == 0


async def test_form_encoded_delivery_is_understood(
    client: QuartClient, admin: dict[str, str], web_repo: GitRepo
) -> None:
    created = await create_web_app(client, admin, unique_name(), web_repo)
    head = web_repo.git("rev-parse", "HEAD")
    form = urlencode({"payload": json.dumps(push(web_repo.url, "main", head, "x"))}).encode()
    hook = await hook_of(client, admin, created["id"])
    body, headers = signed(form, hook.secret)
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    response = await client.post(hook.path, data=body, headers=headers)
    assert (await answer_of(response, 200))["data"]["commit"] == head


@pytest.mark.parametrize("workers", [2])
async def test_webhook_deploys_the_pushed_commit_not_the_branch_tip(
    app: Quart, client: QuartClient, admin: dict[str, str], web_repo: GitRepo, app_name: str
) -> None:
    port = free_port()
    created = await create_web_app(client, admin, app_name, web_repo, publicPort=port)
    pushed = web_repo.commit("the pushed commit", {"www/index.html": "pushed\n"})
    tip = web_repo.commit("a later commit", {"www/index.html": "tip\n"})
    assert web_repo.git("rev-parse", "main") == tip

    payload = push(web_repo.url, "main", pushed, "the pushed commit")
    response = await deliver(client, payload, await hook_of(client, admin, created["id"]))
    body = await answer_of(response, 200)
    [entry] = body["data"]["deployments"]

    done = await wait_terminal(app, entry["deploymentId"])
    assert done.status is Status.SUCCESS, done.error_message
    assert done.commit_hash == pushed and done.triggered_by is Trigger.WEBHOOK
    async with httpx.AsyncClient(timeout=5) as http:
        served = await http.get(f"http://127.0.0.1:{port}/")
    assert served.text == "pushed\n"
    log = await client.get(f"/api/deployment/logs/{done.id}", headers=admin)
    assert f"Checked out commit {pushed}" in await log.get_data(as_text=True)
