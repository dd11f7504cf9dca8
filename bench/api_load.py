"""API load: mixed authenticated reads at increasing concurrency, and the server's memory.

    PYTHONPATH=. .venv/bin/python -m bench.api_load [--requests 3000] [--levels 1,4,16,64]

The database holds 20 apps with 200 deployments each (bulk-inserted through fogbank's models
before `fogbank serve` starts, after fogbank made the schema), and every deployment of app 1
has a finished 300-line build log on disk, as the pipeline would have left it. Each level runs the same mix
over one keep-alive connection per concurrent client, every request with an API token
(`Authorization: Bearer`): 50% `POST /api/deployment/getByAppId` (limit 50), 25%
`POST /api/apps/getById`, 25% `GET /api/deployment/logs/<id>` (text/plain). Prints, per level,
requests/s, p50/p99 and the server's CPU time per request (from /proc/<pid>/stat: the figure
that other load on the machine disturbs least), next to `GET /api/health` (no auth, no database) at the same
concurrency: the HTTP floor of this process. Memory: VmRSS of the server idle after start,
its peak (VmHWM) during the load, and idle again after it. Target: idle RSS under 120 MB.
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
from tortoise.transactions import in_transaction

from bench.common import (
    Bench,
    RssSampler,
    cpu_seconds,
    database,
    percentile,
    prepare,
    rss_mb,
    workdir,
)
from controller.store.bulk import insert_rows
from controller.store.models import App, Deployment, Stage, Status, Trigger

APPS = 20
PER_APP = 200
LOG_LINES = 300
IDLE_SETTLE_SECONDS = 3.0
TARGET_IDLE_MB = 120.0

Request = tuple[str, str, dict[str, int] | None]  # method, path, JSON body


async def seed_rows() -> None:
    """Apps and deployments through the models; ids run 1..N in insertion order."""
    started = datetime(2025, 1, 1, tzinfo=UTC)
    await App.bulk_create(
        [
            App(
                id=n,
                name=f"load-{n:02d}",
                git_repository=f"https://github.com/bench/load-{n}.git",
                deployment_counter=PER_APP,
            )
            for n in range(1, APPS + 1)
        ]
    )
    rows: list[dict[str, Any]] = []
    for n in range(1, APPS * PER_APP + 1):
        app_id = (n - 1) % APPS + 1
        created = started + timedelta(minutes=n)
        rows.append(
            {
                "app_id": app_id,
                "deployment_number": (n - 1) // APPS + 1,
                "commit_hash": f"{n:040x}",
                "commit_message": f"Change number {n}",
                "image_tag": f"fogbank/load-{app_id:02d}:{n}",
                "is_active": n > APPS * (PER_APP - 1),
                "created_at": created,
                "started_at": created,
                "finished_at": created + timedelta(seconds=40),
                "updated_at": created + timedelta(seconds=40),
            }
        )
    await insert_rows(
        Deployment,
        rows,
        commit_author="Dev <dev@example.com>",
        triggered_by=Trigger.WEBHOOK,
        status=Status.SUCCESS,
        stage=Stage.COMPLETED,
        progress=100,
        duration=40,
    )


async def populate(bench: Bench) -> None:
    """The rows (see the module docstring), and app 1's build logs on disk."""
    async with database(bench), in_transaction():
        await seed_rows()
    logs = bench.root / "data" / "logs" / "deployments"
    logs.mkdir(parents=True, exist_ok=True)
    body = "".join(
        f"Step {n}/300 : RUN make target-{n}\n ---> Running in abc{n:09d}\n"
        for n in range(LOG_LINES // 2)
    )
    for deployment_id in app_deployment_ids(1):
        (logs / f"{deployment_id}.log").write_text(body)


def app_deployment_ids(app_id: int) -> list[int]:
    return list(range(app_id, APPS * PER_APP + 1, APPS))


def mix(count: int, rng: random.Random) -> list[Request]:
    requests: list[Request] = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.5:
            body = {"appId": rng.randint(1, APPS), "limit": 50}
            requests.append(("POST", "/api/deployment/getByAppId", body))
        elif roll < 0.75:
            requests.append(("POST", "/api/apps/getById", {"appId": rng.randint(1, APPS)}))
        else:
            deployment_id = rng.choice(app_deployment_ids(1))
            requests.append(("GET", f"/api/deployment/logs/{deployment_id}", None))
    return requests


async def run_level(
    base: str, token: str, clients: int, requests: list[Request]
) -> tuple[float, list[float]]:
    """Send every request, one in flight per client; (requests/s, latencies in ms)."""
    headers = {"Authorization": f"Bearer {token}"}
    pool = [httpx.AsyncClient(base_url=base, headers=headers, timeout=60) for _ in range(clients)]
    latencies: list[float] = []
    pending = list(reversed(requests))
    try:
        await asyncio.gather(*[http.get("/api/health") for http in pool])  # connect all

        async def worker(http: httpx.AsyncClient) -> None:
            while pending:
                method, path, body = pending.pop()
                started = time.perf_counter()
                response = await http.request(method, path, json=body)
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")

        started = time.perf_counter()
        await asyncio.gather(*[worker(http) for http in pool])
        wall = time.perf_counter() - started
    finally:
        await asyncio.gather(*[http.aclose() for http in pool])
    return len(requests) / wall, latencies


async def measure(bench: Bench, levels: list[int], count: int) -> None:
    base, token = bench.server.base, bench.server.token
    pid = bench.server.pid
    rng = random.Random(4)
    await run_level(base, token, 4, mix(200, rng))  # warm-up
    print(f"\n{count} requests per level (50% getByAppId, 25% getById, 25% logs), "
          "one keep-alive connection per client:")  # fmt: skip
    print(f"{'clients':>8} {'mixed req/s':>12} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/req':>11}   "
          f"{'health req/s':>12} {'p50 ms':>8} {'p99 ms':>8}")  # fmt: skip
    for clients in levels:
        cpu_before = cpu_seconds(pid)
        rate, latencies = await run_level(base, token, clients, mix(count, rng))
        cpu_ms = (cpu_seconds(pid) - cpu_before) * 1000 / count
        floor_rate, floor = await run_level(
            base, token, clients, [("GET", "/api/health", None)] * count
        )
        print(
            f"{clients:>8} {rate:>12.0f} {percentile(latencies, 0.5):>8.1f} "
            f"{percentile(latencies, 0.99):>8.1f} {cpu_ms:>11.2f}   {floor_rate:>12.0f} "
            f"{percentile(floor, 0.5):>8.1f} {percentile(floor, 0.99):>8.1f}",
            flush=True,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--levels", default="1,4,16,64")
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",")]
    with workdir("fb-apiload-") as root:
        bench = prepare(root)
        asyncio.run(populate(bench))
        bench.server.start()
        try:
            pid = bench.server.pid
            time.sleep(IDLE_SETTLE_SECONDS)
            idle = rss_mb(pid)
            sampler = RssSampler(pid)
            sampler.start()
            asyncio.run(measure(bench, levels, args.requests))
            sampler.stop.set()
            peak = max(sampler.samples)
            time.sleep(IDLE_SETTLE_SECONDS)
            after = rss_mb(pid)
        finally:
            bench.server.stop()
    verdict = "OK" if idle < TARGET_IDLE_MB else "MISSED"
    print(f"\nserver RSS: idle after start {idle:.0f} MB (target < {TARGET_IDLE_MB:g} MB: {verdict}); "
          f"peak during the load {peak:.0f} MB (VmRSS sampled every 100 ms); idle after the load "
          f"{after:.0f} MB")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
