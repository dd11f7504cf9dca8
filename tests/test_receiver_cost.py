"""What a webhook request costs before its signature is checked: bounded memory, a bounded
number at once, a bounded time to arrive. Against a real `fogbank serve` process over loopback;
memory is read from /proc/<pid>/status (bench/webhook_junk.py prints the same figures with
/api/health latencies)."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.flood import FORGED, MIB, REFUSED_UNREAD, flood, open_connections, post
from tests.support.server import Server, prepare_server, wait_until

pytestmark = pytest.mark.slow

GLOBAL_SECRET = "global-webhook-secret"
READ_TIMEOUT_SECONDS = 1.5
MAX_GROWTH_MB = 20
MAX_CREEP_MB = 4


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = prepare_server(
        tmp_path,
        {
            "github": {
                "webhook_secret": GLOBAL_SECRET,
                "read_timeout_seconds": READ_TIMEOUT_SECONDS,
                "max_unverified_requests": 16,
            },
            "server": {"read_timeout_seconds": READ_TIMEOUT_SECONDS},
        },
    )
    running.start()
    try:
        yield running
    finally:
        running.stop_quietly()


@pytest.mark.parametrize(
    ("path", "signature", "refusals"),
    [
        # forged: read two at a time, HMAC'd, spooled, then 401
        ("/webhooks/github", FORGED, {401}),
        # no signature / a URL naming no app: cannot verify, answered 401 without reading
        # the rest (the sender may see the connection close before it sent everything)
        ("/webhooks/github", None, {401, REFUSED_UNREAD}),
        ("/webhooks/github/nobody", FORGED, {401, REFUSED_UNREAD}),
    ],
)
def test_twelve_junk_4mb_posts_cost_little_memory_and_give_it_back(
    server: Server, path: str, signature: str | None, refusals: set[int]
) -> None:
    """Protection: the signature checked over the raw bytes before any parsing
    (webhooks/reception.py; parsing first, the forged case fails)."""
    # Small posts first: the first burst of connections costs the server some memory once.
    flood(server.port, server.pid, body_bytes=256 * 1024, path=path, signature=signature)
    reports = [flood(server.port, server.pid, path=path, signature=signature) for _ in range(4)]
    baseline = reports[0].baseline_mb
    for report in reports:
        assert set(report.statuses) <= refusals and 401 in report.statuses, report.statuses
        assert report.growth_mb < MAX_GROWTH_MB, report
    # What stays is the allocator's: bounded, and no more after the fourth flood than after
    # the second (the bodies, or anything derived from them, are not kept).
    assert reports[-1].after_mb - baseline < MAX_GROWTH_MB, reports[-1]
    assert reports[-1].after_mb - reports[1].after_mb < MAX_CREEP_MB, reports
    # Nor are their connections: an answered request's unread body was drained or dropped.
    wait_until(lambda: open_connections(server.port) == 0 or None, 10, "connections to close")
    spool = server.config.parent / "data" / "spool"
    assert not spool.exists() or list(spool.iterdir()) == []  # unlinked files only


def test_a_body_declared_too_large_is_refused_and_its_connection_closed(server: Server) -> None:
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": FORGED}
    statuses = [post(server.port, "/webhooks/github", b"x" * (30 * MIB), headers)]
    assert set(statuses) <= {413, REFUSED_UNREAD}
    wait_until(lambda: open_connections(server.port) == 0 or None, 10, "connections to close")


def open_partial(server: Server, path: str, headers: dict[str, str], sent: bytes) -> socket.socket:
    """A POST whose Content-Length promises more than `sent`, which is all that is sent."""
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(sent) + 1000}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + sent)
    return connection


def answer_of(connection: socket.socket) -> tuple[int, dict[str, object]]:
    """The status and JSON body of the one answer on `connection` (read until it closes or the
    declared length arrived)."""
    data = b""
    while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
        chunk = connection.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body[: _length(data)])


def _length(data: bytes) -> int:
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()
    for line in head.split("\r\n"):
        if line.startswith("content-length:"):
            return int(line.split(":", 1)[1])
    return 1 << 30


async def test_unverified_requests_are_capped_and_must_arrive_in_time(server: Server) -> None:
    """Protection: Reception's count of unverified requests (503) and its read timeout (408);
    without either this fails."""
    signed = {"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=" + "0" * 64}
    started = time.monotonic()
    stalled = [open_partial(server, "/webhooks/github", signed, b"{") for _ in range(16)]
    try:
        await asyncio.sleep(0.3)  # all 16 are being read now
        busy = await asyncio.to_thread(
            lambda: answer_of(open_partial(server, "/webhooks/github", signed, b"{"))
        )
        assert busy[0] == 503 and busy[1]["error"] == "WEBHOOKS_BUSY"
        assert time.monotonic() - started < READ_TIMEOUT_SECONDS  # at once, not at the timeout
        for connection in stalled:
            status, answer = await asyncio.to_thread(answer_of, connection)
            assert (status, answer["error"]) == (408, "REQUEST_TIMEOUT")
            assert "github.read_timeout_seconds" in str(answer["message"])
    finally:
        for connection in stalled:
            connection.close()
    # The slots are free again: a whole (forged) delivery gets its 401.
    report = await asyncio.to_thread(flood, server.port, server.pid, posts=1, body_bytes=MIB)
    assert report.statuses == [401]


async def test_an_api_body_must_arrive_in_time(server: Server) -> None:
    started = time.monotonic()
    connection = open_partial(
        server, "/api/auth/login", {"Content-Type": "application/json"}, b'{"username": '
    )
    try:
        status, answer = await asyncio.to_thread(answer_of, connection)
    finally:
        connection.close()
    assert (status, answer["error"]) == (408, "REQUEST_TIMEOUT")
    assert READ_TIMEOUT_SECONDS <= time.monotonic() - started < READ_TIMEOUT_SECONDS + 5
