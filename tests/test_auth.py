"""Auth against the real app: signup, login cookie, logout, tokens, roles, rate limit, CSRF."""

from __future__ import annotations

import asyncio
import hmac
from typing import Any

import pytest
from quart.testing import QuartClient
from quart.testing.connections import WebsocketDisconnectError

from api.app import create_app
from controller.accounts import auth
from controller.config import Settings
from controller.store.models import ApiToken, Role, Session, User
from controller.store.timefmt import utcnow
from tests.support.api import clear_cookies
from webhooks.signature import sign, verify

pytestmark = pytest.mark.slow


async def login(client: QuartClient, username: str, password: str) -> int:
    response = await client.post(
        "/api/auth/login", json={"username": username, "password": password}
    )
    return response.status_code


async def test_signup_only_while_no_user_exists(client: QuartClient) -> None:
    first = await client.post(
        "/api/auth/signup", json={"username": "root", "password": "long enough"}
    )
    assert first.status_code == 201
    assert (await first.get_json())["data"]["role"] == "admin"
    clear_cookies(client)
    second = await client.post(
        "/api/auth/signup", json={"username": "eve", "password": "long enough"}
    )
    assert second.status_code == 403
    assert (await second.get_json())["error"] == "SIGNUP_CLOSED"
    assert await User.all().count() == 1


async def test_login_cookie_me_and_logout(client: QuartClient) -> None:
    await auth.create_user("alice", "password123", Role.DEPLOYER)
    assert await login(client, "alice", "wrong-password") == 401
    assert await login(client, "alice", "password123") == 200
    assert client.cookie_jar is not None
    cookie = next(c for c in client.cookie_jar if c.name == "fogbank_session")
    assert cookie.value is not None
    assert cookie.has_nonstandard_attr("HttpOnly")
    me = await client.get("/api/auth/me")
    assert me.status_code == 200
    found = (await me.get_json())["data"]
    assert {k: found[k] for k in ("id", "username", "role", "disabled")} == {
        "id": 1,
        "username": "alice",
        "role": "deployer",
        "disabled": False,
    }
    stored = await Session.all()
    assert len(stored) == 1 and cookie.value not in stored[0].token_hash
    assert (await client.post("/api/auth/logout")).status_code == 200
    assert await Session.all().count() == 0
    # The old cookie value no longer works even if a client kept it.
    client.set_cookie("localhost", "fogbank_session", cookie.value or "")
    assert (await client.get("/api/auth/me")).status_code == 401


async def test_tokens_are_hashed_and_bearer_works(client: QuartClient) -> None:
    user = await auth.create_user("ci", "password123", Role.VIEWER)
    raw = await auth.create_api_token(user, "pipeline")
    assert raw.startswith("fbk_")
    token = await ApiToken.get(name="pipeline")
    assert raw not in token.token_hash
    me = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {raw}"})
    assert (await me.get_json())["data"]["username"] == "ci"


async def test_roles_are_enforced(client: QuartClient) -> None:
    viewer = await auth.create_user("viewer", "password123", Role.VIEWER)
    deployer = await auth.create_user("deployer", "password123", Role.DEPLOYER)
    as_viewer = {"Authorization": f"Bearer {await auth.create_api_token(viewer, 't')}"}
    as_deployer = {"Authorization": f"Bearer {await auth.create_api_token(deployer, 't')}"}
    add = await client.post("/api/deployment/add", json={"appId": 1}, headers=as_viewer)
    assert add.status_code == 403
    assert (await add.get_json())["error"] == "FORBIDDEN"
    create = await client.post(
        "/api/apps/create",
        json={"name": "x", "gitRepository": "https://e.com/x.git"},
        headers=as_deployer,
    )
    assert create.status_code == 403
    listing = await client.get("/api/apps/getAll", headers=as_viewer)
    assert listing.status_code == 200
    # A deployer gets past the role check (and then finds no app).
    missing = await client.post("/api/deployment/add", json={"appId": 1}, headers=as_deployer)
    assert missing.status_code == 404


async def test_login_is_rate_limited(client: QuartClient) -> None:
    await auth.create_user("bob", "password123", Role.VIEWER)
    for _ in range(5):
        assert await login(client, "bob", "nope-nope") == 401
    assert await login(client, "bob", "password123") == 429


async def test_cookie_state_change_needs_json_and_same_origin(client: QuartClient) -> None:
    await auth.create_user("carol", "password123", Role.ADMIN)
    assert await login(client, "carol", "password123") == 200
    form = await client.post(
        "/api/apps/create",
        data="name=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 403
    cross = await client.post(
        "/api/apps/create",
        json={"name": "x", "gitRepository": "https://e.com/x.git"},
        headers={"Origin": "https://evil.example"},
    )
    assert cross.status_code == 403
    assert (await cross.get_json())["error"] == "CSRF_REJECTED"


async def test_passwords_are_stored_as_argon2_hashes(client: QuartClient) -> None:
    await auth.create_user("dora", "password123", Role.VIEWER)
    stored = (await User.get(username="dora")).password_hash
    assert stored.startswith("$argon2id$") and "password123" not in stored
    assert await login(client, "dora", "password123") == 200


async def test_sessions_expire_on_the_server(settings: Settings) -> None:
    """A 1-second session: accepted at once, refused (and deleted) after its TTL even when the
    client keeps sending the cookie."""
    short = settings.model_copy(
        update={"auth": settings.auth.model_copy(update={"session_ttl_seconds": 1})}
    )
    quart_app = create_app(short)
    async with quart_app.test_app():
        client = QuartClient(quart_app)
        await auth.create_user("erin", "password123", Role.VIEWER)
        assert await login(client, "erin", "password123") == 200
        assert client.cookie_jar is not None
        raw = next(c.value for c in client.cookie_jar if c.name == "fogbank_session")
        assert raw is not None
        assert (await client.get("/api/auth/me")).status_code == 200
        session = await Session.get()
        await asyncio.sleep(max(0.0, (session.expires_at - utcnow()).total_seconds()) + 0.1)
        clear_cookies(client)
        client.set_cookie("localhost", "fogbank_session", raw)
        assert (await client.get("/api/auth/me")).status_code == 401
        assert await Session.all().count() == 0


async def test_credentials_are_compared_in_constant_time(
    client: QuartClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tokens and sessions are looked up by their SHA-256 (so lookup timing says nothing about the
    raw value) and then compared with hmac.compare_digest, as are webhook signatures."""
    calls: list[tuple[object, object]] = []
    original = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return original(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    user = await auth.create_user("finn", "password123", Role.VIEWER)
    raw = await auth.create_api_token(user, "t")
    assert await auth.resolve_api_token(raw) is not None
    assert len(calls) == 1 and raw not in str(calls[0])
    session = await auth.create_session(user, 60)
    assert await auth.resolve_session(session) is not None
    assert len(calls) == 2
    assert verify(b"{}", sign("s3cret", b"{}"), ["other", "s3cret"])
    assert len(calls) == 4  # every secret compared, no early return


async def test_cookie_websocket_needs_an_allowed_origin(client: QuartClient) -> None:
    """A page on another site cannot ride the session cookie into the log socket (4403); the same
    host, or a Bearer token from anywhere, gets past authentication (4404: no such deployment)."""
    user = await auth.create_user("gail", "password123", Role.ADMIN)
    token = await auth.create_api_token(user, "t")
    assert await login(client, "gail", "password123") == 200
    cases = [
        ({"Origin": "https://evil.example"}, 4403),
        ({"Origin": "null"}, 4403),
        ({"Origin": "http://localhost"}, 4404),
        ({}, 4404),
    ]
    for headers, code in cases:
        assert await ws_close_code(client, headers) == code, headers
    clear_cookies(client)
    bearer = {"Origin": "https://evil.example", "Authorization": f"Bearer {token}"}
    assert await ws_close_code(client, bearer) == 4404


async def ws_close_code(client: QuartClient, headers: dict[str, str]) -> int:
    async with client.websocket("/ws/deployment/logs?deploymentId=99", headers=headers) as ws:
        with pytest.raises(WebsocketDisconnectError) as closed:
            await ws.receive()
    code: int = closed.value.args[0]
    return code
