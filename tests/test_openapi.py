"""GET /openapi.json and GET /docs: public, generated from the schemas, listing every rule of the
URL map with its body, answers, errors and role; the page works offline and names every route."""

from __future__ import annotations

import re
from typing import Any

import pytest
from quart import Quart
from quart.testing import QuartClient

from api.documentation import is_page_rule
from api.schemas.apps import AppCreate, AppSpec, AppUpdate
from controller.accounts import auth
from controller.store.models import Role
from tests.support.api import clear_cookies
from tests.test_auth_walk import ACCESS

pytestmark = pytest.mark.slow

PATH_PARAMETER = re.compile(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>")


async def fetch(client: QuartClient) -> dict[str, Any]:
    clear_cookies(client)
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert response.content_type.startswith("application/json")
    document: dict[str, Any] = await response.get_json()
    return document


def url_map_operations(app: Quart) -> set[tuple[str, str]]:
    """Every operation of the API: the URL map but the dashboard's pages (HTML for people)."""
    return {
        (method, PATH_PARAMETER.sub(r"{\1}", rule.rule))
        for rule in app.url_map.iter_rules()
        if not is_page_rule(app, rule)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }


async def test_every_url_map_rule_is_documented(app: Quart, client: QuartClient) -> None:
    document = await fetch(client)
    assert document["openapi"].startswith("3.")
    listed = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    assert len(listed) >= 30, "the walk sees the whole API"
    assert listed == url_map_operations(app)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            # Described, not just listed: each view's docstring is its summary.
            assert operation["summary"], (method, path)
            assert operation["responses"], (method, path)
    operation_ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(operation_ids) == len(set(operation_ids))


async def test_bodies_answers_and_errors_are_described(client: QuartClient) -> None:
    document = await fetch(client)
    components = document["components"]["schemas"]
    create = document["paths"]["/api/apps/create"]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]
    spec_keys = {info.alias for info in AppSpec.model_fields.values()}
    assert set(body["properties"]) == spec_keys
    assert body["required"] == ["name"] and body["additionalProperties"] is False
    port = body["properties"]["port"]
    assert (port["type"], port["minimum"], port["maximum"], port["default"]) == (
        "integer",
        1,
        65535,
        3000,
    )
    update = document["paths"]["/api/apps/update"]["put"]
    update_body = update["requestBody"]["content"]["application/json"]["schema"]
    assert set(update_body["properties"]) == spec_keys | {"appId"}
    assert update_body["required"] == ["appId"]
    assert "default" not in update_body["properties"]["port"]  # absent means unchanged
    created = create["responses"]["201"]["content"]["application/json"]["schema"]
    assert set(created["required"]) == {"success", "message", "data", "error"}
    assert created["properties"]["data"] == {"$ref": "#/components/schemas/AppOut"}
    # The answer carries every setting, in snake_case.
    assert set(AppSpec.model_fields) <= set(components["AppOut"]["properties"])
    add = document["paths"]["/api/deployment/add"]["post"]
    bare = add["responses"]["200"]["content"]["application/json"]["schema"]
    assert "success" not in bare["properties"] and bare["required"][0] == "id"
    for status in ("400", "401", "403", "404", "413", "415", "422"):
        assert add["responses"][status]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Failure"
        }
    assert components["Failure"]["properties"]["success"]["const"] is False
    logs = document["paths"]["/api/deployment/logs/{deployment_id}"]["get"]
    assert set(logs["responses"]["200"]["content"]) == {"text/plain", "application/json"}
    assert logs["parameters"][0]["schema"]["type"] == "integer"
    status = document["paths"]["/api/apps/container/status"]["get"]
    assert status["parameters"][0]["name"] == "appId" and status["parameters"][0]["required"]
    assert document["paths"]["/api/health"]["get"]["security"] == []
    assert document["paths"]["/ws/deployment/logs"]["get"]["x-websocket"] is True
    app_logs = document["paths"]["/api/apps/logs"]["get"]
    assert set(app_logs["responses"]["200"]["content"]) == {"text/plain", "application/json"}
    parameters = {p["name"]: p["required"] for p in app_logs["parameters"]}
    assert parameters == {"appId": True, "tail": False, "since": False}
    follow = document["paths"]["/ws/apps/logs"]["get"]
    assert follow["x-websocket"] is True
    assert {p["name"] for p in follow["parameters"]} == {"appId", "tail", "since", "token"}


async def test_documented_roles_are_the_enforced_ones(client: QuartClient) -> None:
    """The role each operation documents is the one tests/test_auth_walk.py sees enforced."""
    document = await fetch(client)
    documented = {}
    for path, operations in document["paths"].items():
        rule = re.sub(r"{(\w+)}", r"<\1>", path).replace("<deployment_id>", "<int:deployment_id>")
        for method, operation in operations.items():
            key = ("WS" if operation.get("x-websocket") else method.upper(), rule)
            documented[key] = operation["x-fogbank-role"]
    walked = {
        key: "public" if access in ("public", "signature") else str(access)
        for key, access in ACCESS.items()
    }
    assert documented == walked


def test_update_and_create_are_derived_from_the_spec() -> None:
    """A new App setting is one field in AppSpec: create and update follow without edits."""
    spec = set(AppSpec.model_fields)
    assert set(AppCreate.model_fields) == spec
    assert set(AppUpdate.model_fields) == spec | {"app_id"}
    assert not any(AppUpdate.model_fields[name].is_required() for name in spec)


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
    for path in ("/openapi.json", "/docs"):
        text = await (await client.get(path)).get_data(as_text=True)
        for secret in (token, "hunter2-value", "a long password", "example.com/a.git"):
            assert secret not in text


async def test_docs_page_names_every_route_and_works_offline(client: QuartClient) -> None:
    document = await fetch(client)
    response = await client.get("/docs")
    assert response.status_code == 200
    assert response.content_type.startswith("text/html")
    html = await response.get_data(as_text=True)
    # Without JavaScript: every operation is in the HTML, method and path.
    for path, operations in document["paths"].items():
        for method in operations:
            assert f"<code>{method.upper()}</code> <code>{path}</code>" in html, (method, path)
    # Offline: every script and style sheet comes from this server.
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(source.startswith("/") for source in sources), sources
    assert "'self'" in response.headers["Content-Security-Policy"]
    for source in sources:
        asset = await client.get(source)
        assert asset.status_code == 200, source
        if source.startswith("/docs/assets/"):
            assert asset.headers["X-Content-Type-Options"] == "nosniff"
    bundle = await client.get("/docs/assets/swagger-ui-bundle.js")
    assert bundle.content_type.startswith("text/javascript")
    assert len(await bundle.get_data()) > 1_000_000  # the real Swagger UI, not a stub
    missing = await client.get("/docs/assets/nope.js")
    assert missing.status_code == 404
    assert (await missing.get_json())["error"] == "NOT_FOUND"
