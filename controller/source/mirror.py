"""Per-app bare git mirrors: incremental fetch, reachability checks and exact-commit export.

Network and heavy commands (fetch, ls-remote, archive) are child processes a cancelled caller
stops at once (process.py); reads of the mirror use GitPython in a thread (commits.py). User
input reaches git only after `--`, inside a refspec, or checked as a sha first, so a URL or
branch never becomes a git option. Credentials and keys reach git as access.py says.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from controller.errors import GitError
from controller.source import commits
from controller.source.access import remote_of, ssh_identity
from controller.source.archive import DEFAULT_MAX_CONTEXT_BYTES, DEFAULT_MAX_FILES, Limits
from controller.source.commits import CommitInfo
from controller.source.export import export_tree
from controller.source.process import Outcome, fetch_error, git_env, in_thread, run_git
from controller.source.remote import Remote, as_remote, redact
from controller.store.models import App

__all__ = ["CommitInfo", "GitSync", "Remote", "redact"]

_COMMIT = re.compile(r"^[0-9a-f]{7,40}$")
_FULL_SHA_LENGTH = 40
_APP = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# git archive honours export-ignore/export-subst from the commit's .gitattributes; the mirror's
# info/attributes has the highest precedence, so this keeps the export the exact tree.
_EXACT_TREE_ATTRIBUTES = "* -export-ignore -export-subst\n"
_BRANCHES = "refs/remotes/origin/"
_ALL_BRANCHES = f"+refs/heads/*:{_BRANCHES}*"
# A remote must not send git elsewhere: no redirects (one to loopback or a private address
# would reach internal services with the app's credentials), and every object it sends is
# checked before it lands in the mirror.
_TRANSFER_CONFIG = (("http.followRedirects", "false"), ("transfer.fsckObjects", "true"))


class GitSync:
    """Keeps one bare mirror per app under `root` and exports exact commits from it."""

    def __init__(
        self,
        root: Path,
        *,
        allow_local: bool,
        timeout_seconds: float = 120.0,
        max_context_bytes: int = DEFAULT_MAX_CONTEXT_BYTES,
        max_files: int = DEFAULT_MAX_FILES,
    ) -> None:
        self._root = root
        self._protocols = ("https", "ssh", "file") if allow_local else ("https", "ssh")
        self._timeout_seconds = timeout_seconds
        self._limits = Limits(max_context_bytes=max_context_bytes, max_files=max_files)
        self._locks: dict[str, asyncio.Lock] = {}

    def remote_of(self, app: App) -> Remote:  # credentials, deploy key, known_hosts: access.py
        return remote_of(app, self._root)

    def mirror_path(self, app: str) -> Path:
        """Where the bare mirror of `app` lives."""
        if not _APP.fullmatch(app):
            raise ValueError(f"invalid app name {app!r}")
        return self._root / f"{app}.git"

    async def resolve(
        self,
        app: str,
        url: str | Remote,
        branch: str,
        commit: str | None = None,
        *,
        fetch_off_branch: bool = False,
    ) -> CommitInfo:
        """Fetch what is new on `branch` and return its head, or the named `commit`.

        `fetch_off_branch` (an admin's explicit choice) also fetches a full sha the branch
        does not contain, e.g. a pull request's head; by default such a commit is not found.
        """
        if commit is not None:
            _check_commit(commit)
        remote = as_remote(url)
        async with self._lock(app) as mirror:
            await self._fetch_branch(mirror, remote, branch)
            if commit is None:
                sha = await in_thread(lambda: commits.find_commit(mirror, f"refs/heads/{branch}"))
                if sha is None:
                    raise GitError(f"branch {branch!r} has no commit in {redact(remote.url)}")
            else:
                sha = await self._locate(mirror, remote, branch, commit, fetch_off_branch)
            found = sha
            return await in_thread(lambda: commits.commit_info(mirror, found))

    async def export(
        self,
        app: str,
        url: str | Remote,
        branch: str,
        sha: str,
        dest: Path,
        *,
        fetch_off_branch: bool = False,
    ) -> CommitInfo:
        """Write the exact tree of commit `sha` into `dest` (created; must be empty); return
        the commit (its message and author for a deployment named by `remote_head` alone).

        Within build.max_context_bytes and build.max_files, checked as the archive streams;
        on any failure `dest` is left as it was found (absent or empty).
        """
        _check_commit(sha)
        remote = as_remote(url)
        async with self._lock(app) as mirror:
            if await in_thread(lambda: commits.find_commit(mirror, sha)) is None:
                await self._fetch_branch(mirror, remote, branch)
            full_sha = await self._locate(mirror, remote, branch, sha, fetch_off_branch)
            await export_tree(
                mirror, full_sha, dest, self._limits, timeout_seconds=self._timeout_seconds
            )
            return await in_thread(lambda: commits.commit_info(mirror, full_sha))

    async def remote_head(self, url: str | Remote, branch: str) -> str:
        """The sha `branch` points at on the remote now (`git ls-remote`; nothing is fetched)."""
        remote = as_remote(url)
        await in_thread(lambda: self._root.mkdir(parents=True, exist_ok=True))
        await self._check_branch(self._root, branch)
        ref = f"refs/heads/{branch}"
        # `--` ends the options: the URL is only ever a repository, never an option.
        args = ["ls-remote", "--quiet", "--exit-code", "--", remote.url, ref]
        outcome = await self._network(self._root, remote, args)
        # ls-remote patterns match ref name tails, so keep only the exact ref.
        for line in outcome.text.splitlines():
            found, _, name = line.partition("\t")
            if name.strip() == ref and _COMMIT.fullmatch(found.strip()):
                return found.strip()
        if outcome.status in (0, 2):  # 2: --exit-code found no matching ref
            raise GitError(f"branch {branch!r} does not exist in {redact(remote.url)}")
        raise fetch_error(remote.url, outcome, "list the branches of")

    async def on_branch(self, app: str, url: str | Remote, branch: str, sha: str) -> bool:
        """Fetch `branch`; True when commit `sha` is reachable from its head."""
        _check_commit(sha)
        remote = as_remote(url)
        async with self._lock(app) as mirror:
            await self._fetch_branch(mirror, remote, branch)
            found = await in_thread(lambda: commits.find_commit(mirror, sha))
            if found is None:
                return False  # fetching the branch brought all of its history
            return await in_thread(
                lambda: commits.is_ancestor(mirror, found, f"refs/heads/{branch}")
            )

    async def on_any_branch(self, app: str, url: str | Remote, sha: str) -> bool:
        """Fetch every branch head of the remote; True when one of them reaches commit `sha`.

        Other refs (pull requests, tags) are not fetched, so a commit only they reach is False.
        """
        _check_commit(sha)
        remote = as_remote(url)
        async with self._lock(app) as mirror:
            outcome = await self._fetch(mirror, remote, _ALL_BRANCHES, prune=True)
            if outcome.status != 0:
                raise fetch_error(remote.url, outcome)
            found = await in_thread(lambda: commits.find_commit(mirror, sha))
            if found is None:
                return False
            listed = await self._git(
                mirror,
                [
                    "for-each-ref",
                    "--count=1",
                    "--format=%(refname)",
                    "--contains",
                    found,
                    _BRANCHES,
                ],
            )
            if listed.status != 0:
                raise GitError(f"cannot list the branches containing {found[:12]}: {listed.reason}")
            return bool(listed.text.strip())

    async def is_ancestor(self, app: str, older: str, newer: str) -> bool:
        """True when commit `older` is `newer` or one of its ancestors, in the app's mirror.

        False when either commit is not in the mirror: a commit never fetched cannot be an
        ancestor of one that was (fetching a commit brings its whole history).
        """
        _check_commit(older)
        _check_commit(newer)
        async with self._lock(app, create=False) as mirror:
            if not (mirror / "HEAD").is_file():
                return False
            older_sha = await in_thread(lambda: commits.find_commit(mirror, older))
            newer_sha = await in_thread(lambda: commits.find_commit(mirror, newer))
            if older_sha is None or newer_sha is None:
                return False
            return await in_thread(lambda: commits.is_ancestor(mirror, older_sha, newer_sha))

    async def has_commit(self, app: str, sha: str) -> bool:
        """Whether commit `sha` is in the app's mirror already (nothing is fetched)."""
        _check_commit(sha)
        async with self._lock(app, create=False) as mirror:
            if not (mirror / "HEAD").is_file():
                return False
            return await in_thread(lambda: commits.find_commit(mirror, sha)) is not None

    async def remove(self, app: str) -> None:
        """Delete the mirror of `app` (nothing happens when there is none)."""
        async with self._lock(app, create=False) as mirror:
            await in_thread(lambda: shutil.rmtree(mirror, ignore_errors=True))

    @asynccontextmanager
    async def _lock(self, app: str, *, create: bool = True) -> AsyncIterator[Path]:
        """Hold the app's mirror (one git operation at a time); yields its path."""
        mirror = self.mirror_path(app)  # validates the name before any lock is made for it
        async with self._locks.setdefault(app, asyncio.Lock()):
            if create and not (mirror / "HEAD").is_file():
                await self._create_mirror(app, mirror)
            yield mirror

    async def _create_mirror(self, app: str, mirror: Path) -> None:
        await in_thread(lambda: mirror.mkdir(parents=True, exist_ok=True))
        outcome = await self._git(mirror, ["init", "--bare", "--quiet"])
        if outcome.status != 0:
            raise GitError(f"cannot create the git mirror for {app}: {outcome.reason}")
        attributes = mirror / "info" / "attributes"
        await in_thread(lambda: _write(attributes, _EXACT_TREE_ATTRIBUTES))

    async def _check_branch(self, cwd: Path, branch: str) -> None:
        if (
            not branch
            or branch.startswith("-")
            or (await self._git(cwd, ["check-ref-format", f"refs/heads/{branch}"])).status != 0
        ):
            raise GitError(f"{branch!r} is not a valid branch name")

    async def _fetch_branch(self, mirror: Path, remote: Remote, branch: str) -> None:
        await self._check_branch(mirror, branch)
        outcome = await self._fetch(mirror, remote, f"+refs/heads/{branch}:refs/heads/{branch}")
        if outcome.status == 0:
            return
        if "couldn't find remote ref" in outcome.stderr:
            raise GitError(f"branch {branch!r} does not exist in {redact(remote.url)}")
        raise fetch_error(remote.url, outcome)

    async def _locate(
        self, mirror: Path, remote: Remote, branch: str, commit: str, fetch_off_branch: bool
    ) -> str:
        """Full sha of `commit` (the branch already fetched); by its sha only when allowed."""
        sha = await in_thread(lambda: commits.find_commit(mirror, commit))
        if sha is None and fetch_off_branch and len(commit) == _FULL_SHA_LENGTH:
            # The pin ref keeps it from being garbage-collected out of the mirror.
            await self._fetch(mirror, remote, f"+{commit}:refs/fogbank/pinned/{commit}")
            sha = await in_thread(lambda: commits.find_commit(mirror, commit))
        if sha is None:
            raise GitError(f"commit {commit} not found in branch {branch!r} of the repository")
        return sha

    async def _fetch(
        self, mirror: Path, remote: Remote, refspec: str, *, prune: bool = False
    ) -> Outcome:
        options = ["--quiet", "--no-tags", "--no-recurse-submodules", *(["--prune"] * prune)]
        # `--` ends the options: the URL is only ever a repository, never e.g. --upload-pack=...
        return await self._network(mirror, remote, ["fetch", *options, "--", remote.url, refspec])

    async def _network(self, cwd: Path, remote: Remote, args: Sequence[str]) -> Outcome:
        env = git_env([*_TRANSFER_CONFIG, *remote.git_config()], self._protocols)
        try:
            with ssh_identity(remote, self._root / ".keys", env):
                return await run_git(args, cwd=cwd, env=env, timeout_seconds=self._timeout_seconds)
        except TimeoutError as exc:
            raise GitError(
                f"fetching {redact(remote.url)} timed out after {self._timeout_seconds:g} seconds"
            ) from exc

    async def _git(self, cwd: Path, args: Sequence[str]) -> Outcome:
        try:
            return await run_git(
                args, cwd=cwd, env=git_env(), timeout_seconds=self._timeout_seconds
            )
        except TimeoutError as exc:
            raise GitError(
                f"git {args[0]} timed out after {self._timeout_seconds:g} seconds"
            ) from exc


def _check_commit(commit: str) -> None:
    if not _COMMIT.fullmatch(commit):
        raise GitError(f"{commit!r} is not a commit sha (7 to 40 lowercase hex digits)")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
