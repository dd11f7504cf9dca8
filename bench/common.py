"""What the benchmarks share: a real `fogbank serve` in a temp dir on free loopback ports,
percentiles, and the server's resident memory."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker

from tests.conftest import free_port
from tests.server_process import Server, cli

SHUTDOWN_WAIT_SECONDS = 60
BENCH_PASSWORD = "a long bench password\n"  # noqa: S105 - a throwaway user in a temp dir


@dataclass
class Bench:
    root: Path
    server: Server

    @property
    def db(self) -> Path:
        return self.root / "data" / "fogbank.db"

    @property
    def ws_base(self) -> str:
        return f"ws://127.0.0.1:{self.server.port}"


def stop_server(server: Server) -> None:
    """SIGTERM, so fogbank stops its own Caddy too; SIGKILL only if it does not exit in time (a
    killed server leaves its managed Caddy running)."""
    process = server.process
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(SHUTDOWN_WAIT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def write_config(root: Path, extra: str = "") -> tuple[Path, int]:
    """A config on free loopback ports (server, edge HTTP, edge admin); (path, server port)."""
    port = free_port()
    config = root / "config.toml"
    config.write_text(
        f'[server]\nport = {port}\n[storage]\ndata_dir = "{root / "data"}"\n'
        "[git]\nallow_local = true\n"
        f'[edge]\nhttp_port = {free_port()}\nadmin_url = "http://127.0.0.1:{free_port()}"\n'
        "drain_seconds = 0.5\n" + extra
    )
    return config, port


def prepare(root: Path, extra_config: str = "") -> Bench:
    """Config, an admin user and its API token; the server is not started yet."""
    config, port = write_config(root, extra_config)
    cli("user", "create", "--username", "bench", "--role", "admin", "--password-stdin",
        config=config, stdin=BENCH_PASSWORD)  # fmt: skip
    server = Server(config, port, root / "server.log")
    server.token = cli("token", "create", "--username", "bench", "--name", "b", config=config)
    return Bench(root, server)


@contextlib.contextmanager
def workdir(prefix: str) -> Iterator[Path]:
    # Short paths: the edge's unix sockets live under data_dir (107-byte limit).
    root = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def remove_app_objects(names: list[str]) -> None:
    """Containers and images labelled with these app names (in case an API delete did not run)."""
    client = docker.from_env()
    try:
        for name in names:
            for container in client.containers.list(
                all=True, filters={"label": f"fogbank.app={name}"}
            ):
                container.remove(force=True)
            for image in client.images.list(filters={"label": f"fogbank.app={name}"}):
                with contextlib.suppress(docker.errors.APIError):
                    client.images.remove(str(image.id), force=True)
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


def server_pid(bench: Bench) -> int:
    assert bench.server.process is not None
    return bench.server.process.pid


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
