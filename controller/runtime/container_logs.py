"""A container's own output as Docker keeps it: the last lines, and a follow that ends when the
container stops; each line with its timestamp (nanoseconds) and its stream (stdout or stderr).

Docker multiplexes both streams in one answer and the SDK hands out the payload without saying
which stream it came from, so each stream is asked for apart and the two are merged."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from controller.runtime.engine import Engine

Stream = Literal["stdout", "stderr"]
STREAMS: tuple[Stream, ...] = ("stdout", "stderr")
# A longer line is cut (Docker itself splits messages at 16 KiB): it bounds what a watcher's
# queue can hold.
MAX_LINE_CHARS = 8192
NS_PER_SECOND = 1_000_000_000
_TIMESTAMP = re.compile(
    r"^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})$"
)


@dataclass(frozen=True)
class LogLine:
    timestamp: str  # RFC 3339 UTC with nanoseconds, as Docker wrote it
    timestamp_ns: int
    stream: Stream
    line: str


def parse_timestamp_ns(text: str) -> int:
    """Nanoseconds since the epoch of an ISO-8601 time with a zone (Z or +hh:mm); a fraction of up
    to 9 digits is kept whole (datetime keeps 6). ValueError for anything else."""
    match = _TIMESTAMP.match(text.strip())
    if match is None:
        raise ValueError(f"not an ISO-8601 time with a zone: {text!r}")
    whole, fraction, zone = match.groups()
    zone = "+00:00" if zone == "Z" else zone
    moment = datetime.fromisoformat(whole.replace(" ", "T") + zone)
    return int(moment.timestamp()) * NS_PER_SECOND + int((fraction or "").ljust(9, "0"))


def iso_ns(timestamp_ns: int) -> str:
    """`2025-01-15T10:30:00.123456789Z` for nanoseconds since the epoch."""
    seconds, nanos = divmod(timestamp_ns, NS_PER_SECOND)
    whole = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{whole}.{nanos:09d}Z"


def parse_chunk(chunk: bytes, stream: Stream, previous_ns: int = 0) -> list[LogLine]:
    """The lines of one chunk of `docker logs --timestamps` output. A line without its own
    timestamp (a message Docker split) takes the one before it."""
    found: list[LogLine] = []
    for raw in chunk.decode("utf-8", errors="replace").split("\n"):
        piece = raw.rstrip("\r")
        if not piece:
            continue
        stamp, _, text = piece.partition(" ")
        try:
            timestamp_ns = parse_timestamp_ns(stamp)
        except ValueError:
            stamp, timestamp_ns, text = iso_ns(previous_ns), previous_ns, piece
        previous_ns = timestamp_ns
        found.append(LogLine(stamp, timestamp_ns, stream, text[:MAX_LINE_CHARS]))
    return found


@dataclass(frozen=True)
class Backlog:
    """The last lines (oldest first), and per stream the time of its last line that Docker gave
    (cut by the tail or not): where following that stream goes on from."""

    lines: list[LogLine]
    last_ns: dict[Stream, int]


async def read_lines(engine: Engine, container_id: str, *, tail: int, since_ns: int = 0) -> Backlog:
    """The last `tail` lines of both streams written after `since_ns`."""
    found: list[LogLine] = []
    await asyncio.gather(
        *(
            _stream_lines(engine, container_id, stream, found.append, tail, since_ns, follow=False)
            for stream in STREAMS
        )
    )
    found.sort(key=lambda line: line.timestamp_ns)
    last_ns = {line.stream: line.timestamp_ns for line in found}
    return Backlog(found[-tail:] if tail else [], last_ns)


async def follow_lines(
    engine: Engine,
    container_id: str,
    *,
    since_ns: Mapping[Stream, int],
    emit: Callable[[LogLine], None],
) -> None:
    """Every line each stream writes after its `since_ns`, handed to `emit` as it comes, until
    the container stops (or the caller is cancelled)."""
    async with asyncio.TaskGroup() as group:
        for stream in STREAMS:
            group.create_task(
                _stream_lines(
                    engine, container_id, stream, emit, None, since_ns[stream], follow=True
                )
            )


async def _stream_lines(
    engine: Engine,
    container_id: str,
    stream: Stream,
    emit: Callable[[LogLine], None],
    tail: int | None,
    since_ns: int,
    *,
    follow: bool,
) -> None:
    # Docker's `since` is in (fractional) seconds; a microsecond earlier against float rounding,
    # then the exact filter here. The SDK refuses a `since` that is not positive: a time before
    # (or within a second of) the epoch asks for every line, so none is sent.
    since = since_ns / NS_PER_SECOND - 1e-6 if since_ns > NS_PER_SECOND else None
    items = engine.stream(
        lambda client: client.api.logs(
            container_id,
            stdout=stream == "stdout",
            stderr=stream == "stderr",
            stream=True,
            follow=follow,
            timestamps=True,
            tail="all" if tail is None else tail,
            since=since,
        ),
        action=f"cannot read the logs of container {container_id[:12]}",
    )
    last_ns = since_ns
    async with aclosing(items) as chunks:
        async for chunk in chunks:
            if not isinstance(chunk, bytes):
                continue
            for line in parse_chunk(chunk, stream, last_ns):
                if line.timestamp_ns > since_ns:
                    last_ns = line.timestamp_ns
                    emit(line)
