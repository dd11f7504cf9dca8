"""A real `fogbank serve` in a child process, spoken to over real HTTP on loopback: the one
server-process helper of the tests and of bench/.

`prepare_server` writes a config on free loopback ports (server, edge HTTP and HTTPS), creates
an admin user and an API token with the CLI, and returns a `Server` not started yet.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from tests.support.edge import stop_edges_under
from tests.support.ports import free_port

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
ADMIN_PASSWORD = "a long password\n"
START_TIMEOUT_SECONDS = 30
STOP_TIMEOUT_SECONDS = 60

TomlValue = str | int | float | bool
Sections = Mapping[str, Mapping[str, TomlValue]]


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
        env=child_env(),
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def child_env(
    extra: Mapping[str, str] | None = None, *, source_tree: bool = True
) -> dict[str, str]:
    """This environment without FOGBANK_* (the config file alone speaks), importing this tree
    unless the child runs an installed fogbank (a venv of its own); then `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOGBANK_")}
    env.pop("PYTHONPATH", None)
    if source_tree:
        env["PYTHONPATH"] = str(ROOT)
    env.update(extra or {})
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


def _toml_value(value: TomlValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config(root: Path, sections: Sections | None = None, name: str = "config.toml") -> Path:
    """`root/name`: data under `root/data`, local git allowed, the server and the edge on free
    loopback ports; `sections` add or override keys (section -> key -> value)."""
    merged: dict[str, dict[str, TomlValue]] = {
        "server": {"port": free_port()},
        "storage": {"data_dir": str(root / "data")},
        "git": {"allow_local": True},
        "edge": {"http_port": free_port(), "https_port": free_port()},
    }
    for section, values in (sections or {}).items():
        merged.setdefault(section, {}).update(values)
    path = root / name
    path.write_text(
        "".join(
            f"[{section}]\n" + "".join(f"{key} = {_toml_value(v)}\n" for key, v in values.items())
            for section, values in merged.items()
        )
    )
    return path


def prepare_server(
    root: Path,
    sections: Sections | None = None,
    *,
    username: str = "admin",
    client_name: str = "tests",
    config_name: str = "config.toml",
) -> Server:
    """A config (see `write_config`), an admin user and its API token named `client_name`; not
    started yet."""
    config = write_config(root, sections, config_name)
    cli("user", "create", "--username", username, "--role", "admin", "--password-stdin",
        config=config, stdin=ADMIN_PASSWORD)  # fmt: skip
    server = Server(config, configured_port(config), root / "server.log")
    server.token = cli("token", "create", "--username", username, "--name", client_name,
                       config=config)  # fmt: skip
    return server


def configured_port(config: Path) -> int:
    """`server.port` of a config file."""
    port: int = tomllib.loads(config.read_text())["server"]["port"]
    return port


@dataclass
class Server:
    config: Path
    port: int
    log_path: Path
    token: str = ""
    # What runs `serve`: fogbank's CLI, or a test launcher around it (paused_serve.py).
    launcher: tuple[str, ...] = ("-m", "api.cli")
    # Extra environment of the server process (the test's own FOGBANK_* are never passed on).
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    # Another `fogbank` to run (e.g. a venv's bin/fogbank); None: this source tree's.
    executable: Path | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None, "the server is not started"
        return self.process.pid

    def start(self, cwd: Path | None = None, *, use_config: bool = True) -> None:
        """Start `fogbank serve` and wait until /api/health answers."""
        command = [str(self.executable)] if self.executable else [sys.executable, *self.launcher]
        args = [*command, "serve"]
        if use_config:
            args += ["--config", str(self.config)]
        env = child_env(self.env, source_tree=self.executable is None)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, cwd=cwd, env=env
            )
        wait_until(
            self._healthy,
            START_TIMEOUT_SECONDS,
            f"fogbank on port {self.port} (log: {self.log_path})",
        )

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
        """SIGTERM (a graceful drain); the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(STOP_TIMEOUT_SECONDS)

    def stop(self) -> None:
        """SIGTERM (SIGKILL only if it does not exit in time), then the edge it leaves running,
        as `fogbank edge stop` would."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        stop_edges_under(self.config.parent)

    def stop_quietly(self) -> None:
        """Test teardown: the server, and the edge it leaves running (by design, the edge
        outlives fogbank so traffic keeps flowing), as `fogbank edge stop` would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        stop_edges_under(self.config.parent)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One API request with the server's token; the parsed JSON (fails on a 4xx/5xx)."""
        response = httpx.request(
            method,
            f"{self.base}{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=120,
        )
        assert response.status_code < 400, response.text
        return response.json()

    def call_text(self, path: str) -> str:
        """A text answer (a build log) with the server's token (fails on a 4xx/5xx)."""
        response = httpx.get(f"{self.base}{path}", headers={"Authorization": f"Bearer {self.token}"},
                             timeout=120)  # fmt: skip
        assert response.status_code < 400, response.text
        return response.text

    def deployments(self, app_id: int) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = self.call(
            "POST", "/api/deployment/getByAppId", {"appId": app_id}
        )["data"]
        return data
