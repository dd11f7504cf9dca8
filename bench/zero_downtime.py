"""Zero-downtime benchmark: steady HTTP load through the edge during 5 consecutive redeploys of a
busybox app, once start-first (fogbank's swap) and once stop-first (Mist's swap), in one run.

    .venv/bin/python -m bench.zero_downtime [--redeploys 5] [--clients 50]

Prints, per mode: requests sent, failed (connection errors and 5xx), p50/p99 latency, and each
deploy's duration. A real `fogbank serve`, real Docker, real Caddy, all on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import prepare, workdir
from tests.support.load import SteadyLoad
from tests.support.ports import free_port
from tests.support.repos import make_web_repo
from tests.support.server import Server

TERMINAL = {"success", "failed", "stopped", "rolled_back"}


async def wait_done(server: Server, app_id: int, deployment_id: int) -> dict[str, Any]:
    async with httpx.AsyncClient(
        base_url=server.base, headers={"Authorization": f"Bearer {server.token}"}, timeout=30
    ) as http:
        while True:
            rows = (await http.post("/api/deployment/getByAppId", json={"appId": app_id})).json()
            row: dict[str, Any] = next(d for d in rows["data"] if d["id"] == deployment_id)
            if row["status"] in TERMINAL:
                return row
            await asyncio.sleep(0.2)


async def run_mode(
    server: Server, repo_path: Path, mode: str, redeploys: int, clients: int
) -> dict[str, Any]:
    repo = make_web_repo(repo_path, content=f"{mode} v0\n")
    public_port = free_port()
    app = server.call(
        "POST",
        "/api/apps/create",
        {
            "name": f"bench-{mode}-{public_port}",
            "gitRepository": repo.url,
            "port": 3000,
            "publicPort": public_port,
            "updateOrder": mode,
            "stabilizationSeconds": 2,
        },
    )["data"]
    first = server.call("POST", "/api/deployment/add", {"appId": app["id"]})
    assert (await wait_done(server, app["id"], first["id"]))["status"] == "success"
    durations: list[float] = []
    async with SteadyLoad(f"http://127.0.0.1:{public_port}/", clients=clients) as load:
        await asyncio.sleep(1)
        for number in range(1, redeploys + 1):
            repo.commit(f"v{number}", {"www/index.html": f"{mode} v{number}\n"})
            started = time.monotonic()
            queued = server.call("POST", "/api/deployment/add", {"appId": app["id"]})
            row = await wait_done(server, app["id"], queued["id"])
            durations.append(time.monotonic() - started)
            if row["status"] != "success":
                print(f"  deploy {number} ended {row['status']}: {row['error_message']}")
        await asyncio.sleep(1)
    server.call("DELETE", "/api/apps/delete", {"appId": app["id"]})
    latencies = sorted(s.seconds for s in load.samples)
    return {
        "mode": mode,
        "requests": len(load.samples),
        "failed": len(load.failures),
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99) - 1],
        "durations": durations,
    }


async def main(redeploys: int, clients: int) -> int:
    with workdir("fb-zero-") as root:
        server = prepare(root, {"edge": {"drain_seconds": 1}}).server
        server.start()
        try:
            results = [
                await run_mode(server, root / mode, mode, redeploys, clients)
                for mode in ("start-first", "stop-first")
            ]
        finally:
            server.stop()
    print(f"\n{redeploys} redeploys under {clients} concurrent clients (half keep-alive):")
    print(f"{'mode':<12} {'requests':>9} {'failed':>7} {'p50 ms':>8} {'p99 ms':>8}  deploy seconds")
    for r in results:
        durations = " ".join(f"{d:.1f}" for d in r["durations"])
        print(
            f"{r['mode']:<12} {r['requests']:>9} {r['failed']:>7} {r['p50_ms']:>8.1f} "
            f"{r['p99_ms']:>8.1f}  {durations}"
        )
    start_first, stop_first = results
    verdict = start_first["failed"] == 0 and stop_first["failed"] > 0
    print(
        f"\nstart-first failed {start_first['failed']} (target 0); stop-first failed "
        f"{stop_first['failed']} (Mist's swap, expected > 0): {'OK' if verdict else 'CHECK'}"
    )
    return 0 if verdict else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redeploys", type=int, default=5)
    parser.add_argument("--clients", type=int, default=50)
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.redeploys, args.clients)))
