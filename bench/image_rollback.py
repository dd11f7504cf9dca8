"""Image rollback benchmark: how long until an image app serves the previous digest again after
`POST /api/deployment/rollback`, next to a tag change of the same app (a pull) and to the floor,
`docker run` of that image until it answers, measured in the same run.

    .venv/bin/python -m bench.image_rollback [--trials 3] [--stabilization 10]

A real `fogbank serve`, Docker, Caddy and a registry (Debian's docker-registry) on 127.0.0.1;
two busybox httpd releases pushed to it. "back" is from the request until the publicPort answers
with the previous release (polled every 10 ms); "done" until the deployment is `success` (it
also holds the new container through stabilizationSeconds before stopping the old one).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import uuid

import docker
import httpx

from bench.common import prepare, remove_app_objects, workdir
from tests.support.docker_objects import remove_run_objects
from tests.support.ports import free_port
from tests.support.registry import push_web, start_registry
from tests.support.server import Server

TERMINAL = {"success", "failed", "stopped", "rolled_back"}


def serves(port: int, body: str, started: float, timeout: float = 60) -> float:
    """Seconds from `started` until 127.0.0.1:port answers `body`."""
    deadline = started + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=1).text == body:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.01)
    raise AssertionError(f"127.0.0.1:{port} never answered {body!r}")


def finished(server: Server, app_id: int, deployment_id: int, started: float) -> float:
    while True:
        row = next(d for d in server.deployments(app_id) if d["id"] == deployment_id)
        if row["status"] in TERMINAL:
            assert row["status"] == "success", row["error_message"]
            return time.monotonic() - started
        time.sleep(0.05)


def floor(image: str, run_id: str) -> float:
    """`docker run` of the image (already local) until it answers on a loopback port."""
    port = free_port()
    started = time.monotonic()
    subprocess.run(
        ["docker", "run", "-d", "--rm", "--label", f"fogbank.test.run={run_id}",
         "-p", f"127.0.0.1:{port}:3000", image],
        check=True, capture_output=True,
    )  # fmt: skip
    return serves(port, "release 1\n", started)


def main(trials: int, stabilization: int) -> int:
    run_id = uuid.uuid4().hex[:12]
    client = docker.from_env()
    with workdir("fb-rollback-") as root:
        registry = start_registry(root / "registry")
        server: Server | None = None
        name = f"bench-rollback-{run_id[:6]}"
        try:
            digests = {tag: push_web(client, registry, root, run_id, tag) for tag in ("1", "2")}
            (root / "fogbank").mkdir()
            server = prepare(root / "fogbank").server
            server.start()
            port = free_port()
            repository = f"{registry.host}/{run_id}/web"
            app = server.call(
                "POST",
                "/api/apps/create",
                {"name": name, "image": f"{repository}:1", "port": 3000, "publicPort": port,
                 "stabilizationSeconds": stabilization},
            )["data"]  # fmt: skip
            first = server.call("POST", "/api/deployment/add", {"appId": app["id"]})
            finished(server, app["id"], first["id"], time.monotonic())
            rows: list[tuple[float, float, float, float]] = []
            for _ in range(trials):
                started = time.monotonic()
                change = server.call(
                    "POST", "/api/deployment/add", {"appId": app["id"], "image": f"{repository}:2"}
                )
                change_back = serves(port, "release 2\n", started)
                finished(server, app["id"], change["id"], started)
                target = next(
                    d for d in server.deployments(app["id"])
                    if d["image_digest"] == digests["1"] and d["status"] == "success"
                )  # fmt: skip
                started = time.monotonic()
                rollback = server.call(
                    "POST", "/api/deployment/rollback", {"deploymentId": target["id"]}
                )["data"]
                back = serves(port, "release 1\n", started)
                done = finished(server, app["id"], rollback["id"], started)
                rows.append(
                    (back, done, change_back, floor(f"{repository}@{digests['1']}", run_id))
                )
        finally:
            if server is not None:
                server.stop()
            registry.stop()
            remove_app_objects([name])
            remove_run_objects(run_id)
            client.close()
    print(f"\n{trials} rollbacks of an image app (stabilizationSeconds {stabilization}), seconds:")
    print(f"{'trial':<6} {'back':>6} {'done':>6} {'tag change':>11} {'docker run':>11}")
    for number, (back, done, change, raw) in enumerate(rows, start=1):
        print(f"{number:<6} {back:>6.2f} {done:>6.2f} {change:>11.2f} {raw:>11.2f}")
    back_median = statistics.median(r[0] for r in rows)
    done_median = statistics.median(r[1] for r in rows)
    print(
        f"\nmedian: previous digest served again after {back_median:.2f} s, rollback done after "
        f"{done_median:.2f} s (target: under 10 s): {'OK' if back_median < 10 else 'MISSED'}"
    )
    return 0 if back_median < 10 else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--stabilization", type=int, default=10, help="the app's setting")
    args = parser.parse_args()
    sys.exit(main(args.trials, args.stabilization))
