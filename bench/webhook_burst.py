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
--extra-apps N adds N apps on other repositories that no delivery names, as on a server with
many apps: routing reads every app with a repository for each batch.

Run from the repository root:
    PYTHONPATH=. python bench/webhook_burst.py [--deliveries N] [--rounds R] [--extra-apps N]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import sqlite3
import statistics
import sys
import uuid
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import httpload
from bench.common import (
    cpu_seconds,
    machine_busy_seconds,
    percentile,
    prepare,
    read_db,
    remove_app_objects,
    workdir,
)
from tests.support.github import push, signed
from tests.support.repos import make_web_repo
from tests.support.server import wait_until

CONCURRENCY = 50
CORES = os.cpu_count() or 1
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


def summary(latencies: list[float]) -> str:
    return (
        f"p50 {statistics.median(latencies):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms, "
        f"max {max(latencies):.1f} ms"
    )


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


def deliveries_for(targets: list[dict[str, Any]], count: int) -> list[tuple[str, bytes]]:
    """`count` signed pushes spread over the targets, each app's commits in increasing order:
    (delivery id, the serialised request)."""
    sent: list[tuple[str, bytes]] = []
    per_app = count // len(targets) + 1
    for index in range(count):
        target = targets[index % len(targets)]
        sha = target["shas"][(index // len(targets)) * COMMITS_PER_REPO // per_app]
        payload = push(target["url"], "main", sha, f"push {index}", full_name=target["name"])
        delivery = str(uuid.uuid4())
        body, headers = signed(payload, target["secret"], delivery=delivery)
        # Each app's own URL: its secret signs nowhere else.
        sent.append((delivery, httpload.post(target["path"], body, list(headers.items()))))
    return sent


async def burst(
    port: int, pid: int, db: Path, count: int, rounds: int, targets: list[dict[str, Any]]
) -> dict[str, Any]:
    """Send the burst, print what happened; the figures (per-round ack p99, lost, ...)."""
    every = deliveries_for(targets, UNLOADED + count * rounds)
    unloaded, sent = every[:UNLOADED], every[UNLOADED:]
    # Each of the 50 senders has its own keep-alive connection, as 50 GitHub senders would.
    floor = await httpload.closed_loop(port, [httpload.get("/api/health")] * 2000, CONCURRENCY)
    print(
        f"floor: {len(floor.latencies_ms)} GET /api/health at concurrency {CONCURRENCY}, "
        f"{len(floor.latencies_ms) / floor.wall_seconds:.0f} requests/s, "
        f"{summary(floor.latencies_ms)}"
    )
    alone = await httpload.closed_loop(port, [request for _, request in unloaded], 1)
    print(f"unloaded: {UNLOADED} deliveries one at a time, ack {summary(alone.latencies_ms)}")
    latencies: list[float] = []
    figures: dict[str, Any] = {"ack_p99_ms": [], "ack_p50_ms": [], "per_second": []}
    answered: list[httpload.Answer] = []
    wall = 0.0
    for number in range(rounds):
        batch = sent[number * count : (number + 1) * count]
        server_before, machine_before = cpu_seconds(pid), machine_busy_seconds()
        run = await httpload.closed_loop(port, [request for _, request in batch], CONCURRENCY)
        server_cpu = cpu_seconds(pid) - server_before
        busy = (machine_busy_seconds() - machine_before) / run.wall_seconds
        latencies += run.latencies_ms
        answered += run.answers
        wall += run.wall_seconds
        figures["ack_p99_ms"].append(percentile(run.latencies_ms, 0.99))
        figures["ack_p50_ms"].append(percentile(run.latencies_ms, 0.5))
        figures["per_second"].append(count / run.wall_seconds)
        print(
            f"burst round {number + 1}: {count} signed pushes at concurrency {CONCURRENCY} in "
            f"{run.wall_seconds:.2f} s = {count / run.wall_seconds:.0f} deliveries/s, "
            f"ack {summary(run.latencies_ms)}; fogbank CPU {server_cpu / count * 1000:.2f} ms "
            f"per delivery (builds included), machine busy {busy * 100 / CORES:.0f}% of "
            f"{CORES} cores"
        )
    total = count * rounds
    print(
        f"burst, all rounds: {total} signed pushes in {wall:.2f} s = {total / wall:.0f} "
        f"deliveries/s, ack {summary(latencies)}"
    )
    again = sent[:: max(1, total // REDELIVERIES)]
    replayed = await httpload.closed_loop(port, [request for _, request in again], CONCURRENCY)
    statuses = Counter(answer.status for answer in [*alone.answers, *answered])
    answers = {delivery: answer.body for (delivery, _), answer in zip(sent, answered, strict=True)}
    same = sum(
        answers[delivery] == answer.body
        for (delivery, _), answer in zip(again, replayed.answers, strict=True)
    )
    ids = [delivery for delivery, _ in every]
    print(
        f"answers {dict(statuses)}; redeliveries of sent ids: {same}/{len(again)} identical, "
        f"ack {summary(replayed.latencies_ms)}"
    )

    wait_idle(db)
    recorded = read_db(db, "SELECT delivery_id, response FROM webhook_delivery")
    # Recorded per URL as "<app>/<X-GitHub-Delivery>" (webhooks/dispatch.py); compare the ids sent.
    recorded_ids = [row["delivery_id"].split("/", 1)[-1] for row in recorded]
    created: list[int] = []  # a push of a commit already queued or active names that one
    for row in recorded:
        listed = json.loads(row["response"])["data"]["deployments"]
        created += [d["deploymentId"] for d in listed if d.get("created", True)]
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
    one_each = len(created) == len(set(created)) == len(webhook_rows)
    print(
        f"each deployment created by exactly one push: {one_each} "
        f"({len(created)} answered as created, {len(set(created))} distinct, "
        f"{len(webhook_rows)} rows; the other pushes named a commit already queued or active)"
    )
    builds = [row for row in rows if row["started_at"]]
    print(
        f"builds run: {len(builds)}; overlapping builds of one app: {overlaps(builds)} "
        f"(0 = at most one build per app at a time)"
    )
    figures.update(lost=len(lost), twice=twice, overlaps=overlaps(builds))
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--deliveries", type=int, default=2000, help="per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--extra-apps",
        type=int,
        default=0,
        help="apps on other repositories, never pushed to: every batch still reads them to route",
    )
    args = parser.parse_args()
    measure(args.deliveries, args.rounds, args.extra_apps)
    return 0


def measure(deliveries: int, rounds: int, extra_apps: int) -> dict[str, Any]:
    """One server, the unloaded and floor references, `rounds` bursts; the figures."""
    names = [f"burst-{uuid.uuid4().hex[:8]}", f"burst-{uuid.uuid4().hex[:8]}"]
    with workdir("fb-burst-") as root:
        bench = prepare(root, {"controller": {"workers": 2}})
        server = bench.server
        try:
            quick = make_repo(root / "quick", failing=False)
            failing = make_repo(root / "failing", failing=True)
            server.start()
            for number in range(extra_apps):
                server.call(
                    "POST",
                    "/api/apps/create",
                    {
                        "name": f"idle-{number}",
                        "gitRepository": f"https://github.com/idle/{number}",
                    },
                )
            targets = []
            for name, repo, shas in zip(names, ("quick", "failing"), (quick, failing), strict=True):
                url = (root / repo).as_uri()
                app = server.call(
                    "POST",
                    "/api/apps/create",
                    {"name": name, "gitRepository": url, "port": 3000, "healthTimeoutSeconds": 10},
                )["data"]
                secret = server.call("POST", "/api/apps/webhook", {"appId": app["id"]})["data"]
                targets.append(
                    {"id": app["id"], "url": url, "name": f"bench/{repo}", "shas": shas,
                     "secret": secret["secret"], "path": urlsplit(secret["payloadUrl"]).path}
                )  # fmt: skip
            figures = asyncio.run(
                burst(server.port, server.pid, bench.db, deliveries, rounds, targets)
            )
            for target in targets:
                server.call("DELETE", "/api/apps/delete", {"appId": target["id"]})
            server.stop()
            assert server.process is not None
            print(f"server exit status after SIGTERM: {server.process.returncode}")
            return figures
        finally:
            server.stop()
            remove_app_objects(names)


if __name__ == "__main__":
    sys.exit(main())
