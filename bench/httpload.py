"""A lean closed-loop HTTP/1.1 load generator for the benchmarks.

Each sender owns one keep-alive connection and has one request in flight at a time, the way a
fixed pool of webhook senders would. Requests are serialised to bytes before the clock starts
and answers are parsed only as far as the status line, Content-Length and the body, so the
client costs a few tens of microseconds per request: a general-purpose client such as httpx
costs about a millisecond, and on a 2-core machine shared with the server that would be measured
as server latency.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

Header = tuple[str, str]


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes


@dataclass(frozen=True)
class Run:
    latencies_ms: list[float]  # in request order
    answers: list[Answer]  # in request order
    wall_seconds: float
    ports: list[int] = field(default_factory=list)  # the port that answered, in request order


def get(path: str, headers: list[Header] | None = None) -> bytes:
    return _request("GET", path, b"", headers or [])


def post(path: str, body: bytes, headers: list[Header]) -> bytes:
    return _request("POST", path, body, headers)


def _request(method: str, path: str, body: bytes, headers: list[Header]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in headers]
    if method != "GET" or body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def closed_loop(port: int | Sequence[int], requests: list[bytes], concurrency: int) -> Run:
    """Send every request over `concurrency` connections to 127.0.0.1:`port`, one in flight
    on each; latencies are measured from the write to the last byte of the answer. Several
    ports (servers sharing one database): the connections go to each in turn, and a sender
    takes the next request as soon as its answer came, so a faster server gets more of them."""
    ports = [port] if isinstance(port, int) else list(port)
    latencies = [0.0] * len(requests)
    answers: list[Answer | None] = [None] * len(requests)
    answered_on = [0] * len(requests)
    next_index = iter(range(len(requests)))
    connections = []
    for number in range(concurrency):
        target = ports[number % len(ports)]
        connections.append((*await asyncio.open_connection("127.0.0.1", target), target))

    async def sender(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, target: int
    ) -> None:
        try:
            for index in next_index:
                started = time.perf_counter()
                writer.write(requests[index])
                answers[index] = await _read_answer(reader)
                latencies[index] = (time.perf_counter() - started) * 1000
                answered_on[index] = target
        finally:
            writer.close()
            await writer.wait_closed()

    started = time.perf_counter()
    await asyncio.gather(*(sender(*connection) for connection in connections))
    wall = time.perf_counter() - started
    missing = [index for index, answer in enumerate(answers) if answer is None]
    if missing:
        raise RuntimeError(f"{len(missing)} requests got no answer")
    return Run(latencies, [answer for answer in answers if answer is not None], wall, answered_on)


async def _read_answer(reader: asyncio.StreamReader) -> Answer:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    length = 0
    for line in header_lines:
        name, _, value = line.partition(":")
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "transfer-encoding":
            raise RuntimeError("chunked answers are not supported by this load generator")
    return Answer(int(status_line.split(" ", 2)[1]), await reader.readexactly(length))
