"""Every figure in one command: run the benchmarks, write bench/results/<commit>.json,
regenerate BENCHMARKS.md's summary table and draw docs/benchmarks.png.

    PYTHONPATH=. .venv/bin/python -m bench [--smoke] [--only deploy,fanout,...]

--smoke runs each benchmark at a toy size (to check the tooling; its figures mean nothing and
are written to bench/results/smoke.json only, leaving BENCHMARKS.md and the chart alone).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bench import chart, suite, table
from bench.figures import FIGURES, ROOT, commit, figure, machine

STEPS: dict[str, Callable[[suite.Settings], Any]] = {
    "deploy": suite.deploy,
    "fanout": suite.fanout,
    "history": suite.reads,
    "api": suite.api,
    "webhooks": suite.webhooks,
    "dashboard": suite.pages,
    "claims": suite.claims,
    "acks": suite.acks,
    "logs": suite.runtime_logs,
}
CHART = ROOT / "docs" / "benchmarks.png"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="toy sizes: checks the tooling")
    parser.add_argument("--only", default=",".join(STEPS), help="comma-separated steps")
    args = parser.parse_args()
    settings = suite.SMOKE if args.smoke else suite.Settings()
    results: dict[str, Any] = {
        "commit": commit(),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "settings": vars(settings) | {"steps": args.only.split(",")},
        "charts": {"deploy": {}, "fanout": []},
        "step_seconds": {},
    }
    values: dict[str, list[float]] = {}
    started = time.perf_counter()
    for step in args.only.split(","):
        print(f"\n=== {step} ({time.perf_counter() - started:.0f} s into the run)", flush=True)
        begun = time.perf_counter()
        got = STEPS[step](settings)
        if step == "deploy":
            got, results["charts"]["deploy"] = got
        elif step == "fanout":
            got, results["charts"]["fanout"] = got
        values.update(got)
        results["step_seconds"][step] = time.perf_counter() - begun
    results["wall_seconds"] = time.perf_counter() - started
    results["machine_after"] = machine()
    results["figures"] = [figure(key, values[key]) for key in FIGURES if key in values]
    name = "smoke" if args.smoke else results["commit"]["sha"]
    path = ROOT / "bench" / "results" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    results["file"] = str(path.relative_to(ROOT))
    path.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    print(f"\nwrote {path.relative_to(ROOT)} ({results['wall_seconds'] / 60:.1f} minutes)")
    print(table.render(results))
    if not args.smoke:
        table.regenerate(path, ROOT / "BENCHMARKS.md")
        print("regenerated BENCHMARKS.md's summary table")
    if results["charts"]["deploy"] and results["charts"]["fanout"]:
        chart.draw(results, path.with_suffix(".png") if args.smoke else CHART)
    return 0


if __name__ == "__main__":
    sys.exit(main())
