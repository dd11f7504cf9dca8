"""Deployment log files and the event bus: masking, seq numbering, size cap, slow watchers."""

from __future__ import annotations

from pathlib import Path

from controller.events.bus import Event, EventBus
from controller.events.deployment_logs import MASK, DeploymentLogs


def test_secrets_are_masked_and_seq_counts_lines(tmp_path: Path) -> None:
    bus = EventBus()
    logs = DeploymentLogs(tmp_path, bus)
    logs.open(7, ["hunter2-secret"])
    with bus.subscribe(7) as watcher:
        logs.append(7, "token is hunter2-secret\nsecond line")
        events = [watcher.queue.get_nowait(), watcher.queue.get_nowait()]
    assert [e.data for e in events] == [
        {"line": f"token is {MASK}", "seq": 1},
        {"line": "second line", "seq": 2},
    ]
    assert "hunter2" not in logs.text(7)
    assert logs.read(7, after=1) == [(2, "second line")]


def test_log_size_is_capped_with_one_marker(tmp_path: Path) -> None:
    logs = DeploymentLogs(tmp_path, EventBus(), max_bytes=1000)
    logs.open(1)
    for number in range(500):
        logs.append(1, f"build output line {number:04d}")
    logs.append(1, "Deployment failed", essential=True)
    text = logs.text(1)
    assert len(text.encode()) < 1200
    assert text.count("[log truncated") == 1
    assert text.endswith("Deployment failed\n")


def test_a_watcher_that_stops_reading_is_cut_off(tmp_path: Path) -> None:
    bus = EventBus(queue_size=10)
    with bus.subscribe(3) as slow, bus.subscribe(3) as fast:
        for number in range(50):
            bus.publish(3, Event("log", {"line": str(number), "seq": number + 1}))
            while not fast.queue.empty():
                fast.queue.get_nowait()
        assert slow.overflowed and slow.queue.qsize() == 10
        assert not fast.overflowed
    assert bus.subscriber_count(3) == 0
