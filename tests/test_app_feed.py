"""WS /ws/apps/deployments: an app's newest deployment on connect, then every deployment
requested for it, whatever asked (here the API's add and a rollback); unknown apps close 4404.
Manual and rollback requests record who asked."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from quart import Quart
from quart.testing import QuartClient
from quart.testing.connections import WebsocketDisconnectError

from controller.store.models import Deployment
from tests.support.api import add_deployment, wait_terminal
from tests.support.deployed import DeployedWebApp

pytestmark = pytest.mark.slow


async def frame(ws: Any) -> dict[str, Any]:
    async with asyncio.timeout(10):
        found: dict[str, Any] = json.loads(await ws.receive())
    return found


async def test_the_feed_announces_every_requested_deployment(
    app: Quart, client: QuartClient, deployed_web_app: DeployedWebApp
) -> None:
    web = deployed_web_app
    path = f"/ws/apps/deployments?appId={web.app_id}"
    async with client.websocket(path, headers=web.headers) as ws:
        hello = await frame(ws)
        assert hello["type"] == "deployment"
        assert hello["data"]["deployment_id"] == web.deployment_id
        web.repo.commit("second", {"www/index.html": "two\n"})
        added = await add_deployment(client, web.headers, web.app_id)
        announced = await frame(ws)
        assert announced["data"] == {
            "deployment_id": added["id"],
            "app_id": web.app_id,
            "deployment_number": added["deployment_number"],
            "triggered_by": "manual",
        }
        await wait_terminal(app, added["id"])
        response = await client.post(
            "/api/deployment/rollback",
            json={"deploymentId": web.deployment_id},
            headers=web.headers,
        )
        assert response.status_code == 200
        rollback = (await response.get_json())["data"]
        announced = await frame(ws)
        assert announced["data"]["deployment_id"] == rollback["id"]
        assert announced["data"]["triggered_by"] == "rollback"
        await wait_terminal(app, rollback["id"])
    rows = await Deployment.filter(app_id=web.app_id).order_by("id")
    assert [row.requested_by for row in rows] == ["admin", "admin", "admin"]


async def test_an_unknown_app_closes_4404_and_a_bad_query_4400(
    client: QuartClient, admin: dict[str, str]
) -> None:
    for path, code in (("/ws/apps/deployments?appId=999", 4404), ("/ws/apps/deployments", 4400)):
        async with client.websocket(path, headers=admin) as ws:
            with pytest.raises(WebsocketDisconnectError) as closed:
                await ws.receive()
        assert closed.value.args[0] == code, path
