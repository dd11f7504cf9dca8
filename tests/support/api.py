"""Driving the in-process app (the `app` and `client` fixtures) through its API: the first admin,
apps, deployments, and waiting for a deployment on the event bus."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from quart import Quart
from quart.testing import QuartClient

from api.services import Services
from controller.store.models import TERMINAL, Deployment, Status
from tests.support.repos import GitRepo

ENVELOPE_KEYS = {"success", "message", "data", "error"}


def services_of(app: Quart) -> Services:
    found: Services = app.extensions["fogbank"]
    return found


def clear_cookies(client: QuartClient) -> None:
    assert client.cookie_jar is not None
    client.cookie_jar.clear()


def unique_name(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def signup_admin(client: QuartClient) -> dict[str, str]:
    """The first user (admin) through the API; returns Bearer headers of a fresh token."""
    response = await client.post(
        "/api/auth/signup", json={"username": "admin", "password": "correct horse"}
    )
    assert response.status_code == 201, await response.get_data(as_text=True)
    token = await client.post("/api/tokens/create", json={"name": "tests"})
    assert token.status_code == 201
    raw = (await token.get_json())["data"]["token"]
    clear_cookies(client)
    return {"Authorization": f"Bearer {raw}"}


async def create_web_app(
    client: QuartClient, headers: dict[str, str], name: str, repo: GitRepo, **extra: Any
) -> dict[str, Any]:
    """`POST /api/apps/create` for a web app on port 3000 (`extra`: more camelCase fields)."""
    body: dict[str, Any] = {
        "name": name,
        "gitRepository": repo.url,
        "port": 3000,
        "healthTimeoutSeconds": 10,
        "stabilizationSeconds": 1,  # keeps the suite fast; tests of the window set their own
    }
    body.update(extra)
    response = await client.post("/api/apps/create", json=body, headers=headers)
    assert response.status_code == 201, await response.get_data(as_text=True)
    data: dict[str, Any] = (await response.get_json())["data"]
    return data


async def add_deployment(
    client: QuartClient, headers: dict[str, str], app_id: int, **extra: Any
) -> dict[str, Any]:
    """`POST /api/deployment/add`; the bare deployment object it answers."""
    response = await client.post(
        "/api/deployment/add", json={"appId": app_id, **extra}, headers=headers
    )
    assert response.status_code == 200, await response.get_data(as_text=True)
    body: dict[str, Any] = await response.get_json()
    return body


async def wait_terminal(app: Quart, deployment_id: int, timeout_seconds: float = 120) -> Deployment:
    """Wait, on the event bus, until the deployment reaches a terminal status."""
    bus = services_of(app).controller.bus
    with bus.subscribe(deployment_id) as subscription:
        deployment = await Deployment.get(id=deployment_id)
        async with asyncio.timeout(timeout_seconds):
            while deployment.status not in TERMINAL:
                event = await subscription.queue.get()
                if event.type == "status" and Status(event.data["status"]) in TERMINAL:
                    break
    return await Deployment.get(id=deployment_id)


async def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """The answer is the error envelope with this status (and stable code); its body."""
    assert response.status_code == status, await response.get_data(as_text=True)
    body: dict[str, Any] = await response.get_json()
    assert set(body) == ENVELOPE_KEYS
    assert body["success"] is False and body["data"] is None
    assert isinstance(body["message"], str) and body["message"]
    if code is not None:
        assert body["error"] == code
    return body
