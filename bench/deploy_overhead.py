"""Deploy overhead: fogbank against the physical floor, cold and warm, alternating, in one run.

    PYTHONPATH=. .venv/bin/python -m bench.deploy_overhead [--trials 5] [--timeline]

The floor (bench/floor.py) is a shell script doing `git clone` + `docker build` + `docker run`
+ polling the port until the new content answers. fogbank is timed from `POST
/api/deployment/add` until the new content is served through the app's publicPort (its Caddy
edge). Cold: a first deploy of a new repository whose first layer is a unique nonce, so neither
side gets a layer from the cache and fogbank starts without a mirror. Warm: a one-line change to
the same repository, deployed a second time (the floor clones afresh; fogbank fetches into its
mirror; both hit the layer cache). Both poll every 10 ms. The floor runs its warm container on a
new port beside the old one (no stop), so it does the least possible work.

Also measured: the time from sending `POST /api/deployment/add` to the first WebSocket frame of
that deployment (`?token=`), and when each stage began (status frames), for the timeline chart.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

from bench import floor
from bench.common import Bench, prepare, remove_app_objects, workdir
from tests.support.ports import free_port
from tests.support.repos import make_web_repo

DOCKERFILE = """FROM scratch
COPY nonce /nonce
COPY busybox /bin/busybox
RUN ["/bin/busybox", "mkdir", "-p", "/srv/data"]
COPY www /www
CMD ["/bin/busybox", "httpd", "-f", "-p", "3000", "-h", "/www"]
"""
POLL_SECONDS = 0.01
DEPLOY_TIMEOUT_SECONDS = 120
# fogbank's steps for the timeline: the add's answer, then the stage each status frame names.
STAGES = ("cloning_repo", "building_image", "starting_new")


@dataclass
class Sample:
    kind: str  # "floor" | "fogbank"
    phase: str  # "cold" | "warm"
    seconds: float
    add_ms: float = 0.0
    first_frame_ms: float = 0.0
    # Seconds from the start to the end of each step (floor: clone, build, run, served;
    # fogbank: add, cloning_repo, building_image, starting_new = served).
    steps: dict[str, float] = field(default_factory=dict)
    timeline: list[tuple[float, str]] = field(default_factory=list)


def new_repo(path: Path, content: str) -> Any:
    repo = make_web_repo(path, content=content)
    # .git stays out of the floor's build context (fogbank's export has none).
    files = {"Dockerfile": DOCKERFILE, "nonce": uuid.uuid4().hex, ".dockerignore": "*.md\n.git\n"}
    repo.commit("bench Dockerfile", files)
    return repo


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


def fogbank_steps(
    started: float, added: float, served: float, timeline: list[tuple[float, str]]
) -> dict[str, float]:
    """When each of fogbank's steps ended, in seconds from the add: a stage ends when a status
    frame names the next one (or when the socket's first frame already does)."""
    steps = {"add": added - started}
    begun: dict[str, float] = {}
    for moment, what in timeline:
        if what.startswith("status "):
            begun.setdefault(what.split()[1], moment - started)
    ends = {"cloning_repo": "building_image", "building_image": "starting_new"}
    for stage in STAGES[:-1]:
        steps[stage] = begun.get(ends[stage], steps["add"])
    steps["starting_new"] = served - started
    return steps


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
    return Sample(
        "fogbank",
        "",
        served - started,
        add_ms=(added - started) * 1000,
        first_frame_ms=(first.result() - started) * 1000,
        steps=fogbank_steps(started, added, served, timeline),
        timeline=[(moment - started, what) for moment, what in timeline]
        + [(served - started, "new content served on the publicPort")],
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
            json={"name": name, "gitRepository": fog_repo.url, "port": 3000,
                  "publicPort": free_port(), "healthTimeoutSeconds": 30,
                  "stabilizationSeconds": 0},
        )
    ).json()["data"]  # fmt: skip
    samples: list[Sample] = []
    fog_first = index % 2 == 1
    for phase in ("cold", "warm"):
        if phase == "warm":
            floor_repo.commit("one line", {"www/index.html": f"floor {index} v2\n"})
            fog_repo.commit("one line", {"www/index.html": f"fogbank {index} v2\n"})
        version = "v1" if phase == "cold" else "v2"
        for kind in ("fogbank", "floor") if fog_first else ("floor", "fogbank"):
            if kind == "floor":
                tag = f"fogbank-floor/{name}:{phase}"
                run = await asyncio.to_thread(
                    floor.deploy, script, floor_repo.url, work, tag, f"floor {index} {version}"
                )
                samples.append(Sample("floor", phase, run.seconds, steps=run.steps))
            else:
                sample = await fogbank_deploy(bench, http, app, f"fogbank {index} {version}")
                sample.phase = phase
                samples.append(sample)
    await http.request("DELETE", "/api/apps/delete", json={"appId": app["id"]})
    return samples


def pick(samples: list[Sample], kind: str, phase: str) -> list[Sample]:
    return [s for s in samples if s.kind == kind and s.phase == phase]


def report(samples: list[Sample], trials: int, timeline: bool) -> None:
    if timeline:
        for sample in pick(samples, "fogbank", "cold") + pick(samples, "fogbank", "warm"):
            print(f"  timeline of a {sample.phase} deploy (ms since add was sent):")
            for moment, what in sample.timeline:
                print(f"  {1000 * moment:8.0f}  {what[:100]}")
    print(f"\n{trials} trials, alternating floor and fogbank (seconds; ratio per trial):")
    for phase in ("cold", "warm"):
        floors, fogs = pick(samples, "floor", phase), pick(samples, "fogbank", phase)
        ratios = [fog.seconds / base.seconds for fog, base in zip(fogs, floors, strict=True)]
        print(f"  {phase}: floor {' '.join(f'{s.seconds:.2f}' for s in floors)} | fogbank "
              f"{' '.join(f'{s.seconds:.2f}' for s in fogs)} | ratio min {min(ratios):.2f} "
              f"median {statistics.median(ratios):.2f} max {max(ratios):.2f}")  # fmt: skip
        first = [s.first_frame_ms for s in fogs]
        adds = [s.add_ms for s in fogs]
        print(f"  {phase}: first WebSocket frame after the add was sent: min {min(first):.0f} "
              f"median {statistics.median(first):.0f} max {max(first):.0f} ms; the add request "
              f"itself: median {statistics.median(adds):.0f} ms")  # fmt: skip


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


def measure(trials: int) -> list[Sample]:
    """`trials` alternating rounds against a fresh server; every sample."""
    names: list[str] = []
    with workdir("fb-overhead-") as root:
        bench = prepare(root)
        script = floor.write_script(root)
        bench.server.start()
        try:
            return asyncio.run(run(bench, trials, script, names))
        finally:
            bench.server.stop()
            remove_app_objects(names)
            floor.remove_objects()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument(
        "--timeline", action="store_true", help="print when each frame of each deploy arrived"
    )
    args = parser.parse_args()
    report(measure(args.trials), args.trials, args.timeline)
    return 0


if __name__ == "__main__":
    sys.exit(main())
