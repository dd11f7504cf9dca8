"""Webhook acks per second: SQLite with one `fogbank serve`, PostgreSQL with one and with two
(one database, distinct instance names and data_dirs), in one run.

Each configuration gets APPS apps on local repositories; each round sends signed GitHub push
deliveries (tests/support/github.py: GitHub's real payload, each app's own URL and secret, a
new commit sha and X-GitHub-Delivery each) at concurrency 50 over keep-alive connections
(bench/httpload.py), spread over every instance's port. Figures per round: acks (2xx answers)
per second and ack p50/p99. What is measured is the ack path alone: signature check, dedupe,
enqueue and the recorded delivery. Nothing is built meanwhile: every worker (one per instance)
is first given a build that sleeps (a held app, deployed through the API), so the pushed
deployments stay queued, the older ones of an app superseded by the newer ones. The shas are
made up (a queued deployment never fetches them). Then REDELIVERIES already-sent ids go to the
last instance again (they must answer as the first time), and the database must hold every
delivery exactly once, one deployment per delivery and none built. A refused delivery (5xx: the
sender redelivers), an acked one not recorded (lost), a duplicate or a build fail the run.

Usage: `PYTHONPATH=. .venv/bin/python -m bench.webhook_acks [--deliveries N] [--rounds R]`
(needs Docker and Debian's postgresql)."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import httpload
from bench.common import p50_p99, percentile, prepare, read_db, remove_app_objects, workdir
from tests.support.github import push, signed
from tests.support.instances import prepare_instances, query
from tests.support.postgres import start_cluster
from tests.support.repos import make_web_repo
from tests.support.server import Server, wait_until

APPS = 10
CONCURRENCY = 50
REDELIVERIES = 200
HOLD_TIMEOUT_SECONDS = 120
HOLD_DOCKERFILE = """FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "sleep", "900"]
"""
HOLD_STEP = '"sleep", "900"'  # in the build log once the build reached the sleeping step
# One worker each, held by a sleeping build; a stop cancels that build at once.
SECTIONS = {"controller": {"workers": 1, "shutdown_timeout_seconds": 1.0}}


@dataclass
class Result:
    label: str
    per_second: list[float] = field(default_factory=list)
    p50_ms: list[float] = field(default_factory=list)
    p99_ms: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def rows(database: str, sql: str) -> list[Mapping[str, Any]]:
    """Rows straight from the database (the same SQL on both backends)."""
    if database.startswith("sqlite://"):
        return [dict(row) for row in read_db(Path(database.removeprefix("sqlite://")), sql)]
    return query(database, sql)


def make_repos(root: Path) -> tuple[list[Path], Path]:
    """APPS repositories to push to (their commits are never fetched) and the held one."""
    pushed = [root / f"app{index}" for index in range(APPS)]
    for path in pushed:
        make_web_repo(path)
    held = make_web_repo(root / "held")
    held.commit("hold the worker", {"Dockerfile": HOLD_DOCKERFILE})
    return pushed, root / "held"


def hold_workers(servers: list[Server], database: str, repo: Path, names: list[str]) -> None:
    """One app per instance with a build that sleeps, until every instance's worker runs one."""
    for server in servers:
        name = f"{names[0]}-held-{len(names)}"
        names.append(name)
        body = {"name": name, "gitRepository": repo.as_uri(), "port": 3000}
        app = server.call("POST", "/api/apps/create", body)["data"]
        server.call("POST", "/api/deployment/add", {"appId": app["id"]})

    def sleeping() -> bool | None:
        found = rows(database, "SELECT id FROM deployment WHERE status = 'building'")
        logs = [servers[0].call_text(f"/api/deployment/logs/{row['id']}") for row in found]
        return (len(found) == len(servers) and all(HOLD_STEP in log for log in logs)) or None

    wait_until(sleeping, HOLD_TIMEOUT_SECONDS, "a sleeping build on every instance's worker")


def deliveries(targets: list[dict[str, str]], count: int, salt: str) -> list[tuple[str, bytes]]:
    """`count` signed pushes over the apps in turn, each of a commit of its own:
    (X-GitHub-Delivery, the serialised request)."""
    made = []
    for index in range(count):
        target = targets[index % len(targets)]
        sha = hashlib.sha1(f"{salt}-{index}".encode(), usedforsecurity=False).hexdigest()
        payload = push(target["url"], "main", sha, f"push {index}", full_name=target["name"])
        delivery = str(uuid.uuid4())
        body, headers = signed(payload, target["secret"], delivery=delivery)
        made.append((delivery, httpload.post(target["path"], body, list(headers.items()))))
    return made


async def burst(
    instances: dict[int, str], sent: list[tuple[str, bytes]], rounds: int, result: Result
) -> set[str]:
    """The rounds, then the redeliveries to the last port; the delivery ids acked (2xx) in the
    rounds. Problems go into `result`."""
    size = len(sent) // rounds
    answers: list[httpload.Answer] = []
    ports = list(instances)  # port -> instance name
    by_instance: Counter[str] = Counter()
    for number in range(rounds):
        batch = [request for _, request in sent[number * size : (number + 1) * size]]
        run = await httpload.closed_loop(ports, batch, CONCURRENCY)
        acked = sum(200 <= answer.status < 300 for answer in run.answers)
        result.per_second.append(acked / run.wall_seconds)
        result.p50_ms.append(percentile(run.latencies_ms, 0.5))
        result.p99_ms.append(percentile(run.latencies_ms, 0.99))
        answers += run.answers
        by_instance.update(instances[port] for port in run.ports)
        print(f"  round {number + 1}: {size} pushes in {run.wall_seconds:.2f} s, {acked} acked = "
              f"{result.per_second[-1]:.0f} acks/s, {p50_p99(run.latencies_ms)}", flush=True)  # fmt: skip
    statuses = Counter(answer.status for answer in answers)
    print(f"  answers {dict(statuses)}; per instance {dict(by_instance)}")
    if set(statuses) != {200}:
        result.problems.append(f"answers {dict(statuses)}, not all 200 (queued)")
    again = list(range(0, len(answers), max(1, len(answers) // REDELIVERIES)))
    replayed = await httpload.closed_loop(ports[-1:], [sent[i][1] for i in again], CONCURRENCY)
    same = sum(
        answers[i].body == answer.body for i, answer in zip(again, replayed.answers, strict=True)
    )
    print(f"  redeliveries of sent ids to the last instance: {same}/{len(again)} answered as "
          f"the first time")  # fmt: skip
    if same != len(again):
        result.problems.append(f"{len(again) - same} redeliveries answered differently")
    return {sent[i][0] for i, answer in enumerate(answers) if 200 <= answer.status < 300}


def check(database: str, sent: list[str], acked: set[str], result: Result) -> None:
    """Every delivery recorded once, one deployment each, none of them built; an acked one
    missing is lost, a refused one (5xx) is the sender's to redeliver."""
    recorded = rows(database, "SELECT delivery_id, response FROM webhook_delivery")
    ids = [str(row["delivery_id"]).split("/", 1)[-1] for row in recorded]  # "<app>/<id>"
    created = [
        entry["deploymentId"]
        for row in recorded
        for entry in json.loads(str(row["response"]))["data"]["deployments"]
        if entry["created"]
    ]
    pushed = rows(
        database, "SELECT status, started_at FROM deployment WHERE triggered_by = 'webhook'"
    )
    lost, twice = len(acked - set(ids)), len(ids) - len(set(ids))
    built = sum(row["started_at"] is not None for row in pushed)
    statuses = Counter(str(row["status"]) for row in pushed)
    print(f"  recorded {len(ids)}/{len(sent)} deliveries: acked but lost {lost}, twice {twice}; "
          f"deployments {len(pushed)} ({len(set(created))} answered created), "
          f"{dict(statuses)}, built {built}")  # fmt: skip
    if lost or twice or len(ids) != len(sent):
        result.problems.append(f"{len(sent) - len(set(ids))} not recorded ({lost} acked), "
                               f"{twice} recorded twice")  # fmt: skip
    if not len(pushed) == len(created) == len(set(created)) == len(sent):
        result.problems.append(f"{len(pushed)} deployments for {len(sent)} deliveries")
    if built:
        result.problems.append(f"{built} pushed deployments were built during the run")


def measure_config(
    label: str,
    servers: list[Server],
    database: str,
    repos: tuple[list[Path], Path],
    count: int,
    rounds: int,
) -> Result:
    """Start `servers` (one after the other: the first migrates), measure, stop them."""
    result = Result(label)
    prefix = f"acks{uuid.uuid4().hex[:6]}"
    names = [prefix]
    pushed, held = repos
    print(f"{label}: {count * rounds} pushes over {APPS} apps", flush=True)
    try:
        for server in servers:
            server.start()
        hold_workers(servers, database, held, names)
        targets = []
        for index, repo in enumerate(pushed):
            body = {"name": f"{prefix}-{index}", "gitRepository": repo.as_uri(), "port": 3000}
            app = servers[0].call("POST", "/api/apps/create", body)["data"]
            hook = servers[0].call("POST", "/api/apps/webhook", {"appId": app["id"]})["data"]
            targets.append({"url": repo.as_uri(), "name": f"bench/{repo.name}",
                            "secret": hook["secret"], "path": urlsplit(hook["payloadUrl"]).path})  # fmt: skip
        sent = deliveries(targets, count * rounds, prefix)
        instances = {server.port: server.config.parent.name for server in servers}
        acked = asyncio.run(burst(instances, sent, rounds, result))
        check(database, [delivery for delivery, _ in sent], acked, result)
    finally:
        for server in servers:
            server.stop()
        remove_app_objects(names[1:])
    return result


def measure(count: int, rounds: int) -> list[Result]:
    """The three configurations, one after the other, on fresh databases."""
    cluster = start_cluster()
    try:
        with workdir("fb-acks-") as root:
            repos = make_repos(root / "repos")
            (root / "sqlite").mkdir()
            sqlite = prepare(root / "sqlite", SECTIONS)
            results = [measure_config("SQLite, 1 instance", [sqlite.server], sqlite.database_url,
                                      repos, count, rounds)]  # fmt: skip
            for instances in (1, 2):
                url = cluster.create_database()
                names = ("a", "b")[:instances]
                servers = prepare_instances(root / f"pg{instances}", url, SECTIONS, names)
                label = f"PostgreSQL, {instances} instance{'s' if instances > 1 else ''}"
                results.append(measure_config(label, servers, url, repos, count, rounds))
    finally:
        cluster.stop()
    return results


def report(results: list[Result], count: int) -> None:
    """The configurations next to each other, one value per round in each column."""
    print(f"\n{count} signed pushes per round at concurrency {CONCURRENCY}, {APPS} apps; "
          "one held worker per instance")  # fmt: skip
    print(f"{'configuration':<23} {'acks/s':<12} {'ack p50 ms':<12} {'ack p99 ms':<12} check")
    for result in results:
        columns = [
            ", ".join(f"{value:.{digits}f}" for value in values)
            for values, digits in ((result.per_second, 0), (result.p50_ms, 1), (result.p99_ms, 1))
        ]
        verdict = "; ".join(result.problems) or "each delivery once, one deployment each, 0 built"
        print(f"{result.label:<23} {columns[0]:<12} {columns[1]:<12} {columns[2]:<12} {verdict}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--deliveries", type=int, default=2000, help="per round")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    results = measure(args.deliveries, args.rounds)
    report(results, args.deliveries)
    return 1 if any(result.problems for result in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
