"""History at scale: 100,000 deployments across 100 apps, read through the API, by this code
and by another commit (default `main`) on the same rows, alternating, in one run.

    PYTHONPATH=. .venv/bin/python -m bench.history [--deployments 100000] [--apps 100]
        [--against main] [--rounds 2]

The schema is made by fogbank itself (`fogbank user create` runs the migrations), then the rows
are bulk-inserted through fogbank's models before `fogbank serve` starts: deployments interleaved
across the apps as real pushes would be (id order = time order), each app numbered 1..N without
gaps, one active deployment per app. Then, one request at a time over keep-alive HTTP with an
API token: `getByAppId` limit 50 first page, deep pages via `before` (the last 50 of the app's
history and random points in between), and `GET /api/apps/getAll`, each next to the same
server's `GET /api/health` (the HTTP floor of this process). The server of --against is that
commit's tree (`git archive`) served on the same data directory; rounds alternate which goes
first. Printed: p50/p99 of each, the server's CPU per request (both threads, from /proc), p99
over the health floor's p99, and the SQLite query plan of the history query.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import subprocess
import sys
import tarfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from tortoise import connections
from tortoise.transactions import in_transaction

from bench.common import Bench, cpu_seconds, database, p50_p99, percentile, prepare, workdir
from controller.store.bulk import insert_rows
from controller.store.models import App, Deployment, Stage, Status, Trigger
from tests.support.server import ROOT

REQUESTS = 400
WARMUP = 20
FLOOR = "GET /api/health (floor)"
TARGET_OVER_FLOOR = 2.0
# name -> (latencies in ms, server CPU ms per request), per server.
Figures = dict[str, tuple[list[float], float]]
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


async def measure(bench: Bench, apps: int, deployments: int) -> Figures:
    """name -> (latencies in ms, server CPU ms per request)."""
    base, token, pid = bench.server.base, bench.server.token, bench.server.pid
    per_app = deployments // apps
    rng = random.Random(7)
    headers = {"Authorization": f"Bearer {token}"}
    results: Figures = {}
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
        await run(FLOOR, "GET", "/api/health", [{}] * REQUESTS)
        await run("getByAppId limit 50, first page", "POST", "/api/deployment/getByAppId", first)
        await run(
            "getByAppId limit 50, random deep page", "POST", "/api/deployment/getByAppId", middle
        )
        await run(
            "getByAppId limit 50, oldest page (before)", "POST", "/api/deployment/getByAppId", last
        )
        await run(f"GET /api/apps/getAll ({apps} apps)", "GET", "/api/apps/getAll", [{}] * REQUESTS)
    return results


def checkout(ref: str, into: Path) -> Path:
    """The tree of commit `ref` of this repository, unpacked under `into`."""
    archive = into / "ref.tar"
    subprocess.run(["git", "archive", "-o", str(archive), ref], cwd=ROOT, check=True)
    tree = into / "ref"
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    # The server must import that tree, not this one (the venv maps fogbank to this one).
    where = subprocess.run(
        [sys.executable, "-c", "import api; print(api.__file__)"],
        cwd=tree, env={"PYTHONPATH": str(tree)}, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    if not where.startswith(str(tree)):
        raise RuntimeError(f"the {ref} server would import {where}, not {tree}")
    return tree


def report(runs: dict[str, list[Figures]]) -> None:
    """Per request: each server's figures, pooled over its rounds, side by side."""
    labels = list(runs)
    print(f"\n{REQUESTS} requests each per round, one at a time; p50/p99 of the full HTTP "
          f"request, server CPU per request (median of rounds), p99 over the health p99:")  # fmt: skip
    for name in runs[labels[0]][0]:
        cells = []
        cpus = []
        for label in labels:
            latencies = [ms for figures in runs[label] for ms in figures[name][0]]
            floor = [ms for figures in runs[label] for ms in figures[FLOOR][0]]
            cpu = statistics.median(figures[name][1] for figures in runs[label])
            cpus.append(cpu)
            over = percentile(latencies, 0.99) / percentile(floor, 0.99)
            cells.append(f"{label}: {p50_p99(latencies)}, CPU {cpu:.2f} ms, x{over:.1f}")
        ratio = f" | CPU {labels[0]}/{labels[1]} {cpus[0] / cpus[1]:.2f}" if len(cpus) > 1 else ""
        print(f"  {name}\n    " + "\n    ".join(cells) + ratio)
    print(f"  (target: p99 <= {TARGET_OVER_FLOOR:g}x the health floor of the same server)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deployments", type=int, default=100_000)
    parser.add_argument("--apps", type=int, default=100)
    parser.add_argument("--against", default="main", help="commit to compare with ('': none)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    runs: dict[str, list[Figures]] = {"this": []}
    with workdir("fb-history-") as root:
        trees = {"this": ROOT}
        if args.against:
            trees[args.against] = checkout(args.against, root)
            runs[args.against] = []
        bench = prepare(root)
        started = time.perf_counter()
        plan = asyncio.run(populate(bench, args.apps, args.deployments))
        print(f"inserted {args.deployments} deployments across {args.apps} apps in "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        print(f"query plan of the history query: {plan}")
        for round_ in range(args.rounds):
            order = list(trees) if round_ % 2 == 0 else list(reversed(trees))
            for label in order:
                bench.server.env = {"PYTHONPATH": str(trees[label])}
                bench.server.start(cwd=trees[label])
                try:
                    runs[label].append(asyncio.run(measure(bench, args.apps, args.deployments)))
                finally:
                    bench.server.stop()
    report(runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
