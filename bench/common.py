"""What the benchmarks share: a real `fogbank serve` in a temp dir on free loopback ports (the
tests' own helper, tests/support/server.py), percentiles, and the server's resident memory."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import statistics
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import docker

from controller.store import datadir
from controller.store.db import close_database, open_database
from controller.store.sealing import Sealer
from tests.support.docker_objects import remove_app_objects as remove_labelled
from tests.support.server import Sections, Server, prepare_server


@dataclass
class Bench:
    root: Path
    server: Server

    @property
    def db(self) -> Path:
        return self.root / "data" / "fogbank.db"

    @property
    def database_url(self) -> str:
        return f"sqlite://{self.db}"

    @property
    def ws_base(self) -> str:
        return f"ws://127.0.0.1:{self.server.port}"


def prepare(root: Path, sections: Sections | None = None) -> Bench:
    """Config (edge drain 0.5 s, then `sections`), an admin user and its API token; the server
    is not started yet."""
    config: dict[str, dict[str, str | int | float | bool]] = {"edge": {"drain_seconds": 0.5}}
    for section, values in (sections or {}).items():
        config.setdefault(section, {}).update(values)
    server = prepare_server(root, config, username="bench", client_name="b")
    return Bench(root, server)


@contextlib.asynccontextmanager
async def database(bench: Bench) -> AsyncIterator[None]:
    """The bench's database open through fogbank's models, to seed rows before the server
    starts (fogbank made the schema when the admin user was created)."""
    key = datadir.load_or_create_key(bench.root / "data" / "secret.key")
    await open_database(bench.database_url, Sealer(key))
    try:
        yield
    finally:
        await close_database()


@contextlib.contextmanager
def workdir(prefix: str) -> Iterator[Path]:
    # Short paths: the edge's unix sockets live under data_dir (107-byte limit).
    root = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def remove_app_objects(names: list[str]) -> None:
    """Containers, images and volumes of these apps (in case an API delete did not run)."""
    client = docker.from_env()
    try:
        remove_labelled(client, names)
    finally:
        client.close()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def p50_p99(values: list[float]) -> str:
    return f"p50 {statistics.median(values):.1f} ms, p99 {percentile(values, 0.99):.1f} ms"


def rss_mb(pid: int) -> float:
    """VmRSS of a process, in MiB, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def hwm_mb(pid: int) -> float:
    """VmHWM (peak resident memory since start), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for pid {pid}")


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.samples: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.1):
            try:
                self.samples.append(rss_mb(self.pid))
            except (FileNotFoundError, RuntimeError):
                return  # the server is gone


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """Busy CPU seconds of the whole machine so far, from /proc/stat."""
    ticks = [int(field) for field in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    hertz = os.sysconf("SC_CLK_TCK")
    return (sum(ticks) - idle) / hertz


def read_db(path: Path, query: str) -> list[sqlite3.Row]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    connection.row_factory = sqlite3.Row
    try:
        return connection.execute(query).fetchall()
    finally:
        connection.close()
