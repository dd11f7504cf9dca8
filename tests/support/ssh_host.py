"""A loopback ssh server that plays a git host for ssh remotes (GitHub cannot be reached from
the tests): asyncssh speaks the ssh protocol to the real OpenSSH client git starts, accepts only
the public keys it is given, and runs the real `git-upload-pack` on repositories under a root.
It records every key a client offered, and can hold a session until released."""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

HOLD_LIMIT_SECONDS = 30.0


@dataclass
class SshGitHost:
    """Serves `root`'s repositories to clients holding one of `authorized` (public key lines)."""

    root: Path
    authorized: list[str]
    port: int = 0
    host_key: asyncssh.SSHKey = field(
        default_factory=lambda: asyncssh.generate_private_key("ssh-ed25519")
    )
    offered: list[str] = field(default_factory=list)  # every key a client offered, as text
    commands: list[str] = field(default_factory=list)
    hold: bool = False
    session_started: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str, user: str = "git") -> str:
        return f"ssh://{user}@127.0.0.1:{self.port}/{path}"

    @property
    def host_public_key(self) -> str:
        return self.host_key.export_public_key("openssh").decode().strip()

    async def _run(self, process: asyncssh.SSHServerProcess[bytes]) -> None:
        command = process.command or ""
        self.commands.append(command)
        parts = shlex.split(command)
        repository = (self.root / parts[-1].lstrip("/")).resolve() if len(parts) == 2 else None
        if (
            repository is None
            or parts[0] != "git-upload-pack"
            or not repository.is_relative_to(self.root.resolve())
        ):
            process.stderr.write(b"only git-upload-pack of a served repository\n")
            process.exit(1)
            return
        self.session_started.set()
        if self.hold:
            await asyncio.wait_for(self.release.wait(), HOLD_LIMIT_SECONDS)
        upload = await asyncio.create_subprocess_exec(
            "git-upload-pack",
            str(repository),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        await process.redirect(stdin=upload.stdin, stdout=upload.stdout, stderr=upload.stderr)
        process.exit(await upload.wait())
        await process.wait_closed()  # runs the redirect's clean-up


class _Server(asyncssh.SSHServer):
    def __init__(self, host: SshGitHost) -> None:
        self._host = host

    def begin_auth(self, username: str) -> bool:
        return True  # authentication required

    def public_key_auth_supported(self) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return False

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        offered = key.export_public_key("openssh").decode().strip()
        self._host.offered.append(offered)
        return any(offered.split()[:2] == line.split()[:2] for line in self._host.authorized)


@asynccontextmanager
async def serving_ssh(host: SshGitHost) -> AsyncIterator[SshGitHost]:
    """Serve `host` on a free loopback port until the block ends."""
    server = await asyncssh.create_server(
        lambda: _Server(host),
        "127.0.0.1",
        0,
        server_host_keys=[host.host_key],
        process_factory=host._run,
        encoding=None,
    )
    host.port = server.sockets[0].getsockname()[1]
    try:
        yield host
    finally:
        host.release.set()
        server.close()
        await server.wait_closed()
