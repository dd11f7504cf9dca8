"""The objects the API answers with: every App setting in snake_case as written in AppSpec,
timestamps in ISO-8601 with Z, secrets masked, repository credentials never shown, and the
restart policies the schema and the Docker adapter accept being the same set."""

from __future__ import annotations

import re
from typing import Any

import pytest
from quart.testing import QuartClient

from api.schemas.apps import AppSpec
from controller.errors import EngineError
from controller.runtime import restart_policy
from controller.runtime.engine import _restart_policy

pytestmark = [pytest.mark.slow, pytest.mark.both_backends]

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
SETTINGS: dict[str, Any] = {
    "name": "shapes",
    "appType": "web",
    "gitRepository": "https://example.com/acme/shapes.git",
    "gitBranch": "release",
    "rootDirectory": "svc",
    "dockerfilePath": "docker/Dockerfile",
    "port": 8000,
    "publicPort": 18081,
    "healthCheckPath": "/healthz",
    "healthTimeoutSeconds": 45,
    "autoDeploy": False,
    "templateName": "",
    "restartPolicy": "on-failure:3",
    "memoryLimitMb": 256,
    "pollIntervalSeconds": 60,
    "updateOrder": "stop-first",
    "stabilizationSeconds": 5,
}


def snake(key: str) -> str:
    return re.sub(r"[A-Z]", lambda match: "_" + match[0].lower(), key)


async def call(
    client: QuartClient, headers: dict[str, str], method: str, path: str, **body: Any
) -> Any:
    response = await client.open(path, method=method, json=body, headers=headers)
    assert response.status_code < 300, await response.get_data(as_text=True)
    return (await response.get_json())["data"]


async def test_every_setting_comes_back_in_snake_case(
    client: QuartClient, admin: dict[str, str]
) -> None:
    created = await call(client, admin, "POST", "/api/apps/create", **SETTINGS)
    assert set(AppSpec.model_fields) <= set(created), "every setting is answered"
    for key, value in SETTINGS.items():
        assert created[snake(key)] == value, key
    assert ISO_Z.match(created["created_at"]) and ISO_Z.match(created["updated_at"])
    one = await call(client, admin, "POST", "/api/apps/getById", appId=created["id"])
    listed = await call(client, admin, "GET", "/api/apps/getAll")
    assert listed == [one]
    assert {key: one[key] for key in created} == created
    assert set(one) - set(created) == {"sync", "health", "sync_detail", "checked_at"}
    updated = await call(
        client, admin, "PUT", "/api/apps/update", appId=created["id"], port=9000, publicPort=None
    )
    assert (updated["port"], updated["public_port"], updated["git_branch"]) == (
        9000,
        None,
        "release",
    )


async def test_repository_credentials_are_never_answered(
    client: QuartClient, admin: dict[str, str]
) -> None:
    url = "https://x-access-token:ghp_s3cr3tT0ken@github.com/acme/web.git"
    created = await call(client, admin, "POST", "/api/apps/create", name="creds", gitRepository=url)
    assert created["git_repository"] == "https://github.com/acme/web.git"
    answers = [
        await client.post("/api/apps/getById", json={"appId": created["id"]}, headers=admin),
        await client.get("/api/apps/getAll", headers=admin),
        await client.put(
            "/api/apps/update", json={"appId": created["id"], "gitRepository": url}, headers=admin
        ),
    ]
    for response in answers:
        assert response.status_code == 200
        assert "s3cr3t" not in await response.get_data(as_text=True)


async def test_secret_env_values_are_masked_in_every_answer(
    client: QuartClient, admin: dict[str, str]
) -> None:
    app = await call(
        client,
        admin,
        "POST",
        "/api/apps/create",
        name="envs",
        gitRepository=SETTINGS["gitRepository"],
    )
    created = await call(
        client,
        admin,
        "POST",
        "/api/apps/envs/create",
        appId=app["id"],
        key="TOKEN",
        value="hunter2",
        isSecret=True,
    )
    assert created["value"] == "********" and created["is_secret"] is True
    plain = await call(
        client, admin, "POST", "/api/apps/envs/create", appId=app["id"], key="PLAIN", value="shown"
    )
    assert (plain["value"], plain["is_secret"], plain["is_build_arg"]) == ("shown", False, False)
    listed = await call(client, admin, "POST", "/api/apps/envs/get", appId=app["id"])
    assert [(env["key"], env["value"]) for env in listed] == [
        ("PLAIN", "shown"),
        ("TOKEN", "********"),
    ]
    revealed = await call(
        client, admin, "PUT", "/api/apps/envs/update", envId=plain["id"], isSecret=True
    )
    assert revealed["value"] == "********"


@pytest.mark.parametrize("policy", ["no", "always", "unless-stopped", "on-failure", "on-failure:3"])
async def test_the_api_and_the_engine_accept_the_same_restart_policies(
    client: QuartClient, admin: dict[str, str], policy: str
) -> None:
    """One list (controller/runtime/restart_policy.py): the API used to refuse on-failure:3,
    which the engine runs."""
    assert restart_policy.PATTERN.fullmatch(policy)
    name, _, retries = policy.partition(":")
    assert _restart_policy(policy) == {"Name": name, "MaximumRetryCount": int(retries or 0)}
    created = await call(
        client,
        admin,
        "POST",
        "/api/apps/create",
        name="policy",
        gitRepository=SETTINGS["gitRepository"],
        restartPolicy=policy,
    )
    assert created["restart_policy"] == policy


@pytest.mark.parametrize("policy", ["sometimes", "on-failure:", "always:2", "on-failure:12345"])
async def test_unknown_restart_policies_are_refused_by_both(
    client: QuartClient, admin: dict[str, str], policy: str
) -> None:
    response = await client.post(
        "/api/apps/create",
        json={
            "name": "policy",
            "gitRepository": SETTINGS["gitRepository"],
            "restartPolicy": policy,
        },
        headers=admin,
    )
    assert response.status_code == 422
    assert "restartPolicy" in (await response.get_json())["message"]
    with pytest.raises(EngineError, match="unknown restart policy"):
        _restart_policy(policy)
