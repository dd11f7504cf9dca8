"""Build log lines from one instance to a watcher on another, on PostgreSQL (written with their
seq, announced with NOTIFY, read back by the other instance's relay), next to the same lines to
a watcher on the same instance's in-process bus (what SQLite, one server, does), in one run.
`--rate` paces the lines (a build prints far fewer per second than the unpaced maximum).

Two buses in one process stand for the two instances (each with its own announcer, relay and
listening connection, on one throwaway cluster). Lines are written in bursts (BURST lines, then
a yield), as a build's output arrives. Printed: lines per second to the last line received and
the lag of each line from its append to its arrival (p50/p99/max); every line must arrive once,
in order. Usage: `.venv/bin/python -m bench.shared_logs [--lines 20000] [--rate 0]`."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bench.common import percentile
from controller.deploy.queue import CommitRef, enqueue
from controller.events.bus import EventBus
from controller.events.deployment_logs import DeploymentLogs
from controller.events.relay import Relay
from controller.events.shared_bus import Announcer, SharedBus
from controller.store.db import close_database, open_database
from controller.store.models import App, Trigger
from controller.store.sealing import KEY_BYTES, Sealer
from tests.support.postgres import start_cluster

BURST = 50


async def follow(
    writer_bus: EventBus, reader_bus: EventBus, lines: int, rate: int, root: Path
) -> str:
    """Append `lines` lines on writer_bus, watch them on reader_bus; the figures as text."""
    app = await App.create(name=f"bench{time.monotonic_ns()}")
    deployment_id = (await enqueue(app, CommitRef("a" * 40), Trigger.MANUAL)).id
    logs = DeploymentLogs(root / str(id(writer_bus)), writer_bus)
    appended: dict[int, float] = {}
    lags: list[float] = []
    with reader_bus.subscribe(deployment_id) as watcher:
        start = time.perf_counter()

        async def write() -> None:
            for first in range(1, lines + 1, BURST):
                for seq in range(first, min(first + BURST, lines + 1)):
                    appended[seq] = time.perf_counter()
                    logs.append(deployment_id, f"benchline {seq} " + "x" * 60)
                # Paced: the burst's place in the schedule (0: as fast as possible).
                due = start + (first + BURST - 1) / rate if rate else 0.0
                await asyncio.sleep(max(0.0, due - time.perf_counter()))

        writing = asyncio.create_task(write())
        seen = 0
        async with asyncio.timeout(300):
            while seen < lines:
                await watcher.queue.wait()
                now = time.perf_counter()
                for event in watcher.queue.take_all():
                    seen += 1
                    assert event.data["seq"] == seen, (event.data["seq"], seen)
                    lags.append(now - appended[seen])
        await writing
        took = time.perf_counter() - start
    lags.sort()
    ms = [1000 * percentile(lags, q) for q in (0.5, 0.99)]
    return (
        f"{lines / took:,.0f} lines/s, lag p50 {ms[0]:.1f} ms, p99 {ms[1]:.1f} ms, "
        f"max {1000 * lags[-1]:.1f} ms (all {seen} once, in order)"
    )


async def run(url: str, lines: int, rate: int, root: Path) -> None:
    await open_database(url, Sealer(bytes(KEY_BYTES)))
    buses = [SharedBus(), SharedBus()]
    owned = [(Announcer(bus), Relay(url, bus)) for bus in buses]
    try:
        for announcer, relay in owned:
            announcer.start()
            relay.start()
            await asyncio.wait_for(relay.connected.wait(), 30)
        plain = EventBus()
        figures = [
            ("same instance, plain bus (SQLite)", await follow(plain, plain, lines, rate, root)),
            ("same instance, shared bus", await follow(buses[0], buses[0], lines, rate, root)),
            ("other instance, via PostgreSQL", await follow(buses[0], buses[1], lines, rate, root)),
        ]
        for name, figure in figures:
            print(f"{name:<36}{figure}")
    finally:
        for announcer, relay in owned:
            await announcer.stop(10)
            await relay.stop()
        await close_database()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--rate", type=int, default=0, help="lines per second (0: unpaced)")
    args = parser.parse_args()
    print(f"{args.lines} lines, rate {args.rate or 'unpaced'}")
    cluster = start_cluster()
    try:
        with tempfile.TemporaryDirectory() as root:
            asyncio.run(run(cluster.create_database(), args.lines, args.rate, Path(root)))
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
