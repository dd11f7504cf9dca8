"""git as a child process that a cancelled caller stops at once.

Each git runs in its own process group (with its helpers: git-remote-https, ssh, index-pack).
Cancellation or the timeout sends the group SIGTERM (git then deletes its lock files and
temporary packs), SIGKILL after a short grace, and reaps git before the caller goes on.
Arguments are lists, never a shell; configuration and credentials go through the environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Generic, TypeVar

from controller.errors import FogbankError, GitError
from controller.source.remote import redact

T = TypeVar("T")

_STOP_GRACE_SECONDS = 0.3
# Never wait for a human: no terminal prompt, an empty password, ssh in batch mode.
# GIT_PROTOCOL_FROM_USER=0 also refuses remote helpers git calls "user" protocols (fd::, ...).
_GIT_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_ASKPASS": "/bin/true",
    "GIT_SSH_COMMAND": "ssh -oBatchMode=yes",
    "GIT_PROTOCOL_FROM_USER": "0",
}
# Inherited variables that would point git at another repository or add configuration.
_NOT_INHERITED = frozenset(
    {
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_COMMON_DIR",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_NAMESPACE",
        "GIT_ALLOW_PROTOCOL",
        "GIT_CONFIG_PARAMETERS",
        # Traces would copy the request headers (credentials) into stderr, then into errors.
        "GIT_TRACE",
        "GIT_TRACE_CURL",
        "GIT_TRACE_PACKET",
        "GIT_TRACE_REDACT",
        "GIT_CURL_VERBOSE",
        "GIT_SSH",
    }
)
_GENERIC_FAILURE = "Could not read from remote repository."
_REDIRECT = re.compile(r"The requested URL returned error: (30[12378])\b")
_SSH_VERDICTS = ("Host key verification failed", "Permission denied")


def git_env(
    config: Sequence[tuple[str, str]] = (), protocols: Sequence[str] = ()
) -> dict[str, str]:
    """The environment of one git command: `config` as command-line-scope settings, and the
    only transports git may use (GIT_ALLOW_PROTOCOL overrides every protocol.* setting, also a
    user's global config; an empty list allows none).

    GIT_CONFIG_KEY_n/VALUE_n reach git and its helpers without appearing in any argv, which
    is where credentials belong (an environment is readable only by its own user).
    """
    env = {key: value for key, value in os.environ.items() if key not in _NOT_INHERITED}
    env.update(_GIT_ENV)
    env["GIT_ALLOW_PROTOCOL"] = ":".join(protocols)
    env["GIT_CONFIG_COUNT"] = str(len(config))
    for index, (key, value) in enumerate(config):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env


@dataclass(frozen=True)
class Outcome:
    status: int
    stdout: bytes
    stderr: str

    @property
    def text(self) -> str:
        return self.stdout.decode(errors="replace")

    @property
    def reason(self) -> str:
        """The one line of stderr that explains the failure, without git's prefix."""
        lines = [line.strip() for line in self.stderr.splitlines() if line.strip()]
        # ssh's verdict comes last, after a banner (a changed host key) or warnings.
        verdicts = [
            line
            for line in lines
            if line.startswith(_SSH_VERDICTS) or ": Permission denied" in line
        ]
        if verdicts:
            return redact(verdicts[-1])
        explained = [
            line.split(":", 1)[1].strip()
            for line in lines
            if line.startswith(("fatal:", "error:")) and _GENERIC_FAILURE not in line
        ]
        # ssh and remote helpers print the real cause on a line of their own before git's
        # generic "Could not read from remote repository."
        reason = explained[0] if explained else (lines[0] if lines else "")
        return redact(reason) or f"git exited with status {self.status}"


@dataclass(frozen=True)
class Streamed(Generic[T]):
    """A streamed command: git's outcome, and what the consumer returned or raised."""

    outcome: Outcome
    result: T | None
    error: Exception | None


async def run_git(
    args: Sequence[str], *, cwd: Path, env: dict[str, str], timeout_seconds: float
) -> Outcome:
    """Run git to the end and collect its output; TimeoutError once `timeout_seconds` pass."""
    async with asyncio.timeout(timeout_seconds):
        process = await _spawn(args, cwd, env, asyncio.subprocess.PIPE)
        try:
            stdout, stderr = await process.communicate()
        except BaseException:
            await stop(process)
            raise
    return Outcome(_status(process), stdout, stderr.decode(errors="replace"))


async def stream_git(
    args: Sequence[str],
    *,
    cwd: Path,
    env: dict[str, str],
    timeout_seconds: float,
    consume: Callable[[BinaryIO], T],
) -> Streamed[T]:
    """Run git with its stdout read by `consume` in a thread, as it is produced.

    When `consume` raises, git is stopped at once; when the caller is cancelled (or the timeout
    passes) git is stopped, which ends the consumer's reads, and the thread is awaited.
    """
    read_fd, write_fd = os.pipe()
    source = io.FileIO(read_fd, "r")  # closed below, after the thread is done with it
    try:
        async with asyncio.timeout(timeout_seconds):
            try:
                process = await _spawn(args, cwd, env, write_fd)
            finally:
                os.close(write_fd)  # git holds the only write end: its exit is our EOF
            return await _consume(process, source, consume)
    finally:
        source.close()


async def _consume(
    process: asyncio.subprocess.Process, source: BinaryIO, consume: Callable[[BinaryIO], T]
) -> Streamed[T]:
    def read_all() -> T:
        with source:  # closing the read end at once makes a git still writing stop on EPIPE
            return consume(source)

    consumed = asyncio.get_running_loop().run_in_executor(None, read_all)
    assert process.stderr is not None
    errors = asyncio.ensure_future(process.stderr.read())
    result: T | None = None
    error: Exception | None = None
    try:
        try:
            result = await asyncio.shield(consumed)
        except Exception as exc:
            error = exc
            await stop(process)
        await process.wait()
    except BaseException:
        await stop(process)
        await asyncio.wait([consumed])  # git is gone, so the thread's next read returns EOF
        raise
    finally:
        stderr = await errors
    return Streamed(Outcome(_status(process), b"", stderr.decode(errors="replace")), result, error)


async def stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM git's process group, SIGKILL whatever is left after a grace, reap git."""
    if process.returncode is not None:
        return
    _signal_group(process.pid, signal.SIGTERM)
    try:
        async with asyncio.timeout(_STOP_GRACE_SECONDS):
            await process.wait()
    except TimeoutError:
        pass
    finally:
        # Helpers (git-remote-https, ssh) share the group and may outlive git itself.
        _signal_group(process.pid, signal.SIGKILL)
    await process.wait()


async def in_thread(work: Callable[[], T]) -> T:
    """Run short local work (GitPython reads, file removal) in a thread.

    A cancelled caller still waits for the thread to end, so whoever holds the mirror lock
    never leaves a thread working in the mirror after releasing it.
    """
    future = asyncio.get_running_loop().run_in_executor(None, work)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        await asyncio.wait([future])
        raise


async def _spawn(
    args: Sequence[str], cwd: Path, env: dict[str, str], stdout: int
) -> asyncio.subprocess.Process:
    spawning = asyncio.ensure_future(
        asyncio.create_subprocess_exec(
            "git",
            *args,
            cwd=cwd,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=stdout,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # its own process group, so stop() reaches its helpers
        )
    )
    try:
        return await asyncio.shield(spawning)
    except FileNotFoundError as exc:
        raise GitError("git is not installed on this host") from exc
    except asyncio.CancelledError:
        # The process may exist already: stop it rather than leave it running unowned.
        with contextlib.suppress(FogbankError, OSError):
            await stop(await spawning)
        raise


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


def _status(process: asyncio.subprocess.Process) -> int:
    assert process.returncode is not None  # only read after wait()
    return process.returncode


def fetch_error(url: str, outcome: Outcome, action: str = "fetch") -> GitError:
    """The error of a failed network command, naming the remote without credentials."""
    shown = redact(url)
    redirect = _REDIRECT.search(outcome.stderr)
    if redirect is not None:
        return GitError(
            f"{shown} answers with a redirect (HTTP {redirect.group(1)}) and fogbank does not "
            "follow redirects of git remotes: set gitRepository to the repository's current URL"
        )
    return GitError(f"cannot {action} {shown}: {outcome.reason}")
