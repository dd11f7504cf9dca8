"""One of our Caddy processes: `caddy run` with its config, pid file, state and log under one
directory, started until its admin API answers and stopped with a bound.

Caddy runs in its own session and outlives a fogbank that crashes (kill -9), so traffic keeps
flowing; the next fogbank on the same data directory adopts it through the pid file instead of
starting another. A clean stop ends it. Restarts (supervision) live in controller/edge.py."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from controller.errors import EdgeError

POLL_SECONDS = 0.05
LOG_TAIL_LINES = 5


def config_bytes(config: dict[str, Any]) -> bytes:
    """The one serialisation of a config, for the file and /load alike: Caddy skips a reload
    whose body is byte-for-byte the config it runs."""
    return json.dumps(config, sort_keys=True, separators=(",", ":")).encode()


class CaddyProcess:
    def __init__(
        self,
        binary: str,
        directory: Path,
        *,
        name: str = "caddy",
        startup_timeout_seconds: float = 10.0,
        stop_timeout_seconds: float = 5.0,
    ) -> None:
        self.binary = binary
        self.directory = directory.resolve()
        self.name = name
        self.startup_timeout_seconds = startup_timeout_seconds
        self.stop_timeout_seconds = stop_timeout_seconds
        self._child: asyncio.subprocess.Process | None = None
        self._adopted: int | None = None

    @property
    def config_path(self) -> Path:
        return self.directory / f"{self.name}.json"

    @property
    def log_path(self) -> Path:
        return self.directory / f"{self.name}.log"

    @property
    def pid_path(self) -> Path:
        return self.directory / f"{self.name}.pid"

    @property
    def pid(self) -> int | None:
        """The running process's id (started or adopted), or None when none runs."""
        if self._child is not None and self._child.returncode is None:
            return self._child.pid
        if self._adopted is not None and _running(self._adopted):
            return self._adopted
        return None

    async def adopt(self) -> bool:
        """Take over the Caddy a previous fogbank started here and left running, if there is one."""
        if self.pid is not None:
            return False
        pid = await asyncio.to_thread(self._left_running)
        self._adopted = pid
        return pid is not None

    async def launch(self, config: dict[str, Any], ready: Callable[[], Awaitable[bool]]) -> None:
        """Start `caddy run` with `config` and return once `ready()` (the admin API) answers."""
        if self.pid is not None:
            raise EdgeError(f"Caddy ({self.name}) is already running")
        self._adopted = None
        binary = shutil.which(self.binary)
        if binary is None:
            raise EdgeError(
                f"Caddy binary '{self.binary}' not found: install Debian's caddy, set "
                "edge.caddy_binary, or set edge.manage = false to use a Caddy you run yourself"
            )
        await asyncio.to_thread(self._prepare, config)
        # Only these variables: Caddy writes nothing outside its directory and sees no secrets.
        env = {
            "HOME": str(self.directory),
            "XDG_DATA_HOME": str(self.directory / "data"),
            "XDG_CONFIG_HOME": str(self.directory / "config"),
        }
        log = await asyncio.to_thread(self.log_path.open, "ab")
        try:
            self._child = await asyncio.create_subprocess_exec(
                binary,
                "run",
                "--config",
                str(self.config_path),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=env,
                cwd=self.directory,
                # Its own session: neither Ctrl-C on fogbank nor fogbank's death reaches it.
                start_new_session=True,
            )
        except OSError as exc:
            raise EdgeError(f"cannot start Caddy ({binary}): {exc}") from exc
        finally:
            log.close()
        await asyncio.to_thread(self.pid_path.write_text, f"{self._child.pid}\n")
        await self._wait_ready(ready)

    async def wait(self) -> int | None:
        """Until the process exits; its exit code (None for an adopted one)."""
        if self._adopted is not None:
            await _exited(self._adopted)
            return None
        if self._child is not None:
            return await self._child.wait()
        raise EdgeError(f"Caddy ({self.name}) was never started")

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
            if loop.time() > deadline:
                await self.terminate()
                raise EdgeError(
                    f"Caddy's admin API did not answer within {self.startup_timeout_seconds:g} s"
                    f"; see {self.log_path}{await self._log_tail()}"
                )
            # Waiting on the process doubles as the poll interval and notices an early exit
            # (Process.wait is safe to cancel).
            with contextlib.suppress(TimeoutError):
                code = await asyncio.wait_for(child.wait(), POLL_SECONDS)
                raise EdgeError(
                    f"Caddy ({self.name}) exited with code {code} while starting; see "
                    f"{self.log_path}{await self._log_tail()}"
                )

    def _left_running(self) -> int | None:
        try:
            pid = int(self.pid_path.read_text().strip())
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return None
        # The pid may have been reused: it must be `caddy run` with our config file.
        mine = b"run" in args and str(self.config_path).encode() in args
        return pid if mine and _running(pid) else None

    def _prepare(self, config: dict[str, Any]) -> None:
        # Private: the switch's admin socket in here can rewrite every route.
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        for directory in (self.directory / "data", self.directory / "config"):
            directory.mkdir(exist_ok=True)
        staged = self.config_path.with_suffix(".json.tmp")
        staged.write_bytes(config_bytes(config))
        staged.replace(self.config_path)

    async def _log_tail(self) -> str:
        def read() -> str:
            try:
                lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                return ""
            return " | ".join(lines[-LOG_TAIL_LINES:])

        tail = await asyncio.to_thread(read)
        return f" (last lines: {tail})" if tail else ""


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


async def _exited(pid: int) -> None:
    """Until a process we did not start exits (a pidfd turns readable then)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    loop = asyncio.get_running_loop()
    exited: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not exited.done():
            exited.set_result(None)

    loop.add_reader(fd, readable)
    try:
        await exited
    finally:
        loop.remove_reader(fd)
        os.close(fd)
