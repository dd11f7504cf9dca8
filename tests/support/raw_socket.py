"""A WebSocket client that can stop reading: the handshake by hand on a plain TCP socket with a
small receive buffer, then nothing read until the test says so, then the frames and the close
code. What a watcher that hangs looks like to the server."""

from __future__ import annotations

import base64
import os
import socket
import struct
import time

OP_CLOSE = 0x8
RECEIVE_BUFFER_BYTES = 4096


class StalledWatcher:
    def __init__(self, port: int, path: str, headers: dict[str, str]) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Set before connecting, so the window the server may fill stays small.
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self.sock.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}"
                f"\r\n{extra}\r\n"
            ).encode()
        )
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self.sock.recv(1)  # byte by byte: read nothing past the handshake
        assert self.buffer.startswith(b"HTTP/1.1 101"), self.buffer
        self.buffer = b""

    def read_until_closed(self, timeout_seconds: float) -> tuple[int, int]:
        """Read everything now; (text frames received, close code) once the server closed, or
        close code 0 when it had not within `timeout_seconds`."""
        deadline = time.monotonic() + timeout_seconds
        self.sock.settimeout(timeout_seconds)
        frames = 0
        while time.monotonic() < deadline:
            while True:
                frame = self._frame()
                if frame is None:
                    break
                opcode, payload = frame
                if opcode == OP_CLOSE:
                    self.sock.close()
                    return frames, struct.unpack("!H", payload[:2])[0] if payload else 1005
                frames += 1
            chunk = self.sock.recv(65536)
            if not chunk:
                self.sock.close()
                return frames, 1006
            self.buffer += chunk
        self.sock.close()
        return frames, 0

    def _frame(self) -> tuple[int, bytes] | None:
        data = self.buffer
        if len(data) < 2:
            return None
        length, start = data[1] & 0x7F, 2
        if length == 126:
            if len(data) < 4:
                return None
            length, start = struct.unpack_from("!H", data, 2)[0], 4
        elif length == 127:
            if len(data) < 10:
                return None
            length, start = struct.unpack_from("!Q", data, 2)[0], 10
        if len(data) < start + length:
            return None
        self.buffer = data[start + length :]
        return data[0] & 0x0F, data[start : start + length]
