"""The edge (Caddy) in tests: free edge ports, tiny HTTP upstreams, and requests to the edge."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from controller.config import EdgeSettings
from controller.edge.client import Edge
from controller.edge.daemon import LOCK_FILE, stop_edge
from controller.edge.layout import EdgeLayout, EdgePaths
from tests.support.ports import free_port


def edge_settings(**extra: Any) -> EdgeSettings:
    """Free loopback ports for the (unmanaged) admin API and the edge's ports, then `extra`."""
    free = {
        "admin_url": f"http://127.0.0.1:{free_port()}",
        "http_port": free_port(),
        "https_port": free_port(),
    }
    return EdgeSettings.model_validate({**free, "drain_seconds": 1.0, **extra})


def edge_layout(directory: Path, **extra: Any) -> EdgeLayout:
    return EdgeLayout(edge_settings(**extra), EdgePaths(directory.resolve()))


@contextlib.asynccontextmanager
async def responder(body: str | None = None) -> AsyncIterator[int]:
    """A tiny HTTP/1.1 server with keep-alive on an ephemeral loopback port. It answers `body`,
    or, without one, the request head it received."""
    handlers: set[asyncio.Task[Any]] = set()
    writers: set[asyncio.StreamWriter] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                payload = head if body is None else body.encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                    + f"Content-Length: {len(payload)}\r\n\r\n".encode()
                    + payload
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            writers.discard(writer)

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port: int = server.sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        server.close()
        for writer in list(writers):  # let each handler end on its own (EOF), not by cancel
            writer.close()
        if handlers:
            await asyncio.wait(handlers, timeout=5)
        await server.wait_closed()


@contextlib.asynccontextmanager
async def started_edge(directory: Path, **extra: Any) -> AsyncIterator[Edge]:
    """A managed edge on free ports, torn down afterwards whatever happens (`fogbank edge
    stop`: fogbank's own stop leaves it running)."""
    made = Edge(edge_layout(directory, **extra))
    try:
        await made.start()
        yield made
    finally:
        await made.stop()
        await stop_edge(made.layout)


async def get(port: int, host: str | None = None) -> httpx.Response:
    headers = {"Host": host} if host else {}
    async with httpx.AsyncClient(timeout=5) as http:
        return await http.get(f"http://127.0.0.1:{port}/", headers=headers)


def running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie may wait a while for its reaper)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


async def wait_for_text(port: int, host: str, text: str, timeout_seconds: float = 10) -> None:
    """Poll the edge until it answers `text` (after a restart); fail after the bound."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_seconds
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if (await get(port, host)).text == text:
                return
        assert loop.time() < deadline, f"the edge did not answer {text!r} in {timeout_seconds} s"
        await asyncio.sleep(0.1)


def stop_edges_under(root: Path) -> list[str]:
    """Stop every edge (runner and Caddy layers) whose directory lies under `root`; blocking,
    callable from sync code and from inside a running event loop alike."""

    locks = list(root.rglob(LOCK_FILE))

    async def stop_all() -> list[str]:
        stopped: list[str] = []
        for lock in locks:
            layout = EdgeLayout(EdgeSettings(), EdgePaths(lock.parent.resolve()))
            stopped += await stop_edge(layout, timeout_seconds=10)
        return stopped

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, stop_all()).result()
