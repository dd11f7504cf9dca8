"""The chart of a `python -m bench` run (matplotlib, PNG): the deploy timeline per stage for
fogbank and the floor, and fan-out lag by watcher count; min, median and max of the trials."""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display here; the file is the output
import matplotlib.pyplot as plt

FLOOR_STEPS = ("clone", "build", "run", "served")
FOGBANK_STEPS = ("add", "cloning_repo", "building_image", "starting_new")
COLOURS = ("#8da0cb", "#66c2a5", "#fc8d62", "#e78ac3")


def stage_durations(steps: dict[str, float], order: tuple[str, ...]) -> list[float]:
    """Each stage's own length from the cumulative end times."""
    ends = [steps.get(step, 0.0) for step in order]
    return [max(0.0, end - before) for before, end in zip([0.0, *ends[:-1]], ends, strict=True)]


def deploy_axes(axes: Any, deploy: dict[str, list[dict[str, Any]]]) -> None:
    rows = [
        row for row in ("floor cold", "fogbank cold", "floor warm", "fogbank warm") if row in deploy
    ]
    for y, row in enumerate(rows):
        order = FLOOR_STEPS if row.startswith("floor") else FOGBANK_STEPS
        durations = [stage_durations(s["steps"], order) for s in deploy[row]]
        left = 0.0
        for index, step in enumerate(order):
            width = statistics.median(d[index] for d in durations)
            axes.barh(y, width, left=left, color=COLOURS[index], edgecolor="white")
            if width > 0.08:
                axes.text(left + width / 2, y, step, ha="center", va="center", fontsize=7)
            left += width
        totals = [s["seconds"] for s in deploy[row]]
        middle = statistics.median(totals)
        axes.errorbar(
            middle, y, xerr=[[middle - min(totals)], [max(totals) - middle]],
            fmt="o", color="black", capsize=4, markersize=3,
        )  # fmt: skip
        axes.text(max(totals) + 0.03, y, f"{min(totals):.2f} / {middle:.2f} / {max(totals):.2f} s",
                  va="center", fontsize=7)  # fmt: skip
    axes.set_yticks(range(len(rows)), rows)
    axes.invert_yaxis()
    axes.set_xlabel(
        "seconds from the start (bars: median stage lengths; dot: total min/median/max)"
    )
    axes.set_title("Deploy timeline per stage, fogbank vs the floor")


def fanout_axes(axes: Any, runs: list[dict[str, Any]]) -> None:
    by_count: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for run in runs:
        for name in ("p50", "p99"):
            by_count[run["watchers"]][name].append(run["lag_ms"][name])
    counts = sorted(by_count)
    for name, marker in (("p50", "s"), ("p99", "o")):
        medians = [statistics.median(by_count[c][name]) for c in counts]
        low = [m - min(by_count[c][name]) for m, c in zip(medians, counts, strict=True)]
        high = [max(by_count[c][name]) - m for m, c in zip(medians, counts, strict=True)]
        axes.errorbar(
            counts, medians, yerr=[low, high], marker=marker, capsize=4, label=f"{name} lag"
        )
    if runs:
        rate = runs[0]["rate"]
        axes.set_title(f"Fan-out lag by watcher count ({rate} lines/s, default frames)")
    axes.set_xscale("log")
    axes.set_xticks(counts, [str(c) for c in counts])
    axes.set_xlabel("watchers of one deployment")
    axes.set_ylabel("ms from the server writing a line (min/median/max of trials)")
    axes.legend()


def draw(results: dict[str, Any], path: Path) -> None:
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(10, 8), constrained_layout=True)
    deploy_axes(top, results["charts"]["deploy"])
    fanout_axes(bottom, results["charts"]["fanout"])
    figure.suptitle(f"fogbank benchmarks, commit {results['commit']['sha'][:12]}", fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
