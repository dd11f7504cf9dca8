"""`python -m bench`'s outputs from a given results JSON, without running a benchmark: the
summary table BENCHMARKS.md gets (a missed target shows as missed) and the chart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import chart, table
from bench.figures import figure

DOCUMENT = f"# Benchmarks\n\nbefore\n\n{table.START}\nold table\n{table.END}\n\nafter\n"


def results() -> dict[str, Any]:
    steps_fog = {"add": 0.05, "cloning_repo": 0.1, "building_image": 0.7, "starting_new": 1.1}
    steps_floor = {"clone": 0.05, "build": 0.6, "run": 0.8, "served": 0.9}
    return {
        "commit": {"sha": "0123456789abcdef0123456789abcdef01234567", "dirty": False},
        "started": "2026-11-30T23:00:00+00:00",
        "wall_seconds": 600.0,
        "machine": {"cpu_count": 2, "load_average": [3.5, 4.0, 5.0], "memory_total_mb": 24105,
                    "docker_version": "20.10.24", "python": "3.11.7"},
        "machine_after": {"load_average": [2.0, 3.0, 4.0]},
        "figures": [
            figure("deploy_cold_ratio", [1.02, 1.04, 1.20]),  # median 1.04 <= 1.05: met
            figure("deploy_warm_ratio", [0.97, 1.01, 1.10]),  # median 1.01 > 0.95: missed
            figure("webhook_lost", [0.0, 2.0]),  # judged on the max: missed
            figure("claims_sqlite_per_second", [512.3]),  # no target
        ],
        "charts": {
            "deploy": {
                "fogbank cold": [{"seconds": 1.1, "steps": steps_fog}],
                "floor cold": [{"seconds": 0.9, "steps": steps_floor}],
            },
            "fanout": [
                {"watchers": w, "rate": 100, "lag_ms": {"p50": 5.0 * w, "p99": 9.0 * w}}
                for w in (10, 100, 100)
            ],
        },
    }  # fmt: skip


def rows(markdown: str) -> dict[str, list[str]]:
    found = {}
    for line in markdown.splitlines():
        if line.startswith("| ") and not line.startswith("| ---"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            found[cells[0]] = cells[1:]
    return found


def test_the_table_renders_each_figure_with_min_median_max_target_and_verdict() -> None:
    got = {label: " | ".join(cells) for label, cells in rows(table.render(results())).items()}
    assert got["deploy cold / floor"] == "1.02 | **1.04** | 1.20 | 3 | <= 1.05 (issue 18) | met"
    assert got["deploy warm / floor"] == (
        "0.97 | **1.01** | 1.10 | 3 | <= 0.95 (issue 18) | **missed**"
    )
    assert got["webhook deliveries lost"] == "0 | **1** | 2 | 2 | = 0 (max) (issue 18) | **missed**"
    assert got["queue claims/s, SQLite, 1 instance"] == (
        "512 /s | **512 /s** | 512 /s | 1 | (none) | "
    )


def test_the_table_replaces_only_the_text_between_the_markers() -> None:
    body = table.render(results())
    updated = table.replace(DOCUMENT, body)
    assert "old table" not in updated
    assert updated.startswith("# Benchmarks\n\nbefore\n\n" + table.START + "\n")
    assert updated.endswith(table.END + "\n\nafter\n")
    assert "commit `0123456789ab`" in updated
    assert table.replace(updated, body) == updated  # regenerating again changes nothing


def test_a_document_without_markers_is_refused() -> None:
    with pytest.raises(table.MarkersMissing):
        table.replace("# Benchmarks\n\nno markers\n", "body")
    with pytest.raises(table.MarkersMissing):
        table.replace(f"{table.END}\n{table.START}\n", "body")


def test_regenerate_writes_the_table_from_a_results_file(tmp_path: Path) -> None:
    data, document = tmp_path / "run.json", tmp_path / "BENCHMARKS.md"
    data.write_text(json.dumps(results()))
    document.write_text(DOCUMENT)
    table.regenerate(data, document)
    assert rows(document.read_text())["deploy warm / floor"][-1] == "**missed**"


def test_the_chart_is_a_png(tmp_path: Path) -> None:
    path = tmp_path / "chart.png"
    chart.draw(results(), path)
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert chart.stage_durations({"a": 1.0, "b": 1.5}, ("a", "b")) == [1.0, 0.5]
