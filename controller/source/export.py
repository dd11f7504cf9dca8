"""One commit's exact tree into a directory: `git archive` streamed into the checked unpacker.

On any failure (a cap, an unsafe member, git, the timeout, cancellation) the destination is
left as it was found, absent or empty; nothing is written anywhere else, /tmp included.
"""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

from controller.errors import FogbankError, GitError
from controller.source.archive import Limits, UnsafeMember, extract
from controller.source.process import git_env, in_thread, stream_git


async def export_tree(
    mirror: Path, sha: str, dest: Path, limits: Limits, *, timeout_seconds: float
) -> None:
    """Write the tree of commit `sha` (a full sha present in `mirror`) into `dest`."""
    created = await in_thread(lambda: _prepare(dest))
    try:
        await _archive(mirror, sha, dest, limits, timeout_seconds)
    except BaseException:
        await in_thread(lambda: _discard(dest, created))
        raise


async def _archive(
    mirror: Path, sha: str, dest: Path, limits: Limits, timeout_seconds: float
) -> None:
    try:
        streamed = await stream_git(
            ["archive", "--format=tar", sha],
            cwd=mirror,
            env=git_env(),
            timeout_seconds=timeout_seconds,
            consume=lambda source: extract(source, dest, limits),
        )
    except TimeoutError as exc:
        raise GitError(
            f"exporting commit {sha[:12]} timed out after {timeout_seconds:g} seconds"
        ) from exc
    error, outcome = streamed.error, streamed.outcome
    if isinstance(error, UnsafeMember | tarfile.FilterError):
        raise GitError(f"commit {sha[:12]} cannot be exported safely: {error}") from error
    if isinstance(error, FogbankError):
        raise error  # a cap, named in the message
    # git failing on its own explains a cut-off stream better than tarfile does; a git we
    # stopped because the unpacking failed (a signal, status < 0) does not
    if outcome.status > 0 or (outcome.status != 0 and error is None):
        raise GitError(f"cannot export commit {sha[:12]}: {outcome.reason}")
    if error is not None:
        raise GitError(f"cannot write commit {sha[:12]} to {dest}: {error}") from error


def _prepare(dest: Path) -> bool:
    """Make `dest` ready for an export; True when it had to be created."""
    created = not dest.exists()
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise ValueError(f"export destination {dest} is not empty")
    return created


def _discard(dest: Path, created: bool) -> None:
    if created:
        shutil.rmtree(dest, ignore_errors=True)
        return
    for child in dest.iterdir():  # links themselves are removed, never what they point at
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)
