"""One fan-out run: N lean watchers (bench/wsclient.py) and one full `websockets` reference
watcher of a deployment whose build prints numbered lines; what each received, checked, and the
lag of every line at every watcher, from the moment the server wrote it (bench/tailer.py) and
from the moment the build printed it (its own timestamp)."""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError

from bench.common import Bench, RssSampler, cpu_seconds, percentile, rss_mb
from bench.tailer import Tailer
from bench.wsclient import Watcher, open_watcher

DOCKERFILE = """FROM scratch
COPY nonce /nonce
COPY busybox /bin/busybox
RUN ["/bin/busybox", "sleep", "{gate}"]
RUN ["/bin/busybox", "sh", "-c", "i=1; while [ $i -le {lines} ]; do echo \\"benchline $i $EPOCHREALTIME\\"; {pace}i=$((i+1)); done"]
COPY www /www
CMD ["/bin/busybox", "httpd", "-f", "-p", "3000", "-h", "/www"]
"""
FANOUT_LINE = re.compile(r"benchline \d+ \d+\.\d+")
CONNECT_CONCURRENCY = 50
CLOSE_TOO_SLOW = 1013


def dockerfile(lines: int, gate_seconds: float, rate: int) -> str:
    """A build that sleeps `gate_seconds` (the watchers connect), then prints `lines` lines,
    `rate` a second in bursts of ten (0: as fast as busybox sh goes)."""
    pace = ""
    if rate > 0:  # ten lines, then a pause: few forks, an even pace
        pace = f"[ $((i % 10)) -eq 0 ] && /bin/busybox usleep {10 * 1_000_000 // rate}; "
    return DOCKERFILE.format(gate=f"{gate_seconds:g}", lines=lines, pace=pace)


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
                    lines = [frame["data"]] if frame["type"] == "log" else []
                    lines = frame["data"]["lines"] if frame["type"] == "logs" else lines
                    for line in lines:
                        seqs.append(line["seq"])
                        if FANOUT_LINE.fullmatch(line["line"]):
                            stamps[line["seq"]] = float(line["line"].split()[2])
                    if frame["type"] == "status":
                        final.update(frame["data"])
            except ConnectionClosedError:
                pass
            code = socket.close_code
        found["close_code"] = code
        if code != CLOSE_TOO_SLOW:
            break
        found["resumed"] += 1
    found["in_order"] = seqs == list(range(1, len(seqs) + 1))


@dataclass
class Result:
    """What one fan-out run measured; lags in ms."""

    watchers: int
    lines: int
    rate: int
    batch: bool
    connect_seconds: float = 0.0
    head_start_seconds: float = 0.0  # first line printed after the last watcher connected
    close_codes: dict[int, int] = field(default_factory=dict)
    late: int = 0  # watchers not finished within the deadline
    complete: int = 0  # watchers that got every line the server wrote, in order
    intact: int = 0  # fan-out lines whole in the server's log
    log_lines: int = 0
    server_cpu_seconds: float = 0.0
    client_cpu_seconds: float = 0.0
    lag_ms: list[float] = field(default_factory=list)  # from the server writing the line
    build_lag_ms: list[float] = field(default_factory=list)  # from the build printing it
    last_delivery_seconds: float = 0.0
    rss_idle_mb: float = 0.0
    rss_connected_mb: float = 0.0
    rss_peak_mb: float = 0.0

    @property
    def delivered(self) -> int:
        return self.watchers * self.log_lines

    @property
    def cpu_us_per_line(self) -> float:
        """Server CPU per line delivered to one watcher (a default frame carries one)."""
        return 1e6 * self.server_cpu_seconds / max(1, self.delivered)

    def lag(self, fraction: float) -> float:
        return percentile(self.lag_ms, fraction) if self.lag_ms else float("nan")

    def summary(self) -> dict[str, Any]:
        """The figures, without the per-line lags."""
        lags = {"p50": self.lag(0.5), "p99": self.lag(0.99), "max": max(self.lag_ms, default=0)}
        built = self.build_lag_ms or [0.0]
        return {
            **{k: v for k, v in vars(self).items() if k not in ("lag_ms", "build_lag_ms")},
            "cpu_us_per_line": self.cpu_us_per_line,
            "lag_ms": lags,
            "build_lag_ms": {"p50": statistics.median(built), "p99": percentile(built, 0.99)},
        }


async def fan_out(
    bench: Bench, http: httpx.AsyncClient, app_id: int, result: Result, deadline: float
) -> Result:
    """Deploy (the app's head prints the lines), watch with `result.watchers` lean watchers and a
    reference, and fill `result`."""
    pid = bench.server.pid
    result.rss_idle_mb = rss_mb(pid)
    deployment_id = await deploy(http, app_id)
    log_path = bench.root / "data" / "logs" / "deployments" / f"{deployment_id}.log"
    tail = Tailer(log_path, bench.root)
    batch = "&batch=1" if result.batch else ""
    query = f"/ws/deployment/logs?deploymentId={deployment_id}&token={bench.server.token}{batch}"
    connected_at = time.perf_counter()
    ref: dict[str, Any] = {}
    ref_task = asyncio.create_task(reference(f"{bench.ws_base}{query}", ref))
    limit = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one() -> Watcher:
        async with limit:
            watcher = await open_watcher(bench.server.port, query)
            await watcher.connected
            return watcher

    watchers = await asyncio.gather(*[one() for _ in range(result.watchers)])
    result.connect_seconds = time.perf_counter() - connected_at
    all_connected = time.time()
    result.rss_connected_mb = rss_mb(pid)
    cpu_before, own_before = cpu_seconds(pid), time.process_time()
    sampler = RssSampler(pid)
    sampler.start()
    everything: list[asyncio.Future[Any]] = [*(w.closed for w in watchers), ref_task]
    await asyncio.wait(everything, timeout=deadline)
    sampler.stop.set()
    result.server_cpu_seconds = cpu_seconds(pid) - cpu_before
    result.client_cpu_seconds = time.process_time() - own_before
    result.rss_peak_mb = max([*sampler.samples, result.rss_connected_mb])
    late = [w for w in watchers if not w.closed.done()]
    result.late = len(late)
    for w in late:
        assert w.transport is not None
        w.transport.close()
    ref_task.cancel()
    written = await asyncio.to_thread(tail.finish)
    for code in (w.close_code for w in watchers):
        result.close_codes[code] = result.close_codes.get(code, 0) + 1
    check(result, log_path.read_text().split("\n")[:-1], watchers, ref, written, all_connected)
    return result


def check(
    result: Result,
    log_lines: list[str],
    watchers: list[Watcher],
    ref: dict[str, Any],
    written: list[float],
    all_connected: float,
) -> None:
    """Who got every line, and each line's lag at each watcher."""
    result.log_lines = len(log_lines)
    intact = [n for n, line in enumerate(log_lines, 1) if FANOUT_LINE.fullmatch(line)]
    result.intact = len(intact)
    fanout_count = sum(line.startswith("benchline ") for line in log_lines)
    result.complete = sum(
        not w.broken and w.first_seq == 1 and len(w.arrivals) == len(log_lines)
        and w.fanout_seen == fanout_count
        for w in watchers
    )  # fmt: skip
    seqs = [seq for seq in intact if seq in ref.get("stamps", {})]
    if not seqs:
        return
    result.head_start_seconds = written[seqs[0] - 1] - all_connected
    last_arrival = 0.0
    for w in watchers:
        for seq in seqs:
            index = seq - w.first_seq
            if 0 <= index < len(w.arrivals):
                arrival = w.arrivals[index]
                result.lag_ms.append((arrival - written[seq - 1]) * 1000)
                result.build_lag_ms.append((arrival - ref["stamps"][seq]) * 1000)
                last_arrival = max(last_arrival, arrival)
    result.last_delivery_seconds = last_arrival - written[seqs[-1] - 1]
