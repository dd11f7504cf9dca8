"""WebSocket fan-out: 1,000 watchers of one deployment whose build prints log lines, then a
watcher that stops reading.

    PYTHONPATH=. .venv/bin/python -m bench.ws_fanout [--watchers 1000] [--lines 1000] [--rate 0]

The issue's 5,000 lines (`--lines 5000`) are 5 million frames, more than this 2-core machine
delivers in the 5 minutes a benchmark may take (BENCHMARKS.md); 1,000 lines is the default.

The lines come from the build itself: a RUN step (busybox sh) prints `benchline <n> <time>` N
times, <time> being `$EPOCHREALTIME` when it was printed (--rate paces it, 0 = as fast as the
shell goes). A RUN step before it sleeps until every watcher is connected, so every line is live.

Lag is measured two ways and both are printed:
- from the server writing the line: a separate tailer process polls the deployment's log file
  every 0.5 ms and notes when each line appears (fogbank writes a line to that file and publishes
  it to the watchers in one synchronous step), to the line's arrival at each watcher. This is the
  figure the target is about.
- from the build printing the line (the stamp in the line) to its arrival: the above plus
  Docker's own build-output pipeline.
Every watcher must receive every line the server wrote, in order (seq 1..last, no gap, as many
build lines as the log holds); whether the log holds every line the build printed is checked too.
The server's RSS comes from /proc/<pid>/status (sampled every 100 ms, and VmHWM).

Slow watcher: a second deployment prints --slow-lines (30,000) lines while one watcher with a
4 KiB receive buffer stops reading after the handshake and a reference watcher reads everything
(resuming with ?after= if it is itself dropped for falling 10,000 events behind). When
the reference has its final status, the slow watcher reads again and reports how many frames the
server had kept for it and how it was closed; the server should have dropped it (close 1013)
once its bounded buffer was full, without growing its memory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError

from bench.common import (
    Bench,
    RssSampler,
    cpu_seconds,
    hwm_mb,
    percentile,
    prepare,
    remove_app_objects,
    rss_mb,
    workdir,
)
from bench.wsclient import Watcher, open_watcher
from tests.support.repos import make_web_repo

DOCKERFILE = """FROM scratch
COPY nonce /nonce
COPY busybox /bin/busybox
RUN ["/bin/busybox", "sleep", "{gate}"]
RUN ["/bin/busybox", "sh", "-c", "i=1; while [ $i -le {lines} ]; do echo \\"benchline $i $EPOCHREALTIME\\"; {pace}i=$((i+1)); done"]
COPY www /www
CMD ["/bin/busybox", "httpd", "-f", "-p", "3000", "-h", "/www"]
"""
# Polls the log file and notes (line number -> time.time()) when each line shows up.
TAILER = r"""
import json, os, sys, time
path, out, stop = sys.argv[1:]
parent = os.getppid()
times, partial = [], b""
while not os.path.exists(path):
    if os.getppid() != parent:
        sys.exit(1)  # the benchmark is gone
    time.sleep(0.0005)
with open(path, "rb") as handle:
    while True:
        chunk = handle.read()
        now = time.time()
        if chunk:
            partial += chunk
            complete = partial.count(b"\n")
            times += [now] * complete
            partial = partial[partial.rfind(b"\n") + 1:]
        elif os.path.exists(stop) or os.getppid() != parent:
            break
        else:
            time.sleep(0.0005)
with open(out, "w") as handle:
    json.dump(times, handle)
"""
FANOUT_LINE = re.compile(r"benchline \d+ \d+\.\d+")
CONNECT_CONCURRENCY = 50
CLOSE_TOO_SLOW = 1013
SLOW_RECEIVE_BUFFER = 4096


def dockerfile(lines: int, gate_seconds: int, rate: int) -> str:
    pace = ""
    if rate > 0:  # ten lines, then a pause: few forks, an even pace
        pace = f"[ $((i % 10)) -eq 0 ] && /bin/busybox usleep {10 * 1_000_000 // rate}; "
    return DOCKERFILE.format(gate=gate_seconds, lines=lines, pace=pace)


async def deploy(http: httpx.AsyncClient, app_id: int) -> int:
    response = await http.post("/api/deployment/add", json={"appId": app_id})
    response.raise_for_status()
    deployment_id: int = response.json()["id"]
    return deployment_id


async def reference(url: str, found: dict[str, Any]) -> None:
    """A full `websockets` client: every frame parsed and checked; dropped as too slow (1013),
    it resumes with ?after=<last seq>, as a real client would. Fills `found` as it goes."""
    seqs: list[int] = []
    stamps: dict[int, float] = {}
    final: dict[str, Any] = {}
    found.update(seqs=seqs, stamps=stamps, final=final, close_code=0, resumed=0, in_order=False)
    while True:
        after = f"&after={seqs[-1]}" if seqs else ""
        async with connect(url + after, max_size=None) as socket:
            try:
                async for raw in socket:
                    frame = json.loads(raw)
                    if frame["type"] == "log":
                        seq, line = frame["data"]["seq"], frame["data"]["line"]
                        seqs.append(seq)
                        if FANOUT_LINE.fullmatch(line):
                            stamps[seq] = float(line.split()[2])
                    elif frame["type"] == "status":
                        final.update(frame["data"])
            except ConnectionClosedError:
                pass
            code = socket.close_code
        found["close_code"] = code
        if code != CLOSE_TOO_SLOW:
            break
        found["resumed"] += 1
    found["in_order"] = seqs == list(range(1, len(seqs) + 1))


def tailer(log_path: Path, out: Path, stop: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", TAILER, str(log_path), str(out), str(stop)])


async def fan_out(
    bench: Bench, http: httpx.AsyncClient, app_id: int, args: argparse.Namespace
) -> None:
    server = bench.server
    pid = server.process.pid if server.process else 0
    idle_rss = rss_mb(pid)
    deployment_id = await deploy(http, app_id)
    log_path = bench.root / "data" / "logs" / "deployments" / f"{deployment_id}.log"
    out, stop = bench.root / "tail.json", bench.root / "tail.stop"
    tail = tailer(log_path, out, stop)
    query = f"/ws/deployment/logs?deploymentId={deployment_id}&token={server.token}"
    connected_at = time.perf_counter()
    ref: dict[str, Any] = {}
    ref_task = asyncio.create_task(reference(f"{bench.ws_base}{query}", ref))
    limit = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one() -> Watcher:
        async with limit:
            watcher = await open_watcher(server.port, query)
            await watcher.connected
            return watcher

    watchers = await asyncio.gather(*[one() for _ in range(args.watchers)])
    connect_seconds = time.perf_counter() - connected_at
    all_connected = time.time()
    connected_rss = rss_mb(pid)
    cpu_before = cpu_seconds(pid)
    own_before = time.process_time()
    sampler = RssSampler(pid)
    sampler.start()
    everything: list[asyncio.Future[Any]] = [*(w.closed for w in watchers), ref_task]
    await asyncio.wait(everything, timeout=args.deadline)
    sampler.stop.set()
    late = [w for w in watchers if not w.closed.done()]
    codes = [w.close_code for w in watchers]
    cpu = cpu_seconds(pid) - cpu_before
    own_cpu = time.process_time() - own_before
    for w in late:
        assert w.transport is not None
        w.transport.close()
    ref_task.cancel()
    stop.touch()
    await asyncio.to_thread(tail.wait, 30)
    written: list[float] = json.loads(out.read_text())

    log_lines = log_path.read_text().split("\n")[:-1]
    intact = [n for n, line in enumerate(log_lines, 1) if FANOUT_LINE.fullmatch(line)]
    numbers = {int(log_lines[n - 1].split()[1]) for n in intact}
    missing = sorted(set(range(1, args.lines + 1)) - numbers)
    fanout_seqs = [seq for seq in intact if seq in ref["stamps"]]
    fanout_count = sum(line.startswith("benchline ") for line in log_lines)
    complete = [
        w
        for w in watchers
        if not w.broken
        and w.first_seq == 1
        and len(w.arrivals) == len(log_lines)
        and w.fanout_seen == fanout_count
    ]
    server_lag: list[float] = []
    build_lag: list[float] = []
    last_arrival = 0.0
    for w in watchers:
        for seq in fanout_seqs:
            index = seq - w.first_seq
            if 0 <= index < len(w.arrivals):
                arrival = w.arrivals[index]
                server_lag.append((arrival - written[seq - 1]) * 1000)
                build_lag.append((arrival - ref["stamps"][seq]) * 1000)
                last_arrival = max(last_arrival, arrival)
    first_written = written[fanout_seqs[0] - 1]
    print(f"\nfan-out: {args.watchers} watchers (+1 reference) of deployment {deployment_id}, "
          f"{args.lines} lines, rate {'unpaced' if not args.rate else f'{args.rate}/s'}")  # fmt: skip
    print(f"  connected in {connect_seconds:.1f} s; first line printed "
          f"{first_written - all_connected:+.1f} s after the last watcher connected")  # fmt: skip
    print(f"  final status {ref['final'].get('status')}; close codes {dict(_count(codes))}"
          + (f"; {len(late)} watchers NOT finished within --deadline {args.deadline:g} s "
             "(lag figures below cover what arrived)" if late else ""))  # fmt: skip
    print(f"  every line the server wrote, in order (contiguous seq 1..{len(log_lines)}): "
          f"{len(complete)}/{len(watchers)} watchers; reference {len(ref['seqs'])} log frames")  # fmt: skip
    print(f"  build lines intact in the server's log: {len(intact)}/{args.lines}"
          + (f"; missing (split apart by the server) {missing[:5]}: {_around(log_lines, missing[0])}" if missing else ""))  # fmt: skip
    for w in [w for w in watchers if w not in complete][:5]:
        print(f"    incomplete: first seq {w.first_seq}, {len(w.arrivals)} frames, "
              f"fanout {w.fanout_seen}, {w.broken or 'no gap'}")  # fmt: skip
    lines_written = written[fanout_seqs[-1] - 1] - first_written
    print(f"  lines written by the server over {lines_written:.2f} s; last delivery "
          f"{last_arrival - written[fanout_seqs[-1] - 1]:.2f} s after the last line was written")  # fmt: skip
    frames = args.watchers * len(ref["seqs"])
    print(f"  server CPU {cpu:.1f} s for {frames} frames = {1e6 * cpu / frames:.1f} us/frame "
          f"(the {args.watchers} watchers' process: {own_cpu:.1f} s)")  # fmt: skip
    print(f"  lag from the server writing the line (tailer): p50 {statistics.median(server_lag):.0f} ms, "
          f"p99 {percentile(server_lag, 0.99):.0f} ms, max {max(server_lag):.0f} ms (target p99 < 100 ms)")  # fmt: skip
    print(f"  lag from the build printing the line (stamp):  p50 {statistics.median(build_lag):.0f} ms, "
          f"p99 {percentile(build_lag, 0.99):.0f} ms, max {max(build_lag):.0f} ms")  # fmt: skip
    peak = max([*sampler.samples, connected_rss])
    print(f"  server RSS: idle {idle_rss:.0f} MB, {args.watchers} connected {connected_rss:.0f} MB, "
          f"peak {peak:.0f} MB (VmHWM {hwm_mb(pid):.0f} MB), after {rss_mb(pid):.0f} MB")  # fmt: skip


async def slow_watcher(
    bench: Bench, http: httpx.AsyncClient, app_id: int, args: argparse.Namespace
) -> None:
    server = bench.server
    pid = server.process.pid if server.process else 0
    before = rss_mb(pid)
    deployment_id = await deploy(http, app_id)
    query = f"/ws/deployment/logs?deploymentId={deployment_id}&token={server.token}"
    slow = await open_watcher(server.port, query, receive_buffer_bytes=SLOW_RECEIVE_BUFFER)
    await slow.connected
    assert slow.transport is not None
    slow.transport.pause_reading()
    sampler = RssSampler(pid)
    sampler.start()
    ref: dict[str, Any] = {}
    async with asyncio.timeout(args.deadline):
        await reference(f"{bench.ws_base}{query}", ref)
    finished = time.perf_counter()
    await asyncio.sleep(args.slow_grace)
    sampler.stop.set()
    during = max(sampler.samples or [before])
    slow.transport.resume_reading()
    try:
        async with asyncio.timeout(30):
            code = await slow.closed
    except TimeoutError:
        code = 0
    log_path = bench.root / "data" / "logs" / "deployments" / f"{deployment_id}.log"
    written = len(log_path.read_text().split("\n")) - 1
    print(f"\nslow watcher: deployment {deployment_id} wrote {written} log lines; a reading "
          f"reference watcher got {len(ref['seqs'])} (in order: {ref['in_order']}; dropped as too "
          f"slow and resumed with ?after= {ref['resumed']} times), closed {ref['close_code']}, "
          f"final status {ref['final'].get('status')}")  # fmt: skip
    verdict = "dropped" if code == 1013 else "NOT dropped"
    if code != 1013 and len(slow.arrivals) < written:
        verdict += f", yet {written - len(slow.arrivals)} lines silently missing"
    print(f"  slow watcher (4 KiB receive buffer, stopped reading): {verdict}; close code "
          f"{code or 'none within 30 s of reading again'}; it had {len(slow.arrivals)} log frames "
          f"when it read again {time.perf_counter() - finished:.0f} s after the end"
          f"{'; gap: ' + slow.broken if slow.broken else ''}")  # fmt: skip
    print(f"  server RSS: before {before:.0f} MB, peak while it was stuck {during:.0f} MB, "
          f"after {rss_mb(pid):.0f} MB")  # fmt: skip


def _around(log_lines: list[str], number: int) -> list[str]:
    """The log lines between benchline number-1 and number+1: how a missing one was cut."""
    starts = (i for i, line in enumerate(log_lines) if line.startswith(f"benchline {number - 1} "))
    start = next(starts, 0)
    return log_lines[start : start + 4]


def _count(values: list[int]) -> list[tuple[int, int]]:
    counts: dict[int, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return sorted(counts.items())


async def run(bench: Bench, args: argparse.Namespace, names: list[str]) -> None:
    headers = {"Authorization": f"Bearer {bench.server.token}"}
    async with httpx.AsyncClient(base_url=bench.server.base, headers=headers, timeout=60) as http:
        repo = make_web_repo(bench.root / "repo")
        name = f"fanout-{uuid.uuid4().hex[:8]}"
        names.append(name)
        app = (
            await http.post(
                "/api/apps/create",
                json={"name": name, "gitRepository": repo.url, "port": 3000,
                      "stabilizationSeconds": 0},
            )
        ).json()["data"]  # fmt: skip
        if args.watchers:
            gate = max(5, args.watchers // 50)
            repo.commit("fan-out", {"Dockerfile": dockerfile(args.lines, gate, args.rate),
                                    "nonce": uuid.uuid4().hex})  # fmt: skip
            await fan_out(bench, http, app["id"], args)
        if args.slow_lines:
            repo.commit("slow watcher", {"Dockerfile": dockerfile(args.slow_lines, 2, 0),
                                         "nonce": uuid.uuid4().hex})  # fmt: skip
            await slow_watcher(bench, http, app["id"], args)
        await http.request("DELETE", "/api/apps/delete", json={"appId": app["id"]})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--watchers", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=0, help="lines per second (0: unpaced)")
    parser.add_argument("--slow-lines", type=int, default=30_000)
    parser.add_argument("--slow-grace", type=float, default=10.0)
    parser.add_argument(
        "--deadline", type=float, default=180.0, help="seconds to wait for every delivery"
    )
    args = parser.parse_args()
    names: list[str] = []
    with workdir("fb-fanout-") as root:
        bench = prepare(root)
        bench.server.start()
        try:
            asyncio.run(run(bench, args, names))
        finally:
            bench.server.stop()
            remove_app_objects(names)
    return 0


if __name__ == "__main__":
    sys.exit(main())
