"""A lean WebSocket watcher for the fan-out benchmark: a bare asyncio protocol that speaks
RFC 6455 on the wire (handshake, unmasked server frames, masked pong/close replies) and only
notes, per log line, its seq and arrival time (a `?batch=1` frame carries several). A thousand
of them must cost the benchmark process far less CPU than the server they measure; one
`websockets` client beside them (the reference watcher) checks the same stream with a full
implementation."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import re
import socket
import struct
import time
from array import array

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_TEXT, OP_CLOSE, OP_PING = 0x1, 0x8, 0x9
SEQ_MARK = b'"seq": '
SEQS = re.compile(rb'"seq": (\d+)')
BATCH_MARK = b'{"type": "logs"'
FANOUT_MARK = b'"line": "benchline '


def _masked(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + body


class Watcher(asyncio.Protocol):
    """One watcher of one deployment. `arrivals[i]` is when the log frame with seq
    `first_seq + i` arrived (time.time()); a gap or a repeat sets `broken`; `fanout_seen`
    counts the lines the fan-out build printed."""

    def __init__(self, path: str, host: str) -> None:
        self.path = path
        self.host = host
        self.key = base64.b64encode(os.urandom(16))
        self.buffer = bytearray()
        self.upgraded = False
        self.transport: asyncio.Transport | None = None
        self.connected: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.first_seq = 0
        self.arrivals = array("d")
        self.fanout_seen = 0
        self.broken = ""
        self.close_code = 0
        self.frames = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(
            b"GET " + self.path.encode() + b" HTTP/1.1\r\nHost: " + self.host.encode() + b"\r\n"
            b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Key: " + self.key + b"\r\n\r\n"
        )

    def data_received(self, data: bytes) -> None:
        now = time.time()
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end])
            del self.buffer[: end + 4]
            accept = base64.b64encode(hashlib.sha1(self.key + GUID).digest())  # noqa: S324
            if not head.startswith(b"HTTP/1.1 101") or accept not in head:
                self._fail(f"handshake refused: {head[:80]!r}")
                return
            self.upgraded = True
        self._frames(now)

    def _frames(self, now: float) -> None:
        buffer = self.buffer
        offset = 0
        size = len(buffer)
        while size - offset >= 2:
            first, second = buffer[offset], buffer[offset + 1]
            length = second & 0x7F
            start = offset + 2
            if length == 126:
                if size - offset < 4:
                    break
                length = struct.unpack_from("!H", buffer, start)[0]
                start += 2
            elif length == 127:
                if size - offset < 10:
                    break
                length = struct.unpack_from("!Q", buffer, start)[0]
                start += 8
            if size < start + length:
                break
            payload = bytes(buffer[start : start + length])
            offset = start + length
            self._frame(first & 0x0F, payload, now)
        del buffer[:offset]

    def _frame(self, opcode: int, payload: bytes, now: float) -> None:
        self.frames += 1
        if opcode == OP_TEXT:
            if not self.connected.done():
                self.connected.set_result(now)
            if payload.startswith(BATCH_MARK):  # ?batch=1: several lines to a frame
                for found in SEQS.finditer(payload):
                    self._line(int(found.group(1)), now)
                self.fanout_seen += payload.count(FANOUT_MARK)
                return
            mark = payload.rfind(SEQ_MARK)
            if mark < 0:
                return  # status or error frame
            self._line(int(payload[mark + len(SEQ_MARK) : payload.index(b"}", mark)]), now)
            if FANOUT_MARK in payload:
                self.fanout_seen += 1
        elif opcode == OP_PING and self.transport is not None:
            self.transport.write(_masked(0xA, payload))
        elif opcode == OP_CLOSE:
            self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
            if self.transport is not None:
                self.transport.write(_masked(OP_CLOSE, payload[:2]))
                self.transport.close()
            if not self.closed.done():
                self.closed.set_result(self.close_code)

    def _line(self, seq: int, now: float) -> None:
        if not self.arrivals:
            self.first_seq = seq
        elif seq != self.first_seq + len(self.arrivals) and not self.broken:
            self.broken = f"seq {seq} after {self.first_seq + len(self.arrivals) - 1}"
        self.arrivals.append(now)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.connected.done():
            self.connected.set_exception(ConnectionError(self.broken or "connection lost"))
        if not self.closed.done():
            self.closed.set_result(self.close_code)

    def _fail(self, reason: str) -> None:
        self.broken = reason
        if self.transport is not None:
            self.transport.close()


async def open_watcher(port: int, path: str, *, receive_buffer_bytes: int | None = None) -> Watcher:
    """Connect a watcher to 127.0.0.1:`port`; a small receive buffer makes a slow reader."""
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    if receive_buffer_bytes is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer_bytes)
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    _, watcher = await loop.create_connection(lambda: Watcher(path, f"127.0.0.1:{port}"), sock=sock)
    return watcher
