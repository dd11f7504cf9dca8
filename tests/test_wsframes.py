"""FrameWriter on a real Hypercorn (in this process, on loopback): frames written in blocks to
Hypercorn's own stream, read back by a full WebSocket client with and without permessage-deflate;
its framing and the `logs` batches on their own."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator

import pytest
from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart import Quart, websocket
from websockets.asyncio.client import connect
from wsproto.frame_protocol import FrameDecoder

from api.wsframes import (
    BATCH_MAX_LINES,
    FrameWriter,
    RawSendMount,
    batched,
    frame_header,
    logs_payload,
)
from controller.events.bus import Event

TEXTS = ['{"n": 1}', '{"n": 2, "ü": "\\u00fc"}', "x" * 70_000, '{"n": 4}']


def tiny_app() -> Quart:
    app = Quart(__name__)

    @app.websocket("/frames")
    async def frames() -> None:
        await websocket.accept()
        writer = FrameWriter()
        await websocket.send(json.dumps({"direct": writer.direct}))
        await writer.send([text.encode() for text in TEXTS])
        await writer.send([])
        await websocket.close(1000)

    app.asgi_app = RawSendMount(app.asgi_app)  # type: ignore[method-assign]
    return app


@pytest.fixture
async def hypercorn_port() -> AsyncIterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    stop = asyncio.Event()
    task = asyncio.create_task(serve(tiny_app(), config, shutdown_trigger=stop.wait))
    try:
        for _ in range(200):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.02)
                continue
            writer.close()
            break
        yield port
    finally:
        stop.set()
        await task


@pytest.mark.parametrize("compression", [None, "deflate"])
async def test_frames_go_to_hypercorns_stream_in_blocks_and_arrive_whole(
    hypercorn_port: int, compression: str | None
) -> None:
    url = f"ws://127.0.0.1:{hypercorn_port}/frames"
    async with connect(url, compression=compression, max_size=None) as client:
        first = await client.recv()
        received = [message async for message in client]
    assert json.loads(first) == {"direct": True}
    assert received == TEXTS


def test_frame_headers_for_each_length_form() -> None:
    decoder = FrameDecoder(client=True)
    for length in (0, 125, 126, 65535, 65536):
        payload = b"a" * length
        decoder.receive_bytes(frame_header(length) + payload)
        frame = decoder.process_buffer()
        assert frame is not None and frame.message_finished
        assert frame.opcode.value == 1 and frame.payload == payload


def test_batches_join_runs_of_lines_and_keep_other_frames_between() -> None:
    lines = [Event("log", {"line": f"l{n}", "seq": n}) for n in range(1, BATCH_MAX_LINES + 4)]
    status = Event("status", {"status": "building"})
    payloads = list(batched([*lines[:2], status, *lines[2:]]))
    frames = [json.loads(payload) for payload in payloads]
    assert [f["type"] for f in frames] == ["logs", "status", "logs", "logs"]
    seqs = [line["seq"] for f in frames if f["type"] == "logs" for line in f["data"]["lines"]]
    assert seqs == list(range(1, BATCH_MAX_LINES + 4))
    assert [len(f["data"]["lines"]) for f in frames if f["type"] == "logs"] == [2, 1000, 1]
    assert payloads[1] == status.encoded


def test_a_logs_payload_is_json_dumps_of_the_frame() -> None:
    lines = [
        Event("log", {"line": 'quote " é \\ \n', "seq": 7}),
        Event("log", {"line": "", "seq": 8}),
    ]
    expected = {
        "type": "logs",
        "timestamp": lines[-1].timestamp,
        "data": {"lines": [{"line": 'quote " é \\ \n', "seq": 7}, {"line": "", "seq": 8}]},
    }
    assert logs_payload(lines).decode() == json.dumps(expected)
