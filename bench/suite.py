"""Each benchmark of `python -m bench`, through its module's own functions, with the settings of
one run: every function returns its figures (key -> one value per trial) and chart data."""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench import (
    api_load,
    app_logs,
    dashboard,
    deploy_overhead,
    history,
    queue_claims,
    webhook_acks,
    webhook_burst,
)
from bench.common import percentile, prepare, remove_app_objects, rss_mb, workdir
from bench.fanout import Result, dockerfile, fan_out
from tests.support.postgres import start_cluster
from tests.support.repos import make_web_repo

Values = dict[str, list[float]]


@dataclass(frozen=True)
class Settings:
    """How much of each benchmark one run does (the full run fits 15 minutes on 2 cores)."""

    deploy_trials: int = 3
    fanout_counts: tuple[int, ...] = (10, 100, 300)  # watchers, paced at fanout_rate
    fanout_rate: int = 100
    fanout_paced_lines: int = 300
    fanout_trials: int = 2
    fanout_cpu_watchers: int = 500  # default frames, unpaced: the server's CPU per frame
    fanout_cpu_lines: int = 300
    fanout_batch_watchers: int = 1000
    fanout_batch_lines: int = 1000
    fanout_deadline: float = 120.0
    history_deployments: int = 100_000
    history_rounds: int = 3
    api_requests: int = 1000
    api_trials: int = 3
    webhook_deliveries: int = 1000
    webhook_rounds: int = 3
    dashboard_deployments: int = 100_000
    dashboard_rounds: int = 2
    claims: bool = True
    acks_deliveries: int = 2000  # per round, for each of SQLite 1, PostgreSQL 1 and 2 instances
    acks_rounds: int = 2
    logs_seconds: float = 15.0
    logs_followers: int = 20


SMOKE = Settings(
    deploy_trials=1, fanout_counts=(5,), fanout_paced_lines=20, fanout_trials=1,
    fanout_cpu_watchers=5, fanout_cpu_lines=20, fanout_batch_watchers=10, fanout_batch_lines=20,
    history_deployments=6000, history_rounds=1, api_requests=100, api_trials=1,
    webhook_deliveries=60, webhook_rounds=1, dashboard_deployments=2000, dashboard_rounds=1,
    claims=True, acks_deliveries=60, acks_rounds=1, logs_seconds=3.0, logs_followers=2,
)  # fmt: skip


def deploy(settings: Settings) -> tuple[Values, dict[str, Any]]:
    """Ratios and first frames per trial; every sample's step ends for the timeline chart."""
    samples = deploy_overhead.measure(settings.deploy_trials)
    deploy_overhead.report(samples, settings.deploy_trials, timeline=False)
    values: Values = {}
    chart: dict[str, Any] = {}
    for phase in ("cold", "warm"):
        floors = deploy_overhead.pick(samples, "floor", phase)
        fogs = deploy_overhead.pick(samples, "fogbank", phase)
        values[f"deploy_{phase}_ratio"] = [
            fog.seconds / base.seconds for fog, base in zip(fogs, floors, strict=True)
        ]
        values[f"first_frame_{phase}_ms"] = [s.first_frame_ms for s in fogs]
        for kind, got in (("floor", floors), ("fogbank", fogs)):
            chart[f"{kind} {phase}"] = [{"seconds": s.seconds, "steps": s.steps} for s in got]
    return values, chart


async def fanout_runs(settings: Settings) -> tuple[Values, list[dict[str, Any]]]:
    runs: list[tuple[int, int, int, bool]] = [
        (count, settings.fanout_paced_lines, settings.fanout_rate, False)
        for count in settings.fanout_counts
        for _ in range(settings.fanout_trials)
    ]
    runs += [(settings.fanout_cpu_watchers, settings.fanout_cpu_lines, 0, False)] * 2
    runs += [(settings.fanout_batch_watchers, settings.fanout_batch_lines, 0, True)] * 2
    values: Values = {"fanout_cpu_us_per_frame": [], "fanout_batch_p99_ms": []}
    values.update(fanout_paced_p99_ms=[], fanout_incomplete_watchers=[])
    chart: list[dict[str, Any]] = []
    names: list[str] = []
    with workdir("fb-suite-fan-") as root:
        bench = prepare(root)
        bench.server.start()
        headers = {"Authorization": f"Bearer {bench.server.token}"}
        try:
            async with httpx.AsyncClient(
                base_url=bench.server.base, headers=headers, timeout=60
            ) as http:
                repo = make_web_repo(root / "repo")
                name = f"fanout-{uuid.uuid4().hex[:8]}"
                names.append(name)
                body = {"name": name, "gitRepository": repo.url, "port": 3000,
                        "stabilizationSeconds": 0}  # fmt: skip
                app = (await http.post("/api/apps/create", json=body)).json()["data"]
                for watchers, lines, rate, batch in runs:
                    gate = max(5, watchers // 50)
                    repo.commit("fan-out", {"Dockerfile": dockerfile(lines, gate, rate),
                                            "nonce": uuid.uuid4().hex})  # fmt: skip
                    result = Result(watchers, lines, rate, batch)
                    await fan_out(bench, http, app["id"], result, settings.fanout_deadline)
                    summary = result.summary()
                    print(f"fan-out {watchers} watchers, {lines} lines, rate {rate}, batch "
                          f"{batch}: {result.complete}/{watchers} complete, p99 lag "
                          f"{result.lag(0.99):.0f} ms, {result.cpu_us_per_line:.1f} us/line",
                          flush=True)  # fmt: skip
                    values["fanout_incomplete_watchers"].append(watchers - result.complete)
                    if batch:
                        values["fanout_batch_p99_ms"].append(result.lag(0.99))
                    elif rate:
                        chart.append(summary)
                        if watchers == 100:
                            values["fanout_paced_p99_ms"].append(result.lag(0.99))
                    else:
                        values["fanout_cpu_us_per_frame"].append(result.cpu_us_per_line)
                await http.request("DELETE", "/api/apps/delete", json={"appId": app["id"]})
        finally:
            bench.server.stop()
            remove_app_objects(names)
    return {key: got for key, got in values.items() if got}, chart


def fanout(settings: Settings) -> tuple[Values, list[dict[str, Any]]]:
    return asyncio.run(fanout_runs(settings))


def reads(settings: Settings) -> Values:
    """History pages and getAll over the health floor of the same server, one value a round."""
    apps = 100
    values: Values = {"history_page_over_floor": [], "history_getall_over_floor": []}
    with workdir("fb-suite-hist-") as root:
        bench = prepare(root)
        asyncio.run(history.populate(bench, apps, settings.history_deployments))
        for _ in range(settings.history_rounds):
            bench.server.start()
            try:
                got = asyncio.run(history.measure(bench, apps, settings.history_deployments))
            finally:
                bench.server.stop()
            floor = percentile(got[history.FLOOR][0], 0.99)
            page = percentile(got["getByAppId limit 50, first page"][0], 0.99)
            every = percentile(got[f"GET /api/apps/getAll ({apps} apps)"][0], 0.99)
            print(f"history: health p99 {floor:.1f} ms, first page p99 {page:.1f} ms, getAll "
                  f"p99 {every:.1f} ms", flush=True)  # fmt: skip
            values["history_page_over_floor"].append(page / floor)
            values["history_getall_over_floor"].append(every / floor)
    return values


def api(settings: Settings) -> Values:
    """Idle RSS after start (a fresh server per trial) and mixed reads/s at 16 clients."""
    values: Values = {"idle_rss_mb": [], "api_mixed_per_second": []}
    with workdir("fb-suite-api-") as root:
        bench = prepare(root)
        asyncio.run(api_load.populate(bench))
        for trial in range(settings.api_trials):
            bench.server.start()
            try:
                time.sleep(api_load.IDLE_SETTLE_SECONDS)
                values["idle_rss_mb"].append(rss_mb(bench.server.pid))
                requests = api_load.mix(settings.api_requests, random.Random(trial))
                rate, _ = asyncio.run(
                    api_load.run_level(bench.server.base, bench.server.token, 16, requests)
                )
                values["api_mixed_per_second"].append(rate)
            finally:
                bench.server.stop()
            print(f"api: idle RSS {values['idle_rss_mb'][-1]:.0f} MB, {rate:.0f} req/s", flush=True)
    return values


def webhooks(settings: Settings) -> Values:
    got = webhook_burst.measure(settings.webhook_deliveries, settings.webhook_rounds, 0)
    return {
        "webhook_ack_p99_ms": got["ack_p99_ms"],
        "webhook_per_second": got["per_second"],
        "webhook_lost": [float(got["lost"])],
    }


def pages(settings: Settings) -> Values:
    values: Values = {"dashboard_apps_p99_ms": [], "dashboard_app_p99_ms": []}
    count = settings.dashboard_deployments
    with workdir("fb-suite-dash-") as root:
        bench = prepare(root)
        asyncio.run(dashboard.populate(bench, 100, count))
        bench.server.start()
        try:
            for _ in range(settings.dashboard_rounds):
                got = asyncio.run(dashboard.measure(bench, count // 2))
                apps_page = percentile(got["apps page (GET /)"][1], 0.99)
                app_page = percentile(got["app page, 100k history (GET /apps/1)"][1], 0.99)
                print(f"dashboard: apps page server p99 {apps_page:.1f} ms, app page "
                      f"{app_page:.1f} ms", flush=True)  # fmt: skip
                values["dashboard_apps_p99_ms"].append(apps_page)
                values["dashboard_app_p99_ms"].append(app_page)
        finally:
            bench.server.stop()
    return values


def claims(settings: Settings) -> Values:
    if not settings.claims:
        return {}
    cluster = start_cluster()
    try:
        with tempfile.TemporaryDirectory() as root:
            sqlite, _ = queue_claims.run(f"sqlite://{Path(root) / 'claims.db'}", 1)
            pg1, _ = queue_claims.run(cluster.create_database(), 1)
            pg2, _ = queue_claims.run(cluster.create_database(), 2)
    finally:
        cluster.stop()
    print(f"claims/s: SQLite {sqlite:.0f}, PostgreSQL 1 {pg1:.0f}, 2 {pg2:.0f}", flush=True)
    return {
        "claims_sqlite_per_second": [sqlite],
        "claims_pg1_per_second": [pg1],
        "claims_pg2_per_second": [pg2],
    }


def acks(settings: Settings) -> Values:
    """Webhook acks/s and ack p99 per round: SQLite 1, PostgreSQL 1 and 2 instances."""
    results = webhook_acks.measure(settings.acks_deliveries, settings.acks_rounds)
    webhook_acks.report(results, settings.acks_deliveries)
    problems = [f"{result.label}: {problem}" for result in results for problem in result.problems]
    if problems:
        raise SystemExit("webhook acks: " + "; ".join(problems))
    values: Values = {}
    for key, result in zip(("sqlite", "pg1", "pg2"), results, strict=True):
        values[f"acks_{key}_per_second"] = result.per_second
        values[f"acks_{key}_p99_ms"] = result.p99_ms
    return values


def runtime_logs(settings: Settings) -> Values:
    """`fogbank app-logs -f` and `docker logs -f` on one container, one after the other."""
    got = app_logs.measure(settings.logs_seconds, settings.logs_followers)
    return {key: [value] for key, value in got.items()}
