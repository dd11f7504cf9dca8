"""Bad input gets a 4xx envelope with a clear message, and nothing is written."""

from __future__ import annotations

from typing import Any

import pytest
from quart.testing import QuartClient
from quart.testing.connections import WebsocketDisconnectError

from controller.store.models import App, Deployment, EnvVar, User
from tests.support.api import assert_error

pytestmark = [pytest.mark.slow, pytest.mark.both_backends]


async def count_rows() -> tuple[int, int, int]:
    return (await App.all().count(), await Deployment.all().count(), await EnvVar.all().count())


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/api/deployment/add", "POST"),
        ("/api/deployment/getByAppId", "POST"),
        ("/api/apps/create", "POST"),
        ("/api/apps/update", "PUT"),
        ("/api/apps/envs/create", "POST"),
    ],
)
async def test_malformed_json_is_400(
    client: QuartClient, admin: dict[str, str], path: str, method: str
) -> None:
    before = await count_rows()
    headers = {**admin, "Content-Type": "application/json"}
    for raw in (b"{not json", b"", b"[1, 2]", b"\xff\xfe"):
        response = await client.open(path, method=method, data=raw, headers=headers)
        await assert_error(response, 400, "BAD_REQUEST")
    assert await count_rows() == before


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({}, 422, "'appId' is required"),
        ({"appId": "1"}, 422, "'appId' must be an integer"),
        ({"appId": True}, 422, "'appId' must be an integer"),
        ({"appId": 1.5}, 422, "'appId' must be an integer"),
        ({"appId": 999}, 404, "app 999 does not exist"),
        ({"appId": 1, "bogus": 1}, 422, "unknown field 'bogus'"),
        ({"appId": 1, "commitHash": "not-a-sha"}, 422, "commitHash"),
    ],
)
async def test_deployment_add_rejects_bad_bodies(
    client: QuartClient, admin: dict[str, str], body: dict[str, Any], status: int, fragment: str
) -> None:
    before = await count_rows()
    response = await client.post("/api/deployment/add", json=body, headers=admin)
    result = await assert_error(response, status)
    assert fragment in result["message"]
    assert await count_rows() == before


async def test_ten_megabyte_body_is_413(client: QuartClient, admin: dict[str, str]) -> None:
    before = await count_rows()
    huge = b'{"appId": 1, "pad": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    response = await client.post(
        "/api/deployment/add", data=huge, headers={**admin, "Content-Type": "application/json"}
    )
    await assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert await count_rows() == before


async def test_unknown_ids_are_404(client: QuartClient, admin: dict[str, str]) -> None:
    await assert_error(
        await client.get("/api/deployment/logs/4242", headers=admin), 404, "DEPLOYMENT_NOT_FOUND"
    )
    await assert_error(
        await client.post("/api/apps/getById", json={"appId": 7}, headers=admin),
        404,
        "APP_NOT_FOUND",
    )
    await assert_error(
        await client.delete("/api/apps/envs/delete", json={"envId": 7}, headers=admin),
        404,
        "ENV_NOT_FOUND",
    )


async def test_unknown_route_and_method_use_the_envelope(
    client: QuartClient, admin: dict[str, str]
) -> None:
    await assert_error(await client.get("/api/nope", headers=admin), 404, "NOT_FOUND")
    await assert_error(
        await client.get("/api/deployment/add", headers=admin), 405, "METHOD_NOT_ALLOWED"
    )


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"name": "Bad_Name", "gitRepository": "https://example.com/a.git"}, "name must be"),
        ({"name": "../etc", "gitRepository": "https://example.com/a.git"}, "name must be"),
        ({"name": "ok", "gitRepository": "--upload-pack=touch /tmp/x"}, "gitRepository"),
        ({"name": "ok", "gitRepository": "ext::sh -c touch% /tmp/pwned"}, "gitRepository"),
        ({"name": "ok", "gitRepository": "ftp://example.com/a.git"}, "gitRepository must use"),
        ({"name": "ok", "gitRepository": "https://example.com/a.git", "port": 70000}, "port"),
        (
            {"name": "ok", "gitRepository": "https://example.com/a.git", "publicPort": 80},
            "publicPort",
        ),
        (
            {
                "name": "ok",
                "gitRepository": "https://example.com/a.git",
                "dockerfilePath": "../../x",
            },
            "dockerfilePath",
        ),
        (
            {"name": "ok", "gitRepository": "https://example.com/a.git", "rootDirectory": "/etc"},
            "rootDirectory",
        ),
        (
            {"name": "ok", "gitRepository": "https://example.com/a.git", "gitBranch": "-x"},
            "gitBranch",
        ),
        (
            {"name": "ok", "gitRepository": "https://example.com/a.git", "healthCheckPath": "x"},
            "healthCheckPath",
        ),
        ({"name": "ok", "gitRepository": "https://example.com/a.git", "appType": "vm"}, "appType"),
        ({"name": "ok"}, "gitRepository is required"),
        ({"name": 5, "gitRepository": "https://example.com/a.git"}, "'name' must be a string"),
    ],
)
async def test_app_create_validation(
    client: QuartClient, admin: dict[str, str], body: dict[str, Any], fragment: str
) -> None:
    response = await client.post("/api/apps/create", json=body, headers=admin)
    result = await assert_error(response, 422, "VALIDATION_FAILED")
    assert fragment in result["message"]
    assert await App.all().count() == 0


@pytest.mark.parametrize("raw", ["²", "٣", "9" * 30, "-1", "", "1 "])
async def test_query_ids_are_ascii_bigints(
    client: QuartClient, admin: dict[str, str], raw: str
) -> None:
    """str.isdigit() accepts "²" and Arabic digits and int() of 30 nines overflows SQLite:
    both used to answer 500. Now a 422, and the WebSocket closes 4400."""
    response = await client.get(
        "/api/apps/container/status", query_string={"appId": raw}, headers=admin
    )
    await assert_error(response, 422, "VALIDATION_FAILED")
    async with client.websocket(
        "/ws/deployment/logs", query_string={"deploymentId": raw}, headers=admin
    ) as ws:
        with pytest.raises(WebsocketDisconnectError) as closed:
            await ws.receive()
    assert closed.value.args[0] == 4400


@pytest.mark.parametrize("depth", [33, 5000, 200_000])
async def test_deeply_nested_json_is_400(
    client: QuartClient, admin: dict[str, str], depth: int
) -> None:
    """Nesting past api/requests.py's MAX_JSON_DEPTH (32) is refused before any schema sees it;
    200,000 levels used to be a RecursionError and a 500."""
    nested = b'{"appId": 1, "x": ' + b"[" * depth + b"]" * depth + b"}"
    response = await client.post(
        "/api/deployment/getByAppId",
        data=nested,
        headers={**admin, "Content-Type": "application/json"},
    )
    result = await assert_error(response, 400, "BAD_REQUEST")
    assert "nested deeper than 32" in result["message"]


async def test_nesting_at_the_limit_reaches_the_schema(
    client: QuartClient, admin: dict[str, str]
) -> None:
    """32 levels pass the reader; the schema then refuses the unknown field (422, not 400)."""
    nested = b'{"appId": 1, "x": ' + b"[" * 31 + b"]" * 31 + b"}"
    response = await client.post(
        "/api/deployment/getByAppId",
        data=nested,
        headers={**admin, "Content-Type": "application/json"},
    )
    result = await assert_error(response, 422, "VALIDATION_FAILED")
    assert "unknown field 'x'" in result["message"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
async def test_a_body_that_is_not_json_is_415(
    client: QuartClient, admin: dict[str, str], content_type: str
) -> None:
    before = await count_rows()
    headers = {**admin, "Content-Type": content_type} if content_type else admin
    response = await client.post(
        "/api/apps/create",
        data=b'{"name": "web", "gitRepository": "https://example.com/a.git"}',
        headers=headers,
    )
    await assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert await count_rows() == before


@pytest.mark.parametrize(
    ("path", "body", "fragment"),
    [
        ("/api/apps/update", {"appId": 1, "port": "80"}, "'port' must be an integer"),
        ("/api/apps/update", {"appId": 1, "autoDeploy": 1}, "'autoDeploy' must be true or false"),
        ("/api/apps/update", {"appId": 1, "port": 0}, "'port' must be at least 1"),
        ("/api/apps/update", {"appId": 1, "restartPolicy": "sometimes"}, "restartPolicy"),
        ("/api/apps/update", {"appId": 1, "templateName": "x" * 256}, "'templateName' must"),
        ("/api/apps/update", {"appId": 2**63}, "'appId' must be at most"),
        ("/api/apps/update", {"appId": 1, "git_branch": "main"}, "unknown field 'git_branch'"),
        ("/api/apps/envs/create", {"appId": 1, "value": "v"}, "'key' is required"),
        ("/api/apps/envs/update", {"envId": 1, "key": "K"}, "unknown field 'key'"),
        ("/api/deployment/getByAppId", {"appId": 1, "limit": 201}, "'limit' must be at most 200"),
        ("/api/auth/login", {"username": "x" * 100_000, "password": "p"}, "'username' must match"),
    ],
)
async def test_validation_names_the_field(
    client: QuartClient, admin: dict[str, str], path: str, body: dict[str, Any], fragment: str
) -> None:
    method = "PUT" if path.endswith("update") else "POST"
    response = await client.open(path, method=method, json=body, headers=admin)
    result = await assert_error(response, 422, "VALIDATION_FAILED")
    assert fragment in result["message"]
    assert len(result["message"]) < 500, "the message names the field, it does not echo input"


async def test_the_log_is_never_sniffed_as_html(client: QuartClient, admin: dict[str, str]) -> None:
    """A build log is whatever the build printed; with nosniff a browser shows it as text."""
    app = await App.create(name="sniff", git_repository="https://example.com/a.git")
    deployment = await Deployment.create(app=app, deployment_number=1)
    response = await client.get(f"/api/deployment/logs/{deployment.id}", headers=admin)
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_signup_needs_a_json_body(client: QuartClient) -> None:
    """A cross-site form can send text/plain without a preflight: it must not claim a fresh
    instance."""
    response = await client.post(
        "/api/auth/signup",
        data=b'{"username": "mallory", "password": "a long password"}',
        headers={"Content-Type": "text/plain"},
    )
    await assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert not await User.exists()
