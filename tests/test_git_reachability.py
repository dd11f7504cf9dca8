"""on_branch / on_any_branch against a real repository with a side branch and a pull request
ref (refs/pull/1/head, as GitHub keeps one per pull request)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from controller.errors import GitError
from controller.source.mirror import GitSync
from tests.support.git_hosts import commit, git, init_repo


@dataclass(frozen=True)
class History:
    url: str
    repo: Path
    first: str  # on main, below its head
    head: str  # main's head
    side: str  # only on branch "side"
    pull: str  # only reachable from refs/pull/1/head


@pytest.fixture
def history(tmp_path: Path) -> History:
    repo = init_repo(tmp_path / "origin")
    first = commit(repo, {"a.txt": "1"}, "first")
    head = commit(repo, {"a.txt": "2"}, "second")
    git(repo, "checkout", "--quiet", "-b", "side", first)
    side = commit(repo, {"a.txt": "side"}, "side work")
    git(repo, "checkout", "--quiet", "-b", "contributor", first)
    pull = commit(repo, {"a.txt": "pr"}, "a pull request")
    git(repo, "update-ref", "refs/pull/1/head", pull)
    git(repo, "checkout", "--quiet", "main")
    git(repo, "branch", "--quiet", "-D", "contributor")
    return History(repo.as_uri(), repo, first, head, side, pull)


@pytest.fixture
def sync(tmp_path: Path) -> GitSync:
    return GitSync(tmp_path / "mirrors", allow_local=True, timeout_seconds=30)


async def test_a_commit_on_the_branch_is_on_it(history: History, sync: GitSync) -> None:
    assert await sync.on_branch("web", history.url, "main", history.head)
    assert await sync.on_branch("web", history.url, "main", history.first)
    assert await sync.on_branch("web", history.url, "main", history.first[:10])
    assert await sync.on_any_branch("web", history.url, history.first)


async def test_a_commit_of_another_branch_is_on_a_branch_but_not_this_one(
    history: History, sync: GitSync
) -> None:
    assert not await sync.on_branch("web", history.url, "main", history.side)
    assert await sync.on_any_branch("web", history.url, history.side)
    # now in the mirror, it is still not on main
    assert not await sync.on_branch("web", history.url, "main", history.side)
    assert await sync.on_branch("web", history.url, "side", history.side)


async def test_a_pull_request_head_is_on_no_branch(history: History, sync: GitSync) -> None:
    assert git(history.repo, "cat-file", "-t", history.pull) == "commit"  # the remote has it

    assert not await sync.on_branch("web", history.url, "main", history.pull)
    assert not await sync.on_any_branch("web", history.url, history.pull)
    with pytest.raises(GitError, match="not found in branch 'main'"):
        await sync.resolve("web", history.url, "main", commit=history.pull)

    # an admin's explicit override fetches it by sha; it is still on no branch
    info = await sync.resolve(
        "web", history.url, "main", commit=history.pull, fetch_off_branch=True
    )
    assert info.message == "a pull request"
    assert not await sync.on_branch("web", history.url, "main", history.pull)
    assert not await sync.on_any_branch("web", history.url, history.pull)


async def test_a_deleted_branch_no_longer_counts(history: History, sync: GitSync) -> None:
    assert await sync.on_any_branch("web", history.url, history.side)

    git(history.repo, "branch", "--quiet", "-D", "side")

    assert not await sync.on_any_branch("web", history.url, history.side)


async def test_unknown_and_malformed_commits(history: History, sync: GitSync) -> None:
    unknown = "0123456789abcdef0123456789abcdef01234567"
    assert not await sync.on_branch("web", history.url, "main", unknown)
    assert not await sync.on_any_branch("web", history.url, unknown)
    for bad in ("HEAD", "--all", "main"):
        with pytest.raises(GitError, match="is not a commit sha"):
            await sync.on_branch("web", history.url, "main", bad)
        with pytest.raises(GitError, match="is not a commit sha"):
            await sync.on_any_branch("web", history.url, bad)
    with pytest.raises(GitError, match="branch 'nope' does not exist"):
        await sync.on_branch("web", history.url, "nope", history.head)
