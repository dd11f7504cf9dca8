"""Revocation and accounts against the real app: tokens listed, revoked and expiring; users
disabled, re-enabled, deleted, their role or password changed; open WebSockets closed (4401)
within 5 s when their credential ends; the audit log of every admin action."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from quart.testing import QuartClient
from quart.testing.connections import WebsocketDisconnectError

from controller.store.models import App, Deployment, Status, Trigger
from controller.store.timefmt import iso, utcnow
from tests.support.api import assert_error, clear_cookies
from tests.support.repos import GitRepo

pytestmark = pytest.mark.slow

WS_CLOSE_LIMIT_SECONDS = 5.0
PASSWORD = "a long password"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def call(
    client: QuartClient, method: str, path: str, headers: dict[str, str], body: Any = None
) -> Any:
    response = await client.open(path, method=method, json=body, headers=headers)
    assert response.status_code < 400, await response.get_data(as_text=True)
    return (await response.get_json())["data"]


async def status_of(client: QuartClient, headers: dict[str, str]) -> int:
    return (await client.get("/api/auth/me", headers=headers)).status_code


async def new_user(client: QuartClient, admin: dict[str, str], name: str, role: str) -> int:
    body = {"username": name, "password": PASSWORD, "role": role}
    user: dict[str, Any] = await call(client, "POST", "/api/users/create", admin, body)
    return int(user["id"])


async def token_of(client: QuartClient, username: str, **extra: Any) -> str:
    """Log in as `username`, create a token, forget the cookie."""
    login = await client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert login.status_code == 200
    created = await client.post("/api/tokens/create", json={"name": "t", **extra})
    assert created.status_code == 201, await created.get_data(as_text=True)
    clear_cookies(client)
    token: str = (await created.get_json())["data"]["token"]
    return token


async def open_deployment(client: QuartClient, admin: dict[str, str], repo: GitRepo) -> int:
    """A deployment that stays open (building, with no worker on it): its socket never ends."""
    body = {"name": "watched", "gitRepository": repo.url}
    app = await call(client, "POST", "/api/apps/create", admin, body)
    deployment = await Deployment.create(
        app=await App.get(id=app["id"]),
        deployment_number=1,
        status=Status.BUILDING,
        triggered_by=Trigger.MANUAL,
    )
    return deployment.id


async def closed_after(
    client: QuartClient,
    deployment_id: int,
    headers: dict[str, str],
    end: Callable[[], Awaitable[None]],
) -> tuple[int, float]:
    """Open the log socket, see its status frame, run `end`; the close code and how long the
    socket stayed open after `end` returned."""
    path = f"/ws/deployment/logs?deploymentId={deployment_id}"
    async with client.websocket(path, headers=headers) as ws:
        first = json.loads(await ws.receive())
        assert first["type"] == "status"
        await end()
        ended = time.monotonic()
        with pytest.raises(WebsocketDisconnectError) as closed:
            async with asyncio.timeout(WS_CLOSE_LIMIT_SECONDS * 3):
                while True:
                    await ws.receive()
    code: int = closed.value.args[0]
    return code, time.monotonic() - ended


async def test_a_revoked_token_gets_401_and_its_socket_closes_within_5_s(
    client: QuartClient, admin: dict[str, str], web_repo: GitRepo
) -> None:
    """Protection: the credential watch (api/sockets.py; without it the socket stays open) and
    the row lookup of every request (the 401)."""
    await new_user(client, admin, "ci", "viewer")
    token = await token_of(client, "ci")
    deployment_id = await open_deployment(client, admin, web_repo)
    listed = await call(client, "GET", "/api/tokens/getAll", bearer(token))
    assert [(t["name"], t["username"]) for t in listed] == [("t", "ci")]
    assert "token" not in listed[0] and token not in json.dumps(listed)

    async def revoke() -> None:
        await call(client, "DELETE", "/api/tokens/revoke", admin, {"tokenId": listed[0]["id"]})

    code, seconds = await closed_after(client, deployment_id, bearer(token), revoke)
    print(f"\nrevoked token: socket closed {code} after {seconds:.2f} s")
    assert code == 4401 and seconds < WS_CLOSE_LIMIT_SECONDS
    await assert_error(await client.get("/api/auth/me", headers=bearer(token)), 401)


async def test_a_disabled_users_session_and_tokens_end(
    client: QuartClient, admin: dict[str, str], web_repo: GitRepo
) -> None:
    """Disabling ends the user's sessions (the open cookie socket closes 4401 within 5 s) and
    refuses its tokens until it is enabled again."""
    user_id = await new_user(client, admin, "bob", "deployer")
    token = await token_of(client, "bob")
    deployment_id = await open_deployment(client, admin, web_repo)
    login = await client.post("/api/auth/login", json={"username": "bob", "password": PASSWORD})
    assert login.status_code == 200

    async def disable() -> None:
        await call(client, "POST", "/api/users/disable", admin, {"userId": user_id})

    code, seconds = await closed_after(client, deployment_id, {}, disable)
    print(f"\ndisabled user: cookie socket closed {code} after {seconds:.2f} s")
    assert code == 4401 and seconds < WS_CLOSE_LIMIT_SECONDS
    assert await status_of(client, {}) == 401  # the cookie's session ended
    assert await status_of(client, bearer(token)) == 401
    again = await client.post("/api/auth/login", json={"username": "bob", "password": PASSWORD})
    await assert_error(again, 401, "INVALID_CREDENTIALS")
    await call(client, "POST", "/api/users/enable", admin, {"userId": user_id})
    assert await status_of(client, bearer(token)) == 200


async def test_role_and_password_changes_end_sessions(
    client: QuartClient, admin: dict[str, str]
) -> None:
    user_id = await new_user(client, admin, "dana", "viewer")
    token = await token_of(client, "dana")
    for change in (
        ("/api/users/setRole", {"userId": user_id, "role": "deployer"}),
        ("/api/users/setPassword", {"userId": user_id, "password": PASSWORD}),
    ):
        login = await client.post(
            "/api/auth/login", json={"username": "dana", "password": PASSWORD}
        )
        assert login.status_code == 200 and await status_of(client, {}) == 200
        await call(client, "PUT", change[0], admin, change[1])
        assert await status_of(client, {}) == 401, change[0]
        clear_cookies(client)
    me = await call(client, "GET", "/api/auth/me", bearer(token))
    assert me["role"] == "deployer"  # a token follows its user's role


async def test_an_expiring_token_ends_by_itself(
    client: QuartClient, admin: dict[str, str], web_repo: GitRepo
) -> None:
    await new_user(client, admin, "temp", "viewer")
    token = await token_of(client, "temp", expiresAt=iso(utcnow() + timedelta(seconds=3)))
    deployment_id = await open_deployment(client, admin, web_repo)

    async def nothing() -> None:
        return None

    code, seconds = await closed_after(client, deployment_id, bearer(token), nothing)
    assert code == 4401 and seconds < 3 + WS_CLOSE_LIMIT_SECONDS
    await assert_error(await client.get("/api/auth/me", headers=bearer(token)), 401)
    past = await client.post(
        "/api/tokens/create", json={"name": "p", "expiresAt": "2020-01-01T00:00:00Z"}, headers=admin
    )
    await assert_error(past, 422)


async def test_the_last_enabled_admin_stays(client: QuartClient, admin: dict[str, str]) -> None:
    me = await call(client, "GET", "/api/auth/me", admin)
    for method, path, body in (
        ("PUT", "/api/users/setRole", {"userId": me["id"], "role": "viewer"}),
        ("POST", "/api/users/disable", {"userId": me["id"]}),
        ("DELETE", "/api/users/delete", {"userId": me["id"]}),
    ):
        response = await client.open(path, method=method, json=body, headers=admin)
        await assert_error(response, 409, "LAST_ADMIN")


async def test_others_tokens_are_not_theirs_to_see_or_revoke(
    client: QuartClient, admin: dict[str, str]
) -> None:
    await new_user(client, admin, "v1", "viewer")
    await new_user(client, admin, "v2", "viewer")
    first, second = await token_of(client, "v1"), await token_of(client, "v2")
    mine = await call(client, "GET", "/api/tokens/getAll", bearer(first))
    every = await call(client, "GET", "/api/tokens/getAll", admin)
    assert {t["username"] for t in mine} == {"v1"}
    assert {t["username"] for t in every} >= {"admin", "v1", "v2"}
    theirs = next(t["id"] for t in every if t["username"] == "v2")
    response = await client.delete(
        "/api/tokens/revoke", json={"tokenId": theirs}, headers=bearer(first)
    )
    await assert_error(response, 404, "TOKEN_NOT_FOUND")
    assert await status_of(client, bearer(second)) == 200


async def test_the_audit_log_lists_each_admin_action(
    client: QuartClient, admin: dict[str, str], web_repo: GitRepo
) -> None:
    """Who, what, when, from where, for every change; never a password or a secret value.
    Protection: the after-request hook (api/auditing.py; without it the log is empty)."""
    user_id = await new_user(client, admin, "eve", "viewer")
    await call(client, "PUT", "/api/users/setRole", admin, {"userId": user_id, "role": "deployer"})
    await call(
        client, "PUT", "/api/users/setPassword", admin, {"userId": user_id, "password": "n3w-pw-42"}
    )
    await call(client, "POST", "/api/users/disable", admin, {"userId": user_id})
    await call(client, "POST", "/api/users/enable", admin, {"userId": user_id})
    app = await call(
        client,
        "POST",
        "/api/apps/create",
        admin,
        {"name": "audited", "gitRepository": web_repo.url},
    )
    env = {"appId": app["id"], "key": "API_KEY", "value": "v4lue-s3cret", "isSecret": True}
    await call(client, "POST", "/api/apps/envs/create", admin, env)
    await call(client, "POST", "/api/apps/deployKey", admin, {"appId": app["id"], "rotate": True})
    await call(client, "DELETE", "/api/users/delete", admin, {"userId": user_id})
    await client.get("/api/apps/getAll", headers=admin)  # a read: not a change

    entries = await call(client, "GET", "/api/audit?limit=100", admin)
    actions = [(e["actor"], e["action"], e["target"]) for e in reversed(entries)]
    assert actions[-9:] == [
        ("admin", "users.create", "username=eve role=viewer"),
        ("admin", "users.set_role", f"userId={user_id} role=deployer"),
        ("admin", "users.set_password", f"userId={user_id}"),
        ("admin", "users.disable", f"userId={user_id}"),
        ("admin", "users.enable", f"userId={user_id}"),
        ("admin", "apps.create", "name=audited"),
        ("admin", "envs.create", f"appId={app['id']} key=API_KEY"),
        ("admin", "deploy_keys.deploy_key", f"appId={app['id']} rotate=True"),
        ("admin", "users.delete", f"userId={user_id}"),
    ]
    assert all(e["address"] and e["created_at"].endswith("Z") for e in entries)
    text = json.dumps(entries)
    assert "n3w-pw-42" not in text and "v4lue-s3cret" not in text and PASSWORD not in text
    page = await call(client, "GET", f"/api/audit?limit=2&before={entries[1]['id']}", admin)
    assert [e["id"] for e in page] == [entries[2]["id"], entries[3]["id"]]
