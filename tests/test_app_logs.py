"""Runtime logs of a running app: GET /api/apps/logs (last lines, both streams, tail, since,
secrets masked) and WS /ws/apps/logs (live lines; across a redeploy it moves to the new container
and says so, and the old one's lines stop). Real Docker, real containers printing lines."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from quart import Quart
from quart.testing import QuartClient
from quart.testing.connections import WebsocketDisconnectError
from quart.typing import TestWebsocketConnectionProtocol as Socket

from controller.events.deployment_logs import MASK
from controller.store.models import Status
from tests.support.api import add_deployment, assert_error, create_web_app, wait_terminal
from tests.support.repos import GitRepo, chatty_dockerfile, make_chatty_repo

pytestmark = pytest.mark.slow

SECRET = "s3cr3t-value-of-the-app"
FRAME_SECONDS = 20.0  # the most a test waits for one expected frame (not a speed target)


@pytest.fixture
def chatty_repo(tmp_path: Path) -> GitRepo:
    return make_chatty_repo(tmp_path / "chatty")


async def deploy(app: Quart, client: QuartClient, headers: dict[str, str], app_id: int) -> int:
    added = await add_deployment(client, headers, app_id)
    done = await wait_terminal(app, added["id"])
    assert done.status is Status.SUCCESS, done.error_message
    return int(added["id"])


async def chatty_app(
    app: Quart, client: QuartClient, headers: dict[str, str], name: str, repo: GitRepo
) -> int:
    """The app with its secret, deployed once; its id."""
    created = await create_web_app(client, headers, name, repo)
    env = {"appId": created["id"], "key": "APP_SECRET", "value": SECRET, "isSecret": True}
    response = await client.post("/api/apps/envs/create", json=env, headers=headers)
    assert response.status_code == 201
    await deploy(app, client, headers, created["id"])
    return int(created["id"])


async def frames_until(ws: Socket, done: Any, seen: list[dict[str, Any]]) -> dict[str, Any]:
    """Receive frames into `seen` until one satisfies `done`; that frame."""
    async with asyncio.timeout(FRAME_SECONDS):
        while True:
            frame: dict[str, Any] = json.loads(await ws.receive())
            seen.append(frame)
            if done(frame):
                return frame


@contextlib.asynccontextmanager
async def opened(client: QuartClient, path: str, headers: dict[str, str]) -> AsyncIterator[Socket]:
    async with client.websocket(path, headers=headers) as ws:
        yield ws


def line_of(frame: dict[str, Any]) -> str:
    return str(frame["data"]["line"]) if frame["type"] == "log" else ""


async def test_last_lines_of_both_streams_masked_with_tail_and_since(
    app: Quart, client: QuartClient, admin: dict[str, str], app_name: str, chatty_repo: GitRepo
) -> None:
    app_id = await chatty_app(app, client, admin, app_name, chatty_repo)
    json_headers = {**admin, "Accept": "application/json"}
    query = {"appId": str(app_id), "tail": "5000"}
    answer = await client.get("/api/apps/logs", query_string=query, headers=json_headers)
    assert answer.status_code == 200
    data = (await answer.get_json())["data"]
    lines = data["lines"]
    assert {"line": f"v1 started secret={MASK}", "stream": "stdout"} in [
        {"line": x["line"], "stream": x["stream"]} for x in lines
    ]
    assert any(x["stream"] == "stderr" and x["line"] == "v1 to stderr" for x in lines)
    assert SECRET not in json.dumps(data)
    assert [x["timestamp"] for x in lines] == sorted(x["timestamp"] for x in lines)

    text = await client.get("/api/apps/logs", query_string=query, headers=admin)
    assert text.content_type.startswith("text/plain")
    body = await text.get_data(as_text=True)
    assert f"v1 started secret={MASK}\n" in body and SECRET not in body

    two = await client.get(
        "/api/apps/logs", query_string={**query, "tail": "2"}, headers=json_headers
    )
    assert len((await two.get_json())["data"]["lines"]) == 2
    since = lines[-2]["timestamp"]
    later = await client.get(
        "/api/apps/logs", query_string={**query, "since": since}, headers=json_headers
    )
    after = (await later.get_json())["data"]["lines"]
    assert after and after[0]["line"] == lines[-1]["line"]
    assert all(x["timestamp"] > since for x in after)

    # A time before the epoch asks for every line (the SDK refuses a `since` that is not
    # positive: this was a 503 the fuzzer found).
    for early in ("1152-01-10T20:40:40.79-12:37", "1970-01-01T00:00:00.5Z"):
        every = await client.get(
            "/api/apps/logs", query_string={**query, "since": early}, headers=json_headers
        )
        assert every.status_code == 200, early
        assert len((await every.get_json())["data"]["lines"]) >= len(lines), early

    bad = await client.get("/api/apps/logs", query_string={**query, "since": "x"}, headers=admin)
    await assert_error(bad, 422, "VALIDATION_FAILED")


async def test_follow_moves_to_the_new_container_on_a_redeploy(
    app: Quart, client: QuartClient, admin: dict[str, str], app_name: str, chatty_repo: GitRepo
) -> None:
    app_id = await chatty_app(app, client, admin, app_name, chatty_repo)
    seen: list[dict[str, Any]] = []
    async with client.websocket(f"/ws/apps/logs?appId={app_id}&tail=1", headers=admin) as ws:
        first = await frames_until(ws, lambda f: f["type"] == "status", seen)
        assert first["data"]["deployment_number"] == 1
        await frames_until(ws, lambda f: line_of(f).startswith("v1 tick"), seen)

        chatty_repo.commit("v2", {"Dockerfile": chatty_dockerfile("v2")})
        second = await add_deployment(client, admin, app_id)
        switched = await frames_until(
            ws, lambda f: f["type"] == "status" and f["data"]["deployment_number"] == 2, seen
        )
        assert "serves the app now" in switched["data"]["message"]
        await frames_until(ws, lambda f: line_of(f) == f"v2 started secret={MASK}", seen)
        await frames_until(ws, lambda f: line_of(f).startswith("v2 tick"), seen)
        assert (await wait_terminal(app, second["id"])).status is Status.SUCCESS
        # Once it follows v2, v1's lines stop: several more v2 ticks, no v1 line among them.
        after_switch = len(seen)
        for _ in range(5):
            await frames_until(ws, lambda f: line_of(f).startswith("v2 tick"), seen)
    assert not [f for f in seen[after_switch:] if line_of(f).startswith("v1")]
    assert SECRET not in json.dumps(seen)


async def test_waits_for_a_first_deployment_then_follows_it(
    app: Quart, client: QuartClient, admin: dict[str, str], app_name: str, chatty_repo: GitRepo
) -> None:
    created = await create_web_app(client, admin, app_name, chatty_repo)
    missing = await client.get(
        "/api/apps/logs", query_string={"appId": str(created["id"])}, headers=admin
    )
    await assert_error(missing, 409, "NOT_DEPLOYED")
    seen: list[dict[str, Any]] = []
    async with client.websocket(f"/ws/apps/logs?appId={created['id']}", headers=admin) as ws:
        waiting = await frames_until(ws, lambda f: f["type"] == "status", seen)
        assert waiting["data"]["deployment_id"] is None
        await add_deployment(client, admin, created["id"])
        await frames_until(ws, lambda f: line_of(f).startswith("v1 started"), seen)


async def test_deleting_the_app_ends_the_follow_1000(
    app: Quart, client: QuartClient, admin: dict[str, str], app_name: str, chatty_repo: GitRepo
) -> None:
    app_id = await chatty_app(app, client, admin, app_name, chatty_repo)
    seen: list[dict[str, Any]] = []
    async with client.websocket(f"/ws/apps/logs?appId={app_id}&tail=0", headers=admin) as ws:
        await frames_until(ws, lambda f: line_of(f).startswith("v1 tick"), seen)
        deleted = await client.delete("/api/apps/delete", json={"appId": app_id}, headers=admin)
        assert deleted.status_code == 200
        with pytest.raises(WebsocketDisconnectError) as closed:
            await frames_until(ws, lambda f: False, seen)
    assert closed.value.args[0] == 1000
    assert seen[-1] == {**seen[-1], "type": "status"}
    assert seen[-1]["data"]["message"] == "the app was deleted"


@pytest.mark.parametrize(
    ("query", "code"), [("appId=x", 4400), ("appId=1&tail=99999", 4400), ("appId=999999", 4404)]
)
async def test_bad_queries_close_with_their_code(
    app: Quart, client: QuartClient, admin: dict[str, str], query: str, code: int
) -> None:
    async with client.websocket(f"/ws/apps/logs?{query}", headers=admin) as ws:
        with pytest.raises(WebsocketDisconnectError) as closed:
            await ws.receive()
    assert closed.value.args[0] == code


async def test_followed_logs_leave_the_default_executor_free(
    app: Quart, client: QuartClient, admin: dict[str, str], app_name: str, chatty_repo: GitRepo
) -> None:
    """Each follow holds two blocking reads for as long as it lasts; on threads of their own,
    more follows than the default executor has threads still leave it free for other work."""
    app_id = await chatty_app(app, client, admin, app_name, chatty_repo)
    loop = asyncio.get_running_loop()
    executor_threads = min(32, (os.cpu_count() or 1) + 4)  # ThreadPoolExecutor's default
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(executor_threads):
            path = f"/ws/apps/logs?appId={app_id}&tail=1"
            ws = await stack.enter_async_context(opened(client, path, admin))
            await frames_until(ws, lambda f: line_of(f).startswith("v1 tick"), [])
        async with asyncio.timeout(FRAME_SECONDS):
            assert await loop.run_in_executor(None, lambda: "free") == "free"
