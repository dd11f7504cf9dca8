"""History at scale: 100,000 deployments across 100 apps, read through the API.

    PYTHONPATH=. .venv/bin/python -m bench.history [--deployments 100000] [--apps 100]

The schema is made by fogbank itself (`fogbank user create` runs the migrations), then the rows
are bulk-inserted with sqlite3 before `fogbank serve` starts: deployments interleaved across the
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
import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bench.common import (
    Bench,
    cpu_seconds,
    p50_p99,
    percentile,
    prepare,
    server_pid,
    stop_server,
    workdir,
)

REQUESTS = 400
WARMUP = 20
TARGET_P99_MS = 20.0
HISTORY_SQL = "SELECT * FROM deployment WHERE app_id=? AND id<? ORDER BY id DESC LIMIT 50"
STATUSES = ("success",) * 8 + ("failed", "stopped")


def ts(moment: datetime) -> str:
    return moment.isoformat(sep=" ")


def populate(db: Path, apps: int, deployments: int) -> None:
    started = datetime(2024, 1, 1, tzinfo=UTC)
    connection = sqlite3.connect(db)
    try:
        with connection:
            connection.executemany(
                "INSERT INTO app (id, name, app_type, git_repository, git_branch, root_directory,"
                " dockerfile_path, port, public_port, health_check_path, health_timeout_seconds,"
                " auto_deploy, template_name, restart_policy, deployment_counter, created_at,"
                " updated_at) VALUES (?, ?, 'web', ?, 'main', '.', 'Dockerfile', 3000, NULL, '/',"
                " 30, 1, '', 'unless-stopped', ?, ?, ?)",
                [
                    (n, f"history-{n:03d}", f"https://github.com/bench/history-{n}.git",
                     deployments // apps, ts(started), ts(started))
                    for n in range(1, apps + 1)
                ],
            )  # fmt: skip
            rows = []
            numbers = [0] * (apps + 1)
            rng = random.Random(6)
            for n in range(1, deployments + 1):
                app_id = (n - 1) % apps + 1
                numbers[app_id] += 1
                created = started + timedelta(minutes=n)
                status = rng.choice(STATUSES)
                rows.append(
                    (n, app_id, numbers[app_id], f"{rng.getrandbits(160):040x}",
                     f"Fix the thing number {n} in the module that does things", "Dev <dev@example.com>",
                     "webhook", status, "completed" if status == "success" else "building_image",
                     100 if status == "success" else 40,
                     "" if status == "success" else "docker build failed: step 3 returned 1",
                     f"fogbank/history-{app_id:03d}:{n}", "", int(n > deployments - apps),
                     ts(created), ts(created + timedelta(seconds=5)), ts(created + timedelta(seconds=47)),
                     ts(created + timedelta(seconds=47)), 42)
                )  # fmt: skip
            connection.executemany(
                "INSERT INTO deployment (id, app_id, deployment_number, commit_hash, commit_message,"
                " commit_author, triggered_by, status, stage, progress, error_message, image_tag,"
                " container_id, is_active, created_at, started_at, finished_at, updated_at,"
                " duration) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        connection.execute("ANALYZE")
    finally:
        connection.close()


def query_plan(db: Path) -> str:
    connection = sqlite3.connect(db)
    try:
        plan = connection.execute("EXPLAIN QUERY PLAN " + HISTORY_SQL, (7, 50_000)).fetchall()
    finally:
        connection.close()
    return "; ".join(str(row[-1]) for row in plan)


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
    base, token, pid = bench.server.base, bench.server.token, server_pid(bench)
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
        populate(bench.db, args.apps, args.deployments)
        print(f"inserted {args.deployments} deployments across {args.apps} apps in "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        print(f"query plan of the history query: {query_plan(bench.db)}")
        bench.server.start()
        try:
            results = asyncio.run(measure(bench, args.apps, args.deployments))
        finally:
            stop_server(bench.server)
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
