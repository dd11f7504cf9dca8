"""The figures of one `python -m bench` run: each with its trials' values, min/median/max and
the target it answers to (issue 18's table; issue 16's for the dashboard), met or not."""

from __future__ import annotations

import operator
import os
import platform
import statistics
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
}


@dataclass(frozen=True)
class Target:
    op: str  # "<", "<=", "=="
    value: float
    issue: int
    # Which of the trials' figures is held to the target: a count must hold in every trial.
    judged: str = "median"  # "median" | "max"


# key -> (label, unit, target or None)
FIGURES: dict[str, tuple[str, str, Target | None]] = {
    "deploy_cold_ratio": ("deploy cold / floor", "x", Target("<=", 1.05, 18)),
    "deploy_warm_ratio": ("deploy warm / floor", "x", Target("<=", 0.95, 18)),
    "first_frame_cold_ms": ("first WS frame after add, cold", "ms", Target("<", 100, 18)),
    "first_frame_warm_ms": ("first WS frame after add, warm", "ms", Target("<", 100, 18)),
    "fanout_cpu_us_per_frame": (
        "fan-out: server CPU per delivered frame (default frames)",
        "us",
        Target("<=", 8, 18),
    ),
    "fanout_paced_p99_ms": (
        "fan-out 100 watchers, 100 lines/s, p99 lag (default frames)",
        "ms",
        Target("<", 100, 18),
    ),
    "fanout_batch_p99_ms": (
        "fan-out 1,000 watchers x 1,000 unpaced lines, p99 lag (?batch=1)",
        "ms",
        Target("<", 500, 18),
    ),
    "fanout_incomplete_watchers": (
        "fan-out: watchers missing a line (all runs)",
        "",
        Target("==", 0, 18, judged="max"),
    ),
    "history_page_over_floor": (
        "getByAppId limit 50 p99 / health p99 (same server)",
        "x",
        Target("<=", 2, 18),
    ),
    "history_getall_over_floor": (
        "getAll p99 / health p99 (same server)",
        "x",
        Target("<=", 2, 18),
    ),
    "webhook_ack_p99_ms": ("webhook ack p99 at concurrency 50", "ms", Target("<", 65, 18)),
    "webhook_lost": ("webhook deliveries lost", "", Target("==", 0, 18, judged="max")),
    "idle_rss_mb": ("idle RSS", "MB", Target("<", 80, 18)),
    "dashboard_apps_p99_ms": ("dashboard apps page, server p99", "ms", Target("<", 30, 16)),
    "dashboard_app_p99_ms": (
        "dashboard app page (100k history), server p99",
        "ms",
        Target("<", 30, 16),
    ),
    "app_logs_p99_ms": ("runtime logs: fogbank app-logs -f p99 lag", "ms", None),
    "docker_logs_p99_ms": ("runtime logs: docker logs -f p99 lag (floor)", "ms", None),
    "follower_mb": ("runtime logs: server memory per follower", "MiB", None),
    "api_mixed_per_second": ("API mixed reads/s at 16 clients", "/s", None),
    "webhook_per_second": ("webhook deliveries/s at concurrency 50", "/s", None),
    "claims_sqlite_per_second": ("queue claims/s, SQLite, 1 instance", "/s", None),
    "claims_pg1_per_second": ("queue claims/s, PostgreSQL, 1 instance", "/s", None),
    "claims_pg2_per_second": ("queue claims/s, PostgreSQL, 2 instances", "/s", None),
    "acks_sqlite_per_second": ("webhook acks/s, SQLite, 1 instance", "/s", None),
    "acks_pg1_per_second": ("webhook acks/s, PostgreSQL, 1 instance", "/s", None),
    "acks_pg2_per_second": ("webhook acks/s, PostgreSQL, 2 instances", "/s", None),
    "acks_sqlite_p99_ms": ("webhook ack p99, SQLite, 1 instance", "ms", None),
    "acks_pg1_p99_ms": ("webhook ack p99, PostgreSQL, 1 instance", "ms", None),
    "acks_pg2_p99_ms": ("webhook ack p99, PostgreSQL, 2 instances", "ms", None),
}


def figure(key: str, values: list[float]) -> dict[str, Any]:
    """One figure's record: its values and their min/median/max, its target and verdict."""
    label, unit, target = FIGURES[key]
    record: dict[str, Any] = {"key": key, "label": label, "unit": unit, "values": values}
    record.update(min=min(values), median=statistics.median(values), max=max(values))
    record["target"] = None if target is None else vars(target)
    record["met"] = None if target is None else met(record, target)
    return record


def met(record: dict[str, Any], target: Target) -> bool:
    return COMPARE[target.op](float(record[target.judged]), target.value)


def git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


def machine() -> dict[str, Any]:
    """What the figures were measured on: cores, load, memory, Docker, Python."""
    memory = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        name, value = line.split(":", 1)
        if name in ("MemTotal", "MemAvailable"):
            memory[name] = int(value.split()[0]) // 1024
    try:
        docker = subprocess.run(
            ["docker", "version", "--format", "{{.Server.Version}}"],
            capture_output=True, text=True, check=True, timeout=30,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError) as error:
        docker = f"unknown ({error})"
    return {
        "cpu_count": os.cpu_count(),
        "load_average": list(os.getloadavg()),
        "memory_total_mb": memory.get("MemTotal"),
        "memory_available_mb": memory.get("MemAvailable"),
        "docker_version": docker,
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def commit() -> dict[str, Any]:
    return {"sha": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}
