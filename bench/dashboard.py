"""The dashboard's pages at scale: the apps page with 100 apps, and an app page whose history
holds 100,000 deployments.

    PYTHONPATH=. .venv/bin/python -m bench.dashboard [--apps 100] [--deployments 100000]

The schema is made by fogbank itself (`fogbank user create` runs the migrations); the rows are
bulk-inserted through fogbank's models before `fogbank serve` starts: app 1 gets
`--deployments` deployments, each other app 100 (mostly successful, the newest success of each
app active, some failed). Then, one request at a time over keep-alive HTTP with an API token
(pages accept it like a session): the apps page, app 1's page (newest history page), a deep
history page (?before=), the part the page refreshes live (/apps/1/state), and a deployment's
page. Each is printed as p50/p99 of the server's own time for the page (its Server-Timing header) and
of the whole request, next to `GET /api/health` of the same server in the same run (the HTTP
floor of this process), with the server's CPU per request. Target: server time p99 under 30 ms
for the apps page and for the app page.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from tortoise import connections
from tortoise.transactions import in_transaction

from bench.common import Bench, cpu_seconds, database, p50_p99, percentile, prepare, workdir
from controller.store.bulk import insert_rows
from controller.store.models import App, Deployment, Stage, Status, Trigger

REQUESTS = 400
WARMUP = 30
TARGET_P99_MS = 30.0
OTHER_APP_DEPLOYMENTS = 100
STATUSES = (Status.SUCCESS,) * 8 + (Status.FAILED, Status.STOPPED)


def app_rows(app_id: int, count: int, first_id: int, rng: random.Random) -> list[dict[str, Any]]:
    """`count` deployments of one app, ids from `first_id`; its newest success is active."""
    started = datetime(2024, 1, 1, tzinfo=UTC)
    rows: list[dict[str, Any]] = []
    for number in range(1, count + 1):
        created = started + timedelta(minutes=first_id + number)
        status = rng.choice(STATUSES)
        ok = status is Status.SUCCESS
        rows.append(
            {
                "app_id": app_id,
                "deployment_number": number,
                "commit_hash": f"{rng.getrandbits(160):040x}",
                "commit_message": f"Fix the thing number {number} in the module that does things",
                "status": status,
                "stage": Stage.COMPLETED if ok else Stage.BUILDING_IMAGE,
                "progress": 100 if ok else 40,
                "error_message": "" if ok else "docker build failed: step 3 returned 1",
                "image_tag": f"fogbank/dash-{app_id:03d}:{number}",
                "is_active": False,
                "created_at": created,
                "started_at": created + timedelta(seconds=2),
                "finished_at": created + timedelta(seconds=44),
                "updated_at": created + timedelta(seconds=44),
            }
        )
    newest_success = max(i for i, row in enumerate(rows) if row["status"] is Status.SUCCESS)
    rows[newest_success]["is_active"] = True
    return rows


async def populate(bench: Bench, apps: int, deployments: int) -> int:
    """Seed the apps and their deployments; the number of deployment rows."""
    rng = random.Random(16)
    total = 0
    async with database(bench):
        async with in_transaction():
            await App.bulk_create(
                [
                    App(
                        id=n,
                        name=f"dash-{n:03d}",
                        git_repository=f"https://github.com/bench/dash-{n}.git",
                        deployment_counter=deployments if n == 1 else OTHER_APP_DEPLOYMENTS,
                    )
                    for n in range(1, apps + 1)
                ]
            )
            for app_id in range(1, apps + 1):
                count = deployments if app_id == 1 else OTHER_APP_DEPLOYMENTS
                rows = app_rows(app_id, count, total, rng)
                await insert_rows(
                    Deployment,
                    rows,
                    commit_author="Dev <dev@example.com>",
                    triggered_by=Trigger.WEBHOOK,
                    duration=42,
                )
                total += count
        await connections.get("default").execute_script("ANALYZE")
    return total


Results = dict[str, tuple[list[float], list[float], float]]


def server_time(response: httpx.Response) -> float:
    """The page's own time in the server (its Server-Timing header), in ms; 0 for the floor."""
    timing = response.headers.get("server-timing", "")
    return float(timing.split("dur=")[1]) if "dur=" in timing else 0.0


async def measure(bench: Bench, middle_id: int) -> Results:
    """name -> (latencies in ms, server times in ms, server CPU ms per request)."""
    server = bench.server
    headers = {"Authorization": f"Bearer {server.token}"}
    pages = {
        "GET /api/health (floor)": "/api/health",
        "apps page (GET /)": "/",
        "app page, 100k history (GET /apps/1)": "/apps/1",
        "app page, deep history page (?before=)": f"/apps/1?before={middle_id}",
        "app page's live part (GET /apps/1/state)": "/apps/1/state",
        "deployment page (GET /deployments/<id>)": f"/deployments/{middle_id}",
    }
    results: Results = {}
    async with httpx.AsyncClient(base_url=server.base, headers=headers, timeout=30) as http:
        for path in pages.values():  # warm every route (templates compiled, caches filled)
            for _ in range(WARMUP):
                response = await http.get(path)
                if response.status_code != 200:
                    raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")
        for name, path in pages.items():
            cpu = cpu_seconds(server.pid)
            latencies: list[float] = []
            inside: list[float] = []
            for _ in range(REQUESTS):
                started = time.perf_counter()
                response = await http.get(path)
                latencies.append((time.perf_counter() - started) * 1000)
                inside.append(server_time(response))
                if response.status_code != 200:
                    raise RuntimeError(f"{path}: {response.status_code}")
            cpu_ms = (cpu_seconds(server.pid) - cpu) * 1000 / REQUESTS
            results[name] = (latencies, inside, cpu_ms)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=100)
    parser.add_argument("--deployments", type=int, default=100_000)
    args = parser.parse_args()
    with workdir("fb-dash-") as root:
        bench = prepare(root)
        started = time.perf_counter()
        total = asyncio.run(populate(bench, args.apps, args.deployments))
        print(f"inserted {args.apps} apps and {total} deployments ({args.deployments} in app 1) "
              f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
        bench.server.start()
        try:
            results = asyncio.run(measure(bench, args.deployments // 2))
        finally:
            bench.server.stop()
    print(f"\n{REQUESTS} requests each, one at a time; server time = the page's Server-Timing "
          "(from the page's auth check to its rendered answer), request = the whole HTTP round "
          "trip on loopback:")  # fmt: skip
    for name, (latencies, inside, cpu_ms) in results.items():
        request = f"request {p50_p99(latencies)}, server CPU {cpu_ms:.2f} ms/req"
        if "floor" in name:
            print(f"  {name:<42} {request}")
            continue
        met = percentile(inside, 0.99) < TARGET_P99_MS
        verdict = f"(target server p99 < {TARGET_P99_MS:g} ms: {'OK' if met else 'MISSED'})"
        print(f"  {name:<42} server {p50_p99(inside)}  {verdict}\n  {'':<42} {request}")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} (cores: {os.cpu_count()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
