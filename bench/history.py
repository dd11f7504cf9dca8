"""History at scale: 100,000 deployments across 100 apps, read through the API.

    PYTHONPATH=. .venv/bin/python -m bench.history [--deployments 100000] [--apps 100]

The schema is made by fogbank itself (`fogbank user create` runs the migrations), then the rows
are bulk-inserted through fogbank's models before `fogbank serve` starts: deployments interleaved across the
apps as real pushes would be (id order = time order), each app numbered 1..N without gaps, one
active deployment per app. Then, one request at a time over keep-alive HTTP with an API token:
`getByAppId` limit 50 first page, deep pages via `before` (the last 50 of the app's history and
random points in between), and `GET /api/apps/getAll`. Prints p50/p99 of each next to the same
server's `GET /api/health` (the HTTP floor of this process) and the SQLite query plan of the
history query. Target: p99 under 20 ms on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
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
WARMUP = 20
TARGET_P99_MS = 20.0
STATUSES = (Status.SUCCESS,) * 8 + (Status.FAILED, Status.STOPPED)


def deployment_rows(apps: int, deployments: int) -> list[dict[str, Any]]:
    """Deployments interleaved across the apps (id order = time order), each app numbered 1..N,
    the last one of each app active."""
    started = datetime(2024, 1, 1, tzinfo=UTC)
    rows: list[dict[str, Any]] = []
    numbers = [0] * (apps + 1)
    rng = random.Random(6)
    for n in range(1, deployments + 1):
        app_id = (n - 1) % apps + 1
        numbers[app_id] += 1
        created = started + timedelta(minutes=n)
        status = rng.choice(STATUSES)
        ok = status is Status.SUCCESS
        rows.append(
            {
                "app_id": app_id,
                "deployment_number": numbers[app_id],
                "commit_hash": f"{rng.getrandbits(160):040x}",
                "commit_message": f"Fix the thing number {n} in the module that does things",
                "status": status,
                "stage": Stage.COMPLETED if ok else Stage.BUILDING_IMAGE,
                "progress": 100 if ok else 40,
                "error_message": "" if ok else "docker build failed: step 3 returned 1",
                "image_tag": f"fogbank/history-{app_id:03d}:{n}",
                "is_active": n > deployments - apps,
                "created_at": created,
                "started_at": created + timedelta(seconds=5),
                "finished_at": created + timedelta(seconds=47),
                "updated_at": created + timedelta(seconds=47),
            }
        )
    return rows


async def populate(bench: Bench, apps: int, deployments: int) -> str:
    """Seed the apps and deployments through the models; the query plan of the history query."""
    async with database(bench):
        async with in_transaction():
            await App.bulk_create(
                [
                    App(
                        id=n,
                        name=f"history-{n:03d}",
                        git_repository=f"https://github.com/bench/history-{n}.git",
                        deployment_counter=deployments // apps,
                    )
                    for n in range(1, apps + 1)
                ]
            )
            await insert_rows(
                Deployment,
                deployment_rows(apps, deployments),
                commit_author="Dev <dev@example.com>",
                triggered_by=Trigger.WEBHOOK,
                duration=42,
            )
        newest = await Deployment.all().order_by("-id").first()
        # The `before` pages below compute ids from insertion order.
        assert newest is not None and newest.id == deployments, "ids are not 1..N"
        connection = connections.get("default")
        await connection.execute_script("ANALYZE")
        # The query getByAppId runs, as the ORM writes it.
        history = Deployment.filter(app_id=7, id__lt=50_000).order_by("-id").limit(50)
        plan = await connection.execute_query_dict(
            "EXPLAIN QUERY PLAN " + history.sql(), [7, 50_000, 50]
        )
    return "; ".join(str(row["detail"]) for row in plan)


async def timed(
    http: httpx.AsyncClient, method: str, path: str, bodies: list[dict[str, int]]
) -> list[float]:
    latencies: list[float] = []
    for body in bodies:
        started = time.perf_counter()
        if method == "GET":
            response = await http.get(path)
        else:
            response = await http.post(path, json=body)
        latencies.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{path} {body}: {response.status_code} {response.text[:200]}")
    return latencies


async def measure(
    bench: Bench, apps: int, deployments: int
) -> dict[str, tuple[list[float], float]]:
    """name -> (latencies in ms, server CPU ms per request)."""
    base, token, pid = bench.server.base, bench.server.token, bench.server.pid
    per_app = deployments // apps
    rng = random.Random(7)
    headers = {"Authorization": f"Bearer {token}"}
    results: dict[str, tuple[list[float], float]] = {}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:

        async def run(name: str, method: str, path: str, bodies: list[dict[str, int]]) -> None:
            cpu = cpu_seconds(pid)
            latencies = await timed(http, method, path, bodies)
            results[name] = (latencies, (cpu_seconds(pid) - cpu) * 1000 / len(bodies))

        await timed(http, "GET", "/api/health", [{}] * WARMUP)
        first = [{"appId": rng.randint(1, apps), "limit": 50} for _ in range(REQUESTS)]

        # `before` = an id of that app, so the page is full: the app's k-th deployment has id
        # (k - 1) * apps + app_id.
        def page(depth: int, app_id: int) -> dict[str, int]:
            return {"appId": app_id, "limit": 50, "before": (depth - 1) * apps + app_id}

        last = [page(51, rng.randint(1, apps)) for _ in range(REQUESTS)]
        middle = [page(rng.randint(51, per_app), rng.randint(1, apps)) for _ in range(REQUESTS)]
        await timed(http, "POST", "/api/deployment/getByAppId", first[:WARMUP])
        await run("GET /api/health (floor)", "GET", "/api/health", [{}] * REQUESTS)
        await run("getByAppId limit 50, first page", "POST", "/api/deployment/getByAppId", first)
        await run(
            "getByAppId limit 50, random deep page", "POST", "/api/deployment/getByAppId", middle
        )
        await run(
            "getByAppId limit 50, oldest page (before)", "POST", "/api/deployment/getByAppId", last
        )
        await run(f"GET /api/apps/getAll ({apps} apps)", "GET", "/api/apps/getAll", [{}] * REQUESTS)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deployments", type=int, default=100_000)
    parser.add_argument("--apps", type=int, default=100)
    args = parser.parse_args()
    with workdir("fb-history-") as root:
        bench = prepare(root)
        started = time.perf_counter()
        plan = asyncio.run(populate(bench, args.apps, args.deployments))
        print(f"inserted {args.deployments} deployments across {args.apps} apps in "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        print(f"query plan of the history query: {plan}")
        bench.server.start()
        try:
            results = asyncio.run(measure(bench, args.apps, args.deployments))
        finally:
            bench.server.stop()
    print(f"\n{REQUESTS} requests each, one at a time (latency of the full HTTP request):")
    for name, (latencies, cpu_ms) in results.items():
        verdict = ""
        if "floor" not in name:
            verdict = "OK" if percentile(latencies, 0.99) < TARGET_P99_MS else "MISSED"
            verdict = f"  (target p99 < {TARGET_P99_MS:g} ms: {verdict})"
        print(f"  {name:<44} {p50_p99(latencies)}, server CPU {cpu_ms:.2f} ms/req{verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
