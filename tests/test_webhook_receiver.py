"""The receiver's fast path (api/receiver.py) answers GitHub's POSTs in front of Quart, and
answers exactly as the Quart view does: same status, same bytes. Real app lifespan, real SQLite
and PostgreSQL, a real git repository; GitHub.com is faked by its real payloads, signed here."""

from __future__ import annotations

import pytest
from quart import Quart, request
from quart.testing import QuartClient

from api.access import AccessLog
from api.hosts import HostGuard
from api.receiver import ReceiverMount
from api.wsframes import RawSendMount
from controller.config import GithubSettings, Settings
from controller.store.models import Deployment, WebhookDelivery
from tests.support.api import create_web_app, unique_name
from tests.support.github import hook_of, push, signed
from tests.support.repos import GitRepo
from webhooks.signature import sign

pytestmark = [pytest.mark.slow, pytest.mark.both_backends]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # No workers (a config cannot say this: controller.workers is at least 1; model_copy does
    # not validate).
    controller = settings.controller.model_copy(update={"workers": 0})
    github = GithubSettings(webhook_secret="", max_body_bytes=16384)
    return settings.model_copy(update={"github": github, "controller": controller})


async def test_the_mount_answers_receiver_posts_before_quart_and_like_the_view(
    app: Quart, client: QuartClient, admin: dict[str, str], web_repo: GitRepo
) -> None:
    # The request id and access log wrap everything (api/access.py) but the note of the
    # server's own send (api/wsframes.py), then the Host allow-list.
    outermost = app.asgi_app
    assert isinstance(outermost, RawSendMount)
    access = outermost.inner
    assert isinstance(access, AccessLog) and isinstance(access.inner, HostGuard)
    guard = access.inner
    mount = guard.inner
    assert isinstance(mount, ReceiverMount)
    seen_by_quart: list[str | None] = []

    @app.before_request
    async def note_endpoint() -> None:
        seen_by_quart.append(request.endpoint)

    created = await create_web_app(client, admin, unique_name(), web_repo)
    hook = await hook_of(client, admin, created["id"])
    head = web_repo.git("rev-parse", "HEAD")
    body, headers = signed(push(web_repo.url, "main", head, "ship"), hook.secret)
    forged, forged_headers = signed(push(web_repo.url, "main", head, "forged"), "not-the-secret")
    big = push(web_repo.url, "main", head, "x") | {"pad": "x" * 20000}
    big_body, big_headers = signed(big, hook.secret)
    broken = {**headers, "X-Hub-Signature-256": sign(hook.secret, b'{"ref": ')}
    cases = [
        (hook.path, body, headers),  # deploys
        (hook.path, body, headers),  # the same delivery again
        ("/api/github/webhook", body, headers),  # an app's secret on the global URL: 401
        (hook.path, forged, forged_headers),  # 401
        (hook.path, big_body, big_headers),  # 413
        (hook.path, b'{"ref": ', {**broken, "X-GitHub-Delivery": "broken"}),  # 400
    ]
    views = ("webhooks.github", "webhooks.github_app")

    seen_by_quart.clear()
    fast = [await client.post(path, data=data, headers=h) for path, data, h in cases]
    assert not set(views) & set(seen_by_quart)  # the mount answered; Quart never saw them

    # The same requests again with the mount taken away: Quart's view answers them.
    guard.inner = mount.inner
    try:
        slow = [await client.post(path, data=data, headers=h) for path, data, h in cases]
    finally:
        guard.inner = mount
    assert sum(seen_by_quart.count(view) for view in views) == len(cases)

    assert [r.status_code for r in fast] == [200, 200, 401, 401, 413, 400]
    assert [r.status_code for r in slow] == [r.status_code for r in fast]
    for mounted, viewed in zip(fast, slow, strict=True):
        assert mounted.headers["Content-Type"] == viewed.headers["Content-Type"]
        assert mounted.headers["X-Request-Id"] != viewed.headers["X-Request-Id"]
        assert await mounted.get_data() == await viewed.get_data()
    assert await Deployment.filter(app_id=created["id"]).count() == 1
    assert await WebhookDelivery.all().count() == 1


async def test_other_methods_on_the_receiver_paths_get_quarts_405_envelope(
    client: QuartClient,
) -> None:
    for path in ("/webhooks/github", "/api/github/webhook", "/webhooks/github/some-app"):
        response = await client.get(path)
        assert response.status_code == 405
        body = await response.get_json()
        assert body["error"] == "METHOD_NOT_ALLOWED" and body["success"] is False


async def test_an_app_url_no_app_could_have_is_refused_like_any_other(client: QuartClient) -> None:
    """Found by the fuzzer: a name longer than any app name made the database refuse the lookup
    of its secret, and the delivery got a 500."""
    response = await client.post(
        "/webhooks/github/" + "Ωçµ÷" * 20,
        json={},
        headers={"X-Hub-Signature-256": "sha256=" + "0" * 64},
    )
    assert response.status_code == 401
    assert (await response.get_json())["error"] == "UNAUTHORIZED"
