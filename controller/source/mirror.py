"""Per-app bare git mirrors: incremental fetch and exact-commit export (GitPython, in threads).

Every git command gets its user input after `--` or inside a refspec, so a URL or branch can
never become a git option; `ext::` is always refused and local paths only when allowed.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO, TypeVar

from git.cmd import Git

from controller.errors import GitError

T = TypeVar("T")

_COMMIT = re.compile(r"^[0-9a-f]{7,40}$")
_FULL_SHA_LENGTH = 40
_APP = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# userinfo of any URL-looking text, e.g. https://user:token@host -> https://***@host
_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")

# Never wait for a human: no terminal prompt, an empty password, ssh in batch mode.
# GIT_PROTOCOL_FROM_USER=0 also refuses remote helpers git calls "user" protocols (fd::, ...).
_GIT_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_ASKPASS": "/bin/true",
    "GIT_SSH_COMMAND": "ssh -oBatchMode=yes",
    "GIT_PROTOCOL_FROM_USER": "0",
}
# git archive honours export-ignore/export-subst from the commit's .gitattributes; the mirror's
# info/attributes has the highest precedence, so this keeps the export the exact tree.
_EXACT_TREE_ATTRIBUTES = "* -export-ignore -export-subst\n"
_GENERIC_FAILURE = "Could not read from remote repository."


def redact(text: str) -> str:
    """Hide the userinfo (credentials) of every URL in `text`."""
    return _USERINFO.sub("***@", text)


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    message: str
    author: str


@dataclass(frozen=True)
class _Outcome:
    status: int
    stdout: str
    stderr: str
    timed_out: bool

    @property
    def reason(self) -> str:
        """The one line of stderr that explains the failure, without git's prefix."""
        lines = [line.strip() for line in self.stderr.splitlines() if line.strip()]
        explained = [
            line.split(":", 1)[1].strip()
            for line in lines
            if line.startswith(("fatal:", "error:")) and _GENERIC_FAILURE not in line
        ]
        # ssh and remote helpers print the real cause on a line of their own before git's
        # generic "Could not read from remote repository."
        reason = explained[0] if explained else (lines[0] if lines else "")
        return redact(reason) or f"git exited with status {self.status}"


class GitSync:
    """Keeps one bare mirror per app under `root` and exports exact commits from it."""

    def __init__(self, root: Path, *, allow_local: bool, timeout_seconds: float = 120.0) -> None:
        self._root = root
        self._allow_local = allow_local
        self._timeout_seconds = timeout_seconds
        self._locks: dict[str, asyncio.Lock] = {}
        # A cancelled caller releases its asyncio lock while its thread still runs git, so the
        # thread also holds a per-app thread lock: a mirror never sees two git commands at once.
        self._thread_locks: dict[str, threading.Lock] = {}
        self._thread_locks_guard = threading.Lock()

    def mirror_path(self, app: str) -> Path:
        """Where the bare mirror of `app` lives."""
        if not _APP.fullmatch(app):
            raise ValueError(f"invalid app name {app!r}")
        return self._root / f"{app}.git"

    async def resolve(
        self, app: str, url: str, branch: str, commit: str | None = None
    ) -> CommitInfo:
        """Fetch what is new on `branch` and return its head, or the named `commit`."""
        if commit is not None:
            _check_commit(commit)

        def work() -> CommitInfo:
            mirror = self._ensure_mirror(app)
            self._fetch_branch(mirror, url, branch)
            if commit is None:
                sha = self._find_commit(mirror, f"refs/heads/{branch}")
                if sha is None:
                    raise GitError(f"branch {branch!r} has no commit in {redact(url)}")
            else:
                sha = self._locate(mirror, url, branch, commit, branch_fetched=True)
            return self._commit_info(mirror, sha)

        return await self._locked(app, work)

    async def export(self, app: str, url: str, branch: str, sha: str, dest: Path) -> None:
        """Write the exact tree of commit `sha` into `dest` (created; must be empty)."""
        _check_commit(sha)

        def work() -> None:
            mirror = self._ensure_mirror(app)
            full_sha = self._locate(mirror, url, branch, sha, branch_fetched=False)
            dest.mkdir(parents=True, exist_ok=True)
            if any(dest.iterdir()):
                raise ValueError(f"export destination {dest} is not empty")
            with tempfile.TemporaryFile() as archive:
                outcome = self._git(mirror, ["archive", "--format=tar", full_sha], output=archive)
                if outcome.status != 0:
                    raise GitError(f"cannot export commit {full_sha[:12]}: {outcome.reason}")
                archive.seek(0)
                _extract(archive, dest, full_sha)

        await self._locked(app, work)

    async def remote_head(self, url: str, branch: str) -> str:
        """The sha `branch` points at on the remote now (`git ls-remote`; nothing is fetched)."""

        def work() -> str:
            self._root.mkdir(parents=True, exist_ok=True)
            self._check_branch(self._root, branch)
            ref = f"refs/heads/{branch}"
            # `--` ends the options: the URL is only ever a repository, never an option.
            args = ["ls-remote", "--quiet", "--exit-code", "--", url, ref]
            outcome = self._git(self._root, args, config=self._protocol_config())
            if outcome.timed_out:
                raise _fetch_error(url, outcome, self._timeout_seconds)
            # ls-remote patterns match ref name tails, so keep only the exact ref.
            for line in outcome.stdout.splitlines():
                sha, _, name = line.partition("\t")
                if name.strip() == ref and _COMMIT.fullmatch(sha.strip()):
                    return sha.strip()
            if outcome.status in (0, 2):  # 2: --exit-code found no matching ref
                raise GitError(f"branch {branch!r} does not exist in {redact(url)}")
            raise GitError(f"cannot list the branches of {redact(url)}: {outcome.reason}")

        return await asyncio.to_thread(work)

    async def is_ancestor(self, app: str, older: str, newer: str) -> bool:
        """True when commit `older` is `newer` or one of its ancestors, in the app's mirror.

        False when either commit is not in the mirror: a commit never fetched cannot be an
        ancestor of one that was (fetching a commit brings its whole history).
        """
        _check_commit(older)
        _check_commit(newer)

        def work() -> bool:
            mirror = self.mirror_path(app)
            if not (mirror / "HEAD").is_file():
                return False
            older_sha = self._find_commit(mirror, older)
            newer_sha = self._find_commit(mirror, newer)
            if older_sha is None or newer_sha is None:
                return False
            outcome = self._git(mirror, ["merge-base", "--is-ancestor", older_sha, newer_sha])
            if outcome.status in (0, 1):  # 0: ancestor, 1: not; anything else is an error
                return outcome.status == 0
            raise GitError(
                f"cannot compare commits {older_sha[:12]} and {newer_sha[:12]}: {outcome.reason}"
            )

        return await self._locked(app, work)

    async def remove(self, app: str) -> None:
        """Delete the mirror of `app` (nothing happens when there is none)."""
        mirror = self.mirror_path(app)
        await self._locked(app, lambda: shutil.rmtree(mirror, ignore_errors=True))

    async def _locked(self, app: str, work: Callable[[], T]) -> T:
        self.mirror_path(app)  # validates the name before any lock is made for it
        lock = self._locks.setdefault(app, asyncio.Lock())
        async with lock:
            return await asyncio.to_thread(self._with_thread_lock, app, work)

    def _with_thread_lock(self, app: str, work: Callable[[], T]) -> T:
        with self._thread_locks_guard:
            lock = self._thread_locks.setdefault(app, threading.Lock())
        with lock:
            return work()

    # Everything below runs in a worker thread.

    def _ensure_mirror(self, app: str) -> Path:
        mirror = self.mirror_path(app)
        if (mirror / "HEAD").is_file():
            return mirror
        mirror.mkdir(parents=True, exist_ok=True)
        outcome = self._git(mirror, ["init", "--bare", "--quiet"])
        if outcome.status != 0:
            raise GitError(f"cannot create the git mirror for {app}: {outcome.reason}")
        (mirror / "info").mkdir(exist_ok=True)
        (mirror / "info" / "attributes").write_text(_EXACT_TREE_ATTRIBUTES)
        return mirror

    def _check_branch(self, cwd: Path, branch: str) -> None:
        if (
            not branch
            or branch.startswith("-")
            or self._git(cwd, ["check-ref-format", f"refs/heads/{branch}"]).status != 0
        ):
            raise GitError(f"{branch!r} is not a valid branch name")

    def _fetch_branch(self, mirror: Path, url: str, branch: str) -> None:
        self._check_branch(mirror, branch)
        outcome = self._fetch(mirror, url, f"+refs/heads/{branch}:refs/heads/{branch}")
        if outcome.status == 0:
            return
        if "couldn't find remote ref" in outcome.stderr:
            raise GitError(f"branch {branch!r} does not exist in {redact(url)}")
        raise _fetch_error(url, outcome, self._timeout_seconds)

    def _locate(
        self, mirror: Path, url: str, branch: str, commit: str, *, branch_fetched: bool
    ) -> str:
        """Full sha of `commit`, fetching the branch and then the sha itself when missing."""
        sha = self._find_commit(mirror, commit)
        if sha is None and not branch_fetched:
            self._fetch_branch(mirror, url, branch)
            sha = self._find_commit(mirror, commit)
        if sha is None and len(commit) == _FULL_SHA_LENGTH:
            # A commit no longer on the branch (force-push) can still be served by its sha;
            # the pin ref keeps it from being garbage-collected out of the mirror.
            outcome = self._fetch(mirror, url, f"+{commit}:refs/fogbank/pinned/{commit}")
            if outcome.timed_out:
                raise _fetch_error(url, outcome, self._timeout_seconds)
            sha = self._find_commit(mirror, commit)
        if sha is None:
            raise GitError(f"commit {commit} not found in branch {branch!r} of the repository")
        return sha

    def _find_commit(self, mirror: Path, rev: str) -> str | None:
        outcome = self._git(mirror, ["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"])
        return outcome.stdout.strip() if outcome.status == 0 else None

    def _commit_info(self, mirror: Path, sha: str) -> CommitInfo:
        outcome = self._git(
            mirror,
            ["show", "--no-patch", "--no-show-signature", "--format=%H%x00%an <%ae>%x00%B", sha],
        )
        if outcome.status != 0:
            raise GitError(f"cannot read commit {sha[:12]}: {outcome.reason}")
        full_sha, author, message = outcome.stdout.split("\x00", 2)
        return CommitInfo(sha=full_sha.strip(), message=message.strip(), author=author)

    def _protocol_config(self) -> list[str]:
        file_policy = "always" if self._allow_local else "never"
        return ["-c", "protocol.ext.allow=never", "-c", f"protocol.file.allow={file_policy}"]

    def _fetch(self, mirror: Path, url: str, refspec: str) -> _Outcome:
        config = self._protocol_config()
        # `--` ends the options: the URL is only ever a repository, never e.g. --upload-pack=...
        args = ["fetch", "--quiet", "--no-tags", "--no-recurse-submodules", "--", url, refspec]
        return self._git(mirror, args, config=config)

    def _git(
        self,
        cwd: Path,
        args: list[str],
        *,
        config: list[str] | None = None,
        output: BinaryIO | None = None,
    ) -> _Outcome:
        command = ["git", *(config or []), *args]
        started = time.monotonic()
        status, stdout, stderr = Git(str(cwd)).execute(
            command,
            with_extended_output=True,
            with_exceptions=False,
            output_stream=output,
            kill_after_timeout=self._timeout_seconds,
            env=_GIT_ENV,
        )
        timed_out = time.monotonic() - started >= self._timeout_seconds
        text = stdout.decode(errors="replace") if isinstance(stdout, bytes) else str(stdout or "")
        return _Outcome(status=status, stdout=text, stderr=stderr, timed_out=timed_out)


def _check_commit(commit: str) -> None:
    if not _COMMIT.fullmatch(commit):
        raise GitError(f"{commit!r} is not a commit sha (7 to 40 lowercase hex digits)")


def _fetch_error(url: str, outcome: _Outcome, timeout_seconds: float) -> GitError:
    if outcome.timed_out:
        return GitError(f"fetching {redact(url)} timed out after {timeout_seconds:g} seconds")
    return GitError(f"cannot fetch {redact(url)}: {outcome.reason}")


def _extract(archive: IO[bytes], dest: Path, sha: str) -> None:
    try:
        with tarfile.open(fileobj=archive, mode="r:") as tar:
            # "data" refuses absolute paths, links leaving dest, devices and setuid bits
            tar.extractall(dest, filter="data")
    except tarfile.FilterError as err:
        raise GitError(f"commit {sha[:12]} cannot be exported safely: {err}") from err
    except (tarfile.TarError, OSError) as err:
        raise GitError(f"cannot write commit {sha[:12]} to {dest}: {err}") from err
