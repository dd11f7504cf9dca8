"""The edge's processes for real: it outlives fogbank (a stop, a kill -9), its runner restarts a
killed Caddy with its routes, routes survive a restart of the edge itself, `fogbank edge stop`
is the one teardown, the admin APIs listen on no TCP port, a Caddy fogbank does not manage, and
clear start failures."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from controller.edge import daemon
from controller.edge.caddy import exited
from controller.edge.client import Edge
from controller.edge.layout import Route
from controller.errors import EdgeError
from tests.support.edge import (
    edge_layout,
    get,
    responder,
    running,
    started_edge,
    wait_for_text,
)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
# A controller that starts its edge, applies one route, says so, and waits to be killed.
CONTROLLER = """
import asyncio, sys
from pathlib import Path
from controller.config import EdgeSettings
from controller.edge.caddy import exited
from controller.edge.client import Edge
from controller.edge.layout import EdgeLayout, EdgePaths, Route

async def main() -> None:
    http_port, directory, upstream = sys.argv[1:]
    settings = EdgeSettings(http_port=int(http_port), drain_seconds=1.0)
    edge = Edge(EdgeLayout(settings, EdgePaths(Path(directory))))
    await edge.start()
    await edge.apply([Route("a", int(upstream), ("a.example.com",), None)])
    print(" ".join(map(str, edge.pids)), flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


@pytest.fixture
async def edge(tmp_path: Path) -> AsyncIterator[Edge]:
    async with started_edge(tmp_path / "caddy") as made:
        yield made


async def test_runner_restarts_a_killed_caddy_with_its_routes(edge: Edge) -> None:
    async with responder("still here\n") as port:
        await edge.apply([Route("a", port, ("a.example.com",), None)])
        for victim in edge.pids:  # the switch, then the front
            os.kill(victim, signal.SIGKILL)
            await wait_for_text(edge.settings.http_port, "a.example.com", "still here\n")
            assert victim not in edge.pids and len(edge.pids) == 2
            assert not running(victim)


async def test_fogbank_stop_leaves_the_edge_serving_and_edge_stop_ends_it(
    tmp_path: Path,
) -> None:
    layout = edge_layout(tmp_path / "caddy")
    edge = Edge(layout)
    try:
        await edge.start()
        pids = edge.pids
        runner = daemon.runner_pid(layout.paths.directory)
        assert len(pids) == 2 and runner and running(runner)
        async with responder("serving\n") as port:
            await edge.apply([Route("a", port, ("a.example.com",), None)])
            await edge.stop()  # what fogbank does on SIGTERM
            assert edge.pids == pids and running(runner)
            assert (await get(layout.settings.http_port, "a.example.com")).text == "serving\n"
            assert not await edge.ping()  # fogbank let go; the edge did not stop
            await edge.stop()  # twice is harmless
    finally:
        stopped = await daemon.stop_edge(layout)
    assert stopped == [f"edge runner (pid {runner})"]  # the runner took both layers down
    assert len(edge.pids) == 0 and not any(running(pid) for pid in (*pids, runner))
    assert await daemon.stop_edge(layout) == []


async def test_routes_survive_a_restart_of_the_edge_itself(tmp_path: Path) -> None:
    layout = edge_layout(tmp_path / "caddy")
    async with responder("kept\n") as port:
        first = Edge(layout)
        try:
            await first.start()
            await first.apply([Route("a", port, ("a.example.com",), None)])
            await first.stop()
            await daemon.stop_edge(layout)  # the whole edge goes down: a reboot, say
            second = Edge(layout)
            await second.start()  # a new runner boots each layer from its config file
            assert second.routes == ()  # nothing applied yet, and still:
            assert (await get(layout.settings.http_port, "a.example.com")).text == "kept\n"
            await second.stop()
        finally:
            await daemon.stop_edge(layout)


async def test_no_caddy_of_the_edge_listens_on_a_tcp_admin_port(edge: Edge) -> None:
    public = free_tcp_port()
    async with responder("x\n") as port:
        await edge.apply([Route("a", port, ("a.example.com",), public)])
        listed = await asyncio.to_thread(
            subprocess.run, ["ss", "-ltnpH"], capture_output=True, text=True, check=True
        )
    listeners = listed.stdout.splitlines()
    ports: set[int] = set()
    for pid in edge.pids:
        for line in listeners:
            if f"pid={pid}," in line:
                ports.add(int(line.split()[3].rpartition(":")[2]))
    print("TCP listeners of the edge's Caddy processes:", sorted(ports))
    assert ports == {edge.settings.http_port, public}  # the client-facing ports, nothing else
    directory = edge.layout.paths.directory
    assert directory.stat().st_mode & 0o777 == 0o700
    assert {"front-admin.sock", "switch-admin.sock"} <= {p.name for p in directory.iterdir()}


async def test_a_killed_runner_leaves_traffic_flowing_and_is_replaced(edge: Edge) -> None:
    directory = edge.layout.paths.directory
    async with responder("one\n") as one, responder("two\n") as two:
        await edge.apply([Route("a", one, ("a.example.com",), None)])
        runner, caddies = daemon.runner_pid(directory), edge.pids
        assert runner
        os.kill(runner, signal.SIGKILL)
        await wait_gone(runner)
        assert edge.pids == caddies  # Caddy does not die with its runner
        assert (await get(edge.settings.http_port, "a.example.com")).text == "one\n"
        # A Caddy dies while no runner watches: the next apply starts a runner, which adopts
        # the live layer and starts the dead one from its config file.
        os.kill(caddies[0], signal.SIGKILL)
        await edge.apply([Route("a", two, ("a.example.com",), None)])
        assert (await get(edge.settings.http_port, "a.example.com")).text == "two\n"
        successor = daemon.runner_pid(directory)
        assert successor and successor != runner
        # The successor writes the restarted layer's pid file as it starts it: wait for both.
        async with asyncio.timeout(10):
            while len(edge.pids) < 2:  # noqa: ASYNC110 - a file another process writes
                await asyncio.sleep(0.05)
        assert edge.pids[1] == caddies[1] and edge.pids[0] != caddies[0], (edge.pids, caddies)


async def test_unmanaged_edge_drives_a_running_caddy(tmp_path: Path) -> None:
    # Stands in for a system Caddy: a bare `caddy run` with only its admin API configured.
    layout = edge_layout(tmp_path / "unused", manage=False)
    config = tmp_path / "system.json"
    admin = layout.settings.admin_url[len("http://") :]
    config.write_text(f'{{"admin": {{"listen": "{admin}"}}}}')
    system = await asyncio.create_subprocess_exec(
        "caddy",
        "run",
        "--config",
        str(config),
        env={"HOME": str(tmp_path)},
        cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    unmanaged = Edge(layout)
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while True:
            try:
                await unmanaged.start()
                break
            except EdgeError:
                await unmanaged.stop()
                assert loop.time() < deadline, "the system Caddy did not come up"
                await asyncio.sleep(0.1)
        async with responder("through the system caddy\n") as port:
            await unmanaged.apply([Route("a", port, ("a.example.com",), None)])
            response = await get(layout.settings.http_port, "a.example.com")
            assert response.text == "through the system caddy\n"
        await unmanaged.stop()
        assert system.returncode is None  # stopping an unmanaged edge leaves that Caddy running
        assert not (tmp_path / "unused").exists()
    finally:
        await unmanaged.stop()
        system.terminate()
        await system.wait()


async def test_start_failures_are_clear(tmp_path: Path) -> None:
    missing = Edge(edge_layout(tmp_path / "missing", caddy_binary="no-such-caddy"))
    with pytest.raises(EdgeError, match="Caddy binary 'no-such-caddy' not found"):
        await missing.start()
    await missing.stop()

    nobody = Edge(edge_layout(tmp_path / "nobody", manage=False))
    with pytest.raises(EdgeError, match="no Caddy admin API answers"):
        await nobody.start()
    await nobody.stop()

    unstarted = Edge(edge_layout(tmp_path / "unit", spawn=False), ready_timeout_seconds=2)
    with pytest.raises(EdgeError, match=r"is fogbank-edge\.service .* running"):
        await unstarted.start()
    await unstarted.stop()

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        layout = edge_layout(tmp_path / "busy", http_port=squatter.getsockname()[1])
        busy = Edge(layout, ready_timeout_seconds=3)
        try:
            with pytest.raises(EdgeError, match=r"front: .*address already in use"):
                await busy.start()
        finally:
            await busy.stop()
            await daemon.stop_edge(layout)
    assert busy.pids == ()


async def test_a_killed_controller_leaves_traffic_flowing_and_its_successor_adopts(
    tmp_path: Path,
) -> None:
    layout = edge_layout(tmp_path / "caddy")
    directory = layout.paths.directory
    async with responder("old\n") as old, responder("new\n") as new:
        controller = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CONTROLLER,
            str(layout.settings.http_port),
            str(directory),
            str(old),
            stdout=asyncio.subprocess.PIPE,
            env={"PYTHONPATH": str(ROOT), "PATH": os.environ["PATH"]},
        )
        assert controller.stdout is not None
        async with asyncio.timeout(30):
            orphans = tuple(int(pid) for pid in (await controller.stdout.readline()).split())
        assert len(orphans) == 2
        runner = daemon.runner_pid(directory)
        controller.kill()
        await controller.wait()

        # No controller: the edge still serves.
        assert (await get(layout.settings.http_port, "a.example.com")).text == "old\n"

        successor = Edge(layout)
        try:
            await successor.start()
            assert successor.pids == orphans  # found, not replaced
            assert daemon.runner_pid(directory) == runner
            assert (await get(layout.settings.http_port, "a.example.com")).text == "old\n"
            await successor.apply([Route("a", new, ("a.example.com",), None)])
            assert (await get(layout.settings.http_port, "a.example.com")).text == "new\n"
        finally:
            await successor.stop()
            await daemon.stop_edge(layout)
    assert not any(running(pid) for pid in orphans)


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def wait_gone(pid: int) -> None:
    async with asyncio.timeout(10):
        await exited(pid)
