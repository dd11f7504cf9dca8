"""Deploy overhead: fogbank against the physical floor, cold and warm, alternating, in one run.

    PYTHONPATH=. .venv/bin/python -m bench.deploy_overhead [--trials 5]

The floor is a shell script (a subprocess) doing `git clone` + `docker build` + `docker run -p
127.0.0.1:PORT:3000` + polling the port until the new content answers. fogbank is timed from
`POST /api/deployment/add` until the new content is served through the app's publicPort (its
Caddy edge). Cold: a first deploy of a new repository whose first layer is a unique nonce, so
neither side gets a layer from the cache and fogbank starts without a mirror. Warm: a one-line
change to the same repository, deployed a second time (the floor clones afresh; fogbank
fetches into its mirror; both hit the layer cache). Both poll every 10 ms. The floor runs its
warm container on a new port beside the old one (no stop), so it does the least possible work.

Also printed: the time from sending `POST /api/deployment/add` to the first WebSocket frame of
that deployment (`?token=`), measured in each fogbank deploy while nothing else runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import httpx
from websockets.asyncio.client import connect

from bench.common import Bench, prepare, remove_app_objects, workdir
from tests.support.ports import free_port
from tests.support.repos import make_web_repo
from tests.support.server import Server

DOCKERFILE = """FROM scratch
COPY nonce /nonce
COPY busybox /bin/busybox
RUN ["/bin/busybox", "mkdir", "-p", "/srv/data"]
COPY www /www
CMD ["/bin/busybox", "httpd", "-f", "-p", "3000", "-h", "/www"]
"""
FLOOR_SCRIPT = """set -eu
repo="$1"; dest="$2"; tag="$3"; name="$4"; port="$5"; expect="$6"
git clone -q "$repo" "$dest"
docker build -q -t "$tag" "$dest" >/dev/null
docker run -d --label fogbank.bench.floor=1 --name "$name" -p "127.0.0.1:$port:3000" "$tag" >/dev/null
until [ "$(curl -s --max-time 1 "http://127.0.0.1:$port/" 2>/dev/null || true)" = "$expect" ]; do
  sleep 0.01
done
"""
POLL_SECONDS = 0.01
DEPLOY_TIMEOUT_SECONDS = 120
FLOOR_LABEL = "fogbank.bench.floor"
TIMELINE = "--timeline" in sys.argv


@dataclass
class Sample:
    kind: str  # "floor" | "fogbank"
    phase: str  # "cold" | "warm"
    seconds: float
    add_ms: float = 0.0
    first_frame_ms: float = 0.0


def new_repo(path: Path, content: str) -> Any:
    repo = make_web_repo(path, content=content)
    # .git stays out of the floor's build context (fogbank's export has none).
    files = {"Dockerfile": DOCKERFILE, "nonce": uuid.uuid4().hex, ".dockerignore": "*.md\n.git\n"}
    repo.commit("bench Dockerfile", files)
    return repo


def floor_deploy(script: Path, repo_url: str, work: Path, tag: str, expect: str) -> float:
    name = f"fogbank-floor-{uuid.uuid4().hex[:10]}"
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}  # the classic builder, as the SDK uses
    started = time.perf_counter()
    done = subprocess.run(
        ["bash", str(script), repo_url, str(work / name), tag, name, str(free_port()), expect],
        env=env,
        capture_output=True,
        text=True,
        timeout=DEPLOY_TIMEOUT_SECONDS,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"floor script failed: {done.stderr}")
    return seconds


async def wait_content(url: str, expect: str) -> None:
    # A new connection per poll: the port may not be listened on yet, or be switched under us.
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=1, limits=limits) as http:
        while True:
            try:
                if (await http.get(url)).text.strip() == expect:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(POLL_SECONDS)


async def watch(url: str, first: asyncio.Future[float], timeline: list[tuple[float, str]]) -> str:
    """Read every frame until the server closes; resolve `first` at the first frame, note each
    frame's arrival in `timeline`; return the final status."""
    final = ""
    async with connect(url, max_size=None) as socket:
        async for raw in socket:
            now = time.perf_counter()
            if not first.done():
                first.set_result(now)
            frame = json.loads(raw)
            data = frame["data"]
            if frame["type"] == "status":
                final = data["status"]
                timeline.append(
                    (now, f"status {data['stage']} {data['progress']} {data['message']}")
                )
            else:
                timeline.append((now, f"{frame['type']} {data.get('line', data)}"))
    return final


async def fogbank_deploy(
    bench: Bench, http: httpx.AsyncClient, app: dict[str, Any], expect: str
) -> Sample:
    server = bench.server
    started = time.perf_counter()
    response = await http.post("/api/deployment/add", json={"appId": app["id"]})
    added = time.perf_counter()
    response.raise_for_status()
    deployment_id = response.json()["id"]
    url = f"{bench.ws_base}/ws/deployment/logs?deploymentId={deployment_id}&token={server.token}"
    first: asyncio.Future[float] = asyncio.get_running_loop().create_future()
    timeline: list[tuple[float, str]] = []
    watcher = asyncio.create_task(watch(url, first, timeline))
    async with asyncio.timeout(DEPLOY_TIMEOUT_SECONDS):
        await wait_content(f"http://127.0.0.1:{app['public_port']}/", expect)
        served = time.perf_counter()
        final = await watcher
    if final != "success":
        raise RuntimeError(f"deployment {deployment_id} ended {final}")
    if TIMELINE:
        print(f"  timeline of deployment {deployment_id} (ms since add was sent):")
        for moment, what in timeline:
            print(f"  {1000 * (moment - started):8.0f}  {what[:100]}")
        print(f"  {1000 * (served - started):8.0f}  new content served on the publicPort")
    return Sample(
        "fogbank",
        "",
        served - started,
        add_ms=(added - started) * 1000,
        first_frame_ms=(first.result() - started) * 1000,
    )


async def trial(
    bench: Bench, http: httpx.AsyncClient, index: int, script: Path, names: list[str]
) -> list[Sample]:
    work = bench.root / f"trial-{index}"
    floor_repo = new_repo(work / "floor-repo", f"floor {index} v1\n")
    fog_repo = new_repo(work / "fogbank-repo", f"fogbank {index} v1\n")
    name = f"overhead-{uuid.uuid4().hex[:8]}"
    names.append(name)
    app = (
        await http.post(
            "/api/apps/create",
            json={
                "name": name,
                "gitRepository": fog_repo.url,
                "port": 3000,
                "publicPort": free_port(),
                "healthTimeoutSeconds": 30,
                "stabilizationSeconds": 0,
            },
        )
    ).json()["data"]
    floor_tag = f"fogbank-floor/{name}"
    samples: list[Sample] = []
    fog_first = index % 2 == 1
    for phase in ("cold", "warm"):
        if phase == "warm":
            floor_repo.commit("one line", {"www/index.html": f"floor {index} v2\n"})
            fog_repo.commit("one line", {"www/index.html": f"fogbank {index} v2\n"})
        version = "v1" if phase == "cold" else "v2"
        for kind in ("fogbank", "floor") if fog_first else ("floor", "fogbank"):
            if kind == "floor":
                seconds = await asyncio.to_thread(
                    floor_deploy,
                    script,
                    floor_repo.url,
                    work,
                    f"{floor_tag}:{phase}",
                    f"floor {index} {version}",
                )
                samples.append(Sample("floor", phase, seconds))
            else:
                sample = await fogbank_deploy(bench, http, app, f"fogbank {index} {version}")
                sample.phase = phase
                samples.append(sample)
    await http.request("DELETE", "/api/apps/delete", json={"appId": app["id"]})
    return samples


def remove_floor_objects() -> None:
    client = docker.from_env()
    try:
        for container in client.containers.list(all=True, filters={"label": FLOOR_LABEL}):
            container.remove(force=True)
        for image in client.images.list(name="fogbank-floor/*"):
            for tag in image.tags:
                client.images.remove(tag, force=True)
    finally:
        client.close()


def median(samples: list[Sample], kind: str, phase: str, attr: str = "seconds") -> float:
    return statistics.median(
        float(getattr(s, attr)) for s in samples if s.kind == kind and s.phase == phase
    )


def report(samples: list[Sample], trials: int) -> None:
    print(f"\n{trials} trials, alternating floor and fogbank (medians, seconds):")
    print(
        f"{'phase':<6} {'floor':>8} {'fogbank':>8} {'ratio':>7} {'target':>8}   all (floor | fogbank)"
    )
    for phase, target in (("cold", 1.10), ("warm", 1.0)):
        floor = median(samples, "floor", phase)
        fog = median(samples, "fogbank", phase)
        every = " ".join(
            f"{s.seconds:.2f}" for s in samples if s.kind == "floor" and s.phase == phase
        )
        every_fog = " ".join(
            f"{s.seconds:.2f}" for s in samples if s.kind == "fogbank" and s.phase == phase
        )
        verdict = "OK" if fog / floor <= target else "MISSED"
        print(
            f"{phase:<6} {floor:>8.2f} {fog:>8.2f} {fog / floor:>7.2f} {'<= ' + str(target):>8}"
            f"   {every} | {every_fog}  {verdict}"
        )
    fog_samples = [s for s in samples if s.kind == "fogbank"]
    first = [s.first_frame_ms for s in fog_samples]
    adds = [s.add_ms for s in fog_samples]
    print(
        f"\nfirst WebSocket frame after POST /api/deployment/add (send -> frame, n={len(first)}): "
        f"median {statistics.median(first):.1f} ms, max {max(first):.1f} ms (target < 100 ms: "
        f"{'OK' if statistics.median(first) < 100 else 'MISSED'})"
    )
    after_add = [s.first_frame_ms - s.add_ms for s in fog_samples]
    print(
        f"  of which the add request itself (it fetches the branch to name the commit): median "
        f"{statistics.median(adds):.1f} ms, max {max(adds):.1f} ms; from the add's answer to the "
        f"first frame (WebSocket connect, auth, status frame): median "
        f"{statistics.median(after_add):.1f} ms, max {max(after_add):.1f} ms"
    )
    for phase in ("cold", "warm"):
        phase_first = [s.first_frame_ms for s in fog_samples if s.phase == phase]
        phase_adds = [s.add_ms for s in fog_samples if s.phase == phase]
        print(
            f"  {phase}: first frame median {statistics.median(phase_first):.1f} ms, add request "
            f"median {statistics.median(phase_adds):.1f} ms"
        )


async def run(bench: Bench, trials: int, script: Path, names: list[str]) -> list[Sample]:
    headers = {"Authorization": f"Bearer {bench.server.token}"}
    samples: list[Sample] = []
    async with httpx.AsyncClient(base_url=bench.server.base, headers=headers, timeout=30) as http:
        for index in range(trials):
            got = await trial(bench, http, index, script, names)
            line = ", ".join(f"{s.kind} {s.phase} {s.seconds:.2f}s" for s in got)
            print(f"trial {index + 1}/{trials}: {line}", flush=True)
            samples += got
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument(
        "--timeline", action="store_true", help="print when each frame of each deploy arrived"
    )
    args = parser.parse_args()
    names: list[str] = []
    with workdir("fb-overhead-") as root:
        bench = prepare(root)
        script = root / "floor.sh"
        script.write_text(FLOOR_SCRIPT)
        server: Server = bench.server
        server.start()
        try:
            samples = asyncio.run(run(bench, args.trials, script, names))
        finally:
            server.stop()
            remove_app_objects(names)
            remove_floor_objects()
    report(samples, args.trials)
    return 0


if __name__ == "__main__":
    sys.exit(main())
