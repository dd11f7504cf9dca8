"""Webhook junk: 12 concurrent 4 MB posts that are not validly signed, against a real
`fogbank serve` on loopback (issue 12, item 4).

For each kind of junk (a forged signature on the global URL, no signature, a forged signature on
an app URL naming no app) prints the server's RSS before, at its peak (sampled every 5 ms) and
once settled, and /api/health latencies while the junk arrived, next to the unloaded /api/health
latencies measured in the same run. The posts go out from threads over plain http.client and
/api/health is probed from a process of its own, so the figures are the server's.

Run from the repository root:
    PYTHONPATH=. .venv/bin/python -m bench.webhook_junk [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

from bench.common import percentile, prepare, workdir
from tests.support.flood import FORGED, FloodReport, flood, probe_health

UNLOADED_SECONDS = 5.0
KINDS = (
    ("forged, global URL", "/webhooks/github", FORGED),
    ("unsigned, global URL", "/webhooks/github", None),
    ("forged, URL of no app", "/webhooks/github/nobody", FORGED),
)


def latency(values: list[float]) -> str:
    return (
        f"n {len(values)}, p50 {statistics.median(values):.1f} ms, "
        f"p99 {percentile(values, 0.99):.1f} ms, max {max(values):.1f} ms"
    )


def line(report: FloodReport, first_baseline: float) -> str:
    statuses = sorted(set(report.statuses))
    return (
        f"answers {statuses}; RSS {report.baseline_mb:.1f} MB -> peak {report.peak_mb:.1f} "
        f"(+{report.growth_mb:.1f}) -> {report.after_mb:.1f} MB "
        f"({report.after_mb - first_baseline:+.1f} vs the run's first baseline); "
        f"health meanwhile: {latency(report.health_ms)}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=3, help="floods per kind of junk")
    args = parser.parse_args()
    with workdir("fbjunk") as root:
        bench = prepare(root, {"github": {"webhook_secret": "bench-global-secret"}})
        server = bench.server
        server.start()
        try:
            port, pid = server.port, server.pid
            print(f"load average before: {os.getloadavg()[0]:.2f} (2 cores shared)")
            unloaded = probe_health(port, UNLOADED_SECONDS)
            print(f"/api/health unloaded ({UNLOADED_SECONDS:g} s): {latency(unloaded)}")
            flood(port, pid, body_bytes=256 * 1024)  # the first burst of connections, once
            first_baseline = 0.0
            during: list[float] = []
            for name, path, signature in KINDS:
                print(f"12 x 4 MB, {name} ({path}):")
                for round_number in range(1, args.rounds + 1):
                    report = flood(port, pid, path=path, signature=signature)
                    first_baseline = first_baseline or report.baseline_mb
                    during += report.health_ms
                    print(f"  round {round_number}: {line(report, first_baseline)}")
            print(f"/api/health during every flood: {latency(during)}")
            again = probe_health(port, UNLOADED_SECONDS)
            print(f"/api/health unloaded again ({UNLOADED_SECONDS:g} s): {latency(again)}")
            print(f"load average after: {os.getloadavg()[0]:.2f}")
            return 0
        finally:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
