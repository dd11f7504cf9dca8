"""GitSync against real repositories made in tmp dirs (file:// URLs, allow_local=True)."""

from __future__ import annotations

import asyncio
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.errors import GitError
from controller.source.mirror import GitSync, redact
from tests.support.git_hosts import AUTHOR, commit, git


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    repo = tmp_path / "origin"
    repo.mkdir()
    git(repo, "init", "--quiet", "-b", "main")
    return repo


@pytest.fixture
def sync(tmp_path: Path) -> GitSync:
    return GitSync(tmp_path / "mirrors", allow_local=True, timeout_seconds=30)


def url_of(repo: Path) -> str:
    return repo.as_uri()


async def test_resolve_branch_head_reports_sha_message_and_author(
    origin: Path, sync: GitSync
) -> None:
    commit(origin, {"a.txt": "1"}, "first")
    head = commit(origin, {"a.txt": "2"}, "second commit\n\nwith a body\n")

    info = await sync.resolve("web", url_of(origin), "main")

    assert info.sha == head
    assert len(info.sha) == 40
    assert info.message == "second commit\n\nwith a body"
    assert info.author == AUTHOR
    assert (sync.mirror_path("web") / "HEAD").is_file()


async def test_export_writes_the_named_older_commit_not_the_tip(
    origin: Path, sync: GitSync, tmp_path: Path
) -> None:
    old = commit(origin, {"app.txt": "v1", "lib/util.txt": "u1"}, "v1")
    commit(origin, {"app.txt": "v2", "new.txt": "n"}, "v2")

    info = await sync.resolve("web", url_of(origin), "main", commit=old[:10])
    assert info.sha == old
    assert info.message == "v1"

    dest = tmp_path / "ctx"
    await sync.export("web", url_of(origin), "main", old, dest)

    assert (dest / "app.txt").read_text() == "v1"
    assert (dest / "lib" / "util.txt").read_text() == "u1"
    assert not (dest / "new.txt").exists()


async def test_export_fetches_a_missing_commit_into_a_fresh_mirror(
    origin: Path, sync: GitSync, tmp_path: Path
) -> None:
    sha = commit(origin, {"app.txt": "v1"}, "v1")

    await sync.export("fresh", url_of(origin), "main", sha, tmp_path / "ctx")

    assert (tmp_path / "ctx" / "app.txt").read_text() == "v1"


async def test_export_ignores_export_attributes_to_keep_the_exact_tree(
    origin: Path, sync: GitSync, tmp_path: Path
) -> None:
    sha = commit(
        origin,
        {
            ".gitattributes": "secret.txt export-ignore\nsubst.txt export-subst\n",
            "secret.txt": "kept",
            "subst.txt": "$Format:%H$",
        },
        "attributes",
    )

    await sync.export("web", url_of(origin), "main", sha, tmp_path / "ctx")

    assert (tmp_path / "ctx" / "secret.txt").read_text() == "kept"
    assert (tmp_path / "ctx" / "subst.txt").read_text() == "$Format:%H$"


async def test_export_refuses_a_symlink_leaving_the_tree(
    origin: Path, sync: GitSync, tmp_path: Path
) -> None:
    (origin / "passwd").symlink_to("/etc/passwd")
    sha = commit(origin, {}, "evil link")

    with pytest.raises(GitError, match="cannot be exported safely"):
        await sync.export("web", url_of(origin), "main", sha, tmp_path / "ctx")


async def test_second_resolve_fetches_only_the_new_commit(origin: Path, sync: GitSync) -> None:
    first = commit(origin, {"a.txt": "1"}, "first")
    assert (await sync.resolve("web", url_of(origin), "main")).sha == first
    mirror = sync.mirror_path("web")
    objects_before = int(git(mirror, "rev-list", "--all", "--objects", "--count"))

    second = commit(origin, {"b.txt": "2"}, "second")
    info = await sync.resolve("web", url_of(origin), "main")

    assert info.sha == second
    assert info.message == "second"
    # the new commit brings exactly one commit, one tree and one blob
    assert int(git(mirror, "rev-list", "--all", "--objects", "--count")) == objects_before + 3


async def test_commit_off_the_branch_is_refused_unless_asked_for(
    origin: Path, sync: GitSync, tmp_path: Path
) -> None:
    """A sha the branch does not contain is not fetched by its sha (a webhook sender or a
    deployer could name any object the remote serves); an admin's explicit override does."""
    commit(origin, {"a.txt": "1"}, "first")
    git(origin, "checkout", "--quiet", "-b", "side")
    side = commit(origin, {"a.txt": "side"}, "side work")
    git(origin, "checkout", "--quiet", "main")

    with pytest.raises(GitError, match=f"commit {side} not found in branch 'main'"):
        await sync.resolve("web", url_of(origin), "main", commit=side)
    with pytest.raises(GitError, match=f"commit {side} not found in branch 'main'"):
        await sync.export("web", url_of(origin), "main", side, tmp_path / "refused")
    assert not (tmp_path / "refused").exists()

    info = await sync.resolve("web", url_of(origin), "main", commit=side, fetch_off_branch=True)

    assert info.sha == side
    assert info.message == "side work"
    await sync.export("web", url_of(origin), "main", side, tmp_path / "ctx")
    assert (tmp_path / "ctx" / "a.txt").read_text() == "side"


@pytest.mark.parametrize("unknown", ["deadbee", "0123456789abcdef0123456789abcdef01234567"])
async def test_unknown_commit_is_a_git_error(origin: Path, sync: GitSync, unknown: str) -> None:
    commit(origin, {"a.txt": "1"}, "first")

    with pytest.raises(GitError, match=f"commit {unknown} not found in branch 'main'"):
        await sync.resolve("web", url_of(origin), "main", commit=unknown)


@pytest.mark.parametrize("bad", ["HEAD", "ABCDEF1", "abc", "--all", "a" * 41])
async def test_malformed_commit_is_refused_before_git_runs(sync: GitSync, bad: str) -> None:
    with pytest.raises(GitError, match="is not a commit sha"):
        await sync.resolve("web", "file:///nowhere", "main", commit=bad)
    assert not sync.mirror_path("web").exists()


async def test_unknown_branch_is_a_git_error_naming_it(origin: Path, sync: GitSync) -> None:
    commit(origin, {"a.txt": "1"}, "first")

    with pytest.raises(GitError, match="branch 'nope' does not exist"):
        await sync.resolve("web", url_of(origin), "nope")


@pytest.mark.parametrize("branch", ["a..b", "x:y", "bad branch", "-x"])
async def test_invalid_branch_name_is_refused(origin: Path, sync: GitSync, branch: str) -> None:
    with pytest.raises(GitError, match="not a valid branch name"):
        await sync.resolve("web", url_of(origin), branch)


async def test_local_urls_are_refused_unless_allowed(origin: Path, tmp_path: Path) -> None:
    commit(origin, {"a.txt": "1"}, "first")
    strict = GitSync(tmp_path / "strict", allow_local=False)

    for url in (url_of(origin), str(origin)):
        with pytest.raises(GitError, match="cannot fetch"):
            await strict.resolve("web", url, "main")

    mirror = strict.mirror_path("web")
    assert git(mirror, "for-each-ref") == ""
    assert git(mirror, "count-objects") == "0 objects, 0 kilobytes"


@pytest.mark.parametrize("allow_local", [True, False])
async def test_url_is_never_read_as_a_git_option(tmp_path: Path, allow_local: bool) -> None:
    marker = tmp_path / "pwned"
    sync = GitSync(tmp_path / "mirrors", allow_local=allow_local)

    for url in (f"--upload-pack=touch {marker}", f"ext::sh -c touch% {marker}"):
        with pytest.raises(GitError):
            await sync.resolve("web", url, "main")

    assert not marker.exists()


async def test_credentials_in_the_url_never_reach_the_message(sync: GitSync) -> None:
    # port 1 on loopback refuses at once: a real transport failure without leaving the host
    url = "https://deploy:s3cr3t-token@127.0.0.1:1/team/app.git"

    with pytest.raises(GitError) as caught:
        await sync.resolve("web", url, "main")

    message = caught.value.message
    assert "s3cr3t-token" not in message
    assert "deploy" not in message
    assert message.startswith("cannot fetch https://127.0.0.1:1/team/app.git: ")
    assert "\n" not in message


@pytest.mark.skipif(shutil.which("ssh") is None, reason="needs an ssh client")
async def test_ssh_failure_reports_the_cause_not_the_generic_line(sync: GitSync) -> None:
    with pytest.raises(GitError) as caught:
        await sync.resolve("web", "ssh://git@127.0.0.1:1/app.git", "main")

    assert "Connection refused" in caught.value.message
    assert "Could not read from remote repository" not in caught.value.message


def test_redact_hides_every_userinfo() -> None:
    text = "a https://u:p@h/x and ssh://git:pw@example.com/y but git@host:z"
    assert redact(text) == "a https://***@h/x and ssh://***@example.com/y but git@host:z"


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A loopback port that accepts connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


@pytest.mark.slow
async def test_a_hanging_remote_times_out(tmp_path: Path, silent_server: int) -> None:
    sync = GitSync(tmp_path / "mirrors", allow_local=False, timeout_seconds=1)
    started = time.monotonic()

    # the TLS handshake never gets an answer
    with pytest.raises(GitError, match="timed out after 1 seconds"):
        await sync.resolve("web", f"https://127.0.0.1:{silent_server}/app.git", "main")
    with pytest.raises(GitError, match="timed out after 1 seconds"):
        await sync.remote_head(f"https://127.0.0.1:{silent_server}/app.git", "main")

    assert time.monotonic() - started < 10


async def test_concurrent_operations_on_one_mirror_are_serialised(
    origin: Path, sync: GitSync, tmp_path: Path
) -> None:
    sha = commit(origin, {"a.txt": "1"}, "first")

    results = await asyncio.gather(
        sync.resolve("web", url_of(origin), "main"),
        sync.export("web", url_of(origin), "main", sha, tmp_path / "one"),
        sync.resolve("web", url_of(origin), "main", commit=sha),
        sync.export("web", url_of(origin), "main", sha, tmp_path / "two"),
    )

    assert results[0] is not None and results[0].sha == sha
    assert (tmp_path / "one" / "a.txt").read_text() == "1"
    assert (tmp_path / "two" / "a.txt").read_text() == "1"


async def test_remove_deletes_the_mirror(origin: Path, sync: GitSync) -> None:
    commit(origin, {"a.txt": "1"}, "first")
    await sync.resolve("web", url_of(origin), "main")

    await sync.remove("web")

    assert not sync.mirror_path("web").exists()
    await sync.remove("web")  # removing twice is harmless


@pytest.mark.parametrize("app", ["../escape", "a/b", ".hidden", ""])
@pytest.mark.slow
def test_app_names_cannot_leave_the_root(sync: GitSync, app: str) -> None:
    with pytest.raises(ValueError, match="invalid app name"):
        sync.mirror_path(app)
