"""GitSync over the network: cancellation, credentials, redirects, protocols, object checks.

Loopback HTTPS servers play GitHub (tests/support/git_hosts.py); nothing leaves the host.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from controller.errors import GitError
from controller.source.mirror import GitSync, Remote
from tests.support.git_hosts import GitHost, Tls, commit, git, init_repo, make_tls, serving
from tests.support.processes import git_processes, processes

TOKEN = "ghp_s3cr3tT0kenThatMustNeverShow"
USER = "x-access-token"
BASIC = "Basic " + base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture(autouse=True)
def trust_tls(tls: Tls, monkeypatch: pytest.MonkeyPatch) -> None:
    """git (a child process) trusts the test servers' certificate through its environment."""
    monkeypatch.setenv("GIT_SSL_CAINFO", str(tls.cert))


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    repo = init_repo(tmp_path / "origin")
    commit(repo, {"app.txt": "v1"}, "first")
    return repo


@pytest.fixture
def served(tmp_path: Path, origin: Path) -> Path:
    """The directory a git http-backend host serves: origin as team/app.git."""
    root = tmp_path / "served"
    (root / "team").mkdir(parents=True)
    git(tmp_path, "clone", "--quiet", "--bare", str(origin), str(root / "team" / "app.git"))
    return root


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port whose kernel accepts connections that nobody ever answers."""
    server = socket.create_server(("127.0.0.1", 0))
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


async def wait_for(condition: Callable[[], bool], what: str, seconds: float = 10.0) -> None:
    """Poll /proc (there is no event for a process appearing or ending)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


@pytest.mark.slow
async def test_a_cancelled_fetch_leaves_no_git_process_and_frees_the_mirror(
    tmp_path: Path, silent_port: int, origin: Path
) -> None:
    """Protection: stop() of the process group on cancellation (without it git keeps hanging)."""
    sync = GitSync(tmp_path / "mirrors", allow_local=True, timeout_seconds=60)
    marker = f"127.0.0.1:{silent_port}".encode()
    hung = asyncio.create_task(
        sync.resolve("web", f"https://127.0.0.1:{silent_port}/team/app.git", "main")
    )
    await wait_for(
        lambda: any(b"remote-https" in p.command_line for p in git_processes(marker)),
        "git-remote-https to connect",
    )
    threads_before = {t.name for t in threading.enumerate()}

    started = time.monotonic()
    hung.cancel()
    with pytest.raises(asyncio.CancelledError):
        await hung
    await wait_for(lambda: not git_processes(marker), "git processes to end", seconds=5)
    elapsed = time.monotonic() - started

    print(f"\ngit processes gone {elapsed * 1000:.0f} ms after the cancel")
    assert git_processes(marker) == []
    assert elapsed < 1.0
    waiters = {t.name for t in threading.enumerate()} - threads_before
    assert not any(name.startswith("waitpid") for name in waiters)
    # the mirror's lock is free: the next operation on the same app runs at once
    async with asyncio.timeout(5):
        info = await sync.resolve("web", origin.as_uri(), "main")
    assert info.message == "first"


@pytest.mark.slow
async def test_credentials_stay_off_every_command_line(tls: Tls, tmp_path: Path) -> None:
    """During a fetch that hangs at the host, no process's argv holds any credential byte,
    and the host (playing GitHub) still received them as a Basic Authorization header.
    Protection: Remote.parse taking userinfo out of the URL (without it the token is in argv)."""
    sync = GitSync(tmp_path / "mirrors", allow_local=False, timeout_seconds=60)
    with serving(GitHost(hang=True), tls) as host:
        url = host.url("team/app.git", userinfo=f"{USER}:{TOKEN}@")
        fetching = asyncio.create_task(sync.resolve("web", url, "main"))
        try:
            await asyncio.to_thread(host.requested.wait, 10)
            assert host.seen, "git never reached the host"
            git_side = git_processes(f"127.0.0.1:{host.port}".encode())
            every_argv = b"\n".join(p.command_line for p in processes())
        finally:
            fetching.cancel()
            with pytest.raises(asyncio.CancelledError):
                await fetching

    print("\nprocesses of the fetch:", *(p.command_line.decode() for p in git_side), sep="\n  ")
    assert any(b"remote-https" in p.command_line for p in git_side)
    assert any(b"fetch" in p.argv for p in git_side)
    for secret in (TOKEN, USER, BASIC.split()[1]):
        assert secret.encode() not in every_argv
    assert host.seen[0].authorization == BASIC


@pytest.mark.slow
async def test_credentials_log_in_to_an_https_host(tls: Tls, tmp_path: Path, served: Path) -> None:
    """A host that requires Basic auth (as GitHub does for a private repository) serves the
    fetch when the URL carries the token, or a Remote carries it apart from the URL."""
    sync = GitSync(tmp_path / "mirrors", allow_local=False, timeout_seconds=30)
    with serving(GitHost(backend_root=served, authorization=BASIC), tls) as host:
        plain = host.url("team/app.git")
        with pytest.raises(GitError, match="Authentication failed") as refused:
            await sync.resolve("web", plain, "main")
        wrong = host.url("team/app.git", userinfo=f"{USER}:wrong-{TOKEN}@")
        with pytest.raises(GitError) as wrong_token:
            await sync.resolve("web", wrong, "main")

        with_userinfo = host.url("team/app.git", userinfo=f"{USER}:{TOKEN}@")
        info = await sync.resolve("web", with_userinfo, "main")
        head = await sync.remote_head(Remote(plain, username=USER, secret=TOKEN), "main")

    assert info.message == "first"
    assert head == info.sha
    for message in (refused.value.message, wrong_token.value.message):
        assert TOKEN not in message
        assert message.startswith(f"cannot fetch {plain}: ")


@pytest.mark.slow
@pytest.mark.parametrize("target_scheme", ["https", "http"])
async def test_a_redirect_is_refused_with_a_clear_error(
    tls: Tls, tmp_path: Path, served: Path, target_scheme: str
) -> None:
    """A host answering a redirect (here to a loopback host that serves the repository) is not
    followed: neither to https on loopback nor down to plain http. Protection:
    http.followRedirects=false (without it the https case fetches from the target)."""
    sync = GitSync(tmp_path / "mirrors", allow_local=False, timeout_seconds=30)
    target_tls = tls if target_scheme == "https" else None
    with serving(GitHost(backend_root=served), target_tls) as target:
        base = f"{target_scheme}://127.0.0.1:{target.port}"
        with (
            serving(GitHost(redirect_to=base), tls) as redirector,
            pytest.raises(GitError) as caught,
        ):
            await sync.resolve("web", redirector.url("team/app.git"), "main")

    assert redirector.seen  # the first request was made, and answered with the redirect
    assert target.seen == []
    assert caught.value.message == (
        f"{redirector.url('team/app.git')} answers with a redirect (HTTP 301) and fogbank does "
        "not follow redirects of git remotes: set gitRepository to the repository's current URL"
    )


@pytest.mark.slow
@pytest.mark.parametrize("scheme", ["http", "git"])
async def test_only_https_and_ssh_transports_are_used(
    tmp_path: Path, served: Path, scheme: str
) -> None:
    """Protection: GIT_ALLOW_PROTOCOL (without it git fetches this repository over http)."""
    sync = GitSync(tmp_path / "mirrors", allow_local=False, timeout_seconds=30)
    with serving(GitHost(backend_root=served), None) as host:
        url = host.url("team/app.git", scheme=scheme)
        with pytest.raises(GitError, match=f"transport '{scheme}' not allowed"):
            await sync.resolve("web", url, "main")
        with pytest.raises(GitError, match=f"transport '{scheme}' not allowed"):
            await sync.remote_head(url, "main")
    assert host.seen == []


def commit_malformed(repo: Path) -> str:
    """Make main point at a commit whose author has no <email>; returns its sha."""
    tree = git(repo, "rev-parse", "HEAD^{tree}")
    parent = git(repo, "rev-parse", "HEAD")
    malformed = (
        f"tree {tree}\nparent {parent}\n"
        "author Ada Lovelace ada@example.com 1700000000 +0000\n"
        "committer Ada Lovelace <ada@example.com> 1700000000 +0000\n\nmalformed\n"
    )
    bad = subprocess.run(
        ["git", "hash-object", "-t", "commit", "--literally", "-w", "--stdin"],
        cwd=repo,
        input=malformed,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    git(repo, "update-ref", "refs/heads/main", bad)
    return bad


async def test_fetched_objects_are_checked(tmp_path: Path, origin: Path) -> None:
    """A remote sending a malformed commit (an author without <email>) is refused before the
    object lands in the mirror. Protection: transfer.fsckObjects (without it the fetch works)."""
    bad = commit_malformed(origin)
    sync = GitSync(tmp_path / "mirrors", allow_local=True, timeout_seconds=30)

    with pytest.raises(GitError, match=f"cannot fetch .*{bad}.*missingEmail"):
        await sync.resolve("web", origin.as_uri(), "main")

    assert git(sync.mirror_path("web"), "for-each-ref") == ""
