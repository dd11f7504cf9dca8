"""Bounded, rule-checked exports: a git bomb stops at the caps, crafted tar members are refused,
and a failed or cancelled export leaves nothing behind."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import tarfile
import tempfile
import threading
import time
from pathlib import Path
from typing import BinaryIO

import pytest

from controller.errors import GitError
from controller.source.archive import CappedReader, Limits, TreeGuard, UnsafeMember
from controller.source.mirror import GitSync
from controller.source.process import git_env, in_thread, stream_git
from tests.support.git_hosts import commit, git, init_repo
from tests.support.processes import descendants, processes

MIB = 1024 * 1024


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temp dir of this test's own, for Python and git, to see that nothing is left in it."""
    directory = tmp_path / "tmp"
    directory.mkdir()
    monkeypatch.setenv("TMPDIR", str(directory))
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


def leftovers(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


def mktree(repo: Path, entries: list[str]) -> str:
    listing = "".join(f"{entry}\n" for entry in entries)
    return subprocess.run(
        ["git", "mktree"], cwd=repo, input=listing, capture_output=True, text=True, check=True
    ).stdout.strip()


def git_bomb(repo: Path, fanout: int, blob_bytes: int) -> str:
    """A commit whose tree holds fanout x fanout copies of one blob: a small repository that
    expands to fanout**2 * blob_bytes bytes. Returns its sha (now the head of main)."""
    (repo / "blob").write_bytes(bytes(range(256)) * (blob_bytes // 256))
    blob = git(repo, "hash-object", "-w", "blob")
    inner = mktree(repo, [f"100644 blob {blob}\tf{i:03d}" for i in range(fanout)])
    outer = mktree(repo, [f"040000 tree {inner}\td{i:03d}" for i in range(fanout)])
    sha = git(repo, "commit-tree", outer, "-m", "bomb")
    git(repo, "update-ref", "refs/heads/main", sha)
    return sha


@pytest.fixture
def bomb(tmp_path: Path) -> tuple[str, str]:
    repo = init_repo(tmp_path / "bomb")
    sha = git_bomb(repo, fanout=16, blob_bytes=64 * 1024)  # 16 MiB of tree, 272 entries
    return repo.as_uri(), sha


@pytest.mark.parametrize("existing", [False, True])
async def test_a_tree_past_the_byte_cap_fails_naming_it_and_leaves_nothing(
    tmp_path: Path, private_tmp: Path, bomb: tuple[str, str], existing: bool
) -> None:
    url, sha = bomb
    sync = GitSync(tmp_path / "mirrors", allow_local=True, max_context_bytes=MIB)
    dest = tmp_path / "ctx"
    if existing:
        dest.mkdir()

    with pytest.raises(GitError) as caught:
        await sync.export("web", url, "main", sha, dest)

    assert caught.value.message == (
        "the commit's tree is larger than build.max_context_bytes (1048576 bytes)"
    )
    assert (list(dest.iterdir()) == []) if existing else not dest.exists()
    assert leftovers(private_tmp) == []


async def test_a_tree_past_the_file_cap_fails_naming_it(
    tmp_path: Path, private_tmp: Path, bomb: tuple[str, str]
) -> None:
    url, sha = bomb
    sync = GitSync(tmp_path / "mirrors", allow_local=True, max_files=100)

    with pytest.raises(GitError) as caught:
        await sync.export("web", url, "main", sha, tmp_path / "ctx")

    assert caught.value.message == "the commit's tree has more than build.max_files (100) files"
    assert not (tmp_path / "ctx").exists()
    assert leftovers(private_tmp) == []


async def test_a_tree_within_the_caps_is_exported_whole(
    tmp_path: Path, bomb: tuple[str, str]
) -> None:
    url, sha = bomb
    sync = GitSync(tmp_path / "mirrors", allow_local=True, max_context_bytes=17 * MIB)

    await sync.export("web", url, "main", sha, tmp_path / "ctx")

    files = [p for p in (tmp_path / "ctx").rglob("*") if p.is_file()]
    assert len(files) == 256
    assert sum(p.stat().st_size for p in files) == 16 * MIB


async def test_symlinks_that_leave_the_tree_only_once_both_exist_are_refused(
    tmp_path: Path,
) -> None:
    """`a -> q/..` is inside while q does not exist; `q -> .` then makes `a` the parent of the
    tree. tarfile's "data" filter checks each link against the disk as it is at that moment and
    lets both through; the explicit rule (no `..` after a descent) refuses `a`.
    Protection: TreeGuard._check_symlink."""
    repo = init_repo(tmp_path / "origin")
    (repo / "a").symlink_to("q/..")
    (repo / "q").symlink_to(".")
    sha = commit(repo, {"Dockerfile": "FROM scratch\n"}, "links")
    sync = GitSync(tmp_path / "mirrors", allow_local=True)

    with pytest.raises(GitError, match="cannot be exported safely: symbolic link 'a' points"):
        await sync.export("web", repo.as_uri(), "main", sha, tmp_path / "ctx")

    assert not (tmp_path / "ctx").exists()


@pytest.mark.slow
async def test_a_cancelled_stream_stops_git_and_its_reader(tmp_path: Path) -> None:
    """The reading thread ends because git is gone (its pipe closes), and the caller waits for
    both: no process, no thread left working."""
    finished = threading.Event()

    def consume(source: BinaryIO) -> bytes:
        try:
            return source.read()
        finally:
            finished.set()

    # A git alias running `sleep` through a shell: a test-only stand-in for a stalled archive.
    # The odd duration makes the sleep findable in /proc even if it outlived git.
    sleep = f"sleep 47.{os.getpid()}"
    stalled = [p for p in processes() if p.command_line == sleep.encode()]
    args = ["-c", f"alias.stall=!{sleep} #", "stall"]
    streaming = asyncio.create_task(
        stream_git(args, cwd=tmp_path, env=git_env(), timeout_seconds=60, consume=consume)
    )
    deadline = time.monotonic() + 10
    while len([p for p in processes() if p.command_line == sleep.encode()]) == len(stalled):
        assert time.monotonic() < deadline, "the stalled git never started"
        await asyncio.sleep(0.02)

    streaming.cancel()
    with pytest.raises(asyncio.CancelledError):
        await streaming

    assert finished.is_set()
    assert [p for p in processes() if p.command_line == sleep.encode()] == stalled == []
    assert [p for p in descendants() if p.name in ("git", "sh", "sleep")] == []


async def test_a_cancelled_caller_waits_for_its_thread() -> None:
    """in_thread: the caller (holding a mirror lock) returns only once the work has ended."""
    started, ended = threading.Event(), threading.Event()

    def work() -> None:
        started.set()
        time.sleep(0.3)
        ended.set()

    task = asyncio.create_task(in_thread(work))
    await asyncio.to_thread(started.wait, 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert ended.is_set()


def member(
    name: str, kind: bytes = tarfile.REGTYPE, link: str = "", size: int = 0
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.size = size
    return info


@pytest.mark.parametrize(
    ("members", "reason"),
    [
        ([member("/etc/passwd")], "is not a relative path"),
        ([member("../outside")], "is not a relative path"),
        ([member("a/../../outside")], "is not a relative path"),
        ([member("ok"), member("ok")], "appears twice"),
        ([member("d/f"), member("d", tarfile.SYMTYPE, "e")], "appears twice"),
        ([member("s", tarfile.SYMTYPE, "d"), member("s/f")], "below a symbolic link"),
        ([member("f"), member("f/g")], "below a file"),
        ([member("s", tarfile.SYMTYPE, "/etc")], "points outside the tree"),
        ([member("s", tarfile.SYMTYPE, "..")], "points outside the tree"),
        ([member("d/s", tarfile.SYMTYPE, "../../x")], "points outside the tree"),
        ([member("s", tarfile.SYMTYPE, "d/../..")], "points outside the tree"),
        ([member("s", tarfile.SYMTYPE, "q/..")], "points outside the tree"),
        ([member("h", tarfile.LNKTYPE, "/etc/shadow")], "is not a relative path"),
        ([member("h", tarfile.LNKTYPE, "missing")], "hard link 'h' points outside"),
        ([member("dev", tarfile.CHRTYPE)], "is not a file, directory or link"),
        ([member("dev", tarfile.BLKTYPE)], "is not a file, directory or link"),
        ([member("pipe", tarfile.FIFOTYPE)], "is not a file, directory or link"),
    ],
)
def test_crafted_members_are_refused(members: list[tarfile.TarInfo], reason: str) -> None:
    guard = TreeGuard(Limits())
    with pytest.raises(UnsafeMember, match=reason):
        for each in members:
            guard.admit(each)


def test_ordinary_trees_are_admitted() -> None:
    guard = TreeGuard(Limits())
    for each in [
        member("app", tarfile.DIRTYPE),
        member("app/main.py", size=10),
        member("app/lib", tarfile.SYMTYPE, "../shared/lib"),
        member("app/self", tarfile.SYMTYPE, "./main.py"),
        member("shared/lib/x.py", size=5),
        member("copy", tarfile.LNKTYPE, "app/main.py"),
    ]:
        guard.admit(each)
    assert (guard.members, guard.content_bytes) == (6, 15)


def test_the_caps_count_members_and_declared_sizes() -> None:
    guard = TreeGuard(Limits(max_context_bytes=100, max_files=2))
    guard.admit(member("a", size=60))
    with pytest.raises(GitError, match=r"larger than build.max_context_bytes \(100 bytes\)"):
        guard.admit(member("b", size=41))
    with pytest.raises(GitError, match=r"more than build.max_files \(2\) files"):
        for name in ("c", "d", "e"):
            guard.admit(member(name))


def test_the_raw_stream_is_capped_too() -> None:
    reader = CappedReader(io.BytesIO(b"x" * 300), Limits(max_context_bytes=200))
    assert len(reader.read(100) or b"") == 100
    assert len(reader.read(100) or b"") == 100
    with pytest.raises(GitError, match=r"larger than build.max_context_bytes \(200 bytes\)"):
        reader.read(100)
