"""The edge runner as a process of its own: the lock that says one runs on a directory, starting
one detached (what fogbank does when no systemd unit runs it), and the deliberate teardown
(`fogbank edge stop`). fogbank itself never stops the edge."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import subprocess
import sys
from pathlib import Path

from controller.edge.caddy import (
    MAX_STDERR_BYTES,
    CaddyProcess,
    config_bytes,
    log_tail,
    running,
    write_private,
)
from controller.edge.config import front_config, switch_config
from controller.edge.layout import EdgeLayout
from controller.errors import EdgeError

LOCK_FILE = "edge.lock"
PID_FILE = "edge.pid"
LOG_FILE = "edge.log"
LAYERS = ("switch", "front")  # start order; stopped in reverse (clients see a closed port first)
# The front's name before the runner existed: a Caddy an older fogbank left running is stopped too.
OLDER_NAMES = ("caddy",)
DETACH_TIMEOUT_SECONDS = 10.0
STOP_POLL_SECONDS = 0.05
# The runner sees no secret: only what Python and Caddy need.
RUNNER_ENV = ("PATH", "PYTHONPATH", "LANG", "LC_ALL", "TZ")


def prepare_directory(layout: EdgeLayout) -> None:
    """The edge directory, private (0700: its admin sockets can rewrite every route), with a
    first config for each layer that has none (no routes yet; fogbank applies them)."""
    paths = layout.paths
    paths.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(paths.directory, 0o700)
    first = {"switch": switch_config((), layout), "front": front_config((), layout)}
    for layer, config in first.items():
        if not paths.config(layer).exists():
            write_private(paths.config(layer), config_bytes(config))


def hold_lock(directory: Path) -> int | None:
    """For the runner: an fd holding the directory's lock for as long as it stays open, or None
    when another runner holds it."""
    fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def runner_pid(directory: Path) -> int | None:
    """The pid of the runner holding the lock, or None when no runner runs."""
    if not (directory / LOCK_FILE).exists():
        return None
    fd = hold_lock(directory)
    if fd is not None:
        os.close(fd)  # nobody held it
        return None
    try:
        return int((directory / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return 0  # held, but the runner has not written its pid yet


def spawn(layout: EdgeLayout) -> None:
    """Start `python -m controller.edge` detached: it forks, its parent exits at once, and the
    runner lives on in its own session, outside fogbank's process tree."""
    directory, settings = layout.paths.directory, layout.settings
    log = directory / LOG_FILE
    with contextlib.suppress(FileNotFoundError):
        if log.stat().st_size > MAX_STDERR_BYTES:
            log.replace(log.with_name(LOG_FILE + ".1"))
    command = [
        sys.executable,
        "-m",
        "controller.edge",
        "--detach",
        "--caddy",
        settings.caddy_binary,
        "--stop-timeout",
        f"{settings.drain_seconds + 3.0:g}",
        str(directory),
    ]
    env = {name: os.environ[name] for name in RUNNER_ENV if name in os.environ}
    with log.open("ab") as output:
        child = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            cwd=directory,
            env=env,
            start_new_session=True,
        )
    try:
        code = child.wait(DETACH_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired as exc:
        child.kill()
        child.wait()
        raise EdgeError(f"the edge runner did not detach; see {log}{log_tail(log)}") from exc
    if code != 0:
        raise EdgeError(f"the edge runner failed to start (exit {code}); see {log}{log_tail(log)}")


async def stop_edge(layout: EdgeLayout, timeout_seconds: float = 30.0) -> list[str]:
    """Stop the runner (it stops both Caddy layers, front first) and any Caddy of this directory
    left without one; what was stopped, for the operator."""
    directory = layout.paths.directory
    stopped: list[str] = []
    pid = await asyncio.to_thread(runner_pid, directory)
    if pid:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_seconds
        while await asyncio.to_thread(runner_pid, directory) is not None:
            if loop.time() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                break
            await asyncio.sleep(STOP_POLL_SECONDS)
        stopped.append(f"edge runner (pid {pid})")
    for layer in (*reversed(LAYERS), *OLDER_NAMES):
        process = CaddyProcess(layout.settings.caddy_binary, directory, name=layer)
        if await process.adopt():
            stopped.append(f"Caddy {layer} (pid {process.pid})")
            await process.terminate()
    return stopped


def edge_pids(layout: EdgeLayout) -> dict[str, int]:
    """The running edge processes of this directory: runner, switch, front."""
    directory = layout.paths.directory
    found: dict[str, int] = {}
    pid = runner_pid(directory)
    if pid and running(pid):
        found["runner"] = pid
    for layer in LAYERS:
        caddy = CaddyProcess(layout.settings.caddy_binary, directory, name=layer).left_running()
        if caddy is not None:
            found[layer] = caddy
    return found
