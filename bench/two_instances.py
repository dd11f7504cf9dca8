"""The acceptance run of several instances: two `fogbank serve` on one PostgreSQL database, 20
apps, 200 deployment requests (a named commit each) sent to either instance's API at random by
8 concurrent clients. Then, from the database and each instance's files:

- every deployment ends terminal;
- no deployment ran twice (its build log exists in exactly one instance's data_dir);
- never two deployments of one app in flight at once (their started_at..finished_at);
- each app's active commit is the commit of its newest request;
- each app's public port on the one edge both instances drive serves that newest commit.

Usage: `.venv/bin/python -m bench.two_instances` (needs Docker and Debian's postgresql)."""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from bench.common import remove_app_objects, workdir
from tests.support.edge import stop_edges_under
from tests.support.instances import LEASE_SECONDS, prepare_instances, query
from tests.support.ports import free_port
from tests.support.postgres import start_cluster
from tests.support.repos import GitRepo, make_web_repo
from tests.support.server import Server, TomlValue

APPS = 20
REQUESTS = 200
CLIENTS = 8
WORKERS = 2  # per instance
FINISH_TIMEOUT_SECONDS = 900
TERMINAL = ("success", "failed", "stopped", "rolled_back")


def make_repos(root: Path, prefix: str) -> list[tuple[str, GitRepo, list[str]]]:
    """APPS repositories, each with REQUESTS // APPS commits to request, oldest first."""
    made = []
    for index in range(APPS):
        repo = make_web_repo(root / "repos" / str(index))
        shas = [
            repo.commit(f"version {n}", {"www/index.html": f"app {index} version {n}\n"})
            for n in range(REQUESTS // APPS)
        ]
        made.append((f"{prefix}-{index}", repo, shas))
    return made


def request_all(servers: list[Server], plan: list[tuple[int, str]]) -> tuple[float, Counter[str]]:
    """Send every (app id, commit) of `plan` to a random instance; seconds taken, answers."""
    answers: Counter[str] = Counter()
    chooser = random.Random(19)
    targets = [chooser.choice(servers) for _ in plan]

    def send(item: tuple[tuple[int, str], Server]) -> None:
        (app_id, sha), server = item
        body = {"appId": app_id, "commitHash": sha}
        server.call("POST", "/api/deployment/add", body)
        answers[server.config.parent.name] += 1

    began = time.monotonic()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(send, zip(plan, targets, strict=True)))
    return time.monotonic() - began, answers


def wait_terminal(url: str) -> float:
    began = time.monotonic()
    while time.monotonic() - began < FINISH_TIMEOUT_SECONDS:
        left = query(url, "SELECT count(*) AS n FROM deployment WHERE status NOT IN "
                     "('success', 'failed', 'stopped', 'rolled_back')")[0]["n"]  # fmt: skip
        if left == 0:
            return time.monotonic() - began
        time.sleep(1)
    raise SystemExit(f"deployments still not terminal after {FINISH_TIMEOUT_SECONDS} s")


def overlaps(rows: list[Mapping[str, Any]]) -> int:
    """Runs that began before an earlier run of the same app had finished."""
    runs: dict[int, list[tuple[Any, Any]]] = defaultdict(list)
    for row in rows:
        if row["started_at"] is not None:
            runs[row["app_id"]].append((row["started_at"], row["finished_at"]))
    found = 0
    for spans in runs.values():
        spans.sort()
        latest_end = spans[0][1]
        for start, end in spans[1:]:
            found += start < latest_end
            latest_end = max(latest_end, end)
    return found


def served_newest(apps: dict[int, tuple[str, int]], newest: dict[int, str]) -> list[str]:
    """The apps whose public port on the shared edge does not answer their newest commit's
    page (version n of app i: the bench's repositories say so in their index page)."""
    wrong = []
    for app_id, (name, public_port) in apps.items():
        index = name.rsplit("-", 1)[1]
        want = f"app {index} version {newest[app_id]}\n"
        try:
            got = httpx.get(f"http://127.0.0.1:{public_port}/", timeout=5).text
        except httpx.HTTPError as exc:
            got = repr(exc)
        if got != want:
            wrong.append(f"{name}: {got.strip()[:60]}")
    return wrong


def report(
    url: str,
    servers: list[Server],
    apps: dict[int, str],
    seconds: dict[str, float],
    answers: Counter[str],
) -> tuple[int, dict[int, str]]:
    rows = query(url, "SELECT * FROM deployment ORDER BY id")
    statuses = Counter(str(row["status"]) for row in rows)
    started = [row for row in rows if row["started_at"] is not None]
    logs = [server.config.parent / "data" / "logs" / "deployments" for server in servers]
    runs_per = Counter(sum((d / f"{row['id']}.log").exists() for d in logs) for row in started)
    by_instance = Counter(str(row["instance"]) for row in started)
    wrong = []
    for app_id, name in apps.items():
        mine = [row for row in rows if row["app_id"] == app_id]
        newest = max(mine, key=lambda row: int(row["deployment_number"]))
        active = [row for row in mine if row["is_active"]]
        if len(active) != 1 or active[0]["commit_hash"] != newest["commit_hash"]:
            wrong.append(name)
    not_terminal = sum(n for status, n in statuses.items() if status not in TERMINAL)
    overlapping = overlaps(rows)
    print(f"requests: {REQUESTS} in {seconds['request']:.1f} s, per instance "
          f"{dict(answers)}")  # fmt: skip
    print(f"deployments: {len(rows)}, statuses {dict(statuses)}; all terminal "
          f"{seconds['finish']:.1f} s after the last request")  # fmt: skip
    failures = Counter(str(row["error_message"])[:120] for row in rows if row["status"] == "failed")
    print(f"failed, by message: {dict(failures)}")
    print(f"ran (claimed): {len(started)}, per instance {dict(by_instance)}")
    print(f"build logs per started deployment (1 = ran once): {dict(runs_per)}")
    print(f"not terminal: {not_terminal}; overlapping runs of one app: {overlapping}; "
          f"apps whose active commit is not their newest request: {len(wrong)} {wrong}")  # fmt: skip
    ok = not_terminal == 0 and overlapping == 0 and set(runs_per) == {1} and not wrong
    newest_commits = {
        app_id: str(max((r for r in rows if r["app_id"] == app_id),
                        key=lambda r: int(r["deployment_number"]))["commit_hash"])
        for app_id in apps
    }  # fmt: skip
    return (0 if ok else 1), newest_commits


def main() -> int:
    cluster = start_cluster()
    prefix = f"ti{uuid.uuid4().hex[:6]}"
    names: list[str] = []
    try:
        url = cluster.create_database()
        with workdir("fb-two-") as root:
            # One edge, driven by both instances.
            edge: dict[str, TomlValue] = {
                "directory": str(root / "edge"), "http_port": free_port(),
                "https_port": free_port(),
            }  # fmt: skip
            extra: dict[str, dict[str, TomlValue]] = {
                "controller": {"workers": WORKERS}, "edge": edge
            }  # fmt: skip
            servers = prepare_instances(root, url, extra)
            try:
                for server in servers:  # one after the other: the first migrates
                    server.start()
                repos = make_repos(root, prefix)
                apps: dict[int, str] = {}
                public: dict[int, tuple[str, int]] = {}
                shas: dict[int, list[str]] = {}
                for name, repo, commits in repos:
                    port = free_port()
                    body = {"name": name, "gitRepository": repo.url, "port": 3000,
                            "stabilizationSeconds": 0, "publicPort": port}  # fmt: skip
                    app_id = int(servers[0].call("POST", "/api/apps/create", body)["data"]["id"])
                    apps[app_id], shas[app_id], public[app_id] = name, commits, (name, port)
                    names.append(name)
                # Each app's commits in order, the apps interleaved at random.
                order = [app_id for app_id in apps for _ in range(REQUESTS // APPS)]
                random.Random(7).shuffle(order)
                taken: Counter[int] = Counter()
                plan = []
                for app_id in order:
                    plan.append((app_id, shas[app_id][taken[app_id]]))
                    taken[app_id] += 1
                print(f"two instances on one PostgreSQL, lease {LEASE_SECONDS:g} s, "
                      f"{WORKERS} workers each; {APPS} apps, {REQUESTS} requests, "
                      f"{CLIENTS} clients")  # fmt: skip
                request_seconds, answers = request_all(servers, plan)
                finish = wait_terminal(url)
                times = {"request": request_seconds, "finish": finish}
                code, newest = report(url, servers, apps, times, answers)
                versions = {app_id: str(shas[app_id].index(sha)) for app_id, sha in newest.items()}
                wrong = served_newest(public, versions)
                print(f"apps whose public port on the shared edge does not serve their newest "
                      f"commit: {len(wrong)} of {len(public)} {wrong}")  # fmt: skip
                ok = code == 0 and not wrong
                print("PASS" if ok else "FAIL")
                return 0 if ok else 1
            finally:
                for server in servers:
                    server.stop()
                stop_edges_under(root / "edge")
    finally:
        remove_app_objects(names)
        cluster.stop()


if __name__ == "__main__":
    raise SystemExit(main())
