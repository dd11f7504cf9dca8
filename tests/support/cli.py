"""Running the client side of `fogbank` as a user or CI would: a child process with its own
config home and environment, against a real server (tests/support/server.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.server import ROOT

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
COMMAND = (sys.executable, "-m", "api.cli")


def client_env(
    home: Path, url: str | None = None, token: str | None = None, **extra: str
) -> dict[str, str]:
    """The environment of a client: HOME and XDG_CONFIG_HOME under `home`, this tree importable,
    no FOGBANK_* but those given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOGBANK_")}
    env.update(PYTHONPATH=str(ROOT), HOME=str(home), XDG_CONFIG_HOME=str(home / "config"))
    if url is not None:
        env["FOGBANK_URL"] = url
    if token is not None:
        env["FOGBANK_TOKEN"] = token
    env.update(extra)
    return env


def fogbank(
    *args: str, env: Mapping[str, str], stdin: str = "", timeout_seconds: float = 180
) -> subprocess.CompletedProcess[str]:
    """Run one command to its end, output captured (so stdout is not a terminal)."""
    return subprocess.run(
        [*COMMAND, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=dict(env),
        timeout=timeout_seconds,
        check=False,
    )


@dataclass
class Running:
    """A command left running; its output lines arrive in `lines` (with their arrival times)."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _threads: list[threading.Thread] = field(default_factory=list)

    def wait_for(self, check: Callable[[str], bool], timeout_seconds: float = 60) -> str:
        """The first output line (from the start) that passes `check`."""
        deadline = time.monotonic() + timeout_seconds
        seen = 0
        while time.monotonic() < deadline:
            while seen < len(self.lines):
                if check(self.lines[seen]):
                    return self.lines[seen]
                seen += 1
            if self.process.poll() is not None and seen == len(self.lines):
                self.join()
                if seen == len(self.lines):
                    break
            time.sleep(0.05)
        raise AssertionError(
            f"no such line within {timeout_seconds} s; stdout tail {self.lines[-5:]}, "
            f"stderr {self.errors[-5:]}"
        )

    def finish(self, timeout_seconds: float = 180) -> int:
        code = self.process.wait(timeout_seconds)
        self.join()
        return code

    def join(self) -> None:
        for thread in self._threads:
            thread.join(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.join()


def start(*args: str, env: Mapping[str, str]) -> Running:
    """Start a command; stdout and stderr are pipes read line by line as they come."""
    process = subprocess.Popen(
        [*COMMAND, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(env),
        bufsize=1,
    )
    running = Running(process)

    def read_out() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            running.arrivals.append(time.time())
            running.lines.append(line.rstrip("\n"))

    def read_err() -> None:
        assert process.stderr is not None
        running.errors.extend(line.rstrip("\n") for line in process.stderr)

    for reader in (read_out, read_err):
        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        running._threads.append(thread)
    return running
