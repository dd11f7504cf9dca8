"""Walks the app's URL map: every route but the public few answers 401 in the envelope without
credentials, and the WebSocket closes with 4401."""

from __future__ import annotations

import re

import pytest
from quart import Quart
from quart.testing import QuartClient
from quart.testing.connections import WebsocketDisconnectError

from tests.support.api import clear_cookies

pytestmark = pytest.mark.slow

PUBLIC = {
    ("GET", "/api/health"),
    ("GET", "/openapi.json"),  # the schema document; it holds no secrets
    ("GET", "/docs"),  # the docs page and its files (Swagger UI): no secrets either
    ("GET", "/docs/assets/1"),
    ("POST", "/api/auth/login"),
    ("POST", "/api/auth/signup"),
    ("GET", "/metrics"),  # its own token or address check (tests/test_metrics.py)
    ("POST", "/webhooks/github"),  # authenticated by the GitHub signature
    ("POST", "/api/github/webhook"),
}
ENVELOPE_KEYS = {"success", "message", "data", "error"}


def http_routes(app: Quart) -> list[tuple[str, str]]:
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.websocket or rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:\w+:)?\w+>", "1", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append((method, path))
    return routes


async def test_every_private_route_needs_credentials(app: Quart, client: QuartClient) -> None:
    routes = http_routes(app)
    assert len(routes) >= 15  # the walk really sees the API
    checked = 0
    for method, path in routes:
        if (method, path) in PUBLIC:
            continue
        response = await client.open(path, method=method, json={"appId": 1})
        assert response.status_code == 401, (method, path, response.status_code)
        body = await response.get_json()
        assert set(body) == ENVELOPE_KEYS and body["success"] is False
        assert body["error"] == "UNAUTHORIZED"
        checked += 1
    assert checked == len(routes) - len(PUBLIC)


async def test_public_routes_are_exactly_the_allowed_ones(app: Quart) -> None:
    public = {
        (method, path)
        for method, path in http_routes(app)
        if getattr(app.view_functions[_endpoint(app, method, path)], "fogbank_public", False)
    }
    assert public == PUBLIC


def _endpoint(app: Quart, method: str, path: str) -> str:
    adapter = app.url_map.bind("localhost")
    endpoint, _ = adapter.match(path, method=method)
    return str(endpoint)


async def test_garbage_credentials_are_refused(client: QuartClient) -> None:
    for headers in ({"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        response = await client.get("/api/apps/getAll", headers=headers)
        assert response.status_code == 401
    clear_cookies(client)
    client.set_cookie("localhost", "fogbank_session", "forged")
    response = await client.get("/api/apps/getAll")
    assert response.status_code == 401


async def test_websocket_without_auth_closes_4401(client: QuartClient) -> None:
    async with client.websocket("/ws/deployment/logs?deploymentId=1") as ws:
        with pytest.raises(WebsocketDisconnectError) as closed:
            await ws.receive()
    assert closed.value.args[0] == 4401
