"""The edge's processes for real: supervision after kill -9, adoption after the controller
itself is killed, clean stops, a Caddy fogbank does not manage, and clear start failures."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from controller.edge.supervisor import Edge, Route
from controller.errors import EdgeError
from tests.support.edge import edge_settings, get, responder, running, started_edge, wait_for_text

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
# A controller that starts its edge, applies one route, says so, and waits to be killed.
CONTROLLER = """
import asyncio, sys
from pathlib import Path
from controller.config import EdgeSettings
from controller.edge.supervisor import Edge, Route

async def main() -> None:
    admin_url, http_port, directory, upstream = sys.argv[1:]
    settings = EdgeSettings(admin_url=admin_url, http_port=int(http_port), drain_seconds=1.0)
    edge = Edge(settings, Path(directory))
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


async def test_supervisor_restarts_a_killed_caddy(edge: Edge) -> None:
    async with responder("still here\n") as port:
        await edge.apply([Route("a", port, ("a.example.com",), None)])
        for victim in edge.pids:  # the switch, then the front
            os.kill(victim, signal.SIGKILL)
            await wait_for_text(edge.settings.http_port, "a.example.com", "still here\n")
            assert victim not in edge.pids and len(edge.pids) == 2
            assert not running(victim)


async def test_stop_leaves_no_caddy(tmp_path: Path) -> None:
    edge = Edge(edge_settings(), tmp_path / "caddy")
    await edge.start()
    pids = edge.pids
    assert len(pids) == 2 and all(running(pid) for pid in pids)
    await edge.stop()
    assert edge.pids == () and not any(running(pid) for pid in pids)
    assert not await edge.ping()
    await edge.stop()  # twice is harmless


async def test_unmanaged_edge_drives_a_running_caddy(tmp_path: Path) -> None:
    # Stands in for a system Caddy: a bare `caddy run` with only its admin API configured.
    settings = edge_settings(manage=False)
    config = tmp_path / "system.json"
    config.write_text(f'{{"admin": {{"listen": "{settings.admin_url[len("http://") :]}"}}}}')
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
    unmanaged = Edge(settings, tmp_path / "unused")
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
            response = await get(settings.http_port, "a.example.com")
            assert response.text == "through the system caddy\n"
        await unmanaged.stop()
        assert system.returncode is None  # stopping an unmanaged edge leaves that Caddy running
        assert not (tmp_path / "unused").exists()
    finally:
        await unmanaged.stop()
        system.terminate()
        await system.wait()


async def test_start_failures_are_clear(edge: Edge, tmp_path: Path) -> None:
    missing = Edge(edge_settings(caddy_binary="no-such-caddy"), tmp_path / "missing")
    with pytest.raises(EdgeError, match="Caddy binary 'no-such-caddy' not found"):
        await missing.start()
    await missing.stop()

    nobody = Edge(edge_settings(manage=False), tmp_path / "nobody")
    with pytest.raises(EdgeError, match="no Caddy admin API answers"):
        await nobody.start()
    await nobody.stop()

    second = Edge(edge_settings(admin_url=edge.settings.admin_url), tmp_path / "second")
    with pytest.raises(EdgeError, match="already answers"):
        await second.start()
    await second.stop()

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        busy = Edge(edge_settings(http_port=squatter.getsockname()[1]), tmp_path / "busy")
        with pytest.raises(
            EdgeError, match=r"exited with code \d+ while starting; see .*caddy\.log"
        ):
            await busy.start()
        await busy.stop()
    assert busy.pids == ()


async def test_a_killed_controller_leaves_traffic_flowing_and_its_successor_adopts(
    tmp_path: Path,
) -> None:
    settings = edge_settings()
    directory = tmp_path / "caddy"
    async with responder("old\n") as old, responder("new\n") as new:
        controller = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CONTROLLER,
            settings.admin_url,
            str(settings.http_port),
            str(directory),
            str(old),
            stdout=asyncio.subprocess.PIPE,
            env={"PYTHONPATH": str(ROOT)},
        )
        assert controller.stdout is not None
        async with asyncio.timeout(30):
            orphans = tuple(int(pid) for pid in (await controller.stdout.readline()).split())
        assert len(orphans) == 2
        controller.kill()
        await controller.wait()

        # No controller: the edge still serves.
        assert (await get(settings.http_port, "a.example.com")).text == "old\n"

        successor = Edge(settings, directory)
        try:
            await successor.start()
            assert successor.pids == orphans  # adopted, not replaced
            assert (await get(settings.http_port, "a.example.com")).text == "old\n"
            await successor.apply([Route("a", new, ("a.example.com",), None)])
            assert (await get(settings.http_port, "a.example.com")).text == "new\n"
            # Supervised like its own: an adopted Caddy that dies is started again.
            os.kill(orphans[1], signal.SIGKILL)
            await wait_for_text(settings.http_port, "a.example.com", "new\n")
            assert orphans[1] not in successor.pids and len(successor.pids) == 2
        finally:
            await successor.stop()
    assert not any(running(pid) for pid in orphans)
    assert not successor.pids
