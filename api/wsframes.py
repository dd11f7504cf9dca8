"""Sending many WebSocket frames at once: the frames ready for one watcher go out in one write.

A fan-out's cost is per frame per watcher. Through ASGI every frame is a message of its own:
Quart's send and its signal, Hypercorn's stream, wsproto's framing, a lock, a socket write
and a drain, each time. Under Hypercorn (what `fogbank serve` runs), the ASGI send callable is
a method of its WebSocket stream; `FrameWriter` uses that stream to frame the messages itself
(server frames are unmasked: a two- to ten-byte header before the event's JSON, encoded once for
every watcher) and hands them to Hypercorn as one block of bytes, through the same lock and
flow control as its own frames. When an extension such as permessage-deflate was negotiated,
wsproto frames each message (it holds the compression state). Under any other server (the
test client) each frame is an ordinary ASGI message.

`BATCH` frames (`?batch=1`) carry consecutive log lines in one message:
`{"type": "logs", "timestamp": <the newest line's>, "data": {"lines": [{"line", "seq"}, ...]}}`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from hypercorn.protocol.events import Data
from hypercorn.protocol.ws_stream import ASGIWebsocketState, WSStream
from hypercorn.typing import ASGIFramework, ASGIReceiveCallable, ASGISendCallable, Scope
from quart import websocket
from wsproto.connection import ConnectionState
from wsproto.events import TextMessage

from controller.events.bus import Event

# Where RawSendMount leaves the server's ASGI send callable in a WebSocket's scope.
SEND_KEY = "fogbank.asgi_send"
# A batch frame stops growing here (a client's message limit is often 1 MiB).
BATCH_MAX_LINES = 1000
BATCH_MAX_BYTES = 256 * 1024
# Frames per write when a backlog (the log so far) is sent.
FRAMES_PER_WRITE = 256
TEXT_FINAL = 0x81  # FIN + text opcode


class RawSendMount:
    """ASGI: notes the server's send callable in each WebSocket scope, for FrameWriter."""

    def __init__(self, inner: ASGIFramework) -> None:
        self.inner = inner

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] == "websocket":
            scope[SEND_KEY] = send  # type: ignore[literal-required]  # ASGI allows extra scope keys
        await self.inner(scope, receive, send)


def frame_header(length: int) -> bytes:
    """The header of an unmasked, final text frame of `length` bytes (RFC 6455 5.2)."""
    if length < 126:
        return bytes((TEXT_FINAL, length))
    if length < 65536:
        return bytes((TEXT_FINAL, 126)) + length.to_bytes(2, "big")
    return bytes((TEXT_FINAL, 127)) + length.to_bytes(8, "big")


class FrameWriter:
    """Writes text frames to the current WebSocket, as many as are given in one write."""

    def __init__(self) -> None:
        send = websocket.scope.get(SEND_KEY)
        stream = getattr(send, "__self__", None)
        self._stream = stream if isinstance(stream, WSStream) else None

    @property
    def direct(self) -> bool:
        """Whether frames go to Hypercorn's stream in blocks (else one ASGI message each)."""
        return self._stream is not None

    async def send(self, payloads: Sequence[bytes]) -> None:
        """Each payload (UTF-8 JSON) as one text frame, in order."""
        stream = self._stream
        if stream is None:
            for payload in payloads:
                await websocket.send(payload.decode())
            return
        if stream.closed or stream.state is not ASGIWebsocketState.CONNECTED:
            return  # as Hypercorn does with a send after the close
        connection = stream.connection
        if connection.state is not ConnectionState.OPEN:
            return
        if getattr(getattr(connection, "_proto", None), "extensions", None) == []:
            block = b"".join(
                part for payload in payloads for part in (frame_header(len(payload)), payload)
            )
        else:  # wsproto holds the extension's state (permessage-deflate)
            block = b"".join(
                connection.send(TextMessage(data=payload.decode())) for payload in payloads
            )
        await stream.send(Data(stream_id=stream.stream_id, data=block))

    async def send_events(self, events: Sequence[Event], *, batch: bool) -> None:
        """The events' frames: each its own, or with `batch` consecutive log lines together."""
        payloads = list(batched(events)) if batch else [event.encoded for event in events]
        for start in range(0, len(payloads), FRAMES_PER_WRITE):
            await self.send(payloads[start : start + FRAMES_PER_WRITE])


def batched(events: Iterable[Event]) -> Iterable[bytes]:
    """The payloads of `events` with runs of log lines joined into `logs` frames."""
    lines: list[Event] = []
    size = 0
    for event in events:
        if event.type == "log":
            lines.append(event)
            size += len(event.data_text)
            if len(lines) >= BATCH_MAX_LINES or size >= BATCH_MAX_BYTES:
                yield logs_payload(lines)
                lines, size = [], 0
            continue
        if lines:
            yield logs_payload(lines)
            lines, size = [], 0
        yield event.encoded
    if lines:
        yield logs_payload(lines)


def logs_payload(lines: Sequence[Event]) -> bytes:
    """One `logs` frame (json.dumps of it, from each line's JSON serialised once)."""
    joined = ", ".join(line.data_text for line in lines)
    timestamp = json.dumps(lines[-1].timestamp)
    return f'{{"type": "logs", "timestamp": {timestamp}, "data": {{"lines": [{joined}]}}}}'.encode()
