"""Walks the app's URL map: every API route but the public few answers 401 in the envelope
without credentials, every dashboard page but the public few redirects to the login page, and
the WebSockets close with 4401."""

from __future__ import annotations

import re

import pytest
from quart import Quart
from quart.testing import QuartClient
from quart.testing.connections import WebsocketDisconnectError

from api.documentation import is_page_rule
from tests.support.api import clear_cookies

pytestmark = pytest.mark.slow

PUBLIC = {
    ("GET", "/api/health"),
    ("GET", "/api/ready"),
    ("GET", "/openapi.json"),  # the schema document; it holds no secrets
    ("GET", "/docs"),  # the docs page and its files (Swagger UI): no secrets either
    ("GET", "/docs/assets/1"),
    ("POST", "/api/auth/login"),
    ("POST", "/api/auth/signup"),
    ("GET", "/metrics"),  # its own token or address check (tests/test_metrics.py)
    ("POST", "/webhooks/github"),  # authenticated by the GitHub signature
    ("POST", "/api/github/webhook"),
    ("POST", "/webhooks/github/1"),  # one app's own URL: its own secret
}
# Dashboard pages anyone may open: the login form, first-run signup, the pages' own files.
PUBLIC_PAGES = {"/login", "/signup", "/ui/assets/1"}
ENVELOPE_KEYS = {"success", "message", "data", "error"}


def http_routes(app: Quart, *, pages: bool = False) -> list[tuple[str, str]]:
    """The API's routes (or, with `pages`, the dashboard's)."""
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.websocket or rule.endpoint == "static" or is_page_rule(app, rule) != pages:
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


async def test_every_page_but_the_public_few_sends_to_the_login_page(
    app: Quart, client: QuartClient
) -> None:
    pages = http_routes(app, pages=True)
    assert {method for method, _ in pages} == {"GET"}  # pages only read; changes go to the API
    assert len(pages) >= 8
    for _, path in pages:
        response = await client.get(path)
        if path in PUBLIC_PAGES:
            # 200, 404 (no asset named "1"), or /login's 303 to /signup while no user exists
            assert not response.headers.get("Location", "").startswith("/login"), path
        else:
            assert response.status_code == 303, path
            assert response.headers["Location"].startswith("/login"), path
        assert "Content-Security-Policy" in response.headers, path
    assert {path for _, path in pages} >= PUBLIC_PAGES


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


@pytest.mark.parametrize(
    "path", ["/ws/deployment/logs?deploymentId=1", "/ws/apps/deployments?appId=1"]
)
async def test_websocket_without_auth_closes_4401(client: QuartClient, path: str) -> None:
    async with client.websocket(path) as ws:
        with pytest.raises(WebsocketDisconnectError) as closed:
            await ws.receive()
    assert closed.value.args[0] == 4401
