"""The edge against real Caddy processes on free loopback ports: routing by Host and by public
port, what apps see, and an upstream switch under steady load that loses nothing."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from controller.edge.client import Edge
from controller.edge.config import NOT_ROUTED
from controller.edge.layout import Route
from controller.errors import EdgeError
from tests.support.edge import get, responder, started_edge
from tests.support.ports import free_port

pytestmark = pytest.mark.slow


@pytest.fixture
async def edge(tmp_path: Path) -> AsyncIterator[Edge]:
    async with started_edge(tmp_path / "caddy") as made:
        yield made


async def test_routes_by_host_and_public_port(edge: Edge, tmp_path: Path) -> None:
    public = free_port()
    async with responder("app a\n") as port_a, responder("app b\n") as port_b:
        await edge.apply(
            [
                Route("a", port_a, ("a.example.com",), None),
                Route("b", port_b, ("b.example.com",), public),
            ]
        )
        http_port = edge.settings.http_port
        assert (await get(http_port, "a.example.com")).text == "app a\n"
        assert (await get(http_port, "B.Example.com")).text == "app b\n"
        assert (await get(public)).text == "app b\n"
        unknown = await get(http_port, "nobody.example.com")
        assert (unknown.status_code, unknown.text) == (404, NOT_ROUTED)
        assert [r.app for r in edge.routes] == ["a", "b"]

        # Caddy refuses a port it cannot bind: the previous routes stay, in Caddy and in `routes`.
        with socket.socket() as squatter:
            squatter.bind(("127.0.0.1", 0))
            squatter.listen()
            taken = squatter.getsockname()[1]
            with pytest.raises(EdgeError, match=r"Caddy \(front\) refused the routes"):
                await edge.apply([Route("a", port_b, (), taken)])
        assert [r.app for r in edge.routes] == ["a", "b"]
        assert (await get(public)).text == "app b\n"
        assert (await get(http_port, "a.example.com")).text == "app a\n"

    # Caddy's state and logs stay in its directory, which only we may enter.
    directory = tmp_path / "caddy"
    assert (directory / "front.log").stat().st_size > 0 and (directory / "switch.log").exists()
    assert {"front.json", "switch.json"} <= {p.name for p in directory.iterdir()}
    assert directory.stat().st_mode & 0o077 == 0
    assert not list(directory.rglob("autosave.json"))


async def test_apps_see_the_client_and_cannot_be_reached_by_spoofing(edge: Edge) -> None:
    public = free_port()
    async with responder() as echo, responder("secret\n") as other:
        await edge.apply(
            [Route("echo", echo, ("echo.example.com",), None), Route("other", other, (), public)]
        )
        seen = (await get(edge.settings.http_port, "echo.example.com")).text.lower()
        assert "host: echo.example.com" in seen
        assert "x-forwarded-for: 127.0.0.1" in seen and "x-forwarded-proto: http" in seen
        assert "x-fogbank" not in seen
        # The entry header is the front's to set: a client cannot pick another app's route.
        async with httpx.AsyncClient(timeout=5) as http:
            spoofed = await http.get(
                f"http://127.0.0.1:{edge.settings.http_port}/",
                headers={"Host": "nobody.example.com", "X-Fogbank-Entry": f"port-{public}"},
            )
        assert spoofed.status_code == 404


async def test_switching_upstreams_under_load_loses_nothing(edge: Edge) -> None:
    public = free_port()
    http_port = edge.settings.http_port
    outcomes: dict[str, int] = {}
    failures: list[str] = []
    stop = asyncio.Event()

    async def keep_alive_client(url: str, headers: dict[str, str]) -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            while not stop.is_set():
                await one(http, url, headers)

    async def new_connection_client(url: str, headers: dict[str, str]) -> None:
        while not stop.is_set():
            async with httpx.AsyncClient(timeout=10) as http:
                await one(http, url, headers)

    async def one(http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> None:
        try:
            response = await http.get(url, headers=headers)
        except httpx.HTTPError as exc:
            failures.append(repr(exc))
            return
        if response.status_code != 200:
            failures.append(f"HTTP {response.status_code}: {response.text[:100]}")
            return
        outcomes[response.text] = outcomes.get(response.text, 0) + 1

    by_port: tuple[str, dict[str, str]] = (f"http://127.0.0.1:{public}/", {})
    by_host = (f"http://127.0.0.1:{http_port}/", {"Host": "app.example.com"})
    async with responder("blue\n") as blue, responder("green\n") as green:
        await edge.apply([Route("app", blue, ("app.example.com",), public)])
        async with asyncio.TaskGroup() as group:
            for index in range(20):
                client = keep_alive_client if index % 2 else new_connection_client
                group.create_task(client(*(by_port if index % 4 < 2 else by_host)))
            upstream = blue
            for _ in range(5):
                await asyncio.sleep(0.6)
                upstream = green if upstream == blue else blue
                await edge.apply([Route("app", upstream, ("app.example.com",), public)])
            await asyncio.sleep(0.5)
            stop.set()
        assert (await get(public)).text == ("blue\n" if upstream == blue else "green\n")

    assert failures == []
    assert outcomes.get("blue\n", 0) > 50 and outcomes.get("green\n", 0) > 50, outcomes
