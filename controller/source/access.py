"""How fogbank logs in to an app's repository: credentials given in its URL are kept apart
(sealed in the database, see controller/store/sealing.py) and handed to git in its environment;
each app has its own ed25519 deploy key for ssh remotes, used from a 0600 file that exists only
while git runs, with a known_hosts file of the app's own (a host's key is learnt on first use,
then pinned)."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shlex
from collections.abc import Iterator
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from controller.source.remote import Remote
from controller.store.models import App

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def split_credentials(url: str) -> tuple[str, str]:
    """(the URL without credentials, the credentials as JSON, "" when it carried none)."""
    remote = Remote.parse(url)
    if not remote.has_credentials:
        return remote.url, ""
    return remote.url, json.dumps({"username": remote.username, "secret": remote.secret})


def remote_of(app: App, git_root: Path) -> Remote:
    """The app's remote with everything git needs to log in: its credentials, its deploy key
    and its known_hosts file (under git_root, beside the app's mirror)."""
    credential = json.loads(app.git_credential) if app.git_credential else {}
    return Remote(
        app.git_repository,
        username=str(credential.get("username", "")),
        secret=str(credential.get("secret", "")),
        ssh_key=app.deploy_key,
        known_hosts=git_root / f"{app.name}.known_hosts",
    )


def generate_deploy_key(app_name: str) -> tuple[str, str]:
    """A new ed25519 key pair: (the private key in OpenSSH format, the public key line)."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode("ascii")
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return private, f"{public.decode('ascii')} fogbank-{app_name}"


@contextlib.contextmanager
def ssh_identity(remote: Remote, key_dir: Path, env: dict[str, str]) -> Iterator[None]:
    """For an ssh remote with a deploy key, set GIT_SSH_COMMAND in `env`: the key in a 0600 file
    under `key_dir` (0700) that is removed when the block ends, only that key offered (no
    agent, no default keys), and the app's known_hosts with accept-new. Others: nothing."""
    if not (remote.is_ssh and remote.ssh_key and remote.known_hosts is not None):
        yield
        return
    key_dir.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    os.chmod(key_dir, PRIVATE_DIR)
    identity = key_dir / f"id-{secrets.token_hex(8)}"
    fd = os.open(identity, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(remote.ssh_key.rstrip("\n") + "\n")
        env["GIT_SSH_COMMAND"] = " ".join(
            [
                "ssh",
                "-oBatchMode=yes",
                "-oIdentitiesOnly=yes",
                "-oIdentityAgent=none",
                "-oStrictHostKeyChecking=accept-new",
                "-oLogLevel=ERROR",  # no "Permanently added" warning in front of the reason
                "-oUserKnownHostsFile=" + shlex.quote(str(remote.known_hosts)),
                "-i",
                shlex.quote(str(identity)),
            ]
        )
        yield
    finally:
        identity.unlink(missing_ok=True)
