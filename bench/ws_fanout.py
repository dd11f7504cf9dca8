"""WebSocket fan-out: 1,000 watchers of one deployment whose build prints log lines, then a
watcher that stops reading.

    PYTHONPATH=. .venv/bin/python -m bench.ws_fanout [--watchers 1000] [--lines 1000] [--rate 0]
        [--batch]

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
import statistics
import sys
import time
import uuid
from typing import Any

import httpx

from bench.common import Bench, RssSampler, prepare, remove_app_objects, rss_mb, workdir
from bench.fanout import Result, deploy, dockerfile, fan_out, reference
from bench.wsclient import open_watcher
from tests.support.repos import make_web_repo

SLOW_RECEIVE_BUFFER = 4096


def print_result(result: Result, deadline: float) -> None:
    r = result
    print(f"\nfan-out: {r.watchers} watchers (+1 reference), {r.lines} lines, rate "
          f"{'unpaced' if not r.rate else f'{r.rate}/s'}, {'?batch=1' if r.batch else 'default'} frames")  # fmt: skip
    print(f"  connected in {r.connect_seconds:.1f} s; first line printed "
          f"{r.head_start_seconds:+.1f} s after the last watcher connected")  # fmt: skip
    print(f"  close codes {dict(sorted(r.close_codes.items()))}"
          + (f"; {r.late} watchers NOT finished within --deadline {deadline:g} s "
             "(lag figures below cover what arrived)" if r.late else ""))  # fmt: skip
    print(f"  every line the server wrote, in order (contiguous seq 1..{r.log_lines}): "
          f"{r.complete}/{r.watchers} watchers; build lines intact in the log {r.intact}/{r.lines}")  # fmt: skip
    print(f"  last delivery {r.last_delivery_seconds:.2f} s after the last line was written")
    print(f"  server CPU {r.server_cpu_seconds:.1f} s for {r.delivered} lines delivered = "
          f"{r.cpu_us_per_line:.1f} us/line (the watchers' process: {r.client_cpu_seconds:.1f} s)")  # fmt: skip
    if r.lag_ms:
        built = r.build_lag_ms
        print(f"  lag from the server writing the line (tailer): p50 {r.lag(0.5):.0f} ms, "
              f"p99 {r.lag(0.99):.0f} ms, max {max(r.lag_ms):.0f} ms")  # fmt: skip
        print(f"  lag from the build printing the line (stamp):  p50 "
              f"{statistics.median(built):.0f} ms, max {max(built):.0f} ms")  # fmt: skip
    print(f"  server RSS: idle {r.rss_idle_mb:.0f} MB, connected {r.rss_connected_mb:.0f} MB, "
          f"peak {r.rss_peak_mb:.0f} MB")  # fmt: skip


async def slow_watcher(
    bench: Bench, http: httpx.AsyncClient, app_id: int, args: argparse.Namespace
) -> None:
    server = bench.server
    pid = server.pid
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
            result = Result(args.watchers, args.lines, args.rate, args.batch)
            await fan_out(bench, http, app["id"], result, args.deadline)
            print_result(result, args.deadline)
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
    parser.add_argument("--batch", action="store_true", help="watch with ?batch=1")
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
