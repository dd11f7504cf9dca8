"""Junk webhook posts (big, not validly signed) against a real `fogbank serve`, with
/api/health probed meanwhile and the server's resident memory sampled: what
tests/test_receiver_cost.py asserts and bench/webhook_junk.py prints.

The posts go out from threads over plain http.client (the kernel copies the bytes; the sender
needs little CPU) and the health probe runs in a process of its own, so neither the sender nor
the prober's own interpreter delays a probe: the latencies are the server's.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.memory import RssSampler, rss_mb

MIB = 1024 * 1024
SETTLE_SECONDS = 3.0  # how long memory may take to come back after the flood
FORGED = "sha256=" + "0" * 64  # well formed, so the body is read and its HMAC computed
# The prober: GET /api/health one after another on one keep-alive connection until its stdin
# closes (and at least argv[2] answers); prints [[latency ms, status], ...].
_PROBE = """
import http.client, json, select, sys, time
port, at_least = int(sys.argv[1]), int(sys.argv[2])
connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
seen = []
while True:
    started = time.perf_counter()
    connection.request("GET", "/api/health")
    answer = connection.getresponse()
    answer.read()
    seen.append(((time.perf_counter() - started) * 1000, answer.status))
    if len(seen) >= at_least and select.select([sys.stdin], [], [], 0.002)[0]:
        break
print(json.dumps(seen))
"""


def junk_body(size_bytes: int) -> bytes:
    """A JSON document of many small objects (costly to parse, were it parsed), `size_bytes`
    long or a little less."""
    item = json.dumps({"k": "v", "n": 1}).encode()
    count = (size_bytes - 2) // (len(item) + 1)
    return b"[" + b",".join([item] * count) + b"]"


class HealthProbe:
    """/api/health probed from a child process while a `with` block runs."""

    def __init__(self, port: int, *, at_least: int = 20) -> None:
        self._args = [sys.executable, "-c", _PROBE, str(port), str(at_least)]
        self._process: subprocess.Popen[str] | None = None
        self.latencies: list[float] = []

    def __enter__(self) -> HealthProbe:
        self._process = subprocess.Popen(
            self._args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        return self

    def __exit__(self, *_: object) -> None:
        assert self._process is not None
        output = self._process.communicate(timeout=60)[0]  # closes stdin: the probe stops
        assert self._process.returncode == 0, "the health probe failed"
        answers = json.loads(output)
        assert {status for _, status in answers} == {200}, answers
        self.latencies = [latency for latency, _ in answers]


def probe_health(port: int, seconds: float) -> list[float]:
    """Latencies of /api/health probed for `seconds` with nothing else going on."""
    with HealthProbe(port, at_least=1) as probe:
        time.sleep(seconds)
    return probe.latencies


@dataclass
class FloodReport:
    statuses: list[int]
    baseline_mb: float
    peak_mb: float
    after_mb: float
    health_ms: list[float] = field(default_factory=list)  # while the junk arrived

    @property
    def growth_mb(self) -> float:
        return self.peak_mb - self.baseline_mb

    @property
    def left_mb(self) -> float:
        return self.after_mb - self.baseline_mb


REFUSED_UNREAD = 0  # the server answered and hung up before the whole body was sent


def post(port: int, path: str, body: bytes, headers: dict[str, str]) -> int:
    """One POST over a fresh connection; the answer's status, or REFUSED_UNREAD."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        delivery = {"X-GitHub-Delivery": str(uuid.uuid4())}
        # A refusal may come before the whole body went out; its answer may still be there.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            connection.request("POST", path, body=body, headers=headers | delivery)
        try:
            answer = connection.getresponse()
            answer.read()
        except (http.client.HTTPException, ConnectionResetError):
            return REFUSED_UNREAD
        return answer.status
    finally:
        connection.close()


def flood(
    port: int,
    pid: int,
    *,
    posts: int = 12,
    body_bytes: int = 4 * MIB,
    path: str = "/webhooks/github",
    signature: str | None = FORGED,
) -> FloodReport:
    """`posts` concurrent junk deliveries of `body_bytes` to `path`, signed with `signature`
    (None: no header), while /api/health is probed; RSS before, at peak and after settling."""
    body = junk_body(body_bytes)
    headers = {"Content-Type": "application/json", "X-GitHub-Event": "push"}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    baseline = rss_mb(pid)
    sampler = RssSampler(pid, interval_seconds=0.005)
    sampler.start()
    try:
        with HealthProbe(port) as probe, ThreadPoolExecutor(posts) as senders:
            statuses = list(senders.map(lambda _: post(port, path, body, headers), range(posts)))
        after = settled_rss(pid, baseline)
    finally:
        sampler.stop.set()
        sampler.join()
    return FloodReport(statuses, baseline, max(sampler.peak, baseline), after, probe.latencies)


def open_connections(port: int) -> int:
    """Connections to 127.0.0.1:`port` the server side still holds (established, or closed by
    the client but not by the server), from /proc/net/tcp."""
    held = {"01", "08"}  # ESTABLISHED, CLOSE_WAIT
    count = 0
    for row in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = row.split()
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        count += local_port == port and fields[3] in held
    return count


def settled_rss(pid: int, baseline_mb: float) -> float:
    """The process's RSS once it is back within 1 MiB of `baseline_mb`, or after
    SETTLE_SECONDS, whichever comes first."""
    deadline = time.monotonic() + SETTLE_SECONDS
    current = rss_mb(pid)
    while current - baseline_mb > 1 and time.monotonic() < deadline:
        time.sleep(0.1)
        current = rss_mb(pid)
    return current
