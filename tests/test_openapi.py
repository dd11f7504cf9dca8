"""GET /openapi.json: public, lists every rule of the URL map, describes every request body, and
stays in step with the apps FIELDS table and the route decorators."""

from __future__ import annotations

from typing import Any

import pytest
from quart import Quart
from quart.testing import QuartClient

from api.openapi import openapi_path, operation_methods, undescribed_endpoints
from api.route_specs import ROUTES
from api.routes.apps import FIELDS
from controller.accounts import auth
from controller.store.models import Role
from tests.support.api import clear_cookies

pytestmark = pytest.mark.slow


async def fetch(client: QuartClient) -> dict[str, Any]:
    clear_cookies(client)
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert response.content_type.startswith("application/json")
    document: dict[str, Any] = await response.get_json()
    return document


async def test_every_url_map_rule_is_documented(app: Quart, client: QuartClient) -> None:
    document = await fetch(client)
    assert document["openapi"].startswith("3.")
    listed = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    rules = {
        (method, openapi_path(rule))
        for rule in app.url_map.iter_rules()
        for method in operation_methods(rule)
    }
    assert rules, "the URL map is empty"
    assert rules == listed
    # Described, not just listed: a new route needs its entry in api/route_specs.py.
    assert undescribed_endpoints(app) == set()
    assert set(ROUTES) == {rule.endpoint for rule in app.url_map.iter_rules()}


async def test_bodies_answers_and_roles_are_described(app: Quart, client: QuartClient) -> None:
    document = await fetch(client)
    create = document["paths"]["/api/apps/create"]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["properties"]) == {"gitRepository", *FIELDS}
    assert body["required"] == ["name"] and body["additionalProperties"] is False
    assert body["properties"]["port"] == {"type": "integer", "minimum": 1, "maximum": 65535}
    add = document["paths"]["/api/deployment/add"]["post"]
    assert add["responses"]["200"]["content"]["application/json"]["schema"]["required"][0] == "id"
    assert add["x-fogbank-role"] == "deployer"
    for status in ("401", "403", "404", "422"):
        assert add["responses"][status]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"
        }
    logs = document["paths"]["/api/deployment/logs/{deployment_id}"]["get"]
    assert set(logs["responses"]["200"]["content"]) == {"text/plain", "application/json"}
    assert logs["parameters"][0]["schema"]["type"] == "integer"
    assert document["paths"]["/api/health"]["get"]["security"] == []
    assert document["paths"]["/ws/deployment/logs"]["get"]["x-websocket"] is True
    # The documented role is the one the decorator enforces (the auth walk checks the rest).
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        documented = ROUTES[rule.endpoint].role
        assert getattr(view, "fogbank_public", False) == (documented is None), rule.endpoint


async def test_the_document_reveals_no_secret(client: QuartClient) -> None:
    admin = await auth.create_user("admin", "a long password", Role.ADMIN)
    token = await auth.create_api_token(admin, "t")
    headers = {"Authorization": f"Bearer {token}"}
    app = await client.post(
        "/api/apps/create",
        json={"name": "docs", "gitRepository": "https://example.com/a.git"},
        headers=headers,
    )
    app_id = (await app.get_json())["data"]["id"]
    await client.post(
        "/api/apps/envs/create",
        json={"appId": app_id, "key": "K", "value": "hunter2-value", "isSecret": True},
        headers=headers,
    )
    text = await (await client.get("/openapi.json")).get_data(as_text=True)
    for secret in (token, "hunter2-value", "a long password", "example.com"):
        assert secret not in text
