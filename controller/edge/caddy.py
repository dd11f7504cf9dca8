"""One Caddy process of the edge: `caddy run` booting from its config file (the last config
applied, so a restart keeps the routes), with its pid file and output under one directory,
started until its admin API answers and stopped with a bound.

Caddy runs in its own session and is not tied to whoever started it: it outlives the edge runner
if that dies (the next runner adopts it through the pid file) and never depends on fogbank."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from controller.errors import EdgeError

POLL_SECONDS = 0.05
LOG_TAIL_LINES = 5
MAX_STDERR_BYTES = 1024 * 1024  # kept from one start to the next, then rotated once


def config_bytes(config: dict[str, Any]) -> bytes:
    """The one serialisation of a config, for the file and /load alike: Caddy skips a reload
    whose body is byte-for-byte the config it runs."""
    return json.dumps(config, sort_keys=True, separators=(",", ":")).encode()


def write_private(path: Path, data: bytes) -> None:
    """Replace `path` atomically with `data`, readable by its owner only."""
    staged = path.with_name(path.name + ".tmp")
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    staged.replace(path)


def log_tail(path: Path) -> str:
    """The last lines of a log, for an error message."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    tail = " | ".join(line.strip() for line in lines[-LOG_TAIL_LINES:])
    return f" (last lines: {tail})" if tail else ""


class CaddyProcess:
    def __init__(
        self,
        binary: str,
        directory: Path,
        *,
        name: str,
        startup_timeout_seconds: float = 10.0,
        stop_timeout_seconds: float = 5.0,
    ) -> None:
        self.binary = binary
        self.directory = directory.resolve()
        self.name = name
        self.startup_timeout_seconds = startup_timeout_seconds
        self.stop_timeout_seconds = stop_timeout_seconds
        self._child: subprocess.Popen[bytes] | None = None
        self._adopted: int | None = None

    @property
    def config_path(self) -> Path:
        return self.directory / f"{self.name}.json"

    @property
    def stderr_path(self) -> Path:
        return self.directory / f"{self.name}.stderr"

    @property
    def pid_path(self) -> Path:
        return self.directory / f"{self.name}.pid"

    @property
    def pid(self) -> int | None:
        """The running process's id (started or adopted), or None when none runs."""
        if self._child is not None and self._child.poll() is None:
            return self._child.pid
        if self._adopted is not None and running(self._adopted):
            return self._adopted
        return None

    def left_running(self) -> int | None:
        """The pid of this layer's Caddy if one runs (started by anybody, on this directory)."""
        try:
            pid = int(self.pid_path.read_text().strip())
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return None
        # The pid may have been reused: it must be `caddy run` with our config file.
        mine = b"run" in args and str(self.config_path).encode() in args
        return pid if mine and running(pid) else None

    async def adopt(self) -> bool:
        """Take over the Caddy a previous runner started here and left running, if any."""
        if self.pid is not None:
            return False
        self._adopted = await asyncio.to_thread(self.left_running)
        return self._adopted is not None

    async def launch(self, ready: Callable[[], Awaitable[bool]]) -> None:
        """Start `caddy run` on the config file and return once `ready()` (the admin API)
        answers. The file must exist: it is what was last applied (or the first config)."""
        if self.pid is not None:
            raise EdgeError(f"Caddy ({self.name}) is already running")
        self._adopted = None
        binary = shutil.which(self.binary)
        if binary is None:
            raise EdgeError(
                f"Caddy binary '{self.binary}' not found: install Debian's caddy, set "
                "edge.caddy_binary, or set edge.manage = false to use a Caddy you run yourself"
            )
        if not self.config_path.is_file():
            raise EdgeError(f"Caddy ({self.name}) has no config file {self.config_path}")
        self._child = await asyncio.to_thread(self._start, binary)
        await asyncio.to_thread(self.pid_path.write_text, f"{self._child.pid}\n")
        await self._wait_ready(ready)

    def _start(self, binary: str) -> subprocess.Popen[bytes]:
        for directory in (self.directory / "data", self.directory / "config"):
            directory.mkdir(mode=0o700, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            if self.stderr_path.stat().st_size > MAX_STDERR_BYTES:
                self.stderr_path.replace(self.stderr_path.with_name(self.stderr_path.name + ".1"))
        # Only these variables: Caddy writes nothing outside its directory and sees no secrets.
        env = {
            "HOME": str(self.directory),
            "XDG_DATA_HOME": str(self.directory / "data"),
            "XDG_CONFIG_HOME": str(self.directory / "config"),
        }
        with self.stderr_path.open("ab") as output:
            try:
                # Popen, not an asyncio subprocess: asyncio kills its children when its loop
                # closes, and Caddy must outlive whoever started it.
                return subprocess.Popen(
                    [binary, "run", "--config", str(self.config_path)],
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=output,
                    env=env,
                    cwd=self.directory,
                    start_new_session=True,  # no terminal's Ctrl-C, no parent's death reaches it
                )
            except OSError as exc:
                raise EdgeError(f"cannot start Caddy ({binary}): {exc}") from exc

    async def wait(self) -> int | None:
        """Until the process exits; its exit code (None for an adopted one)."""
        pid = self.pid
        if pid is None and self._child is None and self._adopted is None:
            raise EdgeError(f"Caddy ({self.name}) was never started")
        if pid is not None:
            await exited(pid)
        if self._child is not None:
            return await asyncio.to_thread(self._child.wait)  # reaps it: no zombie left
        return None

    async def terminate(self) -> None:
        """SIGTERM, wait up to stop_timeout_seconds, then SIGKILL."""
        pid = self.pid
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(self.wait(), self.stop_timeout_seconds)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            await self.wait()
        self._adopted = None
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(self.pid_path.unlink)

    async def _wait_ready(self, ready: Callable[[], Awaitable[bool]]) -> None:
        child = self._child
        assert child is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.startup_timeout_seconds
        while not await ready():
            code = child.poll()
            if code is not None:
                raise EdgeError(
                    f"Caddy ({self.name}) exited with code {code} while starting; see "
                    f"{self.stderr_path}{await asyncio.to_thread(log_tail, self.stderr_path)}"
                )
            if loop.time() > deadline:
                await self.terminate()
                raise EdgeError(
                    f"Caddy's admin API ({self.name}) did not answer within "
                    f"{self.startup_timeout_seconds:g} s; see {self.stderr_path}"
                )
            await asyncio.sleep(POLL_SECONDS)


def running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


async def exited(pid: int) -> None:
    """Until a process exits (a pidfd turns readable then; a zombie counts as exited)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not done.done():
            done.set_result(None)

    loop.add_reader(fd, readable)
    try:
        await done
    finally:
        loop.remove_reader(fd)
        os.close(fd)
