"""Who may do what: every HTTP route and the WebSocket, walked with no credentials and as a viewer,
a deployer and an admin, against the table below. A route missing from the table fails the test,
so a new route cannot ship without a decision about who may call it."""

from __future__ import annotations

import re
from typing import Literal

import pytest
from quart import Quart
from quart.testing import QuartClient
from quart.testing.connections import WebsocketDisconnectError

from api.documentation import is_page_rule
from controller.accounts import auth
from controller.store.models import Role
from tests.support.api import clear_cookies

pytestmark = pytest.mark.slow

Access = Role | Literal["public", "signature"]
VIEWER, DEPLOYER, ADMIN = Role.VIEWER, Role.DEPLOYER, Role.ADMIN

# (method, URL rule) -> the minimum role; "public": anyone; "signature": nobody without a valid
# X-Hub-Signature-256, whatever their credentials.
ACCESS: dict[tuple[str, str], Access] = {
    ("GET", "/api/health"): "public",
    ("GET", "/api/ready"): "public",
    ("GET", "/openapi.json"): "public",
    ("GET", "/docs"): "public",
    ("GET", "/docs/assets/<name>"): "public",
    ("POST", "/api/auth/login"): "public",
    ("POST", "/api/auth/signup"): "public",
    ("POST", "/api/auth/logout"): VIEWER,
    ("GET", "/api/auth/me"): VIEWER,
    ("POST", "/api/tokens/create"): VIEWER,
    ("GET", "/api/tokens/getAll"): VIEWER,
    ("DELETE", "/api/tokens/revoke"): VIEWER,
    ("GET", "/api/users/getAll"): ADMIN,
    ("POST", "/api/users/create"): ADMIN,
    ("PUT", "/api/users/setRole"): ADMIN,
    ("PUT", "/api/users/setPassword"): ADMIN,
    ("POST", "/api/users/disable"): ADMIN,
    ("POST", "/api/users/enable"): ADMIN,
    ("DELETE", "/api/users/delete"): ADMIN,
    ("GET", "/api/audit"): ADMIN,
    ("GET", "/api/instances"): ADMIN,
    ("POST", "/api/apps/create"): ADMIN,
    ("POST", "/api/apps/getById"): VIEWER,
    ("GET", "/api/apps/getAll"): VIEWER,
    ("POST", "/api/apps/events"): VIEWER,
    ("PUT", "/api/apps/update"): ADMIN,
    ("DELETE", "/api/apps/delete"): ADMIN,
    ("POST", "/api/apps/webhook"): ADMIN,
    ("POST", "/api/apps/deployKey"): ADMIN,
    ("POST", "/api/apps/connection"): VIEWER,
    ("GET", "/api/templates"): VIEWER,
    ("POST", "/api/registries/create"): ADMIN,
    ("GET", "/api/registries/getAll"): ADMIN,
    ("DELETE", "/api/registries/delete"): ADMIN,
    ("POST", "/api/apps/envs/create"): ADMIN,
    ("POST", "/api/apps/envs/get"): VIEWER,
    ("PUT", "/api/apps/envs/update"): ADMIN,
    ("DELETE", "/api/apps/envs/delete"): ADMIN,
    ("POST", "/api/apps/domains/create"): ADMIN,
    ("POST", "/api/apps/domains/get"): VIEWER,
    ("DELETE", "/api/apps/domains/delete"): ADMIN,
    ("POST", "/api/apps/container/start"): DEPLOYER,
    ("POST", "/api/apps/container/stop"): DEPLOYER,
    ("POST", "/api/apps/container/restart"): DEPLOYER,
    ("GET", "/api/apps/container/status"): VIEWER,
    ("GET", "/api/apps/logs"): VIEWER,
    ("POST", "/api/deployment/add"): DEPLOYER,
    ("POST", "/api/deployment/stop"): DEPLOYER,
    ("POST", "/api/deployment/rollback"): DEPLOYER,
    ("POST", "/api/deployment/getByAppId"): VIEWER,
    ("GET", "/api/deployment/logs/<int:deployment_id>"): VIEWER,
    ("POST", "/api/apps/github/get"): VIEWER,
    ("PUT", "/api/apps/github/update"): ADMIN,
    ("POST", "/api/notifications/targets/create"): ADMIN,
    ("POST", "/api/notifications/targets/list"): VIEWER,
    ("PUT", "/api/notifications/targets/update"): ADMIN,
    ("DELETE", "/api/notifications/targets/delete"): ADMIN,
    ("POST", "/api/notifications/test"): ADMIN,
    # Its own check, not a user's role: metrics.token or metrics.allow_from (test_metrics.py).
    ("GET", "/metrics"): "public",
    ("POST", "/webhooks/github"): "signature",
    ("POST", "/api/github/webhook"): "signature",
    ("POST", "/webhooks/github/<app_name>"): "signature",
    ("WS", "/ws/deployment/logs"): VIEWER,
    ("WS", "/ws/apps/deployments"): VIEWER,
    ("WS", "/ws/apps/logs"): VIEWER,
}
CALLERS: tuple[Role | None, ...] = (None, VIEWER, DEPLOYER, ADMIN)
Outcome = Literal["401", "403", "allowed"]


def url_map_routes(app: Quart) -> set[tuple[str, str]]:
    """The API's routes (the dashboard's pages: tests/test_route_policy.py)."""
    routes = set()
    for rule in app.url_map.iter_rules():
        if is_page_rule(app, rule):
            continue
        if rule.websocket:
            routes.add(("WS", rule.rule))
            continue
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            routes.add((method, rule.rule))
    return routes


def expected(access: Access, caller: Role | None) -> Outcome:
    if access == "public":
        return "allowed"
    if access == "signature" or caller is None:
        return "401"
    return "allowed" if caller.rank >= access.rank else "403"


def concrete(rule: str) -> str:
    return re.sub(r"<(?:\w+:)?\w+>", "1", rule)


async def http_outcome(client: QuartClient, method: str, path: str, token: str | None) -> Outcome:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    query = {"appId": "1"} if method == "GET" else None
    body = None if method == "GET" else {"appId": 1}
    response = await client.open(
        path, method=method, json=body, headers=headers, query_string=query
    )
    if response.status_code == 401:
        return "401"
    # Only the role check's own code: signup's SIGNUP_CLOSED is an answer, not a denial.
    if response.status_code == 403 and (await response.get_json())["error"] == "FORBIDDEN":
        return "403"
    return "allowed"


async def ws_outcome(client: QuartClient, path: str, token: str | None) -> Outcome:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with client.websocket(f"{path}?deploymentId=1&appId=1", headers=headers) as ws:
        with pytest.raises(WebsocketDisconnectError) as closed:
            await ws.receive()
    code = closed.value.args[0]
    if code == 4401:
        return "401"
    if code == 4403:
        return "403"
    return "allowed"


async def test_the_table_covers_every_route(app: Quart) -> None:
    assert url_map_routes(app) == set(ACCESS)


async def test_every_route_against_every_role(app: Quart, client: QuartClient) -> None:
    tokens: dict[Role | None, str | None] = {None: None}
    for role in (VIEWER, DEPLOYER, ADMIN):
        user = await auth.create_user(f"walk-{role}", "a long password", role)
        tokens[role] = await auth.create_api_token(user, "walk")
    clear_cookies(client)
    mismatches = []
    for (method, rule), access in sorted(ACCESS.items(), key=lambda item: item[0]):
        for caller in CALLERS:
            if method == "WS":
                got = await ws_outcome(client, rule, tokens[caller])
            else:
                got = await http_outcome(client, method, concrete(rule), tokens[caller])
            want = expected(access, caller)
            if got != want:
                mismatches.append(f"{method} {rule} as {caller or 'anonymous'}: {got}, want {want}")
    assert mismatches == []
    assert url_map_routes(app) == set(ACCESS)  # nothing was added while walking
