"""Deploy keys: each app's own ed25519 key pair logs git in to ssh remotes, through the real
OpenSSH client against a loopback ssh server (tests/support/ssh_host.py plays GitHub). The key
file exists, 0600, only while git runs; only that key is offered; the host key is learnt on first
use and pinned after."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import pytest

from controller.errors import GitError
from controller.source.access import generate_deploy_key, split_credentials
from controller.source.mirror import GitSync, Remote
from tests.support.git_hosts import commit, git, init_repo
from tests.support.processes import processes
from tests.support.ssh_host import SshGitHost, serving_ssh


@pytest.fixture
def served(tmp_path: Path) -> Path:
    origin = init_repo(tmp_path / "origin")
    commit(origin, {"app.txt": "v1"}, "first")
    root = tmp_path / "served"
    (root / "team").mkdir(parents=True)
    git(tmp_path, "clone", "--quiet", "--bare", str(origin), str(root / "team" / "app.git"))
    return root


def app_remote(url: str, private: str, tmp_path: Path) -> Remote:
    return Remote(url, ssh_key=private, known_hosts=tmp_path / "mirrors" / "web.known_hosts")


def key_files(sync_root: Path) -> list[Path]:
    keys = sync_root / ".keys"
    return sorted(keys.iterdir()) if keys.is_dir() else []


async def test_an_apps_deploy_key_fetches_over_ssh(tmp_path: Path, served: Path) -> None:
    """The host accepts exactly the app's public key; git fetches with it, no key file stays
    behind, and the host's key is now in the app's known_hosts. Protection: ssh_identity's
    GIT_SSH_COMMAND (without it ssh offers no deploy key and the host refuses)."""
    private, public = generate_deploy_key("web")
    assert public.startswith("ssh-ed25519 ") and public.endswith(" fogbank-web")
    sync = GitSync(tmp_path / "mirrors", allow_local=False, timeout_seconds=30)
    async with serving_ssh(SshGitHost(served, [public])) as host:
        remote = app_remote(host.url("team/app.git"), private, tmp_path)
        info = await sync.resolve("web", remote, "main")
        head = await sync.remote_head(remote, "main")

    assert info.message == "first" and head == info.sha
    assert host.commands == ["git-upload-pack '/team/app.git'"] * 2
    assert {offered.split()[1] for offered in host.offered} == {public.split()[1]}
    assert key_files(tmp_path / "mirrors") == []
    learnt = (tmp_path / "mirrors" / "web.known_hosts").read_text()
    assert host.host_public_key in learnt  # (the host's name is hashed: HashKnownHosts)


async def test_the_key_file_is_private_and_exists_only_while_git_runs(
    tmp_path: Path, served: Path
) -> None:
    """While the host holds the session: one key file, mode 0600, in a 0700 directory, and no
    process's command line holds the private key; after: no file."""
    private, public = generate_deploy_key("web")
    sync = GitSync(tmp_path / "mirrors", allow_local=False, timeout_seconds=30)
    async with serving_ssh(SshGitHost(served, [public], hold=True)) as host:
        remote = app_remote(host.url("team/app.git"), private, tmp_path)
        fetching = asyncio.create_task(sync.resolve("web", remote, "main"))
        await asyncio.wait_for(host.session_started.wait(), 20)
        during = key_files(tmp_path / "mirrors")
        modes = [stat.S_IMODE(path.stat().st_mode) for path in during]
        directory_mode = stat.S_IMODE((tmp_path / "mirrors" / ".keys").stat().st_mode)
        every_argv = b"\n".join(p.command_line for p in processes())
        host.release.set()
        await fetching

    assert len(during) == 1 and modes == [0o600] and directory_mode == 0o700
    key_body = private.splitlines()[2].encode()
    assert key_body not in every_argv
    assert b"-oIdentitiesOnly=yes" in every_argv
    assert key_files(tmp_path / "mirrors") == []


async def test_another_key_or_a_changed_host_key_is_refused(tmp_path: Path, served: Path) -> None:
    """A host that does not know the app's key refuses the fetch; a host whose key differs from
    the one learnt is refused by ssh before any login. Protection: StrictHostKeyChecking with
    the app's own known_hosts (accept-new pins the first key)."""
    private, public = generate_deploy_key("web")
    _, other_public = generate_deploy_key("other")
    sync = GitSync(tmp_path / "mirrors", allow_local=False, timeout_seconds=30)
    async with serving_ssh(SshGitHost(served, [other_public])) as host:
        remote = app_remote(host.url("team/app.git"), private, tmp_path)
        with pytest.raises(GitError, match="Permission denied"):
            await sync.resolve("web", remote, "main")

    known_hosts = tmp_path / "mirrors" / "web.known_hosts"
    async with serving_ssh(SshGitHost(served, [public])) as first:
        await sync.resolve("web", app_remote(first.url("team/app.git"), private, tmp_path), "main")
    async with serving_ssh(SshGitHost(served, [public])) as impostor:
        # The host and port learnt with the first key now present another, as a man in the
        # middle would.
        known_hosts.write_text(f"[127.0.0.1]:{impostor.port} {first.host_public_key}\n")
        remote = app_remote(impostor.url("team/app.git"), private, tmp_path)
        with pytest.raises(GitError, match="Host key verification failed"):
            await sync.resolve("web", remote, "main")
    assert impostor.offered == []  # refused before the key was ever offered


def test_credentials_are_taken_out_of_the_url() -> None:
    """https userinfo leaves the URL for a credential kept apart; ssh keeps its user name (not a
    secret) and loses any password; a URL without userinfo has no credential."""
    url, credential = split_credentials("https://x-access-token:ghp_T0ken@github.com/a/b.git")
    assert url == "https://github.com/a/b.git"
    assert credential == '{"username": "x-access-token", "secret": "ghp_T0ken"}'
    assert split_credentials("ssh://git:pw@github.com/a/b.git") == (
        "ssh://git@github.com/a/b.git",
        "",
    )
    assert split_credentials("git@github.com:a/b.git") == ("git@github.com:a/b.git", "")
    assert split_credentials("https://github.com/a/b.git") == ("https://github.com/a/b.git", "")
