"""Webhook burst: >= 2,000 signed GitHub push deliveries at concurrency 50 against a real
`fogbank serve` on loopback.

Prints deliveries/s and ack latency p50/p99/max, next to two references from the same run: the
server's GET /api/health at the same concurrency (the HTTP floor of this process and machine)
and deliveries sent one at a time (unloaded); then deployments created and superseded, whether
any delivery was lost or counted twice (the delivery ids and deployments recorded in the
database against what was sent, plus redeliveries of already-sent ids), and whether more than
one build ever ran per app at a time (from started_at/finished_at).

Two apps on two local repositories: one builds a tiny busybox httpd image quickly, one fails
fast at build. GitHub.com is the one thing faked: the deliveries are its real payload
(tests/fixtures/github/push-with-new-branch.json) re-aimed at the local repositories.

Run from the repository root:  PYTHONPATH=. python bench/webhook_burst.py [--deliveries N]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import docker
import httpx

from tests.conftest import free_port, make_web_repo
from tests.github_payloads import push, signed
from tests.server_process import Server, cli, wait_until

CONCURRENCY = 50
UNLOADED = 100
COMMITS_PER_REPO = 20
REDELIVERIES = 200
DRAIN_TIMEOUT_SECONDS = 150
FAILING_DOCKERFILE = """FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "false"]
"""


def make_repo(path: Path, *, failing: bool) -> list[str]:
    """A repository with COMMITS_PER_REPO more commits on main; their shas, oldest first."""
    repo = make_web_repo(path)
    if failing:
        repo.commit("fail fast", {"Dockerfile": FAILING_DOCKERFILE})
    return [
        repo.commit(f"version {n}", {"www/index.html": f"version {n}\n"})
        for n in range(COMMITS_PER_REPO)
    ]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


Request = tuple[str, bytes | None, dict[str, str]]  # path, body (None: GET), headers


async def timed_requests(
    clients: list[httpx.AsyncClient], requests: list[Request]
) -> tuple[list[float], list[httpx.Response], float]:
    """Send every request, one in flight per client; latencies (ms), responses, wall seconds."""
    latencies: list[float] = [0.0] * len(requests)
    responses: list[httpx.Response | None] = [None] * len(requests)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(len(requests)):
        queue.put_nowait(index)

    async def worker(http: httpx.AsyncClient) -> None:
        while not queue.empty():
            index = queue.get_nowait()
            path, body, headers = requests[index]
            started = time.perf_counter()
            if body is None:
                response = await http.get(path, headers=headers)
            else:
                response = await http.post(path, content=body, headers=headers)
            latencies[index] = (time.perf_counter() - started) * 1000
            responses[index] = response

    started = time.perf_counter()
    await asyncio.gather(*[worker(http) for http in clients])
    wall = time.perf_counter() - started
    return latencies, [r for r in responses if r is not None], wall


def summary(latencies: list[float]) -> str:
    return (
        f"p50 {statistics.median(latencies):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms, "
        f"max {max(latencies):.1f} ms"
    )


def read_db(path: Path, query: str) -> list[sqlite3.Row]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    connection.row_factory = sqlite3.Row
    try:
        return connection.execute(query).fetchall()
    finally:
        connection.close()


def wait_idle(db: Path) -> None:
    def idle() -> bool | None:
        busy = read_db(
            db,
            "SELECT COUNT(*) AS n FROM deployment WHERE status IN ('pending','building','deploying')",
        )[0]["n"]
        return True if busy == 0 else None

    wait_until(idle, DRAIN_TIMEOUT_SECONDS, "every deployment to reach a terminal status")


def overlaps(rows: list[sqlite3.Row]) -> int:
    """How many times a build of an app started before the previous one of that app finished."""
    by_app: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for row in rows:
        if row["started_at"] and row["finished_at"]:
            by_app[row["app_id"]].append(
                (
                    datetime.fromisoformat(row["started_at"]),
                    datetime.fromisoformat(row["finished_at"]),
                )
            )
    found = 0
    for intervals in by_app.values():
        intervals.sort()
        for (_, finished), (started, _) in itertools.pairwise(intervals):
            found += started < finished
    return found


def deliveries_for(targets: list[dict[str, Any]], count: int) -> list[Request]:
    """`count` signed pushes spread over the targets, each app's commits in increasing order."""
    sent: list[Request] = []
    per_app = count // len(targets) + 1
    for index in range(count):
        target = targets[index % len(targets)]
        sha = target["shas"][(index // len(targets)) * COMMITS_PER_REPO // per_app]
        payload = push(target["url"], "main", sha, f"push {index}", full_name=target["name"])
        body, headers = signed(payload, target["secret"], delivery=str(uuid.uuid4()))
        sent.append(("/webhooks/github", body, headers))
    return sent


async def burst(server: Server, db: Path, count: int, targets: list[dict[str, Any]]) -> None:
    every = deliveries_for(targets, UNLOADED + count)
    unloaded, sent = every[:UNLOADED], every[UNLOADED:]
    # One client (one keep-alive connection) per concurrent sender, as 50 GitHub senders would
    # be; a single shared httpx pool is itself the bottleneck at this concurrency.
    clients = [httpx.AsyncClient(base_url=server.base, timeout=30) for _ in range(CONCURRENCY)]
    try:
        await asyncio.gather(*[http.get("/api/health") for http in clients])  # connect all
        health: list[Request] = [("/api/health", None, {})]
        floor, _, floor_wall = await timed_requests(clients, health * 2000)
        alone, first, _ = await timed_requests(clients[:1], unloaded)
        latencies, responses, wall = await timed_requests(clients, sent)
        again = sent[:: max(1, count // REDELIVERIES)]
        _, replayed, _ = await timed_requests(clients, again)
    finally:
        await asyncio.gather(*[http.aclose() for http in clients])
    statuses = Counter(r.status_code for r in [*first, *responses])
    answers = {
        request[2]["X-GitHub-Delivery"]: response.content
        for request, response in zip(sent, responses, strict=True)
    }
    same = sum(
        answers[request[2]["X-GitHub-Delivery"]] == response.content
        for request, response in zip(again, replayed, strict=True)
    )
    ids = [request[2]["X-GitHub-Delivery"] for request in [*unloaded, *sent]]

    print(
        f"floor: {len(floor)} GET /api/health at concurrency {CONCURRENCY}, "
        f"{len(floor) / floor_wall:.0f} requests/s, {summary(floor)}"
    )
    print(f"unloaded: {len(alone)} deliveries one at a time, ack {summary(alone)}")
    print(
        f"burst: {count} signed pushes at concurrency {CONCURRENCY} in {wall:.2f} s = "
        f"{count / wall:.0f} deliveries/s, ack {summary(latencies)}"
    )
    print(f"answers {dict(statuses)}; redeliveries of sent ids: {same}/{len(again)} identical")

    wait_idle(db)
    recorded = read_db(db, "SELECT delivery_id, response FROM webhook_delivery")
    recorded_ids = [row["delivery_id"] for row in recorded]
    claimed: list[int] = []
    for row in recorded:
        claimed += [d["deploymentId"] for d in json.loads(row["response"])["data"]["deployments"]]
    rows = read_db(db, "SELECT * FROM deployment")
    webhook_rows = [row for row in rows if row["triggered_by"] == "webhook"]
    final = Counter(row["status"] for row in rows)
    superseded = sum(
        row["status"] == "stopped" and row["error_message"].startswith("superseded") for row in rows
    )
    lost = set(ids) - set(recorded_ids)
    twice = len(recorded_ids) - len(set(recorded_ids))
    unknown = set(recorded_ids) - set(ids)
    print(
        f"deployments created: {len(rows)} (webhook {len(webhook_rows)}); superseded {superseded}; "
        f"final statuses {dict(final)}"
    )
    print(
        f"deliveries recorded {len(recorded_ids)}/{len(ids)}: lost {len(lost)}, recorded twice "
        f"{twice}, unknown {len(unknown)}"
    )
    one_each = len(claimed) == len(set(claimed)) == len(webhook_rows) == len(ids)
    print(
        f"each accepted push -> exactly one deployment: {one_each} "
        f"({len(claimed)} answered, {len(set(claimed))} distinct, {len(webhook_rows)} rows)"
    )
    builds = [row for row in rows if row["started_at"]]
    print(
        f"builds run: {len(builds)}; overlapping builds of one app: {overlaps(builds)} "
        f"(0 = at most one build per app at a time)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--deliveries", type=int, default=2000)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="fogbank-burst-"))
    docker_client = docker.from_env()
    names = [f"burst-{uuid.uuid4().hex[:8]}", f"burst-{uuid.uuid4().hex[:8]}"]
    server: Server | None = None
    try:
        quick = make_repo(workdir / "quick", failing=False)
        failing = make_repo(workdir / "failing", failing=True)
        port = free_port()
        config = workdir / "config.toml"
        config.write_text(
            f'[server]\nport = {port}\n[storage]\ndata_dir = "{workdir / "data"}"\n'
            "[git]\nallow_local = true\n[controller]\nworkers = 2\n"
        )
        cli("user", "create", "--username", "bench", "--role", "admin", "--password-stdin",
            config=config, stdin="a long bench password\n")  # fmt: skip
        server = Server(config, port, workdir / "server.log")
        server.token = cli("token", "create", "--username", "bench", "--name", "b", config=config)
        server.start()
        targets = []
        for name, repo, shas in zip(names, ("quick", "failing"), (quick, failing), strict=True):
            url = (workdir / repo).as_uri()
            app = server.call(
                "POST",
                "/api/apps/create",
                {"name": name, "gitRepository": url, "port": 3000, "healthTimeoutSeconds": 10},
            )["data"]
            secret = server.call("POST", "/api/apps/webhook", {"appId": app["id"]})["data"]
            targets.append(
                {"id": app["id"], "url": url, "name": f"bench/{repo}", "shas": shas,
                 "secret": secret["secret"]}
            )  # fmt: skip
        asyncio.run(burst(server, workdir / "data" / "fogbank.db", args.deliveries, targets))
        for target in targets:
            server.call("DELETE", "/api/apps/delete", {"appId": target["id"]})
        print(f"server exit status after SIGTERM: {server.terminate()}")
        return 0
    finally:
        if server is not None:
            server.stop_quietly()
        for name in names:  # in case the API delete did not run
            for container in docker_client.containers.list(
                all=True, filters={"label": f"fogbank.app={name}"}
            ):
                container.remove(force=True)
            for image in docker_client.images.list(filters={"label": f"fogbank.app={name}"}):
                docker_client.images.remove(str(image.id), force=True)
        docker_client.close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
