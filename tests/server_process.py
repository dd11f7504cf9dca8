"""A real `fogbank serve` in a child process, spoken to over real HTTP on loopback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

T = TypeVar("T")


def cli(*args: str, config: Path, stdin: str = "", cwd: Path | None = None) -> str:
    """Run a `fogbank` subcommand to completion; its standard output."""
    result = subprocess.run(
        [sys.executable, "-m", "api.cli", *args, "--config", str(config)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
        env=_child_env(),
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOGBANK_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    return env


def wait_until(check: Callable[[], T | None], timeout_seconds: float, what: str) -> T:
    """Poll `check` (a cheap HTTP read) until it returns a value."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        value = check()
        if value is not None:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_seconds} s waiting for {what}")


@dataclass
class Server:
    config: Path
    port: int
    log_path: Path
    token: str = ""
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, cwd: Path | None = None, *, use_config: bool = True) -> None:
        args = [sys.executable, "-m", "api.cli", "serve"]
        if use_config:
            args += ["--config", str(self.config)]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, cwd=cwd, env=_child_env()
            )
        wait_until(self._healthy, 30, f"fogbank on port {self.port} (log: {self.log_path})")

    def _healthy(self) -> bool | None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"server exited: {self.log_path.read_text()[-2000:]}")
        try:
            return httpx.get(f"{self.base}/api/health", timeout=1).status_code == 200 or None
        except httpx.HTTPError:
            return None

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def terminate(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(60)

    def stop_quietly(self) -> None:
        """Test teardown: the server, and the Caddy it leaves running when it was killed (by
        design, Caddy outlives a crashed controller so traffic keeps flowing)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        caddy_dir = self.config.parent / "data" / "caddy"
        for pid_file in caddy_dir.glob("*.pid") if caddy_dir.is_dir() else []:
            pid = int(pid_file.read_text().strip() or 0)
            cmdline = Path(f"/proc/{pid}/cmdline")
            if pid and cmdline.exists() and b"caddy" in cmdline.read_bytes():
                os.kill(pid, signal.SIGKILL)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = httpx.request(
            method,
            f"{self.base}{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=120,
        )
        assert response.status_code < 400, response.text
        return response.json()

    def deployments(self, app_id: int) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = self.call(
            "POST", "/api/deployment/getByAppId", {"appId": app_id}
        )["data"]
        return data
