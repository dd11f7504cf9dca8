"""A process's resident memory from /proc: now, and its peak while something runs (sampled)."""

from __future__ import annotations

import threading
from pathlib import Path


def rss_mb(pid: int) -> float:
    """VmRSS of a process, in MiB, from /proc/<pid>/status."""
    return _status_mb(pid, "VmRSS:")


def hwm_mb(pid: int) -> float:
    """VmHWM (peak resident memory since start), in MiB."""
    return _status_mb(pid, "VmHWM:")


def _status_mb(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {key} for pid {pid}")


class RssSampler(threading.Thread):
    """Samples a process's VmRSS every `interval_seconds` until `stop` is set."""

    def __init__(self, pid: int, interval_seconds: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval_seconds = interval_seconds
        self.samples: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.interval_seconds):
            try:
                self.samples.append(rss_mb(self.pid))
            except (FileNotFoundError, RuntimeError):
                return  # the server is gone

    @property
    def peak(self) -> float:
        return max(self.samples, default=0.0)
