"""Runtime logs: how soon `fogbank app-logs APP -f` prints a line the container wrote, next to
`docker logs -f` reading the same container in the same run (the floor: Docker's own log path),
and what followers cost the server.

    PYTHONPATH=. .venv/bin/python -m bench.app_logs [--seconds 20] [--followers 20]

The app prints `tick N` every 0.2 s. Both readers run with timestamps (`-t`), so each printed
line carries the time Docker stamped it; the lag is its arrival at the reader (a pipe read by
this process) minus that stamp. Then --followers more sockets follow the app (each a WebSocket
client that reads every frame) and the server's RSS is read before and with them.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

from websockets.sync.client import connect

from bench.common import percentile, prepare, remove_app_objects, rss_mb, workdir
from tests.support.api import unique_name
from tests.support.cli import client_env
from tests.support.repos import make_chatty_repo
from tests.support.server import wait_until


def stamp_seconds(stamp: str) -> float:
    whole, _, fraction = stamp.rstrip("Z").partition(".")
    moment = datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    return moment.timestamp() + float(f"0.{fraction or 0}")


def lags_of(command: list[str], env: dict[str, str] | None, seconds: float) -> list[float]:
    """Run `command` for `seconds`; the lag (s) of each `<stamp> ... tick N` line it printed."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True, env=env, bufsize=1)  # fmt: skip
    lags: list[float] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            arrived = time.time()
            stamp, _, text = line.partition(" ")
            if "tick" in text:
                lags.append(arrived - stamp_seconds(stamp))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    time.sleep(seconds)
    process.terminate()
    process.wait(10)
    reader.join(10)
    return lags[1:]  # the first may be the last line written before the reader started


def summary(name: str, lags: list[float]) -> str:
    ms = [lag * 1000 for lag in lags]
    return (f"  {name:<26} {len(ms):4d} lines: p50 {statistics.median(ms):6.1f} ms, p99 "
            f"{percentile(ms, 0.99):6.1f} ms, max {max(ms):6.1f} ms")  # fmt: skip


def follower(url: str, token: str, stop: threading.Event, counts: list[int]) -> None:
    with connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as socket:
        while not stop.is_set():
            try:
                socket.recv(timeout=0.5)
            except TimeoutError:
                continue
            counts.append(1)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.app_logs")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--followers", type=int, default=20)
    args = parser.parse_args()
    measure(args.seconds, args.followers)
    return 0


def measure(seconds: float, followers: int) -> dict[str, float]:
    """Print and return the p99 lag of each reader (ms) and the server's MiB per follower."""
    name = unique_name("bench-logs")
    with workdir("fb-logs-") as root:
        bench = prepare(root)
        server = bench.server
        try:
            server.start()
            repo = make_chatty_repo(root / "repo")
            app = server.call("POST", "/api/apps/create", {"name": name, "gitRepository":
                              repo.url, "port": 3000, "stabilizationSeconds": 1})["data"]  # fmt: skip
            server.call("POST", "/api/deployment/add", {"appId": app["id"]})

            def deployed() -> bool | None:
                status = server.deployments(app["id"])[0]["status"]
                return True if status == "success" else None

            wait_until(deployed, 120, "the first deployment")
            container = server.deployments(app["id"])[0]["container_id"]
            env = client_env(root / "client", server.base, server.token)
            cli = [sys.executable, "-m", "api.cli", "app-logs", name, "-f", "-t", "--tail", "0"]
            ours = lags_of(cli, env, seconds)
            floor = lags_of(["docker", "logs", "-f", "-t", "--tail", "0", container], None,
                            seconds)  # fmt: skip
            print(f"\nlag from the container writing a line to the reader printing it "
                  f"({seconds:.0f} s each, one after the other):")  # fmt: skip
            print(summary("fogbank app-logs -f", ours))
            print(summary("docker logs -f (floor)", floor))

            idle = rss_mb(server.pid)
            stop = threading.Event()
            counts: list[int] = []
            url = f"ws://127.0.0.1:{server.port}/ws/apps/logs?appId={app['id']}&tail=100"
            threads = [threading.Thread(target=follower, args=(url, server.token, stop, counts),
                                        daemon=True) for _ in range(followers)]  # fmt: skip
            for thread in threads:
                thread.start()
            time.sleep(seconds / 2)
            following = rss_mb(server.pid)
            stop.set()
            for thread in threads:
                thread.join(10)
            print(f"\nserver RSS: {idle:.0f} MiB before, {following:.0f} MiB with "
                  f"{followers} followers ({len(counts)} frames received); "
                  f"{(following - idle) / max(1, followers):.2f} MiB a follower")  # fmt: skip
            return {"app_logs_p99_ms": 1000 * percentile(ours, 0.99),
                    "docker_logs_p99_ms": 1000 * percentile(floor, 0.99),
                    "follower_mb": (following - idle) / max(1, followers)}  # fmt: skip
        finally:
            server.stop()
            server.stop_quietly()
            remove_app_objects([name])


if __name__ == "__main__":
    sys.exit(main())
