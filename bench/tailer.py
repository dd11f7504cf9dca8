"""When the server wrote each log line: a separate process polls a deployment's log file every
0.5 ms and notes when each line appears (fogbank appends a line to that file and publishes it to
the watchers in one synchronous step, so this is when the line left for the watchers)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# Polls the log file and notes (line number -> time.time()) when each line shows up.
SCRIPT = r"""
import json, os, sys, time
path, out, stop = sys.argv[1:]
parent = os.getppid()
times, partial = [], b""
while not os.path.exists(path):
    if os.getppid() != parent:
        sys.exit(1)  # the benchmark is gone
    time.sleep(0.0005)
with open(path, "rb") as handle:
    while True:
        chunk = handle.read()
        now = time.time()
        if chunk:
            partial += chunk
            complete = partial.count(b"\n")
            times += [now] * complete
            partial = partial[partial.rfind(b"\n") + 1:]
        elif os.path.exists(stop) or os.getppid() != parent:
            break
        else:
            time.sleep(0.0005)
with open(out, "w") as handle:
    json.dump(times, handle)
"""


class Tailer:
    """Watches `log_path` from now until `finish`; `written[n - 1]` is when line n appeared."""

    def __init__(self, log_path: Path, scratch: Path) -> None:
        self._out = scratch / f"{log_path.stem}.tail.json"
        self._stop = scratch / f"{log_path.stem}.tail.stop"
        self._process = subprocess.Popen(
            [sys.executable, "-c", SCRIPT, str(log_path), str(self._out), str(self._stop)]
        )

    def finish(self) -> list[float]:
        self._stop.touch()
        self._process.wait(30)
        written: list[float] = json.loads(self._out.read_text())
        return written
