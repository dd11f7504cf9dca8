"""Streaming SDK calls as async iterators (controller/runtime/streams.py), without Docker: a
consumer cancelled while the call is still opening does not leave its thread, or itself,
waiting for ever on a stream that stays quiet; items and errors come through in order."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from controller.runtime.streams import ResponseCapture, pump

HANG_GUARD_SECONDS = 10.0  # a hang fails the test instead of holding the suite


async def test_items_then_the_end() -> None:
    got = [item async for item in pump(lambda: iter([1, 2, 3]), ResponseCapture())]
    assert got == [1, 2, 3]


async def test_an_error_of_the_call_comes_out_of_the_iteration() -> None:
    def refuse() -> Iterator[int]:
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        async for _ in pump(refuse, ResponseCapture()):
            pass


async def test_cancelled_while_opening_a_quiet_stream() -> None:
    opening, proceed, never = threading.Event(), threading.Event(), threading.Event()

    def quiet() -> Iterator[bytes]:
        never.wait()  # a stream that never says anything (a container's stderr)
        yield b""

    def open_stream() -> Iterator[bytes]:
        opening.set()
        proceed.wait()  # the call is still opening when the consumer goes away
        return quiet()

    async def consume() -> None:
        async for _ in pump(open_stream, ResponseCapture()):
            pass

    consumer = asyncio.create_task(consume())
    try:
        await asyncio.to_thread(opening.wait)
        consumer.cancel()
        for _ in range(3):  # let the cancellation reach pump's clean-up
            await asyncio.sleep(0)
        proceed.set()
        async with asyncio.timeout(HANG_GUARD_SECONDS):
            await asyncio.wait({consumer})
        assert consumer.cancelled()
    finally:
        never.set()  # frees the thread if the guard fired
