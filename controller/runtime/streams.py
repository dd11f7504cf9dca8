"""Streaming docker SDK calls (build output, image pulls, followed logs) as async iterators.

The SDK reads its stream in a blocking loop, so a thread of its own pumps items to the event
loop: not one of the default executor's few threads (min(32, CPUs + 4)), which a handful of
followed logs would hold for as long as someone watches, starving every other SDK call.
Cancelling the consumer hangs up the HTTP connection (a socket shutdown wakes the blocked
thread), which makes dockerd abort the operation, and waits for the thread to end.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import AsyncGenerator, Callable, Iterable
from typing import Any

import requests

_END = object()

Opener = Callable[[], Iterable[Any]]


class ResponseCapture:
    """Hands a streaming thread its own HTTP responses (requests calls session hooks in the
    requesting thread once the headers are in), so a cancellation can cut exactly those."""

    def __init__(self) -> None:
        self._local = threading.local()

    def hook(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        sink: list[requests.Response] | None = getattr(self._local, "responses", None)
        if sink is not None:
            sink.append(response)

    @contextlib.contextmanager
    def into(self, sink: list[requests.Response]) -> Any:
        self._local.responses = sink
        try:
            yield
        finally:
            self._local.responses = None


async def pump(open_stream: Opener, capture: ResponseCapture) -> AsyncGenerator[Any, None]:
    """Items of the stream `open_stream()` returns (called in a worker thread); an exception
    the SDK raises comes out of the iteration as is."""
    loop = asyncio.get_running_loop()
    items: asyncio.Queue[object] = asyncio.Queue()
    finished: asyncio.Future[None] = loop.create_future()
    abort = threading.Event()
    responses: list[requests.Response] = []

    def put(item: object) -> None:
        if not abort.is_set():
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody listens
                loop.call_soon_threadsafe(items.put_nowait, item)

    def run() -> None:
        try:
            with capture.into(responses):
                stream = open_stream()
            try:
                # Cancelled while the call was opening: the consumer's disconnect may have come
                # before this thread had its response, and a quiet stream (a container's stderr)
                # would hold the thread, and the consumer waiting for it, for ever.
                if not abort.is_set():
                    for item in stream:
                        if abort.is_set():
                            break
                        put(item)
            finally:
                close = getattr(stream, "close", None)
                if callable(close):
                    close()
                for response in responses:
                    response.close()
        except Exception as err:  # handed over to the event loop, which raises it
            put(err)
        else:
            put(_END)
        finally:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                loop.call_soon_threadsafe(_settle, finished)

    threading.Thread(target=run, name="fogbank-docker-stream", daemon=True).start()
    try:
        while (item := await items.get()) is not _END:
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        abort.set()
        if not finished.done():
            disconnect(responses)
        await asyncio.wait({finished})


def _settle(finished: asyncio.Future[None]) -> None:
    if not finished.done():
        finished.set_result(None)


def disconnect(responses: list[requests.Response]) -> None:
    # shutdown (unlike close) wakes the thread blocked reading the socket; dockerd sees the
    # client go away and cancels what it was doing
    for response in responses:
        connection = getattr(response.raw, "connection", None)
        sock = getattr(connection, "sock", None)
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
