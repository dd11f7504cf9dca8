"""Reading commits from a mirror with GitPython: lookup, metadata, ancestry.

Blocking and local (no network): callers run these in a thread while holding the mirror lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from git import Repo
from git.exc import GitCommandError, ODBError

from controller.errors import GitError


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    message: str
    author: str


def find_commit(mirror: Path, rev: str) -> str | None:
    """Full sha of the commit `rev` (a sha prefix or a ref) names, None when absent."""
    with Repo(mirror) as repo:
        try:
            commit = repo.commit(rev)
            # GitPython takes a full sha on trust; asking the object database (git cat-file)
            # raises when it is not there.
            repo.odb.info(commit.binsha)
            return commit.hexsha
        except (ODBError, ValueError):
            return None  # unknown, ambiguous, or not a commit (a tree or blob sha)


def commit_info(mirror: Path, sha: str) -> CommitInfo:
    """The sha, message and `name <email>` author of commit `sha` (present in the mirror)."""
    with Repo(mirror) as repo:
        commit = repo.commit(sha)
        message = commit.message if isinstance(commit.message, str) else commit.message.decode()
        return CommitInfo(
            sha=commit.hexsha,
            message=message.strip(),
            author=f"{commit.author.name} <{commit.author.email}>",
        )


def is_ancestor(mirror: Path, older: str, newer: str) -> bool:
    """True when commit `older` is `newer` or one of its ancestors."""
    with Repo(mirror) as repo:
        try:
            return repo.is_ancestor(repo.commit(older), repo.commit(newer))
        except GitCommandError as exc:
            raise GitError(f"cannot compare commits {older[:12]} and {newer[:12]}") from exc
