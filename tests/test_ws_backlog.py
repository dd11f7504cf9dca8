"""The log so far goes to a WebSocket watcher a bounded chunk at a time, each within
server.websocket_send_timeout_seconds: a watcher that stops reading is dropped (1013, it
resumes with ?after=) instead of holding the handler forever. Against a real `fogbank serve`
over loopback, with a raw WebSocket client that reads nothing for a while."""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.api import unique_name
from tests.support.repos import GitRepo
from tests.support.server import Server, prepare_server, wait_until

pytestmark = pytest.mark.slow

SEND_TIMEOUT_SECONDS = 1.0
CLOSE_WAIT_SECONDS = 5.0  # api/watchers.py: how long a drop waits for its close frame
LINES = 150_000  # about 12 MB of log: far more than the socket buffers hold
OP_TEXT, OP_CLOSE = 0x1, 0x8


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    sections = {"server": {"websocket_send_timeout_seconds": SEND_TIMEOUT_SECONDS}}
    running = prepare_server(tmp_path, sections)
    running.start()
    try:
        yield running
    finally:
        running.stop_quietly()


def finished_deployment(server: Server, root: Path) -> int:
    """A deployment that failed at once (its repository has no Dockerfile), with a long log."""
    root.mkdir()
    repo = GitRepo(root)
    repo.git("init", "-q", "-b", "main")
    repo.commit("no dockerfile", {"README": "nothing to build\n"})
    body = {"name": unique_name(), "gitRepository": repo.url, "port": 3000}
    app = server.call("POST", "/api/apps/create", body)["data"]
    deployment: dict[str, Any] = server.call("POST", "/api/deployment/add", {"appId": app["id"]})

    def finished() -> bool | None:
        [row] = server.deployments(app["id"])
        return True if row["status"] == "failed" else None

    wait_until(finished, 60, "the deployment to fail")
    log = server.config.parent / "data" / "logs" / "deployments" / f"{deployment['id']}.log"
    with log.open("a") as handle:
        for n in range(LINES):
            handle.write(f"build output line {n:06d} " + "x" * 60 + "\n")
    return int(deployment["id"])


def connect(server: Server, deployment_id: int, *, tiny_buffer: bool = False) -> socket.socket:
    """A WebSocket to the log stream (its receive buffer tiny if asked); the handshake is read."""
    connection = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if tiny_buffer:
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    connection.settimeout(30)
    connection.connect(("127.0.0.1", server.port))
    key = base64.b64encode(os.urandom(16)).decode()
    path = f"/ws/deployment/logs?deploymentId={deployment_id}&token={server.token}"
    connection.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += connection.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return connection


def read_frames(connection: socket.socket) -> tuple[list[dict[str, Any]], int | None]:
    """Every text frame until the connection ends, and the close code if a close came."""
    data = bytearray()
    while True:
        try:
            chunk = connection.recv(1 << 20)
        except (TimeoutError, ConnectionResetError):
            break
        if not chunk:
            break
        data += chunk
    frames: list[dict[str, Any]] = []
    at = 0
    while at + 2 <= len(data):
        opcode, length = data[at] & 0x0F, data[at + 1] & 0x7F
        at += 2
        if length == 126:
            (length,) = struct.unpack(">H", data[at : at + 2])
            at += 2
        elif length == 127:
            (length,) = struct.unpack(">Q", data[at : at + 8])
            at += 8
        payload = bytes(data[at : at + length])
        if len(payload) < length:
            break  # cut off when the server hung up
        at += length
        if opcode == OP_TEXT:
            frames.append(json.loads(payload))
        elif opcode == OP_CLOSE:
            return frames, struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else None
    return frames, None


def test_a_watcher_that_stops_reading_the_backlog_is_dropped(
    server: Server, tmp_path: Path
) -> None:
    """Protection: the send deadline around each backlog chunk (api/routes/ws.py)."""
    deployment_id = finished_deployment(server, tmp_path / "repo")
    connection = connect(server, deployment_id, tiny_buffer=True)
    try:
        time.sleep(SEND_TIMEOUT_SECONDS + CLOSE_WAIT_SECONDS + 2)  # reading nothing meanwhile
        connection.settimeout(5)
        frames, code = read_frames(connection)
    finally:
        connection.close()
    logs = [frame["data"]["seq"] for frame in frames if frame["type"] == "log"]
    assert frames[0]["type"] == "status"
    assert 0 < len(logs) < LINES  # what fitted the buffers, in order; not the whole log
    assert logs == list(range(1, len(logs) + 1))
    assert code in (1013, None)  # the drop, or a hang-up once even the close could not go out
    assert not any(frame["type"] == "status" for frame in frames[1:])  # no final status

    # A watcher that keeps reading gets the whole log and the final status, then close 1000.
    again = connect(server, deployment_id)
    try:
        frames, code = read_frames(again)
    finally:
        again.close()
    logs = [frame["data"]["seq"] for frame in frames if frame["type"] == "log"]
    assert len(logs) >= LINES and logs == list(range(1, len(logs) + 1))
    assert frames[-1]["type"] == "status" and frames[-1]["data"]["status"] == "failed"
    assert code == 1000
