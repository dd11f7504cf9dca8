"""X-Hub-Signature-256: GitHub's published test vector, the receiver failing closed (401 and
nothing written) for wrong, missing and unconfigured secrets, and per-app secrets with their own
URL (admins only, never in app JSON). GitHub.com itself is the one thing faked: deliveries are
built from its real payloads and signed here (tests/support/github.py)."""

from __future__ import annotations

import json

import pytest
from quart.testing import QuartClient

from controller.accounts import auth
from controller.config import GithubSettings, Settings
from controller.store.models import App, Deployment, Role, WebhookDelivery
from tests.support.api import create_web_app, unique_name
from tests.support.github import answer_of, deliver, hook_of, push, secret_of, signed
from tests.support.repos import GitRepo
from webhooks.signature import Signature, sign, verify

VECTOR_SECRET = "It's a Secret to Everybody"
VECTOR_BODY = b"Hello, World!"
VECTOR_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
GLOBAL_SECRET = "global-webhook-secret"


@pytest.fixture
def global_secret() -> str:
    return ""


@pytest.fixture
def settings(settings: Settings, global_secret: str) -> Settings:
    # No workers: these tests are about the receiver; queued deployments simply stay pending.
    # A config cannot say this (controller.workers is at least 1); model_copy does not validate.
    controller = settings.controller.model_copy(update={"workers": 0})
    github = GithubSettings(webhook_secret=global_secret)
    return settings.model_copy(update={"github": github, "controller": controller})


def test_githubs_published_test_vector() -> None:
    assert sign(VECTOR_SECRET, VECTOR_BODY) == VECTOR_SIGNATURE
    assert verify(VECTOR_BODY, VECTOR_SIGNATURE, [VECTOR_SECRET])
    # Fed chunk by chunk as the body arrives, the same.
    signature = Signature(VECTOR_SECRET)
    for chunk in (VECTOR_BODY[:5], b"", VECTOR_BODY[5:]):
        signature.update(chunk)
    assert signature.matches(VECTOR_SIGNATURE)


def test_verify_fails_closed() -> None:
    assert not verify(VECTOR_BODY, VECTOR_SIGNATURE, ["another secret"])
    assert not verify(VECTOR_BODY + b" ", VECTOR_SIGNATURE, [VECTOR_SECRET])
    assert not verify(VECTOR_BODY, None, [VECTOR_SECRET])
    assert not verify(VECTOR_BODY, "", [VECTOR_SECRET])
    assert not verify(VECTOR_BODY, VECTOR_SIGNATURE.removeprefix("sha256="), [VECTOR_SECRET])
    assert not verify(VECTOR_BODY, VECTOR_SIGNATURE.upper(), [VECTOR_SECRET])
    assert not verify(VECTOR_BODY, "sha256=ünïcode", [VECTOR_SECRET])
    # No secret configured: nothing verifies, not even a signature made with "".
    assert not verify(VECTOR_BODY, sign("", VECTOR_BODY), [])
    assert not verify(VECTOR_BODY, sign("", VECTOR_BODY), ["", ""])
    # Any one of several candidate secrets may have signed it.
    assert verify(VECTOR_BODY, VECTOR_SIGNATURE, ["", "other", VECTOR_SECRET])


async def _assert_nothing_written() -> None:
    assert await WebhookDelivery.all().count() == 0
    assert await Deployment.all().count() == 0


@pytest.mark.slow
async def test_wrong_missing_and_unconfigured_secrets_are_401_and_write_nothing(
    client: QuartClient, admin: dict[str, str], web_repo: GitRepo
) -> None:
    created = await create_web_app(client, admin, unique_name(), web_repo)
    hook = await hook_of(client, admin, created["id"])
    assert hook.path == f"/webhooks/github/{created['name']}"
    head = web_repo.git("rev-parse", "HEAD")
    payload = push(web_repo.url, "main", head, "first version")

    body, headers = signed(payload, "not the secret")
    refused = [await client.post(hook.path, data=body, headers=headers)]
    missing = {k: v for k, v in headers.items() if k != "X-Hub-Signature-256"}
    refused.append(await client.post(hook.path, data=body, headers=missing))
    sha1 = {**headers, "X-Hub-Signature-256": sign(hook.secret, body).replace("sha256", "sha1")}
    refused.append(await client.post(hook.path, data=body, headers=sha1))
    # Signed with the right secret, but over other bytes than those sent.
    _, other = signed(payload | {"after": "f" * 40}, hook.secret)
    refused.append(await client.post(hook.path, data=body, headers=other))
    # The app's own secret on the global URL, or on a URL naming no app, or another app's.
    refused.append(await deliver(client, payload, hook.secret))
    refused.append(await deliver(client, payload, hook.secret, path="/api/github/webhook"))
    refused.append(await deliver(client, payload, hook.secret, path="/webhooks/github/nobody"))

    # No secret configured: the global URL without github.webhook_secret ...
    stranger = push("https://github.com/someone/elsewhere.git", "main", head, "x")
    refused.append(await deliver(client, stranger, "guessed secret"))
    refused.append(await deliver(client, stranger, ""))
    # ... and an app whose secret is blank (created before per-app secrets).
    await App.filter(id=created["id"]).update(webhook_secret="")
    refused.append(await deliver(client, payload, "", path=hook.path))

    for response in refused:
        assert response.status_code == 401
        answer = await response.get_json()
        assert answer["success"] is False and answer["error"] == "UNAUTHORIZED"
        assert "X-Hub-Signature-256" in answer["message"]
    await _assert_nothing_written()

    # The control: the app's own secret on its own URL is accepted.
    await App.filter(id=created["id"]).update(webhook_secret=hook.secret)
    accepted = await deliver(client, payload, hook)
    assert accepted.status_code == 200, await accepted.get_data(as_text=True)
    assert await WebhookDelivery.all().count() == 1
    assert await Deployment.all().count() == 1


@pytest.mark.parametrize("global_secret", [GLOBAL_SECRET])
@pytest.mark.slow
async def test_global_secret_signs_for_every_repository(
    client: QuartClient, admin: dict[str, str], web_repo: GitRepo
) -> None:
    created = await create_web_app(client, admin, unique_name(), web_repo)
    head = web_repo.git("rev-parse", "HEAD")
    payload = push(web_repo.url, "main", head, "first version")
    response = await deliver(client, payload, GLOBAL_SECRET)
    assert response.status_code == 200
    answer = await response.get_json()
    assert [d["appId"] for d in answer["data"]["deployments"]] == [created["id"]]

    stranger = push(
        "https://github.com/someone/elsewhere.git", "main", head, "x", full_name="someone/elsewhere"
    )
    response = await deliver(client, stranger, GLOBAL_SECRET)
    assert response.status_code == 202
    assert (await response.get_json())["message"] == "no app tracks someone/elsewhere"

    response = await deliver(client, payload, "wrong")
    assert response.status_code == 401
    assert await WebhookDelivery.all().count() == 2
    assert await Deployment.all().count() == 1


@pytest.mark.slow
async def test_webhook_settings_are_for_admins_and_the_secret_never_in_app_json(
    client: QuartClient, admin: dict[str, str], web_repo: GitRepo
) -> None:
    created = await create_web_app(client, admin, unique_name(), web_repo)
    response = await client.post("/api/apps/webhook", json={"appId": created["id"]}, headers=admin)
    data = (await answer_of(response, 200))["data"]
    assert set(data) == {"secret", "payloadUrl", "contentType", "events"}
    secret = data["secret"]
    assert len(secret) == 64 and int(secret, 16) >= 0
    assert data["payloadUrl"] == f"http://localhost/webhooks/github/{created['name']}"
    assert (data["contentType"], data["events"]) == ("application/json", ["push"])
    assert (await App.get(id=created["id"])).webhook_secret == secret

    other = await create_web_app(client, admin, unique_name(), web_repo)
    assert await secret_of(client, admin, other["id"]) != secret  # one secret per app

    deployer = await auth.create_user("deployer", "a long password", Role.DEPLOYER)
    token = await auth.create_api_token(deployer, "ci")
    response = await client.post(
        "/api/apps/webhook",
        json={"appId": created["id"]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert (await answer_of(response, 403))["error"] == "FORBIDDEN"

    answers = [
        await client.post("/api/apps/getById", json={"appId": created["id"]}, headers=admin),
        await client.get("/api/apps/getAll", headers=admin),
        await client.put(
            "/api/apps/update", json={"appId": created["id"], "port": 3001}, headers=admin
        ),
    ]
    for answer in answers:
        text = await answer.get_data(as_text=True)
        assert answer.status_code == 200 and secret not in text and "webhook_secret" not in text
    assert "webhook_secret" not in created and secret not in json.dumps(created)

    # An app from before per-app secrets gets one the first time an admin asks.
    await App.filter(id=created["id"]).update(webhook_secret="")
    fresh = await secret_of(client, admin, created["id"])
    assert len(fresh) == 64 and (await App.get(id=created["id"])).webhook_secret == fresh
